"""What ``ratchet.runs`` reads back for a closer look: a run's waterfall, a task run's details.

``ratchet.runs.get_timings(run_id, depth)`` gives each task of a run (and of the runs
its tasks spawned, ``depth`` levels down) with its queued, started and finished times;
``ratchet.runs.get_task(task_id, attempt)`` a task run with one of its attempts; and
``ratchet.runs.list_task_events(task_id)`` its timeline.
"""

from __future__ import annotations

from typing import Any

import pydantic

from .._contract.status import RunStatus, TaskStatus

__all__ = ["RunTimings", "TaskAttemptDetails", "TaskDetails", "TaskTiming"]


class TaskTiming(pydantic.BaseModel):
    """One bar of a waterfall: a task with its times and how deep its run sits.

    ``depth`` is 0 for the run's own tasks, 1 for its child runs' tasks, ...;
    ``parent_task_id`` is the task run that spawned the task's run.
    """

    model_config = pydantic.ConfigDict(defer_build=True)  # built on first use: import ratchet stays light

    task_id: str
    name: str
    run_id: str
    workflow: str
    depth: int
    parent_task_id: str | None = None
    parents: list[str] = []
    status: TaskStatus
    attempt: int
    retry_count: int = 0
    worker_id: str | None = None
    created_at: float
    queued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None


class RunTimings(pydantic.BaseModel):
    """A run's waterfall; ``truncated`` when it had more tasks than one read shows."""

    model_config = pydantic.ConfigDict(defer_build=True)

    run_id: str
    workflow: str
    status: RunStatus
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    depth: int
    truncated: bool = False
    tasks: list[TaskTiming] = []


class TaskAttemptDetails(pydantic.BaseModel):
    """One attempt of a task run: how it ended, on which worker, when."""

    model_config = pydantic.ConfigDict(defer_build=True)

    attempt: int
    status: TaskStatus
    worker_id: str | None = None
    worker_name: str | None = None
    error: dict[str, Any] | None = None
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None


class TaskDetails(pydantic.BaseModel):
    """A task run: its state now, its input and output, and one attempt in detail
    (``attempt_details``; ``attempts`` lists the numbers it had)."""

    model_config = pydantic.ConfigDict(defer_build=True)

    task_id: str
    name: str
    run_id: str
    workflow: str
    status: TaskStatus
    attempt: int
    retry_count: int = 0
    max_retries: int = 0
    priority: int = 1
    durable: bool = False
    parents: list[str] = []
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    worker_id: str | None = None
    worker_name: str | None = None
    additional_metadata: dict[str, Any] = {}
    created_at: float
    queued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    attempts: list[int] = []
    attempt_details: TaskAttemptDetails
