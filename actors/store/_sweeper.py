"""The ObjectSweeper actor: deletes objects no row references any more, now and then.

An engine whose store keeps big payloads in an object store runs one. Every
``interval`` seconds of runtime clock (and once at start, which cleans up after a
crash) it calls :meth:`Store.sweep_objects`, which deletes the objects older than
``orphan_age`` that no row references: those of deleted or overwritten rows and those
whose transaction never committed. Engines sharing the store each sweep; deleting an
object twice is harmless. A failed sweep is logged and tried again at the next tick.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ratchet.runtime import Actor

from ._errors import StoreError
from ._store import Store

__all__ = ["ObjectSweeper", "ObjectSweeperStatistics"]

log = logging.getLogger("ratchet.store")


@dataclass(frozen=True)
class ObjectSweeperStatistics:
    """The sweeper's counters.

    Attributes:
        sweeps: sweeps finished.
        deleted: objects deleted, in all.
        failures: sweeps that failed (the store was unreachable, say).
    """

    sweeps: int
    deleted: int
    failures: int


class ObjectSweeper(Actor):
    """Sweeps a store's unreferenced objects every ``interval`` seconds.

    Messages (refs are untyped: this is the route in): none from other actors; it
    sweeps on its own clock. ``sweep`` (now) and ``sweeper_statistics`` are for tests
    and operators.

    Args:
        store: an open store with an object store.
        interval: seconds of runtime clock between sweeps.
        orphan_age: seconds an unreferenced object is kept (see :meth:`Store.sweep_objects`).
    """

    def __init__(self, store: Store, *, interval: float, orphan_age: float) -> None:
        if not interval > 0:
            raise ValueError(f"ObjectSweeper: interval must be > 0 seconds, got {interval!r}")
        if not orphan_age >= 0:
            raise ValueError(f"ObjectSweeper: orphan_age must be >= 0 seconds, got {orphan_age!r}")
        self.store = store
        self.interval = interval
        self.orphan_age = orphan_age
        self._sweeps = 0
        self._deleted = 0
        self._failures = 0

    async def on_start(self) -> None:
        self.context.start_soon(self._loop)

    async def _loop(self) -> None:
        while True:
            await self.sweep()
            await self.context.clock.sleep(self.interval)

    async def sweep(self) -> int:
        """Sweep now; returns how many objects were deleted (0 if the sweep failed)."""
        try:
            deleted = await self.store.sweep_objects(self.orphan_age)
        except StoreError as exc:
            self._failures += 1
            log.warning("sweeping unreferenced objects failed (retried in %gs): %s", self.interval, exc)
            return 0
        self._sweeps += 1
        self._deleted += deleted
        if deleted:
            log.info("deleted %d unreferenced objects from %r", deleted, self.store.objects)
        return deleted

    def sweeper_statistics(self) -> ObjectSweeperStatistics:
        """The sweeper's counters (``statistics`` on the ref is the actor's own)."""
        return ObjectSweeperStatistics(self._sweeps, self._deleted, self._failures)
