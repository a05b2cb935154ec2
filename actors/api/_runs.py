"""Workflow runs: list, get, their task events, trigger, cancel and replay.

Routes under ``/api/v1/workflow-runs`` in Hatchet's v1 vocabulary; a workflow is named
by its name (Ratchet's workflow id). Each route asks the tenant's gateway what the SDK's
``ratchet.runs`` asks, through :class:`~._access.Caller`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from ratchet._contract.calls import MAX_ID_LENGTH, Method
from ratchet._contract.protocol import TriggerRequest
from ratchet._contract.status import RunStatus, TaskEventKind, TaskStatus

from ._access import CallerDep
from ._errors import ApiProblem, ErrorBody, not_found
from ._pages import Page, WindowDep, page_of
from ._times import UtcDatetime, epoch

__all__ = [
    "RunIds",
    "TaskError",
    "TaskEvent",
    "TaskRun",
    "WorkflowRun",
    "WorkflowRunDetails",
    "WorkflowRunTaskEvent",
    "router",
]

#: The most run ids one cancel or replay names (the gateway's batch limit).
MAX_RUN_IDS = 10_000

RunId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, description="The run's id.")]


class TaskError(BaseModel):
    """Why a task failed: the exception's type, message and traceback."""

    type: str
    message: str
    traceback: str = ""


class TaskEvent(BaseModel):
    """One entry of a task's timeline."""

    kind: TaskEventKind
    attempt: int
    at: UtcDatetime
    message: str | None = None
    worker_id: str | None = None
    worker_name: str | None = None


class WorkflowRunTaskEvent(TaskEvent):
    """One entry of a run's timeline: a task's event, naming the task."""

    task_id: str
    task_name: str


class TaskRun(BaseModel):
    """A task of a run, at its current attempt, with its timeline."""

    name: str
    task_id: str
    status: TaskStatus
    attempt: int
    retry_count: int
    output: Any = None
    error: TaskError | None = None
    worker_id: str | None = None
    worker_name: str | None = None
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    cancel_reason: str | None = None
    queued_reason: str | None = Field(
        default=None, description="Why a QUEUED task is not starting, when no live worker serves it."
    )
    events: list[TaskEvent] = []


class WorkflowRun(BaseModel):
    """A run without its tasks' details (how lists show it)."""

    run_id: str
    workflow: str
    version: int
    status: RunStatus
    done: bool
    input: Any = None
    output: dict[str, Any] = Field(default={}, description="Each completed task's output, by task name.")
    additional_metadata: dict[str, Any] = {}
    priority: int
    parent_task_id: str | None = None
    error: str | None = Field(default=None, description="Why a FAILED or CANCELLED run ended so.")
    created_at: UtcDatetime
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None


class WorkflowRunDetails(WorkflowRun):
    """A run with its tasks and their timelines."""

    tasks: list[TaskRun] = []


class RunIds(BaseModel):
    """The runs a cancel or a replay acts on."""

    model_config = {"extra": "forbid"}

    run_ids: list[str] = Field(
        min_length=1, max_length=MAX_RUN_IDS, description="Ids of runs; unknown ids are skipped."
    )


class Cancelled(BaseModel):
    """What a cancel did."""

    cancelled: int = Field(description="How many of the runs were still running and are now cancelled.")


class Replayed(BaseModel):
    """What a replay did."""

    replayed: list[str] = Field(description="The runs that were FAILED or CANCELLED and run again.")


