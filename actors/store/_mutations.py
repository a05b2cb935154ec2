"""Typed mutations: what the engine asks the store to write.

Each mutation is a frozen value that compiles, purely, to row operations
(:meth:`Mutation.ops`); compiling checks and encodes every value, so a bad payload
fails its caller before any transaction starts. Timestamps (``at``) are epoch seconds
the caller read from the runtime clock; ids come from the runtime's random source.
A mutation's result is ``None``, or for fenced ones (:class:`TransitionTask`,
:class:`SetRunStatus`, ...) whether it applied: ``False`` means a newer attempt or state
won and nothing was written.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ratchet._contract.status import RunStatus, ScheduleStatus, TaskEventKind, TaskStatus, WorkerStatus

from ._ops import Delete, Insert, Op, Update, Upsert
from ._rows import build_row

__all__ = [
    "AcquireConcurrencySlot",
    "AddPause",
    "AppendDurableLog",
    "AppendLogLine",
    "CancelSchedule",
    "ClaimWebhookDelivery",
    "CreateApiToken",
    "CreateCron",
    "CreateEventFilter",
    "CreateRun",
    "CreateSchedule",
    "CreateTasks",
    "CreateTenant",
    "CreateWebhook",
    "DeleteCron",
    "DeleteEventFilter",
    "DeleteRateLimit",
    "DeleteWebhook",
    "EnsureTenant",
    "FireSchedule",
    "Heartbeat",
    "Mutation",
    "NewTask",
    "PauseKind",
    "PushEvent",
    "PutRateLimit",
    "PutTenantLimits",
    "RecordCronFire",
    "RecordWebhookFailure",
    "RegisterWorkflowVersion",
    "ReleaseConcurrencySlot",
    "ReleaseWebhookDelivery",
    "RemovePause",
    "RescheduleSchedule",
    "ResolveDurableLog",
    "RevokeApiToken",
    "SaveRateLimitWindow",
    "SetRunStatus",
    "SetWorkerStatus",
    "TransitionTask",
    "UpsertWorker",
]

_UNSET: Any = object()
_LIVE_TASK = (TaskStatus.PENDING, TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.EVICTED)
_LIVE_RUN = (RunStatus.QUEUED, RunStatus.RUNNING)


class Mutation:
    """Base class of mutations: compiles to row operations and reads back its result."""

    mutation_name: ClassVar[str] = "Mutation"

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls.mutation_name = cls.__name__

    def ops(self) -> list[Op]:
        """The row operations, values checked and encoded.

        Raises:
            MutationRejected: a value cannot be stored.
        """
        raise NotImplementedError

    def result(self, op_results: Sequence[Any]) -> Any:
        """The caller's answer: whether the first fenced operation applied, else ``None``."""
        for r in op_results:
            if r is not None:
                return r
        return None

    def _row(self, table: str, values: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
        return build_row(table, self.mutation_name, values, partial=partial)


def _strs(values: Sequence[Any]) -> tuple[str, ...]:
    return tuple(str(getattr(v, "value", v)) for v in values)


@dataclass(frozen=True, kw_only=True)
class CreateTenant(Mutation):
    """Create a tenant."""

    id: str
    name: str
    at: float

    def ops(self) -> list[Op]:
        return [
            Insert("tenants", self._row("tenants", {"id": self.id, "name": self.name, "created_at": self.at}))
        ]


@dataclass(frozen=True, kw_only=True)
class EnsureTenant(Mutation):
    """Create a tenant unless a tenant with this id exists (then nothing changes).

    What an engine does at every start: several engines starting at once on one new
    database all write it, and all succeed. A *different* tenant holding the name is
    still a conflict.
    """

    id: str
    name: str
    at: float

    def ops(self) -> list[Op]:
        row = self._row("tenants", {"id": self.id, "name": self.name, "created_at": self.at})
        return [Upsert("tenants", row, conflict=("id",))]


@dataclass(frozen=True, kw_only=True)
class CreateApiToken(Mutation):
    """Store an API token's hash (never the token)."""

    tenant_id: str
    id: str
    name: str
    token_hash: str
    at: float
    role: str
    expires_at: float | None = None

    def ops(self) -> list[Op]:
        values = {
            "role": self.role,
            "tenant_id": self.tenant_id,
            "id": self.id,
            "name": self.name,
            "token_hash": self.token_hash,
            "created_at": self.at,
            "expires_at": self.expires_at,
            "revoked": 0,
        }
        return [Insert("api_tokens", self._row("api_tokens", values))]


@dataclass(frozen=True, kw_only=True)
class RevokeApiToken(Mutation):
    """Revoke a token; applies if it exists."""

    tenant_id: str
    id: str

    def ops(self) -> list[Op]:
        key = self._row("api_tokens", {"tenant_id": self.tenant_id, "id": self.id}, partial=True)
        return [Update("api_tokens", key, {"revoked": 1})]


@dataclass(frozen=True, kw_only=True)
class RegisterWorkflowVersion(Mutation):
    """Add an immutable version of a workflow (creating the workflow on first use).

    A version, once written, never changes, and the first writer wins: writing a
    workflow whose name is stored, or a version number that is stored, changes nothing
    (engines sharing a database may register at the same moment; the registry reads
    back what the store holds, see :mod:`ratchet.actors.runs._registry`).
    """

    tenant_id: str
    workflow_id: str
    name: str
    version: int
    checksum: str
    definition: Any
    at: float

    def ops(self) -> list[Op]:
        wf = {"tenant_id": self.tenant_id, "id": self.workflow_id, "name": self.name, "created_at": self.at}
        ver = {
            "tenant_id": self.tenant_id,
            "workflow_id": self.workflow_id,
            "version": self.version,
            "checksum": self.checksum,
            "definition": self.definition,
            "created_at": self.at,
        }
        return [
            Upsert("workflows", self._row("workflows", wf), conflict=("tenant_id", "name")),
            Upsert(
                "workflow_versions",
                self._row("workflow_versions", ver),
                conflict=("tenant_id", "workflow_id", "version"),
            ),
        ]


@dataclass(frozen=True, kw_only=True)
class SetCurrentWorkflowVersion(Mutation):
    """Make ``version`` the one new runs of a workflow use (a rollback points back)."""

    tenant_id: str
    workflow_id: str
    version: int
    checksum: str
    at: float

    def ops(self) -> list[Op]:
        row = {
            "tenant_id": self.tenant_id,
            "workflow_id": self.workflow_id,
            "version": self.version,
            "checksum": self.checksum,
            "updated_at": self.at,
        }
        return [
            Upsert(
                "current_workflow_versions",
                self._row("current_workflow_versions", row),
                conflict=("tenant_id", "workflow_id"),
                update=("version", "checksum", "updated_at"),
            )
        ]


@dataclass(frozen=True, kw_only=True)
class NewTask:
    """A task to create, in :class:`CreateRun` or :class:`CreateTasks`."""

    id: str
    name: str
    queue: str
    input: Any = None
    parents: tuple[str, ...] = ()
    priority: int = 1
    max_retries: int = 0
    durable: bool = False
    status: TaskStatus = TaskStatus.QUEUED
    concurrency_key: str | None = None
    timeout_at: float | None = None


def _task_ops(
    mutation: Mutation, tenant_id: str, run_id: str, tasks: Sequence[NewTask], at: float
) -> list[Op]:
    rows: list[Op] = []
    events: list[Op] = []
    for t in tasks:
        if t.status not in (TaskStatus.PENDING, TaskStatus.QUEUED):
            raise AssertionError(
                f"{mutation.mutation_name}: a new task starts PENDING or QUEUED, not {t.status!r}"
            )
        values = {
            "tenant_id": tenant_id,
            "id": t.id,
            "run_id": run_id,
            "name": t.name,
            "queue": t.queue,
            "status": t.status,
            "attempt": 1,
            "retry_count": 0,
            "internal_retry_count": 0,
            "max_retries": t.max_retries,
            "priority": t.priority,
            "durable": t.durable,
            "parents": list(t.parents),
            "input": t.input,
            "output": None,
            "error": None,
            "worker_id": None,
            "concurrency_key": t.concurrency_key,
            "created_at": at,
            "queued_at": at if t.status == TaskStatus.QUEUED else None,
            "started_at": None,
            "finished_at": None,
            "timeout_at": t.timeout_at,
        }
        rows.append(Insert("tasks", build_row("tasks", mutation.mutation_name, values)))
        kind = TaskEventKind.QUEUED if t.status == TaskStatus.QUEUED else TaskEventKind.CREATED
        events.append(
            Insert("task_events", _event_row(mutation, tenant_id, t.id, run_id, 1, kind, None, None, at))
        )
    return rows + events


def _event_row(
    mutation: Mutation,
    tenant_id: str,
    task_id: str,
    run_id: str,
    attempt: int,
    kind: TaskEventKind,
    worker_id: str | None,
    message: str | None,
    at: float,
) -> dict[str, Any]:
    values = {
        "tenant_id": tenant_id,
        "task_id": task_id,
        "run_id": run_id,
        "attempt": attempt,
        "kind": kind,
        "worker_id": worker_id,
        "message": message,
        "at": at,
    }
    return build_row("task_events", mutation.mutation_name, values)


@dataclass(frozen=True, kw_only=True)
class CreateRun(Mutation):
    """Create a workflow run, bound to a workflow version, with its first tasks."""

    tenant_id: str
    id: str
    workflow_id: str
    workflow_version: int
    input: Any
    tasks: tuple[NewTask, ...]
    at: float
    additional_metadata: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 1
    parent_task_id: str | None = None
    idempotency_key: str | None = None

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "id": self.id,
            "workflow_id": self.workflow_id,
            "workflow_version": self.workflow_version,
            "status": RunStatus.QUEUED,
            "input": self.input,
            "additional_metadata": dict(self.additional_metadata),
            "priority": self.priority,
            "parent_task_id": self.parent_task_id,
            "idempotency_key": self.idempotency_key,
            "error": None,
            "created_at": self.at,
            "started_at": None,
            "finished_at": None,
        }
        run = Insert("workflow_runs", self._row("workflow_runs", values))
        return [run, *_task_ops(self, self.tenant_id, self.id, self.tasks, self.at)]


