"""``ratchet.metrics``: what waits in the queues, how full the workers are, how tasks ended.

``queue_metrics()`` counts the queued tasks per queue (``"<workflow>:<task>"``) and per
workflow, and the slots of the connected workers; ``task_metrics(since, until)`` counts
the tasks created in a time window by status. hatchet-sdk's names
(``get_queue_metrics``, ``get_task_metrics``) work too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pydantic

from .._contract.calls import Method
from .calls import ClientCalls
from .triggers import to_epoch

__all__ = ["MetricsClient", "QueueMetrics", "SlotUsage", "TaskMetrics"]


class SlotUsage(pydantic.BaseModel):
    """Slots across the connected workers (``free`` leaves out draining and paused ones)."""

    model_config = pydantic.ConfigDict(defer_build=True)  # built on first use: import ratchet stays light

    workers: int = 0
    total: int = 0
    used: int = 0
    free: int = 0
    durable_total: int = 0
    durable_used: int = 0
    durable_free: int = 0


class QueueMetrics(pydantic.BaseModel):
    """Queued tasks per queue and per workflow (``queued`` in all), and slot usage."""

    model_config = pydantic.ConfigDict(defer_build=True)

    queues: dict[str, int] = {}
    workflows: dict[str, int] = {}
    queued: int = 0
    slots: SlotUsage = pydantic.Field(default_factory=SlotUsage)


class TaskMetrics(pydantic.BaseModel):
    """Tasks created in ``[since, until)`` by status (``by_status`` has every status seen)."""

    model_config = pydantic.ConfigDict(defer_build=True)

    since: float
    until: float | None = None
    queued: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    pending: int = 0
    evicted: int = 0
    by_status: dict[str, int] = {}

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def _task_metrics(answer: dict[str, Any], since: float, until: float | None) -> TaskMetrics:
    counts = dict(answer.get("tasks") or {})
    fields = {status.lower(): n for status, n in counts.items() if status.lower() in TaskMetrics.model_fields}
    return TaskMetrics(since=since, until=until, by_status=counts, **fields)


def _window(since: datetime | float, until: datetime | float | None) -> dict[str, Any]:
    window: dict[str, Any] = {"since": to_epoch(since, "since")}
    if until is not None:
        window["until"] = to_epoch(until, "until")
    return window


class MetricsClient(ClientCalls):
    """``ratchet.metrics``: queue depths, slot usage and task counts."""

    def queue_metrics(self) -> QueueMetrics:
        """Queued tasks per queue and per workflow, and the workers' slot usage, now."""
        return QueueMetrics.model_validate(self._call(Method.QUEUE_METRICS, {}))

    async def aio_queue_metrics(self) -> QueueMetrics:
        """The ``aio_`` form of :meth:`queue_metrics`."""
        return QueueMetrics.model_validate(await self._acall(Method.QUEUE_METRICS, {}))

    def task_metrics(self, since: datetime | float, until: datetime | float | None = None) -> TaskMetrics:
        """Tasks created in ``[since, until)`` (until: now), counted by status."""
        window = _window(since, until)
        return _task_metrics(self._call(Method.QUEUE_METRICS, window), window["since"], window.get("until"))

    async def aio_task_metrics(
        self, since: datetime | float, until: datetime | float | None = None
    ) -> TaskMetrics:
        """The ``aio_`` form of :meth:`task_metrics`."""
        window = _window(since, until)
        answer = await self._acall(Method.QUEUE_METRICS, window)
        return _task_metrics(answer, window["since"], window.get("until"))

    get_queue_metrics = queue_metrics
    aio_get_queue_metrics = aio_queue_metrics
    get_task_metrics = task_metrics
    aio_get_task_metrics = aio_task_metrics
