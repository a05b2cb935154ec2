"""The gateway's side of a tenant's limits: the limiter, fed the counts it needs.

Theory of operation. :class:`LimitGate` belongs to one tenant's gateway. Before the
gateway writes anything for a trigger, a push of events or a worker's registration, it
awaits the gate, which reads what the pure :class:`~._limiter.TenantLimiter` needs and
lets it decide; a refusal raises :class:`~ratchet.TenantLimitError` and the gateway
writes nothing.

The queued-task count comes from the store (tasks committed QUEUED, so a run whose
trigger returned is counted, whatever the scheduler has seen of it yet). Counting rows
on every trigger would cost more than the trigger, so the gate keeps an estimate: the
last count read plus the runs it admitted since (each run queues at least one task). It
reads the store again when the estimate is older than :data:`QUEUED_REFRESH_SECONDS`, or
when the estimate says the batch would not fit, so a refusal is always decided on a
fresh count. Worker counts come from the dispatcher, which holds the sessions; a worker
registering again (the same id) is not one more worker.

Limits are loaded from the store when the gateway starts and replaced when an admin
changes them (:meth:`LimitGate.apply`, told by the authority after the commit).
"""

from __future__ import annotations

from typing import Any

from ratchet._contract.status import TaskStatus

from ..store import Store
from ._limiter import TenantLimiter
from ._model import TenantLimits, limits_from_settings
from ._usage import TenantUsage

__all__ = ["QUEUED_REFRESH_SECONDS", "LimitGate", "load_limits"]

#: How old the queued-task estimate may get before the store is counted again, in seconds.
QUEUED_REFRESH_SECONDS = 1.0


async def load_limits(store: Store, tenant_id: str) -> TenantLimits:
    """The limits stored for ``tenant_id`` (the defaults if none were set)."""
    row = await store.get_tenant_limits(tenant_id)
    return limits_from_settings(None if row is None else row.settings)


class LimitGate:
    """One tenant's limits, as its gateway applies them.

    Args:
        store: the store (limits, and the queued-task count).
        tenant_id: the tenant.
        limits: its limits.
        clock: the runtime's clock (``context.clock``): buckets run on its ``monotonic()``.
        dispatcher: the tenant's Dispatcher (worker sessions).
    """

    def __init__(
        self, store: Store, tenant_id: str, limits: TenantLimits, clock: Any, dispatcher: Any
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self._clock = clock
        self._dispatcher = dispatcher
        self.limiter = TenantLimiter(tenant_id, limits, clock.monotonic())
        self._queued_seen = 0
        self._queued_added = 0
        self._queued_read_at: float | None = None

    def apply(self, limits: TenantLimits) -> None:
        """Apply new limits from now on."""
        self.limiter.set_limits(limits, self._clock.monotonic())

    def payload_cap(self, engine_cap: int) -> int:
        """The largest payload this tenant may send (its cap within the engine's)."""
        return self.limiter.payload_cap(engine_cap)

    async def admit_runs(self, count: int) -> None:
        """Admit ``count`` new runs, or raise :class:`~ratchet.TenantLimitError` (nothing taken)."""
        if count <= 0:
            return
        now = self._clock.monotonic()
        stale = self._queued_read_at is None or now - self._queued_read_at > QUEUED_REFRESH_SECONDS
        if stale or self._queued_seen + self._queued_added + count > self.limiter.limits.max_queued_tasks:
            await self._count_queued(now)
        self.limiter.admit_runs(count, self._clock.monotonic(), queued=self._queued_seen + self._queued_added)
        self._queued_added += count

    def admit_events(self, count: int) -> None:
        """Admit ``count`` events, or raise :class:`~ratchet.TenantLimitError`."""
        self.limiter.admit_events(count, self._clock.monotonic())

    def admit_webhook_call(self) -> None:
        """Admit one webhook call, or raise :class:`~ratchet.TenantLimitError`."""
        self.limiter.admit_webhook_call(self._clock.monotonic())

    async def admit_worker(self, worker_id: str) -> None:
        """Admit the registration of ``worker_id``, or raise :class:`~ratchet.TenantLimitError`.

        A worker with a live session (registering again) is admitted as it is.
        """
        if await self._dispatcher.knows.ask(worker_id):
            return
        self.limiter.admit_worker(len(await self._dispatcher.workers.ask()))

    async def usage(self) -> TenantUsage:
        """The tenant's usage now (counting queued tasks and workers afresh)."""
        now = self._clock.monotonic()
        await self._count_queued(now)
        workers = len(await self._dispatcher.workers.ask())
        return self.limiter.usage(now, queued=self._queued_seen, workers=workers)

    async def _count_queued(self, now: float) -> None:
        counts = await self.store.count_tasks(self.tenant_id, by="status", statuses=[TaskStatus.QUEUED])
        self._queued_seen = sum(counts.values())
        self._queued_added = 0
        self._queued_read_at = now