@dataclass(frozen=True, kw_only=True)
class CreateTasks(Mutation):
    """Add tasks to an existing run (children that became ready, spawned work)."""

    tenant_id: str
    run_id: str
    tasks: tuple[NewTask, ...]
    at: float

    def ops(self) -> list[Op]:
        return _task_ops(self, self.tenant_id, self.run_id, self.tasks, self.at)


@dataclass(frozen=True, kw_only=True)
class TransitionTask(Mutation):
    """Move a task's ``attempt`` from one of ``from_statuses`` to ``to_status``, fenced.

    Applies only if the task is still on ``attempt`` and in one of ``from_statuses``;
    a late message about an older attempt therefore changes nothing and the result is
    ``False``. When it applies it also appends ``event`` to the task's timeline and
    records the attempt in ``task_attempts``.

    Args (fields):
        new_attempt: move to this attempt number (a retry re-queues as ``attempt + 1``);
            the old attempt is then recorded as ended with ``attempt_outcome`` and ``error``.
        output: the task's output (set when completing).
        worker_id: the worker now holding the task (``None`` keeps it; use
            ``clear_worker`` to drop it on a re-queue).
    """

    tenant_id: str
    task_id: str
    run_id: str
    attempt: int
    to_status: TaskStatus
    event: TaskEventKind
    at: float
    from_statuses: tuple[TaskStatus, ...] = _LIVE_TASK
    new_attempt: int | None = None
    worker_id: str | None = None
    clear_worker: bool = False
    output: Any = _UNSET
    error: str | None = None
    message: str | None = None
    retry_count: int | None = None
    internal_retry_count: int | None = None
    timeout_at: Any = _UNSET
    attempt_outcome: TaskStatus = TaskStatus.FAILED

    def _attempt(self, attempt: int, values: dict[str, Any], *, update: tuple[str, ...]) -> Upsert:
        row = {
            "tenant_id": self.tenant_id,
            "task_id": self.task_id,
            "attempt": attempt,
            "status": values["status"],
            "worker_id": values.get("worker_id"),
            "error": values.get("error"),
            "created_at": self.at,
            "started_at": values.get("started_at"),
            "finished_at": values.get("finished_at"),
        }
        built = self._row("task_attempts", row)
        return Upsert("task_attempts", built, conflict=("tenant_id", "task_id", "attempt"), update=update)

    def ops(self) -> list[Op]:
        attempt = self.new_attempt if self.new_attempt is not None else self.attempt
        to = TaskStatus(self.to_status)
        values: dict[str, Any] = {"status": to}
        attempt_values: dict[str, Any] = {"status": to}
        if self.new_attempt is not None:
            values["attempt"] = self.new_attempt
        if self.worker_id is not None:
            values["worker_id"] = attempt_values["worker_id"] = self.worker_id
        elif self.clear_worker:
            values["worker_id"] = None
        if self.output is not _UNSET:
            values["output"] = self.output
        if self.error is not None:
            values["error"] = attempt_values["error"] = self.error
        if self.retry_count is not None:
            values["retry_count"] = self.retry_count
        if self.internal_retry_count is not None:
            values["internal_retry_count"] = self.internal_retry_count
        if self.timeout_at is not _UNSET:
            values["timeout_at"] = self.timeout_at
        if to == TaskStatus.QUEUED:
            values["queued_at"] = self.at
        if self.event in (TaskEventKind.ASSIGNED, TaskEventKind.STARTED):
            # an attempt starts when a worker is given it; a STARTED entry refines the time
            values["started_at"] = attempt_values["started_at"] = self.at
        if to.is_terminal:
            values["finished_at"] = attempt_values["finished_at"] = self.at
        key = self._row("tasks", {"tenant_id": self.tenant_id, "id": self.task_id}, partial=True)
        side: list[Insert | Upsert] = []
        if self.new_attempt is not None:
            # The old attempt ends (how: attempt_outcome) and a new one begins.
            ended = {"status": self.attempt_outcome, "error": self.error, "finished_at": self.at}
            side.append(self._attempt(self.attempt, ended, update=tuple(ended)))
            side.append(self._attempt(attempt, {"status": to}, update=("status",)))
        else:
            side.append(self._attempt(attempt, attempt_values, update=tuple(attempt_values)))
        event = _event_row(
            self,
            self.tenant_id,
            self.task_id,
            self.run_id,
            attempt,
            self.event,
            self.worker_id,
            self.message,
            self.at,
        )
        return [
            Update(
                "tasks",
                key,
                self._row("tasks", values, partial=True),
                expect={"attempt": self.attempt},
                expect_in={"status": _strs(self.from_statuses)},
                on_applied=(Insert("task_events", event), *side),
            )
        ]


