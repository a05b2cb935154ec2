"""Concurrency groups: one (strategy, key) group admits exactly ``max_runs`` holders.

Theory of operation. A *holder* is what a concurrency limit counts: a run (for a
workflow-level limit) or a task (for a task-level one). A holder asks its group for a
place with :meth:`ConcurrencyGroup.request`; the group answers with decisions:
:class:`Admitted` (the holder now holds a place) and :class:`Cancelled` (a holder must be
cancelled). A holder keeps its place until it :meth:`~ConcurrencyGroup.leave`\\ s, which
its owner does only once the holder has finished *and* none of its attempts still runs
on a worker. So the group never counts more than ``max_runs`` holders, not even while a
cancelled attempt winds down.

The three strategies differ only in what happens at a full group:

- ``GROUP_ROUND_ROBIN``: the newcomer waits; waiting holders are admitted as places free
  up, higher priority first, then retries, then in arrival order;
- ``CANCEL_NEWEST``: the newcomer is cancelled at once and never holds a place;
- ``CANCEL_IN_PROGRESS``: the newcomer waits, and the oldest holders (by arrival, among
  those not already cancelled, waiting ones included) are cancelled until at most
  ``max_runs`` remain; the newcomer is admitted when a cancelled one has left.

Every operation costs O(log n) in the group's waiting holders: heaps with lazy deletion,
never a scan. :meth:`ConcurrencyGroup.reclaim` gives a holder its place back without
asking, for a run that held it before an engine restart.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from dataclasses import dataclass

from ratchet._contract.flow import ConcurrencyLimitStrategy

__all__ = ["Admitted", "Cancelled", "ConcurrencyGroup", "Decision", "GroupStatistics"]

Holder = Hashable


@dataclass(frozen=True, slots=True)
class Admitted:
    """``holder`` now holds a place in the group."""

    holder: Holder


@dataclass(frozen=True, slots=True)
class Cancelled:
    """``holder`` must be cancelled (and leaves the group once it has stopped)."""

    holder: Holder
    reason: str


Decision = Admitted | Cancelled


@dataclass(frozen=True)
class GroupStatistics:
    key: Hashable
    strategy: str
    max_runs: int
    holding: int
    waiting: int
    cancelling: int


class ConcurrencyGroup:
    """The holders of one (strategy, key) group and those waiting for it.

    Args:
        key: the group's identity, for messages.
        strategy: what a full group does with a newcomer.
        max_runs: places in the group (at least 1).
    """

    def __init__(self, key: Hashable, strategy: ConcurrencyLimitStrategy, max_runs: int) -> None:
        if max_runs < 1:
            raise ValueError(f"concurrency group {key!r}: max_runs must be >= 1, got {max_runs}")
        self.key = key
        self.strategy = ConcurrencyLimitStrategy(strategy)
        self.max_runs = max_runs
        self._holders: dict[Holder, int] = {}  # holder -> arrival number
        self._victims: set[Holder] = set()  # holders told to stop, still holding
        self._waiting: list[tuple[int, int, int, Holder]] = []  # (-priority, retry last, arrival, holder)
        self._waiting_live: dict[Holder, tuple[int, int, int, Holder]] = {}
        self._by_age: list[tuple[int, Holder]] = []  # CANCEL_IN_PROGRESS: live members by arrival

    # -- queries ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._holders)

    def holds(self, holder: Holder) -> bool:
        return holder in self._holders

    def is_waiting(self, holder: Holder) -> bool:
        return holder in self._waiting_live

    @property
    def empty(self) -> bool:
        """Nobody holds or waits: the group can be forgotten."""
        return not self._holders and not self._waiting_live

    def holders(self) -> list[Holder]:
        return list(self._holders)

    def statistics(self) -> GroupStatistics:
        return GroupStatistics(
            self.key,
            self.strategy.value,
            self.max_runs,
            len(self._holders),
            len(self._waiting_live),
            len(self._victims),
        )

    # -- changes ------------------------------------------------------------------------------

    def request(
        self, holder: Holder, *, arrival: int, priority: int = 1, retry: bool = False
    ) -> list[Decision]:
        """``holder`` asks for a place; returns what the group decided (for it and others).

        Asking again while holding or waiting changes nothing.
        """
        if holder in self._holders or holder in self._waiting_live:
            return []
        if self.strategy is ConcurrencyLimitStrategy.CANCEL_NEWEST:
            if len(self._holders) < self.max_runs:
                self._holders[holder] = arrival
                return [Admitted(holder)]
            return [
                Cancelled(
                    holder,
                    f"concurrency group {self.key!r} is full ({self.max_runs} running) "
                    "and its strategy is CANCEL_NEWEST",
                )
            ]
        if self.strategy is ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN:
            if len(self._holders) < self.max_runs and not self._waiting_live:
                self._holders[holder] = arrival
                return [Admitted(holder)]
            self._wait(holder, arrival, priority, retry)
            return []
        # CANCEL_IN_PROGRESS: the newest max_runs members stay, the older ones are cancelled
        self._wait(holder, arrival, priority, retry)
        heapq.heappush(self._by_age, (arrival, holder))
        if len(self._by_age) > 64 and len(self._by_age) > 4 * (len(self._holders) + len(self._waiting_live)):
            self._by_age = [(a, h) for h, a in self._holders.items() if h not in self._victims]
            self._by_age += [(e[2], h) for h, e in self._waiting_live.items()]
            heapq.heapify(self._by_age)
        out: list[Decision] = []
        live = len(self._holders) - len(self._victims) + len(self._waiting_live)
        while live > self.max_runs:
            victim = self._oldest_live()
            reason = (
                f"concurrency group {self.key!r} (CANCEL_IN_PROGRESS, max_runs={self.max_runs}): "
                "a newer run arrived"
            )
            if victim in self._waiting_live:
                del self._waiting_live[victim]
            else:
                self._victims.add(victim)
            out.append(Cancelled(victim, reason))
            live -= 1
        out.extend(self._admit_waiting())
        return out

    def reclaim(self, holder: Holder, *, arrival: int) -> None:
        """Give ``holder`` a place without asking (it held one before an engine restart).

        A place reclaimed past ``max_runs`` only delays newcomers until holders leave.
        """
        self._waiting_live.pop(holder, None)
        if holder not in self._holders:
            self._holders[holder] = arrival
            if self.strategy is ConcurrencyLimitStrategy.CANCEL_IN_PROGRESS:
                heapq.heappush(self._by_age, (arrival, holder))

    def leave(self, holder: Holder) -> list[Decision]:
        """``holder`` gives up its place (or stops waiting); returns the holders admitted."""
        self._waiting_live.pop(holder, None)
        self._victims.discard(holder)
        if self._holders.pop(holder, None) is None:
            return []
        return self._admit_waiting()

    def set_max_runs(self, max_runs: int) -> list[Decision]:
        """Change the group's size (a newer workflow version says so); holders are never evicted."""
        if max_runs < 1:
            raise ValueError(f"concurrency group {self.key!r}: max_runs must be >= 1, got {max_runs}")
        self.max_runs = max_runs
        return self._admit_waiting()

    # -- internals ----------------------------------------------------------------------------

    def _wait(self, holder: Holder, arrival: int, priority: int, retry: bool) -> None:
        entry = (-priority, 0 if retry else 1, arrival, holder)
        self._waiting_live[holder] = entry
        heapq.heappush(self._waiting, entry)

    def _admit_waiting(self) -> list[Decision]:
        out: list[Decision] = []
        heap = self._waiting
        while len(self._holders) < self.max_runs and self._waiting_live:
            entry = heapq.heappop(heap)
            holder = entry[3]
            if self._waiting_live.get(holder) is not entry:
                continue  # left meanwhile
            del self._waiting_live[holder]
            self._holders[holder] = entry[2]
            out.append(Admitted(holder))
        if len(heap) > 64 and len(heap) > 4 * len(self._waiting_live):
            self._waiting = [e for e in heap if self._waiting_live.get(e[3]) is e]
            heapq.heapify(self._waiting)
        return out

    def _oldest_live(self) -> Holder:
        """The member (holding and not cancelled, or waiting) that arrived first."""
        heap = self._by_age
        while heap:
            arrival, holder = heap[0]
            if holder in self._waiting_live and self._waiting_live[holder][2] == arrival:
                return holder
            if self._holders.get(holder) == arrival and holder not in self._victims:
                return holder
            heapq.heappop(heap)  # gone, cancelled, or an older entry of a holder that came back
        raise AssertionError(f"concurrency group {self.key!r}: no live member to cancel")
