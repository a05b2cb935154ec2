"""Hosting the engine: embedded mode, ``ratchet engine`` and the demo.

With :mod:`ratchet.cli`, the only SDK modules that import :mod:`ratchet.actors`.
"""
