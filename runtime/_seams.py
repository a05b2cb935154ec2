"""The runtime context: the one place engine code gets time, randomness, network and store.

A :class:`RuntimeContext` bundles the four seams. Production binds a
:class:`~ratchet.runtime.SystemClock`, an OS-seeded :class:`~ratchet.runtime.RandomSource`,
the nng network and a Postgres or SQLite store; a simulation binds a fixed-epoch clock
under :class:`trio.testing.MockClock`, a seeded source, the simulated network and the
in-memory store. Actors reach it as ``self.context.runtime``; other code calls
:func:`current_runtime` inside a runtime.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ._clock import Clock, SystemClock
from ._random import RandomSource
from ._trace import Trace

__all__ = ["NetworkSeam", "RuntimeContext", "StoreSeam", "current_runtime"]


@runtime_checkable
class NetworkSeam(Protocol):
    """What the runtime needs of a network: listen on and dial addresses.

    The concrete interface (endpoints, frames, peer events) lives in
    :mod:`ratchet.transport`; both the nng backend and the simulated network satisfy it.
    """

    async def listen(self, address: str, **options: Any) -> Any: ...

    async def dial(self, address: str, **options: Any) -> Any: ...


@runtime_checkable
class StoreSeam(Protocol):
    """What the runtime needs of a store: open and close it.

    The concrete interface (mutations, queries, group commit) lives with the engine's store;
    Postgres, SQLite and memory backends satisfy it.
    """

    async def open(self) -> None: ...

    async def close(self) -> None: ...


@dataclass
class RuntimeContext:
    """The seams an actor system runs on.

    Attributes:
        clock: monotonic and wall time.
        random: the seeded random source; ids come from it.
        network: the network backend, or ``None`` when the system needs none.
        store: the store backend, or ``None`` when the system needs none.
        trace: a recorder of every message and lifecycle event, or ``None`` (the default,
            which costs nothing).
    """

    clock: Clock = field(default_factory=SystemClock)
    random: RandomSource = field(default_factory=RandomSource)
    network: NetworkSeam | None = None
    store: StoreSeam | None = None
    trace: Trace | None = None

    def record(self, kind: str, actor: str, detail: str = "") -> None:
        """Append an event to the trace, if one is being kept."""
        if self.trace is not None:
            self.trace.record(self.clock.monotonic(), kind, actor, detail)


_current: contextvars.ContextVar[RuntimeContext] = contextvars.ContextVar("ratchet_runtime")


def current_runtime() -> RuntimeContext:
    """The runtime context of the actor system this task runs in.

    Raises:
        RuntimeError: when called outside :func:`~ratchet.runtime.open_runtime`.
    """
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError(
            "no Ratchet runtime is running in this task; "
            "call this inside 'async with ratchet.runtime.open_runtime(...)'"
        ) from None


def _bind(ctx: RuntimeContext) -> contextvars.Token[RuntimeContext]:
    return _current.set(ctx)


def _unbind(token: contextvars.Token[RuntimeContext]) -> None:
    _current.reset(token)
