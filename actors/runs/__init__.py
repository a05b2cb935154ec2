"""Runs: the pure run machine, the coordinator that owns active runs, and workflow versions.

A run starts at the intake (:mod:`._intake`), moves through :mod:`._machine` under the
:class:`~ratchet.actors.runs._coordinator.RunCoordinator`, and is read back by clients
through :mod:`._views`.
"""
