"""Task runs: one with one of its attempts, and its timeline.

A task run is one task of one workflow run; each retry is a new attempt of it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from ratchet._contract.calls import MAX_ID_LENGTH, Method
from ratchet._contract.status import TaskEventKind, TaskStatus

from ._access import CallerDep
from ._errors import ErrorBody
from ._pages import Page, WindowDep, page_of
from ._runs import TaskError
from ._times import UtcDatetime

__all__ = ["TaskAttempt", "TaskDetails", "TaskTimelineEvent", "router"]

#: Timeline entries of one task run read at most (its retries are bounded).
MAX_TASK_EVENTS = 10_000


class TaskAttempt(BaseModel):
    """One attempt of a task run: who ran it, when, and how it ended."""

    attempt: int
    status: TaskStatus
    worker_id: str | None = None
    worker_name: str | None = None
    error: TaskError | None = None
    created_at: UtcDatetime | None = None
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None


class TaskDetails(BaseModel):
    """A task run, its run, the attempts it had, and one attempt's details."""

    task_id: str
    name: str
    run_id: str
    workflow: str
    status: TaskStatus
    attempt: int = Field(description="The current attempt.")
    retry_count: int
    max_retries: int
    priority: int
    durable: bool
    parents: list[str] = []
    input: Any = None
    output: Any = None
    error: TaskError | None = None
    worker_id: str | None = None
    worker_name: str | None = None
    additional_metadata: dict[str, Any] = {}
    created_at: UtcDatetime
    queued_at: UtcDatetime | None = None
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    attempts: list[int] = Field(description="The numbers of the attempts it had.")
    attempt_details: TaskAttempt = Field(description="The attempt asked for (default: the current one).")


class TaskTimelineEvent(BaseModel):
    """One entry of a task run's timeline; ``seq`` orders them."""

    seq: int
    task_id: str
    run_id: str
    kind: TaskEventKind
    attempt: int
    at: UtcDatetime
    message: str | None = None
    worker_id: str | None = None
    worker_name: str | None = None


router = APIRouter(prefix="/api/v1/tasks", tags=["Tasks"])

TaskId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, description="The task run's id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such task run."}}


@router.get("/{task_id}", response_model=TaskDetails, responses=_NOT_FOUND, summary="Get a task run")
async def get_task(
    task_id: TaskId,
    caller: CallerDep,
    attempt: Annotated[
        int | None, Query(ge=1, description="Which attempt (default: the current one).")
    ] = None,
) -> Any:
    """A task run with one of its attempts; an attempt it never had is a 400 that lists those it had."""
    return await caller.ask_found("task run", task_id, Method.GET_TASK, task_id, attempt)


@router.get(
    "/{task_id}/task-events",
    response_model=Page[TaskTimelineEvent],
    responses=_NOT_FOUND,
    summary="List a task run's events",
)
async def list_task_events(task_id: TaskId, at: WindowDep, caller: CallerDep) -> Page[dict[str, Any]]:
    """A task run's timeline, every attempt, oldest first."""
    events = await caller.ask_found(
        "task run", task_id, Method.LIST_TASK_EVENTS, task_id, {"limit": MAX_TASK_EVENTS}
    )
    return page_of(events, at, complete=len(events) < MAX_TASK_EVENTS)
