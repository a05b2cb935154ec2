"""Triggering runs and reading them back: refs, details, and ``ratchet.runs``.

Every call here turns into one gateway call through the client's
:class:`~ratchet._connection.Connection` and has a sync and an ``aio_`` form. A
:class:`WorkflowRunRef` can wait for its run's result at any time, even long after the
run finished: the engine answers a wait on a finished run from the store.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pydantic

from .._contract.calls import Method, trigger_request
from .._contract.status import RunStatus, TaskEventKind, TaskStatus
from .._errors import FailedTaskRunExceptionGroup, RunCancelledError, TaskRunError
from .calls import ClientCalls
from .inspection import RunTimings, TaskDetails
from .run_filters import BulkCancelReplayOpts, RunFilter, bulk_request
from .triggers import to_epoch

if TYPE_CHECKING:
    from .._client import Ratchet
    from .._declare.workflow import Workflow

__all__ = [
    "RunCancelledError",
    "RunDetails",
    "RunsClient",
    "TaskRunDetails",
    "TriggerWorkflowOptions",
    "WorkflowRunRef",
]


class TaskEvent(pydantic.BaseModel):
    """One entry of a task's timeline.

    ``worker_id`` is the id of the worker involved (each worker process has its own);
    ``worker_name`` the name it was given (``ratchet.worker("name")``), shared by replicas.
    """

    model_config = pydantic.ConfigDict(defer_build=True)  # built on first use: import ratchet stays light

    kind: TaskEventKind
    attempt: int
    at: float
    message: str | None = None
    worker_id: str | None = None
    worker_name: str | None = None
    # the entry's place in the engine's timeline (``list_task_events`` pages by it)
    seq: int | None = None


class TaskRunDetails(pydantic.BaseModel):
    """One task of a run.

    Its times are its current attempt's: ``started_at`` is when a worker was given the
    attempt (None while it has not run). ``worker_id`` / ``worker_name`` say which worker
    holds or last held it; ``cancel_reason`` why a CANCELLED task was cancelled (its
    schedule timeout, its ``cancel_if``, a parent that failed, a cancel request, ...).
    """

    model_config = pydantic.ConfigDict(defer_build=True)  # built on first use: import ratchet stays light

    name: str
    task_id: str
    status: TaskStatus
    attempt: int
    retry_count: int
    output: Any = None
    error: dict[str, Any] | None = None
    worker_id: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    events: list[TaskEvent] = []
    worker_name: str | None = None
    cancel_reason: str | None = None
    # why a QUEUED task is not starting, when the engine knows: no live worker serves it
    queued_reason: str | None = None


class RunDetails(pydantic.BaseModel):
    """A run as the engine recorded it.

    ``error`` says why a FAILED run failed, or why a CANCELLED run was cancelled (the
    reason :class:`RunCancelledError` carries). ``triggering_event_id`` is the pushed
    event that started the run, if one did.
    """

    model_config = pydantic.ConfigDict(defer_build=True)  # built on first use: import ratchet stays light

    run_id: str
    workflow: str
    version: int
    status: RunStatus
    done: bool
    input: Any = None
    output: dict[str, Any] = {}
    additional_metadata: dict[str, Any] = {}
    priority: int = 1
    parent_task_id: str | None = None
    error: str | None = None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    tasks: list[TaskRunDetails] = []
    triggering_event_id: str | None = None

    def task(self, name: str) -> TaskRunDetails:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(f"run {self.run_id} has no task {name!r}")


def _result(details: RunDetails, standalone: str | None) -> Any:
    """What ``run`` returns for a finished run, or the error it raises."""
    if details.status is RunStatus.COMPLETED:
        if standalone is not None:
            return details.output.get(standalone)
        return dict(details.output)
    if details.status is RunStatus.FAILED:
        errors = [
            TaskRunError(
                t.name,
                t.task_id,
                (t.error or {}).get("type", "Error"),
                (t.error or {}).get("message", ""),
                (t.error or {}).get("traceback", ""),
            )
            for t in details.tasks
            if t.status is TaskStatus.FAILED
        ]
        if not errors:
            errors = [TaskRunError("(run)", details.run_id, "Error", details.error or "the run failed")]
        raise FailedTaskRunExceptionGroup(
            f"run {details.run_id} of {details.workflow!r} failed", errors, run_id=details.run_id
        )
    if details.status is RunStatus.CANCELLED:
        raise RunCancelledError(details.run_id, details.error)
    raise RuntimeError(f"run {details.run_id} is not finished (status {details.status})")


@dataclass(frozen=True)
class TriggerWorkflowOptions:
    """One run for :meth:`Workflow.run_many` (see :meth:`Workflow.create_bulk_run_item`)."""

    input: Any = None
    additional_metadata: dict[str, Any] = field(default_factory=dict)
    priority: int | None = None
    key: str | None = None
    # worker affinity of this run: label key to DesiredWorkerLabel (or a plain value),
    # for every task of the run; a task's own wish for the same key wins
    desired_worker_labels: Mapping[str, Any] | None = None


class WorkflowRunRef:
    """A triggered run: its id, and its result when it is ready."""

    def __init__(self, client: Ratchet, run_id: str, standalone: str | None = None) -> None:
        self._client = client
        self.workflow_run_id = run_id
        self._standalone = standalone
        self._durable_outcome: dict[str, Any] | None = None  # logged by a durable parent

    @property
    def run_id(self) -> str:
        return self.workflow_run_id

    def result(self) -> Any:
        """Wait for the run; its outputs, or :class:`FailedTaskRunExceptionGroup`."""
        return _result(self._client.runs._wait(self.workflow_run_id), self._standalone)

    async def aio_result(self) -> Any:
        """Wait for the run; inside a durable task the wait is logged and holds no slot."""
        from .._worker.durable_context import DurableContext
        from .._worker.spawn import current_context

        ctx = current_context.get()
        if isinstance(ctx, DurableContext):
            if self._durable_outcome is None:
                (self._durable_outcome,) = await ctx._wait_runs([self.workflow_run_id])
            return _result(RunDetails.model_validate(self._durable_outcome), self._standalone)
        return _result(await self._client.runs._aio_wait(self.workflow_run_id), self._standalone)

    def __repr__(self) -> str:
        return f"<WorkflowRunRef {self.workflow_run_id}>"


def _details(raw: dict[str, Any] | None, run_id: str) -> RunDetails:
    if raw is None:
        raise LookupError(f"no run with id {run_id!r}")
    return RunDetails.model_validate(raw)


class RunsClient(ClientCalls):
    """``ratchet.runs``: read, list, wait for, cancel and replay runs, and look into their tasks.

    A request the engine refuses as malformed raises ``ValueError`` with its reason.
    """

    def get(self, run_id: str) -> RunDetails:
        """The run with its tasks and timeline. Raises LookupError if unknown."""
        return _details(self._call(Method.GET_RUN, run_id, True), run_id)

    async def aio_get(self, run_id: str) -> RunDetails:
        return _details(await self._acall(Method.GET_RUN, run_id, True), run_id)

    get_details = get
    aio_get_details = aio_get

    def get_status(self, run_id: str) -> RunStatus:
        return _details(self._call(Method.GET_RUN, run_id, False), run_id).status

    async def aio_get_status(self, run_id: str) -> RunStatus:
        return _details(await self._acall(Method.GET_RUN, run_id, False), run_id).status

    def list(
        self,
        *,
        statuses: Sequence[RunStatus | str] | None = None,
        workflow: Any = None,
        since: float | datetime | None = None,
        until: float | datetime | None = None,
        additional_metadata: dict[str, Any] | None = None,
        parent_task_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        workflow_ids: Sequence[str] | None = None,
        worker_id: str | None = None,
        triggering_event_id: str | None = None,
        metadata_match: str = "all",
        parent_task_external_id: str | None = None,
    ) -> builtins.list[RunDetails]:
        """Runs, newest first (without task details), ``offset`` skipped, at most ``limit``.

        Every filter given must hold: ``statuses``; ``workflow`` (a workflow or its name)
        and ``workflow_ids`` (ids or names); created in ``[since, until)``; metadata
        holding all ``additional_metadata`` pairs (``metadata_match="any"``: one of them);
        spawned by task run ``parent_task_id`` (hatchet-sdk: ``parent_task_external_id``);
        a task of it ran on ``worker_id``; started by event ``triggering_event_id``.
        """
        filters = _filters(locals())
        return [RunDetails.model_validate(r) for r in self._call(Method.LIST_RUNS, filters)]

    async def aio_list(
        self,
        *,
        statuses: Sequence[RunStatus | str] | None = None,
        workflow: Any = None,
        since: float | datetime | None = None,
        until: float | datetime | None = None,
        additional_metadata: dict[str, Any] | None = None,
        parent_task_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        workflow_ids: Sequence[str] | None = None,
        worker_id: str | None = None,
        triggering_event_id: str | None = None,
        metadata_match: str = "all",
        parent_task_external_id: str | None = None,
    ) -> builtins.list[RunDetails]:
        """The ``aio_`` form of :meth:`list`."""
        filters = _filters(locals())
        return [RunDetails.model_validate(r) for r in await self._acall(Method.LIST_RUNS, filters)]

    def cancel(self, run_id: str) -> bool:
        """Cancel a run; False if it had already finished."""
        return bool(self._call(Method.CANCEL_RUNS, [run_id]))

    async def aio_cancel(self, run_id: str) -> bool:
        return bool(await self._acall(Method.CANCEL_RUNS, [run_id]))

    def bulk_cancel(self, runs: BulkCancelReplayOpts | RunFilter | Sequence[str]) -> int:
        """Cancel several runs: by ids, or every QUEUED and RUNNING run a :class:`RunFilter`
        matches (``BulkCancelReplayOpts(ids=... | filters=...)``, as in hatchet-sdk).
        Returns how many were still running."""
        return int(self._call(Method.CANCEL_RUNS, bulk_request(runs)))

    async def aio_bulk_cancel(self, runs: BulkCancelReplayOpts | RunFilter | Sequence[str]) -> int:
        """The ``aio_`` form of :meth:`bulk_cancel`."""
        return int(await self._acall(Method.CANCEL_RUNS, bulk_request(runs)))

    def replay(self, run_id: str) -> bool:
        """Run a FAILED or CANCELLED run again from where it broke.

        Its failed and cancelled tasks and their descendants run as new attempts (with
        a fresh retry budget); completed tasks keep their outputs. Returns False if the
        run was not FAILED or CANCELLED. Wait for it again with ``ref.result()``.
        """
        return bool(self._call(Method.REPLAY_RUNS, [run_id]))

    async def aio_replay(self, run_id: str) -> bool:
        return bool(await self._acall(Method.REPLAY_RUNS, [run_id]))

    def bulk_replay(self, runs: BulkCancelReplayOpts | RunFilter | Sequence[str]) -> builtins.list[str]:
        """Replay several runs: by ids, or every FAILED and CANCELLED run a filter matches.
        Returns the ids that were replayed."""
        return list(self._call(Method.REPLAY_RUNS, bulk_request(runs)))

    async def aio_bulk_replay(
        self, runs: BulkCancelReplayOpts | RunFilter | Sequence[str]
    ) -> builtins.list[str]:
        """The ``aio_`` form of :meth:`bulk_replay`."""
        return list(await self._acall(Method.REPLAY_RUNS, bulk_request(runs)))

    def get_timings(self, run_id: str, depth: int = 1) -> RunTimings:
        """A run's tasks with their queued, started and finished times, and those of the
        runs its tasks spawned, ``depth`` levels down (0: the run alone; at most 10).
        Raises LookupError if the run is unknown."""
        return _found(RunTimings, self._call(Method.GET_RUN_TIMINGS, run_id, depth), f"run {run_id!r}")

    async def aio_get_timings(self, run_id: str, depth: int = 1) -> RunTimings:
        """The ``aio_`` form of :meth:`get_timings`."""
        answer = await self._acall(Method.GET_RUN_TIMINGS, run_id, depth)
        return _found(RunTimings, answer, f"run {run_id!r}")

    def get_task(self, task_id: str, attempt: int | None = None) -> TaskDetails:
        """A task run with one of its attempts (default: the current one). Raises
        LookupError if the task run is unknown, ValueError if it has no such attempt."""
        return _found(TaskDetails, self._call(Method.GET_TASK, task_id, attempt), f"task run {task_id!r}")

    async def aio_get_task(self, task_id: str, attempt: int | None = None) -> TaskDetails:
        """The ``aio_`` form of :meth:`get_task`."""
        answer = await self._acall(Method.GET_TASK, task_id, attempt)
        return _found(TaskDetails, answer, f"task run {task_id!r}")

    def list_task_events(
        self, task_id: str, *, after_seq: int | None = None, limit: int = 1000
    ) -> builtins.list[TaskEvent]:
        """A task run's timeline in order (after entry ``after_seq``, at most ``limit``).
        Raises LookupError if the task run is unknown."""
        answer = self._call(Method.LIST_TASK_EVENTS, task_id, _page(after_seq, limit))
        return [TaskEvent.model_validate(e) for e in _found(None, answer, f"task run {task_id!r}")]

    async def aio_list_task_events(
        self, task_id: str, *, after_seq: int | None = None, limit: int = 1000
    ) -> builtins.list[TaskEvent]:
        """The ``aio_`` form of :meth:`list_task_events`."""
        answer = await self._acall(Method.LIST_TASK_EVENTS, task_id, _page(after_seq, limit))
        return [TaskEvent.model_validate(e) for e in _found(None, answer, f"task run {task_id!r}")]

    def _wait(self, run_id: str) -> RunDetails:
        return _details(self._call(Method.WAIT_RUN, run_id), run_id)

    async def _aio_wait(self, run_id: str) -> RunDetails:
        return _details(await self._acall(Method.WAIT_RUN, run_id), run_id)


def _filters(args: dict[str, Any]) -> dict[str, Any]:
    """The ``list_runs`` filters of :meth:`RunsClient.list`'s arguments (those left unset are left out)."""
    filters: dict[str, Any] = {"limit": args["limit"], "offset": args["offset"]}
    if args["metadata_match"] != "all":
        filters["metadata_match"] = args["metadata_match"]
    if args["statuses"] is not None:
        filters["statuses"] = [str(getattr(s, "value", s)) for s in args["statuses"]]
    if args["workflow"] is not None:
        filters["workflow"] = getattr(args["workflow"], "name", args["workflow"])
    if args["workflow_ids"] is not None:
        filters["workflow_ids"] = [getattr(w, "name", w) for w in args["workflow_ids"]]
    for key in ("since", "until"):
        if args[key] is not None:
            filters[key] = to_epoch(args[key], key)
    parent = args["parent_task_id"] if args["parent_task_id"] is not None else args["parent_task_external_id"]
    for key, value in (
        ("additional_metadata", args["additional_metadata"]),
        ("parent_task_id", parent),
        ("worker_id", args["worker_id"]),
        ("triggering_event_id", args["triggering_event_id"]),
    ):
        if value is not None:
            filters[key] = value
    return filters


