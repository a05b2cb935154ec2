"""A keyed min-heap of deadlines: the pure core of the Timers actor.

Each timer has a key (re-scheduling a key replaces its timer) and a payload. Deadlines
pop in order, ties in scheduling order, so a simulation fires simultaneous timers the
same way every run. Cancelled and replaced entries are deleted lazily: they stay in the
heap, marked dead, until they reach the top, which keeps every operation O(log n).
Memory per timer is one small list plus a dict slot.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Any

__all__ = ["TimerHeap"]

_DEADLINE, _SEQ, _KEY, _PAYLOAD, _ALIVE = range(5)


class TimerHeap:
    """Deadlines by key, earliest first."""

    def __init__(self) -> None:
        self._heap: list[list[Any]] = []
        self._live: dict[Hashable, list[Any]] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._live

    def schedule(self, key: Hashable, deadline: float, payload: Any = None) -> None:
        """Set the timer ``key`` to fire at ``deadline`` (replacing any earlier one)."""
        old = self._live.pop(key, None)
        if old is not None:
            old[_ALIVE] = False
        self._seq += 1
        entry = [deadline, self._seq, key, payload, True]
        self._live[key] = entry
        heapq.heappush(self._heap, entry)
        self._compact_if_sparse()

    def payload(self, key: Hashable) -> Any:
        """The payload of the pending timer ``key`` (None if there is none)."""
        entry = self._live.get(key)
        return None if entry is None else entry[3]

    def cancel(self, key: Hashable) -> bool:
        """Drop the timer ``key``; False if there was none."""
        entry = self._live.pop(key, None)
        if entry is None:
            return False
        entry[_ALIVE] = False
        self._compact_if_sparse()
        return True

    def deadline(self, key: Hashable) -> float | None:
        """When ``key`` fires, or None."""
        entry = self._live.get(key)
        return None if entry is None else entry[_DEADLINE]

    def next_deadline(self) -> float | None:
        """The earliest live deadline, or None when empty."""
        heap = self._heap
        while heap and not heap[0][_ALIVE]:
            heapq.heappop(heap)
        return heap[0][_DEADLINE] if heap else None

    def pop_due(self, now: float, limit: int | None = None) -> list[tuple[Hashable, Any]]:
        """Remove and return ``(key, payload)`` of every timer due at ``now``, in order."""
        due: list[tuple[Hashable, Any]] = []
        heap = self._heap
        while heap and (limit is None or len(due) < limit):
            top = heap[0]
            if not top[_ALIVE]:
                heapq.heappop(heap)
                continue
            if top[_DEADLINE] > now:
                break
            heapq.heappop(heap)
            del self._live[top[_KEY]]
            due.append((top[_KEY], top[_PAYLOAD]))
        return due

    def _compact_if_sparse(self) -> None:
        # Lazy deletion must not let dead entries pile up without bound (e.g. a timeout
        # re-armed on every heartbeat): rebuild when they outnumber the live ones 3:1.
        if len(self._heap) > 64 and len(self._heap) > 4 * len(self._live):
            self._heap = [e for e in self._heap if e[_ALIVE]]
            heapq.heapify(self._heap)
