"""Metrics: queue depths, slot usage, and task counts by status (for dashboards and autoscalers)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ratchet._contract.calls import Method

from ._access import CallerDep
from ._times import UtcDatetime, epoch

__all__ = ["QueueMetrics", "SlotUsage", "router"]


class SlotUsage(BaseModel):
    """Slots across the connected workers."""

    workers: int
    total: int
    used: int
    free: int
    durable_total: int
    durable_used: int
    durable_free: int


class QueueMetrics(BaseModel):
    """What waits, and the room there is to run it."""

    queues: dict[str, int] = Field(description="QUEUED tasks by queue (`<workflow>:<task>`).")
    workflows: dict[str, int] = Field(description="QUEUED tasks by workflow.")
    queued: int = Field(description="QUEUED tasks in all.")
    slots: SlotUsage
    tasks: dict[str, int] | None = Field(
        default=None, description="With `since`: tasks created in [since, until) by status."
    )
    since: UtcDatetime | None = None
    until: UtcDatetime | None = None


router = APIRouter(prefix="/api/v1/metrics", tags=["Metrics"])


@router.get("", response_model=QueueMetrics, summary="Get queue metrics")
async def queue_metrics(
    caller: CallerDep,
    since: Annotated[UtcDatetime | None, Query(description="Also count tasks created from then.")] = None,
    until: Annotated[UtcDatetime | None, Query(description="...until then (default: now).")] = None,
) -> Any:
    """Queued tasks per queue and per workflow, slot usage, and (with ``since``) task counts by status."""
    request: dict[str, Any] = {}
    if since is not None:
        request["since"] = epoch(since)
    if until is not None:
        request["until"] = epoch(until)
    return await caller.ask(Method.QUEUE_METRICS, request)
