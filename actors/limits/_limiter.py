"""One tenant's limiter: admits or refuses runs, events, webhook calls and workers, pure.

Theory of operation. The gateway asks the limiter before it writes anything; a refusal
raises :class:`~ratchet.TenantLimitError` naming the limit, its value, and when to retry,
and takes nothing (no tokens, no count), so the refused request leaves no trace but a
counter. Rates are :class:`~._bucket.TokenBucket` s on the caller's clock; counts
(queued tasks, workers) are compared with what the caller read from the actors that own
them. A batch is admitted whole or refused whole. The limiter holds no actor, no store
and no clock of its own, so it runs the same in the engine, the simulation and Hypothesis.
"""

from __future__ import annotations

from ratchet._errors import TenantLimitError

from ._bucket import TokenBucket
from ._model import Limit, TenantLimits
from ._usage import TenantUsage, UsageCounters

__all__ = ["TenantLimiter"]

_RAISE = "ask an admin of the engine's first tenant to raise it (PUT /api/v1/tenants/{tenant}/limits)"


class TenantLimiter:
    """The limits of one tenant, applied.

    Args:
        tenant_id: the tenant (named in refusals).
        limits: its limits.
        now: the clock's reading (the buckets start full).
    """

    def __init__(self, tenant_id: str, limits: TenantLimits, now: float) -> None:
        self.tenant_id = tenant_id
        self.counters = UsageCounters()
        self._limits = limits
        self._runs = TokenBucket(limits.runs_per_second, limits.runs_burst, now)
        self._events = TokenBucket(limits.events_per_second, limits.events_burst, now)
        self._calls = TokenBucket(limits.webhook_calls_per_second, limits.webhook_calls_burst, now)

    @property
    def limits(self) -> TenantLimits:
        """The limits applied now."""
        return self._limits

    def set_limits(self, limits: TenantLimits, now: float) -> None:
        """Apply new limits; each bucket keeps the tokens it has (up to its new burst)."""
        self._limits = limits
        self._runs = self._runs.resized(limits.runs_per_second, limits.runs_burst, now)
        self._events = self._events.resized(limits.events_per_second, limits.events_burst, now)
        self._calls = self._calls.resized(limits.webhook_calls_per_second, limits.webhook_calls_burst, now)

    def payload_cap(self, engine_cap: int) -> int:
        """The largest payload this tenant may send: its own cap, within the engine's."""
        cap = self._limits.max_payload_bytes
        return engine_cap if cap is None else min(cap, engine_cap)

    # -- admissions ------------------------------------------------------------------------------

    def admit_runs(self, count: int, now: float, *, queued: int) -> None:
        """Admit ``count`` new runs, with ``queued`` tasks waiting now.

        Raises:
            TenantLimitError: the tasks would go over ``max_queued_tasks`` (retry once
                workers took some), or the runs over ``runs_per_second`` (nothing taken).
        """
        if count <= 0:
            return
        most = self._limits.max_queued_tasks
        if queued + count > most:
            self.counters.refuse(Limit.MAX_QUEUED_TASKS, count)
            raise TenantLimitError(
                f"tenant {self.tenant_id!r} has {queued} tasks queued, and {count} more run(s) would go over "
                f"its limit of {most} queued tasks: nothing was started; trigger again once workers "
                f"took some, or {_RAISE}",
                str(Limit.MAX_QUEUED_TASKS),
                most,
                None,
            )
        self._take(self._runs, Limit.RUNS_PER_SECOND, count, now, "run(s)", "triggered", "started")
        self.counters.runs += count

    def admit_events(self, count: int, now: float) -> None:
        """Admit ``count`` events.

        Raises:
            TenantLimitError: over ``events_per_second`` (nothing pushed, nothing taken).
        """
        if count <= 0:
            return
        self._take(self._events, Limit.EVENTS_PER_SECOND, count, now, "event(s)", "pushed", "pushed")
        self.counters.events += count

    def admit_webhook_call(self, now: float) -> None:
        """Admit one call to a webhook of the tenant.

        Raises:
            TenantLimitError: over ``webhook_calls_per_second``.
        """
        self._take(
            self._calls, Limit.WEBHOOK_CALLS_PER_SECOND, 1, now, "webhook call(s)", "received", "accepted"
        )
        self.counters.webhook_calls += 1

    def admit_worker(self, workers: int) -> None:
        """Admit one more worker, with ``workers`` registered now.

        Raises:
            TenantLimitError: the tenant has ``max_workers`` registered already.
        """
        most = self._limits.max_workers
        if workers + 1 > most:
            self.counters.refuse(Limit.MAX_WORKERS, 1)
            raise TenantLimitError(
                f"tenant {self.tenant_id!r} has {workers} workers registered, its limit of {most} workers: "
                f"this worker was not registered; stop another worker first, or {_RAISE}",
                str(Limit.MAX_WORKERS),
                most,
                None,
            )
        self.counters.workers_registered += 1

    def _take(
        self, bucket: TokenBucket, limit: Limit, count: int, now: float, what: str, verb: str, done: str
    ) -> None:
        if bucket.take(count, now):
            return
        self.counters.refuse(limit, count)
        retry = bucket.retry_after(count, now)
        rate = f"{bucket.rate:g} {what.removesuffix('(s)')}s a second (burst {bucket.burst})"
        if retry is None:
            advice = f"a batch of {count} can never fit: send at most {bucket.burst} at once"
        else:
            advice = f"retry after {retry:.3f}s"
        raise TenantLimitError(
            f"tenant {self.tenant_id!r} is over its limit of {rate}: {count} {what} {verb}, none {done}; "
            f"{advice}, or {_RAISE}",
            str(limit),
            bucket.rate,
            retry,
        )

    # -- usage -----------------------------------------------------------------------------------

    def usage(self, now: float, *, queued: int, workers: int) -> TenantUsage:
        """The tenant's usage at ``now``, given the counts read from the scheduler and dispatcher."""
        c = self.counters
        return TenantUsage(
            tenant_id=self.tenant_id,
            queued_tasks=queued,
            workers=workers,
            runs_available=self._runs.tokens(now),
            events_available=self._events.tokens(now),
            webhook_calls_available=self._calls.tokens(now),
            runs=c.runs,
            events=c.events,
            webhook_calls=c.webhook_calls,
            workers_registered=c.workers_registered,
            refused=dict(c.refused),
            limits=self._limits.settings(),
        )
