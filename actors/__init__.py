"""Ratchet's engine: its tree of actors, the store and its backends.

:func:`open_engine` runs the engine's supervision tree (see :mod:`ratchet.actors._engine`)
on any actor system and store: in a ``ratchet engine`` process, embedded in an
application, or inside the simulation.
"""

from ratchet._contract.protocol import RequestError as RequestError

from ._engine import Engine as Engine
from ._engine import EngineOptions as EngineOptions
from ._engine import open_engine as open_engine