@dataclass(frozen=True, kw_only=True)
class SetRunStatus(Mutation):
    """Move a run to ``status`` if it is in one of ``from_statuses`` (by default: not yet terminal).

    ``error`` records why a run failed or was cancelled; ``reopen`` (a replay moving a finished
    run back to work) clears the error and finish time it ended with.
    """

    tenant_id: str
    run_id: str
    status: RunStatus
    at: float
    from_statuses: tuple[RunStatus, ...] = _LIVE_RUN
    error: str | None = None
    reopen: bool = False

    def ops(self) -> list[Op]:
        status = RunStatus(self.status)
        values: dict[str, Any] = {"status": status}
        if self.reopen:
            values["error"] = None
            values["finished_at"] = None
        if status == RunStatus.RUNNING:
            values["started_at"] = self.at
        if status.is_terminal:
            values["finished_at"] = self.at
        if self.error is not None:
            values["error"] = self.error
        key = self._row("workflow_runs", {"tenant_id": self.tenant_id, "id": self.run_id}, partial=True)
        return [
            Update(
                "workflow_runs",
                key,
                self._row("workflow_runs", values, partial=True),
                expect_in={"status": _strs(self.from_statuses)},
            )
        ]


@dataclass(frozen=True, kw_only=True)
class UpsertWorker(Mutation):
    """Register a worker, or refresh its registration (keeps ``registered_at``)."""

    tenant_id: str
    id: str
    name: str
    at: float
    slots: int = 100
    durable_slots: int = 1000
    labels: Mapping[str, Any] = field(default_factory=dict)
    actions: tuple[str, ...] = ()
    status: WorkerStatus = WorkerStatus.ACTIVE

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "id": self.id,
            "name": self.name,
            "slots": self.slots,
            "durable_slots": self.durable_slots,
            "labels": dict(self.labels),
            "actions": list(self.actions),
            "status": self.status,
            "registered_at": self.at,
            "last_heartbeat_at": self.at,
        }
        update = ("name", "slots", "durable_slots", "labels", "actions", "status", "last_heartbeat_at")
        return [Upsert("workers", self._row("workers", values), conflict=("tenant_id", "id"), update=update)]


