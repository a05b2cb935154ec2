"""Deterministic simulation of a whole Ratchet cluster in one seeded Trio run.

``simulate(seed)`` runs the real engine, real SDK workers and a client under virtual
time, injects faults, and checks the named invariants of :mod:`._invariants`; the same
seed gives the same trace digest. ``ratchet sim --seed N`` / ``--seeds A..B`` runs it
from the command line.
"""

from ._invariants import INVARIANTS as INVARIANTS
from ._world import SimConfig as SimConfig
from ._world import SimResult as SimResult
from ._world import simulate as simulate
