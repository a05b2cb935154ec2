"""What a tenant used: counters of admitted and refused work, and the snapshot read back.

The counters live as long as the tenant's gateway (they count since it started, like
Prometheus counters); the gauges (queued tasks, workers) are read from the scheduler and
the dispatcher when a snapshot is taken.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ._model import Limit

__all__ = ["TenantUsage", "UsageCounters"]


@dataclass
class UsageCounters:
    """Admitted and refused units since the gateway started.

    Attributes:
        runs: runs admitted.
        events: events admitted.
        webhook_calls: webhook calls admitted.
        workers_registered: worker registrations admitted.
        refused: refused units (runs, events, calls, workers), by the limit that refused them.
    """

    runs: int = 0
    events: int = 0
    webhook_calls: int = 0
    workers_registered: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    def refuse(self, limit: Limit, units: int) -> None:
        """Count ``units`` refused by ``limit``."""
        self.refused[str(limit)] += units


@dataclass(frozen=True)
class TenantUsage:
    """One tenant's usage at a moment, against its limits.

    Attributes:
        tenant_id: the tenant.
        queued_tasks: tasks waiting for a worker now.
        workers: workers registered now.
        runs_available: runs the tenant may trigger at once now (its run bucket's tokens).
        events_available: events it may push at once now.
        webhook_calls_available: webhook calls it may take at once now.
        runs: runs admitted since the engine started serving the tenant.
        events: events admitted since then.
        webhook_calls: webhook calls admitted since then.
        workers_registered: worker registrations admitted since then.
        refused: units refused since then, by limit name.
        limits: the tenant's limits (:class:`~._model.TenantLimits` as a map).
    """

    tenant_id: str
    queued_tasks: int
    workers: int
    runs_available: float
    events_available: float
    webhook_calls_available: float
    runs: int
    events: int
    webhook_calls: int
    workers_registered: int
    refused: dict[str, int]
    limits: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The snapshot as plain values (what the API and the metrics read)."""
        return asdict(self)