@dataclass(frozen=True, kw_only=True)
class Heartbeat(Mutation):
    """Record a worker's heartbeat; ``False`` if the worker is unknown."""

    tenant_id: str
    worker_id: str
    at: float

    def ops(self) -> list[Op]:
        key = self._row("workers", {"tenant_id": self.tenant_id, "id": self.worker_id}, partial=True)
        return [Update("workers", key, self._row("workers", {"last_heartbeat_at": self.at}, partial=True))]


@dataclass(frozen=True, kw_only=True)
class SetWorkerStatus(Mutation):
    """Mark a worker ACTIVE, DRAINING or STOPPED."""

    tenant_id: str
    worker_id: str
    status: WorkerStatus

    def ops(self) -> list[Op]:
        key = self._row("workers", {"tenant_id": self.tenant_id, "id": self.worker_id}, partial=True)
        return [Update("workers", key, self._row("workers", {"status": self.status}, partial=True))]


@dataclass(frozen=True, kw_only=True)
class PushEvent(Mutation):
    """Record a pushed event (acknowledged once committed)."""

    tenant_id: str
    id: str
    key: str
    payload: Any
    at: float
    additional_metadata: Mapping[str, Any] = field(default_factory=dict)
    scope: str | None = None

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "id": self.id,
            "key": self.key,
            "payload": self.payload,
            "additional_metadata": dict(self.additional_metadata),
            "scope": self.scope,
            "created_at": self.at,
        }
        return [Insert("events", self._row("events", values))]


