"""Workflow runs: list, get, their task events and timings, trigger, cancel and replay.

Routes under ``/api/v1/workflow-runs`` in Hatchet's v1 vocabulary; a workflow is named
by its name (Ratchet's workflow id). Each route asks the tenant's gateway what the SDK's
``ratchet.runs`` asks, through :class:`~._access.Caller`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field, model_validator

from ratchet._contract.calls import MAX_ID_LENGTH, Method
from ratchet._contract.protocol import MAX_TIMINGS_DEPTH, RunFilterRequest, TriggerRequest
from ratchet._contract.status import RunStatus, TaskEventKind, TaskStatus

from ._access import CallerDep
from ._errors import ApiProblem, ErrorBody
from ._pages import Page, WindowDep, page_at, page_of
from ._times import UtcDatetime, epoch

__all__ = [
    "RunFilter",
    "RunIds",
    "RunTimings",
    "TaskError",
    "TaskEvent",
    "TaskRun",
    "TaskTiming",
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


class TaskTiming(BaseModel):
    """One bar of a run's waterfall: a task, its times, its run, how deep it sits."""

    task_id: str
    name: str
    run_id: str
    workflow: str
    depth: int = Field(description="0 for the run's own tasks, 1 for its child runs' tasks, ...")
    parent_task_id: str | None = Field(default=None, description="The task run that spawned this run.")
    parents: list[str] = Field(default=[], description="The task's parents within its run.")
    status: TaskStatus
    attempt: int
    retry_count: int
    worker_id: str | None = None
    created_at: UtcDatetime
    queued_at: UtcDatetime | None = None
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None


class RunTimings(BaseModel):
    """A run's waterfall."""

    run_id: str
    workflow: str
    status: RunStatus
    created_at: UtcDatetime
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    depth: int
    truncated: bool = Field(description="Whether the waterfall stopped at its most tasks.")
    tasks: list[TaskTiming]


class RunFilter(RunFilterRequest):
    """Runs created in ``[since, until)``, in one of ``statuses``, of one of ``workflow_ids``
    (names or ids), whose metadata has all (or any) of the ``additional_metadata`` pairs."""

    since: UtcDatetime  # type: ignore[assignment]  # a date-time here, epoch seconds on the wire
    until: UtcDatetime | None = None  # type: ignore[assignment]


class RunIds(BaseModel):
    """The runs a cancel or a replay acts on: by ``run_ids`` or by ``filter``, exactly one."""

    model_config = {"extra": "forbid"}

    run_ids: list[Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_RUN_IDS,
        description="Ids of runs; unknown ids are skipped.",
    )
    filter: RunFilter | None = Field(
        default=None, description="The runs it matches (a cancel takes the live ones, a replay the ended)."
    )

    @model_validator(mode="after")
    def _one_of(self) -> RunIds:
        if (self.run_ids is None) == (self.filter is None):
            raise ValueError("give the runs either by run_ids or by filter, not both and not neither")
        return self

    def to_wire(self) -> dict[str, Any]:
        """The request as ``cancel_runs`` / ``replay_runs`` take it."""
        if self.filter is None:
            return {"ids": self.run_ids}
        body = self.filter.model_dump()
        body["since"] = epoch(self.filter.since)
        body["until"] = None if self.filter.until is None else epoch(self.filter.until)
        return {"filter": body}


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
    worker_id: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_ID_LENGTH, description="Runs a task of which ran on this worker."),
    ] = None,
    triggering_event_id: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_ID_LENGTH, description="Runs this pushed event started."),
    ] = None,
) -> Page[dict[str, Any]]:
    """Runs, newest first, filtered; ``since`` bounds the time window from below."""
    filters: dict[str, Any] = {"since": epoch(since), "offset": at.offset, "limit": at.limit + 1}
    given = {
        "until": None if until is None else epoch(until),
        "statuses": [str(s) for s in statuses] if statuses else None,
        "workflow_ids": list(dict.fromkeys(workflow_ids)) if workflow_ids else None,
        "parent_task_id": parent_task_id,
        "worker_id": worker_id,
        "triggering_event_id": triggering_event_id,
    }
    filters.update((key, value) for key, value in given.items() if value is not None)
    pairs = metadata_pairs(additional_metadata or ())
    keys = [key for key, _ in pairs]
    if len(set(keys)) == len(keys):
        if pairs:
            filters.update(additional_metadata=dict(pairs), metadata_match=metadata_match)
        return page_at(await caller.ask(Method.LIST_RUNS, filters), at)
    # A key given with several values: no run has them all, and any of them is a union of
    # lists, each asked for the first rows up to the window's end.
    if metadata_match == "all":
        return page_at([], at)
    filters.update(offset=0, limit=at.end + 1, metadata_match="any")
    lists = [
        await caller.ask(Method.LIST_RUNS, {**filters, "additional_metadata": group})
        for group in _unique_keys(pairs)
    ]
    return page_of(newest_first(lists, at.end + 1), at, complete=False)


def _unique_keys(pairs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """``pairs`` in as few maps as hold them without a key twice."""
    groups: list[dict[str, Any]] = []
    for key, value in pairs:
        group = next((g for g in groups if key not in g), None)
        if group is None:
            groups.append(group := {})
        group[key] = value
    return groups


@router.get(
    "/{run_id}", response_model=WorkflowRunDetails, responses=_NOT_FOUND, summary="Get a workflow run"
)
async def get_run(run_id: RunId, caller: CallerDep) -> dict[str, Any]:
    """A run with its tasks and their timelines."""
    details: dict[str, Any] = await caller.ask_found("run", run_id, Method.GET_RUN, run_id, True)
    return details


@router.get(
    "/{run_id}/task-events",
    response_model=Page[WorkflowRunTaskEvent],
    responses=_NOT_FOUND,
    summary="List a workflow run's task events",
)
async def list_run_task_events(run_id: RunId, at: WindowDep, caller: CallerDep) -> Page[dict[str, Any]]:
    """The timeline of every task of a run, oldest first."""
    details = await caller.ask_found("run", run_id, Method.GET_RUN, run_id, True)
    events = [
        {**event, "task_id": task["task_id"], "task_name": task["name"]}
        for task in details["tasks"]
        for event in task["events"]
    ]
    events.sort(key=lambda e: e["at"])  # stable: a task's events stay in commit order
    return page_of(events, at)


@router.get(
    "/{run_id}/timings",
    response_model=RunTimings,
    responses=_NOT_FOUND,
    summary="Get a workflow run's timings",
)
async def get_run_timings(
    run_id: RunId,
    caller: CallerDep,
    depth: Annotated[
        int, Query(ge=0, le=MAX_TIMINGS_DEPTH, description="How many levels of child runs to follow.")
    ] = 1,
) -> Any:
    """The run's tasks with their queued, started and finished times, and its child runs'
    tasks down to ``depth`` levels: the data of a waterfall."""
    timings = await caller.ask_found("run", run_id, Method.GET_RUN_TIMINGS, run_id, depth)
    return timings


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
    """Cancel runs, by ids or by filter: their queued and running tasks, and everything downstream."""
    return Cancelled(cancelled=await caller.ask(Method.CANCEL_RUNS, request.to_wire()))


@router.post("/replay", response_model=Replayed, summary="Replay workflow runs")
async def replay_runs(request: RunIds, caller: CallerDep) -> Replayed:
    """Run FAILED or CANCELLED runs (by ids or by filter) again from where they broke; completed
    tasks keep their outputs."""
    return Replayed(replayed=await caller.ask(Method.REPLAY_RUNS, request.to_wire()))
