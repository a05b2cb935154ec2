"""Ratchet engine: its tree of actors, the store and its backends."""