@dataclass(frozen=True, kw_only=True)
class CreateEventFilter(Mutation):
    """Add a CEL filter deciding when events trigger a workflow."""

    tenant_id: str
    id: str
    workflow_id: str
    scope: str
    expression: str
    at: float
    payload: Any = None

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "id": self.id,
            "workflow_id": self.workflow_id,
            "scope": self.scope,
            "expression": self.expression,
            "payload": self.payload,
            "created_at": self.at,
        }
        return [Insert("event_filters", self._row("event_filters", values))]


@dataclass(frozen=True, kw_only=True)
class DeleteEventFilter(Mutation):
    """Remove an event filter; ``False`` if there was none."""

    tenant_id: str
    id: str

    def ops(self) -> list[Op]:
        return [Delete("event_filters", {"tenant_id": self.tenant_id, "id": self.id})]


@dataclass(frozen=True, kw_only=True)
class CreateCron(Mutation):
    """Add a cron trigger; its name is unique per workflow."""

    tenant_id: str
    id: str
    workflow_id: str
    name: str
    expression: str
    at: float
    input: Any = None
    additional_metadata: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 1
    enabled: bool = True

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "id": self.id,
            "workflow_id": self.workflow_id,
            "name": self.name,
            "expression": self.expression,
            "input": self.input,
            "additional_metadata": dict(self.additional_metadata),
            "priority": self.priority,
            "enabled": self.enabled,
            "created_at": self.at,
            "last_fired_at": None,
        }
        return [Insert("crons", self._row("crons", values))]


