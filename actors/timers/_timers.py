"""The Timers actor: fires messages at deadlines on the runtime clock.

Retry backoffs, execution and schedule timeouts, and durable sleeps all become timers
here: a key, a deadline and a message to tell some actor when it comes due. One
background task sleeps until the earliest deadline (re-armed when an earlier timer
arrives), so timers fire on time, without polling, and an idle engine does nothing.
Under a mock clock the same code fires at exact virtual times.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import trio

from ratchet.runtime import Actor, ActorDeadError, ActorRef

from ._heap import TimerHeap

__all__ = ["Timers", "TimersStatistics"]


@dataclass(frozen=True)
class TimersStatistics:
    pending: int
    fired: int
    next_in: float | None


@dataclass(frozen=True, slots=True)
class _Delivery:
    target: ActorRef
    method: str
    args: tuple[Any, ...]


class Timers(Actor):
    """Keyed timers that tell an actor a message when they come due.

    Messages (refs are untyped: this is the route in):
        from the RunCoordinator: ``schedule_at``, ``reschedule``, ``cancel``,
            ``cancel_many`` (retry backoffs, execution and schedule timeouts).
        from DurableTasks: ``schedule_at``, ``cancel``, ``cancel_many`` (durable
            sleeps, sleep conditions, gates).
        from the Triggers actor: ``schedule_at``, ``cancel`` (crons, schedules).
        from tests and statistics: ``schedule``, ``pending``, ``timer_statistics``.

    A timer, when due, tells its target the message it was armed with.
    """

    def __init__(self) -> None:
        self._heap = TimerHeap()
        self._fired = 0
        self._wake: trio.CancelScope | None = None

    async def on_start(self) -> None:
        self.context.start_soon(self._run)

    def schedule(self, key: Hashable, delay: float, target: ActorRef, method: str, *args: Any) -> None:
        """In ``delay`` seconds, tell ``target.method(*args)``; replaces the timer ``key``."""
        self.schedule_at(key, self.context.clock.monotonic() + max(0.0, delay), target, method, *args)

    def schedule_at(self, key: Hashable, deadline: float, target: ActorRef, method: str, *args: Any) -> None:
        """At monotonic time ``deadline``, tell ``target.method(*args)``."""
        if not math.isfinite(deadline):
            raise ValueError(f"timer {key!r}: deadline must be finite, got {deadline!r}")
        self._heap.schedule(key, deadline, _Delivery(target, method, args))
        wake = self._wake
        if wake is not None and deadline < wake.deadline:
            wake.deadline = deadline

    def reschedule(self, key: Hashable, deadline: float, last_arg: Any) -> bool:
        """Move the pending timer ``key`` to ``deadline`` if its message ends with ``last_arg``.

        The check keeps a late request from moving a different timer that took the key
        meanwhile (a retry's backoff after the timeout it meant to move).
        """
        delivery = self._heap.payload(key)
        if delivery is None or not delivery.args or delivery.args[-1] != last_arg:
            return False
        self.schedule_at(key, deadline, delivery.target, delivery.method, *delivery.args)
        return True

    def cancel(self, key: Hashable) -> bool:
        """Drop the timer ``key``; False if it was not pending."""
        return self._heap.cancel(key)

    def cancel_many(self, keys: list[Hashable]) -> int:
        """Drop several timers; returns how many were pending."""
        return sum(1 for key in keys if self._heap.cancel(key))

    def pending(self, key: Hashable) -> bool:
        return key in self._heap

    def timer_statistics(self) -> TimersStatistics:
        """Pending and fired counts (the actor's mailbox numbers are on its ref)."""
        nxt = self._heap.next_deadline()
        return TimersStatistics(
            pending=len(self._heap),
            fired=self._fired,
            next_in=None if nxt is None else max(0.0, nxt - self.context.clock.monotonic()),
        )

    async def _run(self) -> None:
        clock = self.context.clock
        while True:
            nxt = self._heap.next_deadline()
            with trio.CancelScope(deadline=math.inf if nxt is None else nxt) as scope:
                self._wake = scope
                await trio.sleep_forever()
            self._wake = None
            for _key, delivery in self._heap.pop_due(clock.monotonic()):
                self._fired += 1
                try:
                    delivery.target._tell(delivery.method, delivery.args, {})
                except ActorDeadError:
                    pass  # the target is gone for good: nobody is left to care