router = APIRouter(prefix="/api/v1/workflow-runs", tags=["Workflow Runs"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such run."}}


def metadata_pairs(pairs: Iterable[str]) -> list[tuple[str, Any]]:
    """``key:value`` filters as pairs; a value that reads as JSON is that value, else the text.

    Raises:
        ApiProblem: a pair without a key (400).
    """
    out = []
    for pair in pairs:
        key, sep, text = pair.partition(":")
        if not sep or not key:
            raise ApiProblem(
                400, "invalid_request", f"additional_metadata: {pair!r} is not key:value (as in env:prod)"
            )
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        out.append((key, value))
    return out


def newest_first(lists: Iterable[list[dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    """Runs of several lists in one, newest first as the store orders them, without repeats."""
    unique = {run["run_id"]: run for runs in lists for run in runs}
    ordered = sorted(unique.values(), key=lambda run: (run["created_at"], run["run_id"]), reverse=True)
    return ordered[:limit]


@router.get("", response_model=Page[WorkflowRun], summary="List workflow runs")
async def list_runs(
    since: Annotated[UtcDatetime, Query(description="Runs created at or after this time.")],
    at: WindowDep,
    caller: CallerDep,
    until: Annotated[UtcDatetime | None, Query(description="Runs created before this time.")] = None,
    statuses: Annotated[list[RunStatus] | None, Query(description="Runs in any of these statuses.")] = None,
    workflow_ids: Annotated[
        list[str] | None, Query(description="Runs of any of these workflows (by name).", max_length=100)
    ] = None,
    additional_metadata: Annotated[
        list[str] | None,
        Query(
            description="`key:value` pairs the run's metadata must have (a value that reads as JSON "
            "is compared as that value: `n:1` matches the number 1).",
            max_length=20,
        ),
    ] = None,
    metadata_match: Annotated[
        Literal["all", "any"],
        Query(description="Whether a run must have all the `additional_metadata` pairs, or any."),
    ] = "all",
    parent_task_id: Annotated[str | None, Query(min_length=1, max_length=MAX_ID_LENGTH)] = None,
) -> Page[dict[str, Any]]:
    """Runs, newest first, filtered; ``since`` bounds the time window from below."""
    base: dict[str, Any] = {"since": epoch(since), "limit": at.end + 1}
    if until is not None:
        base["until"] = epoch(until)
    if statuses:
        base["statuses"] = [str(s) for s in statuses]
    if parent_task_id is not None:
        base["parent_task_id"] = parent_task_id
    pairs = metadata_pairs(additional_metadata or ())
    metadata_filters: list[dict[str, Any]] = [{}]
    if pairs:
        metadata_filters = [dict(pairs)] if metadata_match == "all" else [{k: v} for k, v in pairs]
    workflows: list[str | None] = list(dict.fromkeys(workflow_ids)) if workflow_ids else [None]
    lists = []
    for workflow in workflows:
        for metadata in metadata_filters:
            filters = dict(base)
            if workflow is not None:
                filters["workflow"] = workflow
            if metadata:
                filters["additional_metadata"] = metadata
            lists.append(await caller.ask(Method.LIST_RUNS, filters))
    return page_of(newest_first(lists, at.end + 1), at, complete=False)


@router.get(
    "/{run_id}", response_model=WorkflowRunDetails, responses=_NOT_FOUND, summary="Get a workflow run"
)
async def get_run(run_id: RunId, caller: CallerDep) -> dict[str, Any]:
    """A run with its tasks and their timelines."""
    details: dict[str, Any] | None = await caller.ask(Method.GET_RUN, run_id, True)
    if details is None:
        raise not_found("run", run_id)
    return details


@router.get(
    "/{run_id}/task-events",
    response_model=Page[WorkflowRunTaskEvent],
    responses=_NOT_FOUND,
    summary="List a workflow run's task events",
)
async def list_run_task_events(run_id: RunId, at: WindowDep, caller: CallerDep) -> Page[dict[str, Any]]:
    """The timeline of every task of a run, oldest first."""
    details = await caller.ask(Method.GET_RUN, run_id, True)
    if details is None:
        raise not_found("run", run_id)
    events = [
        {**event, "task_id": task["task_id"], "task_name": task["name"]}
        for task in details["tasks"]
        for event in task["events"]
    ]
    events.sort(key=lambda e: e["at"])  # stable: a task's events stay in commit order
    return page_of(events, at)


@router.post("/trigger", response_model=WorkflowRun, status_code=201, summary="Trigger a workflow run")
async def trigger_run(request: TriggerRequest, caller: CallerDep) -> dict[str, Any]:
    """Start a run of a workflow; a ``key`` an earlier run was started with answers that run."""
    (answer,) = await caller.ask(Method.TRIGGER, [request.model_dump()])
    if "run_id" not in answer:
        raise ApiProblem(400, "invalid_request", answer.get("error", "the engine refused the run"))
    run: dict[str, Any] = await caller.ask(Method.GET_RUN, answer["run_id"], False)
    return run


@router.post("/cancel", response_model=Cancelled, summary="Cancel workflow runs")
async def cancel_runs(request: RunIds, caller: CallerDep) -> Cancelled:
    """Cancel runs: their queued and running tasks, and everything downstream."""
    return Cancelled(cancelled=await caller.ask(Method.CANCEL_RUNS, request.run_ids))


@router.post("/replay", response_model=Replayed, summary="Replay workflow runs")
async def replay_runs(request: RunIds, caller: CallerDep) -> Replayed:
    """Run FAILED or CANCELLED runs again from where they broke; completed tasks keep their outputs."""
    return Replayed(replayed=await caller.ask(Method.REPLAY_RUNS, request.run_ids))