@dataclass(frozen=True, kw_only=True)
class DeleteCron(Mutation):
    """Remove a cron; ``False`` if there was none."""

    tenant_id: str
    id: str

    def ops(self) -> list[Op]:
        return [Delete("crons", {"tenant_id": self.tenant_id, "id": self.id})]


@dataclass(frozen=True, kw_only=True)
class RecordCronFire(Mutation):
    """Record that a cron fired at ``fired_at``, if its last firing is still ``previous``.

    The fence makes two engines racing on the same cron fire it once.
    """

    tenant_id: str
    id: str
    fired_at: float
    previous: float | None

    def ops(self) -> list[Op]:
        key = self._row("crons", {"tenant_id": self.tenant_id, "id": self.id}, partial=True)
        values = self._row("crons", {"last_fired_at": self.fired_at}, partial=True)
        return [Update("crons", key, values, expect={"last_fired_at": self.previous})]


@dataclass(frozen=True, kw_only=True)
class CreateSchedule(Mutation):
    """Add a one-time scheduled run."""

    tenant_id: str
    id: str
    workflow_id: str
    trigger_at: float
    at: float
    input: Any = None
    additional_metadata: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 1

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "id": self.id,
            "workflow_id": self.workflow_id,
            "trigger_at": self.trigger_at,
            "input": self.input,
            "additional_metadata": dict(self.additional_metadata),
            "priority": self.priority,
            "status": ScheduleStatus.PENDING,
            "run_id": None,
            "created_at": self.at,
        }
        return [Insert("schedules", self._row("schedules", values))]


def _schedule_update(m: Mutation, tenant_id: str, id: str, values: dict[str, Any]) -> list[Op]:
    key = build_row("schedules", m.mutation_name, {"tenant_id": tenant_id, "id": id}, partial=True)
    return [
        Update(
            "schedules",
            key,
            build_row("schedules", m.mutation_name, values, partial=True),
            expect_in={"status": (ScheduleStatus.PENDING.value,)},
        )
    ]


@dataclass(frozen=True, kw_only=True)
class RescheduleSchedule(Mutation):
    """Move a pending schedule to ``trigger_at``; ``False`` once it fired or was cancelled."""

    tenant_id: str
    id: str
    trigger_at: float

    def ops(self) -> list[Op]:
        return _schedule_update(self, self.tenant_id, self.id, {"trigger_at": self.trigger_at})


@dataclass(frozen=True, kw_only=True)
class CancelSchedule(Mutation):
    """Cancel a pending schedule; ``False`` once it fired or was cancelled."""

    tenant_id: str
    id: str

    def ops(self) -> list[Op]:
        return _schedule_update(self, self.tenant_id, self.id, {"status": ScheduleStatus.CANCELLED})


@dataclass(frozen=True, kw_only=True)
class FireSchedule(Mutation):
    """Mark a pending schedule fired by ``run_id``; ``False`` if another engine fired it first."""

    tenant_id: str
    id: str
    run_id: str

    def ops(self) -> list[Op]:
        return _schedule_update(
            self, self.tenant_id, self.id, {"status": ScheduleStatus.FIRED, "run_id": self.run_id}
        )


@dataclass(frozen=True, kw_only=True)
class AppendDurableLog(Mutation):
    """Append entry ``seq`` to a durable task's event log.

    A second entry with the same ``seq`` is rejected as a conflict: replay must read the
    log, not write it again.
    """

    tenant_id: str
    task_id: str
    seq: int
    kind: str
    key: str
    at: float
    data: Any = None

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "task_id": self.task_id,
            "seq": self.seq,
            "kind": self.kind,
            "key": self.key,
            "data": self.data,
            "created_at": self.at,
        }
        return [Insert("durable_log", self._row("durable_log", values))]


@dataclass(frozen=True, kw_only=True)
class ResolveDurableLog(Mutation):
    """Record the result of a durable log entry (its wait ended); ``False`` if there is none."""

    tenant_id: str
    task_id: str
    seq: int
    data: Any

    def ops(self) -> list[Op]:
        key = self._row(
            "durable_log",
            {"tenant_id": self.tenant_id, "task_id": self.task_id, "seq": self.seq},
            partial=True,
        )
        return [Update("durable_log", key, self._row("durable_log", {"data": self.data}, partial=True))]


