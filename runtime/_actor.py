"""The actor base class and the context an actor sees.

Define an actor as a class deriving from :class:`Actor`; its public methods (sync or
async) are what refs can call. The runtime constructs it afresh on every (re)start and
gives it ``self.context`` before ``__init__`` runs, so even the constructor can read the
clock or draw ids. The actor handles one message at a time, so its attributes need no
locks: between two awaits inside one method nothing else touches them, and no second
message starts until the method returns.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from ._clock import Clock
from ._random import RandomSource
from ._seams import RuntimeContext

if TYPE_CHECKING:
    from ._cell import ActorCell
    from ._ref import LocalActorRef
    from ._system import ActorSystem

__all__ = ["Actor", "ActorContext", "Timer", "concurrent"]

F = TypeVar("F", bound=Callable[..., Any])


def concurrent(method: F) -> F:
    """Mark an async actor method to run concurrently with the actor's other messages.

    Normally an actor handles one message at a time, and a method that awaits holds the
    mailbox until it returns. A ``@concurrent`` method is started in the background
    instead (as in Ray's async actors), so it may wait on I/O or on other actors without
    stalling the actor. It must therefore not rely on the actor's state staying put
    across its own awaits: use it for stateless front doors (an API gateway) and waits.
    It still reports its result or error to the caller, and it is cancelled when the
    actor stops or restarts.
    """
    if not inspect.iscoroutinefunction(method):
        raise TypeError(f"@concurrent needs an async method, got {method!r}")
    # (ignored below: a marker attribute on a function object)
    method.__ratchet_concurrent__ = True  # type: ignore[attr-defined]
    return method


class Actor:
    """Base class of every actor.

    Override :meth:`on_start` and :meth:`on_stop` for setup and teardown; write public
    methods for the messages the actor handles. An exception raised by a method that was
    *asked* goes back to the caller and the actor carries on (Ray's convention); one raised
    by a method that was *told*, by a background task or by :meth:`on_start` crashes the
    actor, and its supervisor decides what happens next (OTP's convention).

    A ref's own attributes (``name``, ``statistics``, ``is_alive``) shadow methods of
    the same name, so do not give an actor methods with those names. An actor must not
    ask its own supervisor to start children from ``on_start`` (the supervisor is busy
    starting it): as in OTP, that deadlocks.
    """

    context: ActorContext

    async def on_start(self) -> None:
        """Called once per incarnation, before the first message."""

    async def on_stop(self) -> None:
        """Called when the actor is stopped gracefully (not when it crashes or is killed)."""


class Timer:
    """A pending :meth:`ActorContext.send_after` message; :meth:`cancel` drops it."""

    __slots__ = ("_scope",)

    def __init__(self) -> None:
        self._scope = trio.CancelScope()

    def cancel(self) -> None:
        self._scope.cancel()


class ActorContext:
    """What an actor knows of its world: its name and ref, the runtime seams, timers.

    Attributes:
        name: the actor's registered name.
        ref: a ref to this actor, to hand to others.
        runtime: the seams: clock, random source, network, store.
        system: the actor system, to spawn and look up other actors.
    """

    def __init__(self, cell: ActorCell, system: ActorSystem) -> None:
        self._cell = cell
        self.name: str = cell.name
        self.ref: LocalActorRef = cell.ref
        self.system = system
        self.runtime: RuntimeContext = system.runtime
        self._nursery: trio.Nursery | None = None

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    @property
    def random(self) -> RandomSource:
        return self.runtime.random

    def _require_nursery(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError(
                f"actor {self.name!r} has no running incarnation yet; "
                "start background work in on_start() or in a method, not in __init__"
            )
        return self._nursery

    async def start(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Like :meth:`start_soon`, but wait until ``fn`` reports it started (Trio's
        ``nursery.start``); what it reported. If ``fn`` fails before that, this raises."""
        return await self._require_nursery().start(fn, *args)

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run ``fn(*args)`` in the background for as long as this incarnation lives.

        If it raises, the actor crashes. It runs concurrently with message handling, so it
        should hand results to the actor by telling it, not by mutating its state.
        """
        self._require_nursery().start_soon(fn, *args)

    def send_after(self, delay: float, method: str, *args: Any, **kwargs: Any) -> Timer:
        """Tell this actor ``method(*args, **kwargs)`` after ``delay`` seconds of runtime clock.

        The timer dies with the incarnation: a restarted actor does not get its
        predecessor's timers.
        """
        timer = Timer()
        clock = self.clock
        cell = self._cell

        async def fire() -> None:
            with timer._scope:
                await clock.sleep(delay)
                if not cell.mailbox.closed:
                    cell.ref._tell(method, args, kwargs)

        self._require_nursery().start_soon(fire)
        return timer

    def stop(self) -> None:
        """Stop this actor after the current message (a normal exit)."""
        self._cell.request_stop()