def _page(after_seq: int | None, limit: int) -> dict[str, Any]:
    page: dict[str, Any] = {"limit": limit}
    if after_seq is not None:
        page["after_seq"] = after_seq
    return page


def _found(model: Any, answer: Any, what: str) -> Any:
    """``answer`` validated as ``model`` (as it is without one); LookupError if the engine had none."""
    if answer is None:
        raise LookupError(f"no {what}")
    return answer if model is None else model.model_validate(answer)


def trigger_payload(workflow: Workflow, options: TriggerWorkflowOptions) -> dict[str, Any]:
    """The gateway request for one run of ``workflow``.

    Raises:
        DefinitionError: the run's ``desired_worker_labels`` are malformed.
    """
    from .._contract.flow import desired_labels

    labels = desired_labels(options.desired_worker_labels, f"a run of workflow {workflow.name!r}")
    priority = options.priority
    return trigger_request(
        workflow.name,
        workflow.input.dump(options.input),
        dict(options.additional_metadata or {}),
        # a Priority is an IntEnum: send its plain number
        priority=int(priority) if isinstance(priority, enum.IntEnum) else priority,
        key=options.key,
        desired_worker_labels={key: label.to_dict() for key, label in labels},
    )


def check_answers(workflow: Workflow, answers: list[dict[str, Any]]) -> list[str | Exception]:
    """Run ids, or the engine's refusal as an exception, in request order."""
    out: list[str | Exception] = []
    for answer in answers:
        if "run_id" in answer:
            out.append(answer["run_id"])
        else:
            out.append(
                ValueError(f"workflow {workflow.name!r}: {answer.get('error', 'refused by the engine')}")
            )
    return out