@dataclass(frozen=True, kw_only=True)
class PutRateLimit(Mutation):
    """Create or change a rate limit."""

    tenant_id: str
    key: str
    limit_units: int
    duration_seconds: float
    at: float

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "key": self.key,
            "limit_units": self.limit_units,
            "duration_seconds": self.duration_seconds,
            "updated_at": self.at,
        }
        row = self._row("rate_limits", values)
        update = ("limit_units", "duration_seconds", "updated_at")
        return [Upsert("rate_limits", row, conflict=("tenant_id", "key"), update=update)]


@dataclass(frozen=True, kw_only=True)
class DeleteRateLimit(Mutation):
    """Remove a static rate limit and its sliding log; ``False`` if the key was not declared."""

    tenant_id: str
    key: str

    def ops(self) -> list[Op]:
        key = {"tenant_id": self.tenant_id, "key": self.key}
        return [Delete("rate_limits", dict(key)), Delete("rate_limit_windows", dict(key))]

    def result(self, op_results: Sequence[Any]) -> Any:
        """Whether the key was declared (its log may or may not have been kept)."""
        return bool(op_results[0])


@dataclass(frozen=True, kw_only=True)
class SaveRateLimitWindow(Mutation):
    """Keep a rate-limit key's sliding log (replacing the one kept before)."""

    tenant_id: str
    key: str
    limit_units: int
    duration_seconds: float
    log: Sequence[Sequence[float]]
    at: float

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "key": self.key,
            "limit_units": self.limit_units,
            "duration_seconds": self.duration_seconds,
            "log": [list(entry) for entry in self.log],
            "updated_at": self.at,
        }
        row = self._row("rate_limit_windows", values)
        update = ("limit_units", "duration_seconds", "log", "updated_at")
        return [Upsert("rate_limit_windows", row, conflict=("tenant_id", "key"), update=update)]


@dataclass(frozen=True, kw_only=True)
class AcquireConcurrencySlot(Mutation):
    """Record that ``task_id`` holds a slot of concurrency group ``group_key``."""

    tenant_id: str
    group_key: str
    task_id: str
    run_id: str
    at: float

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "group_key": self.group_key,
            "task_id": self.task_id,
            "run_id": self.run_id,
            "acquired_at": self.at,
        }
        return [Insert("concurrency_slots", self._row("concurrency_slots", values))]


@dataclass(frozen=True, kw_only=True)
class ReleaseConcurrencySlot(Mutation):
    """Release a task's slot of a concurrency group; ``False`` if it held none."""

    tenant_id: str
    group_key: str
    task_id: str

    def ops(self) -> list[Op]:
        key = self._row(
            "concurrency_slots",
            {"tenant_id": self.tenant_id, "group_key": self.group_key, "task_id": self.task_id},
            partial=True,
        )
        return [Delete("concurrency_slots", key)]


@dataclass(frozen=True, kw_only=True)
class AppendLogLine(Mutation):
    """Append a line a task logged."""

    tenant_id: str
    task_id: str
    attempt: int
    level: str
    message: str
    at: float

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "task_id": self.task_id,
            "attempt": self.attempt,
            "level": self.level,
            "message": self.message,
            "created_at": self.at,
        }
        return [Insert("log_lines", self._row("log_lines", values))]


class PauseKind(enum.StrEnum):
    """What a :class:`AddPause` pauses: a worker (target: its id), a workflow (its name) or a
    cron (its id: a disabled cron fires no ticks)."""

    WORKER = "worker"
    WORKFLOW = "workflow"
    CRON = "cron"


@dataclass(frozen=True, kw_only=True)
class AddPause(Mutation):
    """Pause a worker or a workflow; pausing it again keeps the first time it was paused."""

    tenant_id: str
    kind: PauseKind
    target: str
    at: float

    def ops(self) -> list[Op]:
        values = {"tenant_id": self.tenant_id, "kind": self.kind, "target": self.target, "paused_at": self.at}
        return [Upsert("pauses", self._row("pauses", values), conflict=("tenant_id", "kind", "target"))]


