"""Deterministic simulation of a whole Ratchet cluster in one seeded Trio run."""
