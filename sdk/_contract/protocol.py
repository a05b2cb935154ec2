"""The wire contract: the shapes of requests the engine accepts, validated at its edge.

Workers and clients call the :class:`~ratchet.actors.gateway._gateway.Gateway` with plain
JSON-like values (they cross the wire as msgpack). Each request is checked against one
of these pydantic models before anything else happens, so garbage gets a
:class:`RequestError` that says what was wrong and changes nothing.

The rest of the contract is re-exported here, so the engine reads it from one place: the
gateway's :class:`Method` names, limits, the request builders and the
:class:`ErrorCode` of errors that cross the wire live in :mod:`.calls`, apart, because
every client and worker loads them at ``import ratchet`` and defining these models
costs import time they do not need. The idempotency keys are in :mod:`.keys`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .calls import DEFAULT_MAX_PAYLOAD_BYTES as DEFAULT_MAX_PAYLOAD_BYTES
from .calls import IDEMPOTENT as IDEMPOTENT
from .calls import MAX_BULK_EVENTS as MAX_BULK_EVENTS
from .calls import MAX_ID_LENGTH as MAX_ID_LENGTH
from .calls import ErrorCode as ErrorCode
from .calls import Method as Method
from .calls import error_code as error_code
from .calls import event_request as event_request
from .calls import trigger_request as trigger_request
from .codes import TaskErrorCode
from .payload_size import PayloadTooDeep, packed_size
from .status import RunStatus

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "IDEMPOTENT",
    "MAX_BULK_EVENTS",
    "MAX_ID_LENGTH",
    "MAX_LISTED_IDS",
    "BulkRunsRequest",
    "CreateCronRequest",
    "CreateFilterRequest",
    "CreateScheduleRequest",
    "ErrorCode",
    "GetTaskRequest",
    "ListRunsRequest",
    "ListTaskEventsRequest",
    "ListWorkersRequest",
    "ListWorkflowsRequest",
    "Method",
    "PushEventRequest",
    "QueueMetricsRequest",
    "RegisterWorkerRequest",
    "RequestError",
    "RunFilterRequest",
    "RunTimingsRequest",
    "TaskResultReport",
    "TriggerRequest",
    "check_id",
    "check_payload_size",
    "error_code",
    "event_request",
    "parse",
    "run_labels",
    "trigger_request",
]


Name = Field(min_length=1, max_length=MAX_ID_LENGTH)


class RequestError(ValueError):
    """A request to the engine was malformed; nothing was changed (:attr:`ErrorCode.REQUEST`)."""


def check_id(value: Any, what: str, kind: str = "an id") -> str:
    """``value`` if it is an id (a string of 1 to :data:`MAX_ID_LENGTH` characters).

    Raises:
        RequestError: ``"<what>: <value> is not <kind>"``.
    """
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise RequestError(f"{what}: {value!r} is not {kind}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TriggerRequest(_Strict):
    workflow: str = Name
    input: Any = None
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(default=None, ge=1, le=3)
    key: str | None = Field(default=None, min_length=1, max_length=500)
    parent_task_id: str | None = None
    # this run's worker affinity: label key -> DesiredWorkerLabel.to_dict()
    desired_worker_labels: dict[str, Any] = Field(default_factory=dict, max_length=100)


class RegisterWorkerRequest(_Strict):
    worker_id: str = Name
    name: str = Name
    actor: str = Name
    peer: str | None = None
    slots: int = Field(ge=1, le=100_000)
    durable_slots: int = Field(default=1000, ge=0, le=1_000_000)
    labels: dict[str, Any] = Field(default_factory=dict)  # checked by check_worker_labels
    workflows: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)
    # attempts the worker is still running (from before an engine restart): they hold slots
    running: list[tuple[str, int]] = Field(default_factory=list, max_length=100_000)
    # those of them that are attempts of durable tasks: they hold durable slots
    durable_running: list[tuple[str, int]] = Field(default_factory=list, max_length=100_000)


class TaskResultReport(_Strict):
    task_id: str = Name
    attempt: int = Field(ge=1)
    status: Literal["completed", "failed", "cancelled", "evicted"]
    output: Any = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    retryable: bool = True
    # what the failure means to the engine (the message is for people only)
    error_code: TaskErrorCode | None = None
    worker_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    # for "evicted": the log position of the durable call the attempt was waiting on
    evicted_at: int | None = Field(default=None, ge=0)


#: A point in time: epoch seconds, finite.
Timestamp = Annotated[float, Field(allow_inf_nan=False)]
#: How a run's ``additional_metadata`` must match the pairs asked for: all of them, or any one.
MetadataMatch = Literal["all", "any"]
#: Ids (or names) one request may list at most.
MAX_LISTED_IDS = 10_000


class ListRunsRequest(_Strict):
    """The filters of ``list_runs`` (every one given must hold), newest first.

    ``workflow`` names one workflow; ``workflow_ids`` lists workflows by id or name.
    ``worker_id`` keeps runs a task of which had an attempt on that worker;
    ``triggering_event_id`` the runs a pushed event started; ``additional_metadata``
    keeps runs whose metadata holds all of the pairs (``metadata_match="all"``) or any
    one of them (``"any"``). ``offset`` skips that many matching runs.
    """

    statuses: list[RunStatus] | None = None
    workflow: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    workflow_ids: list[Annotated[str, Name]] | None = Field(default=None, max_length=1000)
    since: Timestamp | None = None
    until: Timestamp | None = None
    additional_metadata: dict[str, Any] | None = None
    metadata_match: MetadataMatch = "all"
    parent_task_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    worker_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    triggering_event_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    limit: int = Field(default=100, ge=1, le=10_000, strict=True)
    offset: int = Field(default=0, ge=0, le=1_000_000, strict=True)


def _printable(value: str, what: str) -> str:
    if not value.strip() or not value.isprintable():
        raise ValueError(f"{what} must be printable and not blank")
    return value


class PushEventRequest(_Strict):
    """One event of ``push_events``."""

    key: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    payload: Any = None
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    scope: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    priority: int | None = Field(default=None, ge=1, le=3)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        return _printable(value, "an event key")


class CreateFilterRequest(_Strict):
    """The request of ``create_filter``."""

    workflow: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    expression: str = Field(min_length=1, max_length=10_000)
    scope: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    payload: Any = None


class CreateCronRequest(_Strict):
    """The request of ``create_cron``."""

    workflow: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    name: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    expression: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    input: Any = None
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(default=None, ge=1, le=3)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _printable(value, "a cron name")


class CreateScheduleRequest(_Strict):
    """The request of ``create_schedule`` (``trigger_at`` in epoch seconds)."""

    workflow: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    trigger_at: float
    input: Any = None
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(default=None, ge=1, le=3)


def parse(model: type[BaseModel], value: Any, what: str) -> Any:
    """Validate ``value`` as ``model``.

    Raises:
        RequestError: naming the request and every problem pydantic found.
    """
    if not isinstance(value, dict):
        raise RequestError(f"{what}: expected a mapping, got {type(value).__name__}")
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(request)'}: {err['msg']}" for err in exc.errors()
        )
        raise RequestError(f"{what} is invalid: {problems}") from None


MAX_PAYLOAD_DEPTH = 256


def check_payload_size(value: Any, limit: int, what: str) -> None:
    """Reject a payload that cannot be encoded, nests too deep, or is larger than ``limit`` bytes."""
    try:
        size = packed_size(value, max_depth=MAX_PAYLOAD_DEPTH)
    except PayloadTooDeep as exc:
        raise RequestError(f"{what} {exc}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise RequestError(f"{what} cannot be encoded: {exc}") from None
    if size > limit:
        raise RequestError(f"{what} is {size} bytes, over the engine's limit of {limit} bytes")


def run_labels(raw: dict[str, Any], workflow: str) -> tuple[tuple[str, Any], ...]:
    """A trigger's ``desired_worker_labels``, checked: (key, DesiredWorkerLabel) pairs.

    Raises:
        RequestError: a malformed label, naming it.
    """
    from ratchet._contract.flow import DesiredWorkerLabel, desired_labels
    from ratchet._errors import DefinitionError

    where = f"a run of workflow {workflow!r}"
    fields = {"value", "required", "weight", "comparator"}
    labels = {}
    for key, value in raw.items():
        unknown = sorted(set(value) - fields) if isinstance(value, dict) else []
        if unknown:
            raise RequestError(f"run request is invalid: {where}: label {key!r} has unknown fields {unknown}")
        try:
            labels[key] = DesiredWorkerLabel.from_dict(value)
        except DefinitionError as exc:
            raise RequestError(f"run request is invalid: {where}: label {key!r}: {exc}") from None
    try:
        return desired_labels(labels, where)
    except DefinitionError as exc:
        raise RequestError(f"run request is invalid: {exc}") from None


# -- the API's requests: bulk operations, workers, workflows, metrics, timings, tasks -------------


class RunFilterRequest(_Strict):
    """Which runs a bulk cancel or replay takes (Hatchet's ``RunFilter``): runs created
    in ``[since, until)``, in one of ``statuses``, of one of ``workflow_ids`` (ids or
    names), whose metadata matches ``additional_metadata`` (see :class:`ListRunsRequest`)."""

    since: Timestamp
    until: Timestamp | None = None
    statuses: list[RunStatus] | None = None
    workflow_ids: list[Annotated[str, Name]] | None = Field(default=None, max_length=1000)
    additional_metadata: dict[str, Any] | None = None
    metadata_match: MetadataMatch = "all"


class BulkRunsRequest(_Strict):
    """The runs of ``cancel_runs`` / ``replay_runs``: by ``ids``, or by ``filter``; exactly one."""

    ids: list[Annotated[str, Name]] | None = Field(default=None, max_length=MAX_LISTED_IDS)
    filter: RunFilterRequest | None = None

    @model_validator(mode="after")
    def _one_of(self) -> BulkRunsRequest:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give the runs either by ids or by filter, not both and not neither")
        return self


class ListWorkersRequest(_Strict):
    """The filters of ``list_workers``: connected workers only, or also those gone."""

    include_inactive: bool = Field(default=False, strict=True)


class ListWorkflowsRequest(_Strict):
    """The filters of ``list_workflows`` when it lists workflows in full (by name)."""

    name_contains: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    limit: int = Field(default=100, ge=1, le=10_000, strict=True)
    offset: int = Field(default=0, ge=0, le=1_000_000, strict=True)


class QueueMetricsRequest(_Strict):
    """``queue_metrics``: with ``since``, also count the tasks created in ``[since, until)``."""

    since: Timestamp | None = None
    until: Timestamp | None = None

    @model_validator(mode="after")
    def _window(self) -> QueueMetricsRequest:
        if self.until is not None and self.since is None:
            raise ValueError("until needs a since: task counts are over a time window [since, until)")
        if self.since is not None and self.until is not None and self.until < self.since:
            raise ValueError(f"until ({self.until}) is before since ({self.since})")
        return self


#: How deep ``get_run_timings`` follows child runs at most.
MAX_TIMINGS_DEPTH = 10


class RunTimingsRequest(_Strict):
    """``get_run_timings``: a run's tasks, and its child runs' tasks ``depth`` levels down."""

    run_id: str = Name
    depth: int = Field(default=1, ge=0, le=MAX_TIMINGS_DEPTH, strict=True)


class GetTaskRequest(_Strict):
    """``get_task``: a task run, with one of its attempts (default: the current one)."""

    task_id: str = Name
    attempt: int | None = Field(default=None, ge=1, strict=True)


class ListTaskEventsRequest(_Strict):
    """``list_task_events``: a task's timeline, after entry ``after_seq``, at most ``limit``."""

    after_seq: int | None = Field(default=None, ge=0, strict=True)
    limit: int = Field(default=1000, ge=1, le=10_000, strict=True)