@dataclass(frozen=True, kw_only=True)
class RemovePause(Mutation):
    """Lift a pause; ``False`` if it was not paused."""

    tenant_id: str
    kind: PauseKind
    target: str

    def ops(self) -> list[Op]:
        key = self._row(
            "pauses", {"tenant_id": self.tenant_id, "kind": self.kind, "target": self.target}, partial=True
        )
        return [Delete("pauses", key)]


@dataclass(frozen=True, kw_only=True)
class CreateWebhook(Mutation):
    """Add a webhook; its name is unique per tenant (a second one is rejected).

    ``sealed_secret`` is the secret as the engine encrypted it: never the secret itself.
    """

    tenant_id: str
    name: str
    id: str
    kind: str
    settings: Mapping[str, Any]
    sealed_secret: str
    at: float

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "name": self.name,
            "id": self.id,
            "kind": self.kind,
            "settings": dict(self.settings),
            "sealed_secret": self.sealed_secret,
            "created_at": self.at,
        }
        return [Insert("webhooks", self._row("webhooks", values))]


@dataclass(frozen=True, kw_only=True)
class DeleteWebhook(Mutation):
    """Remove a webhook; ``False`` if there was none."""

    tenant_id: str
    name: str

    def ops(self) -> list[Op]:
        key = self._row("webhooks", {"tenant_id": self.tenant_id, "name": self.name}, partial=True)
        return [Delete("webhooks", key)]


@dataclass(frozen=True, kw_only=True)
class RecordWebhookFailure(Mutation):
    """Record why a webhook refused a request (and the start of its body, if any)."""

    tenant_id: str
    webhook_id: str
    reason: str
    at: float
    excerpt: str | None = None

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "webhook_id": self.webhook_id,
            "reason": self.reason,
            "excerpt": self.excerpt,
            "at": self.at,
        }
        return [Insert("webhook_failures", self._row("webhook_failures", values))]


@dataclass(frozen=True, kw_only=True)
class ClaimWebhookDelivery(Mutation):
    """Remember that a webhook took delivery ``delivery_id`` until ``expires_at``.

    A delivery id already remembered is rejected as a conflict: that is how a replay
    is refused, by every engine sharing the database alike.
    """

    tenant_id: str
    webhook_id: str
    delivery_id: str
    expires_at: float

    def ops(self) -> list[Op]:
        values = {
            "tenant_id": self.tenant_id,
            "webhook_id": self.webhook_id,
            "delivery_id": self.delivery_id,
            "expires_at": self.expires_at,
        }
        return [Insert("webhook_deliveries", self._row("webhook_deliveries", values))]


@dataclass(frozen=True, kw_only=True)
class ReleaseWebhookDelivery(Mutation):
    """Forget a delivery id (its window passed, or its event could not be pushed); ``False`` if none.

    With ``expires_at``, only the claim that expires then is forgotten, not a newer one.
    """

    tenant_id: str
    webhook_id: str
    delivery_id: str
    expires_at: float | None = None

    def ops(self) -> list[Op]:
        key = {"tenant_id": self.tenant_id, "webhook_id": self.webhook_id, "delivery_id": self.delivery_id}
        row = self._row("webhook_deliveries", key, partial=True)
        if self.expires_at is None:
            return [Delete("webhook_deliveries", row)]
        expect = self._row("webhook_deliveries", {"expires_at": self.expires_at}, partial=True)
        return [Delete("webhook_deliveries", row, expect=expect)]


@dataclass(frozen=True, kw_only=True)
class PutTenantLimits(Mutation):
    """Set a tenant's limits (all of them: ``settings`` replaces what was stored)."""

    tenant_id: str
    settings: Mapping[str, Any]
    at: float

    def ops(self) -> list[Op]:
        values = {"tenant_id": self.tenant_id, "settings": dict(self.settings), "updated_at": self.at}
        return [Upsert("tenant_limits", self._row("tenant_limits", values), conflict=("tenant_id",))]
