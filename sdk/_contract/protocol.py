"""The wire contract: the gateway's methods, request shapes, limits and error codes.

Workers and clients call the :class:`~ratchet.actors.gateway._gateway.Gateway` with plain
JSON-like values (they cross the wire as msgpack). This module is what both sides agree
on, so neither spells it again:

- :class:`Method`: the names of the gateway's methods, and :data:`IDEMPOTENT`, those a
  client may send twice (retried across engine restarts);
- the request models: each request is checked against one of them before anything else
  happens, so garbage gets a :class:`RequestError` that says what was wrong and changes
  nothing; the SDK builds its requests with :func:`trigger_request` and
  :func:`event_request`, whose fields are the models' own;
- limits (:data:`MAX_ID_LENGTH`, :data:`MAX_BULK_EVENTS`, ...) and :func:`check_id`;
- :class:`ErrorCode`: what an error that crossed the wire means. An actor's failure
  reaches its caller as an ``ActorError`` carrying only the qualified name of the
  exception's class (its ``error_type``); :func:`error_code` turns that name into a
  code, once, at the boundary (as h11 converts its protocol errors), and callers
  branch on the code, never on the name's spelling.

The idempotency keys the engine and the SDK derive for runs are in :mod:`.keys`.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .payload_size import PayloadTooDeep, packed_size

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "IDEMPOTENT",
    "MAX_BULK_EVENTS",
    "MAX_ID_LENGTH",
    "CreateCronRequest",
    "CreateFilterRequest",
    "CreateScheduleRequest",
    "ErrorCode",
    "ListRunsRequest",
    "Method",
    "PushEventRequest",
    "RegisterWorkerRequest",
    "RequestError",
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


class Method(enum.StrEnum):
    """The gateway's methods, as workers and clients name them in their calls."""

    # workers
    REGISTER_WORKER = "register_worker"
    HEARTBEAT = "heartbeat"
    DRAIN_WORKER = "drain_worker"
    DEREGISTER_WORKER = "deregister_worker"
    TASK_RESULTS = "task_results"
    RELEASE_SLOT = "release_slot"
    REFRESH_TIMEOUT = "refresh_timeout"
    DURABLE_STEP = "durable_step"
    # workflows and runs
    REGISTER_WORKFLOWS = "register_workflows"
    TRIGGER = "trigger"
    CANCEL_RUNS = "cancel_runs"
    REPLAY_RUNS = "replay_runs"
    GET_RUN = "get_run"
    WAIT_RUN = "wait_run"
    LIST_RUNS = "list_runs"
    LIST_WORKERS = "list_workers"
    LIST_WORKFLOWS = "list_workflows"
    PUT_RATE_LIMIT = "put_rate_limit"
    # events, filters, crons, schedules
    PUSH_EVENTS = "push_events"
    CREATE_FILTER = "create_filter"
    LIST_FILTERS = "list_filters"
    DELETE_FILTER = "delete_filter"
    CREATE_CRON = "create_cron"
    LIST_CRONS = "list_crons"
    GET_CRON = "get_cron"
    DELETE_CRON = "delete_cron"
    CREATE_SCHEDULE = "create_schedule"
    LIST_SCHEDULES = "list_schedules"
    GET_SCHEDULE = "get_schedule"
    UPDATE_SCHEDULE = "update_schedule"
    DELETE_SCHEDULE = "delete_schedule"


#: Gateway methods that may run twice without harm: a client retries them across engine restarts.
IDEMPOTENT: frozenset[str] = frozenset(
    {
        Method.GET_RUN,
        Method.WAIT_RUN,
        Method.LIST_RUNS,
        Method.LIST_WORKERS,
        Method.LIST_WORKFLOWS,
        Method.CANCEL_RUNS,
        Method.REPLAY_RUNS,
        Method.REGISTER_WORKFLOWS,  # a definition is identified by its content: sending it again is a no-op
    }
)

DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
#: An id or a name (run, task run, worker, workflow, filter, cron, schedule) is 1 to this many characters.
MAX_ID_LENGTH = 200
#: Events one ``push_events`` call (``ratchet.event.bulk_push``) carries at most.
MAX_BULK_EVENTS = 1000

Name = Field(min_length=1, max_length=MAX_ID_LENGTH)


class ErrorCode(enum.StrEnum):
    """What an error raised by the engine means to its caller, whatever its message says.

    A code's value is the name of the exception class the engine raises for it: that
    name is what crosses the wire (see the module docstring and :func:`error_code`).
    """

    #: a malformed request; nothing was changed
    REQUEST = "RequestError"
    #: a durable call does not match the task's log at its position
    NON_DETERMINISM = "NonDeterminismError"
    #: a trigger (cron, schedule, filter) names something the engine cannot use
    TRIGGER = "TriggerError"
    #: a malformed cron expression
    CRON = "CronError"
    #: a CEL expression that does not compile
    CEL = "CelError"


def error_code(error_type: str) -> ErrorCode | None:
    """The code of an error that crossed the wire, from its ``error_type``; None if it has none.

    Only Ratchet's own exceptions carry codes: a user's exception class that happens to
    share a name is not one of them.
    """
    module, _, name = error_type.rpartition(".")
    if module != "ratchet" and not module.startswith("ratchet."):
        return None
    try:
        return ErrorCode(name)
    except ValueError:
        return None


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


class TaskResultReport(_Strict):
    task_id: str = Name
    attempt: int = Field(ge=1)
    status: Literal["completed", "failed", "cancelled", "evicted"]
    output: Any = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    retryable: bool = True
    worker_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    # for "evicted": the log position of the durable call the attempt was waiting on
    evicted_at: int | None = Field(default=None, ge=0)


class ListRunsRequest(_Strict):
    statuses: list[Literal["QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]] | None = None
    workflow: str | None = None
    since: float | None = None
    until: float | None = None
    additional_metadata: dict[str, Any] | None = None
    parent_task_id: str | None = None
    limit: int = Field(default=100, ge=1, le=10_000)


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


def trigger_request(
    workflow: str,
    input: Any,
    additional_metadata: dict[str, Any],
    *,
    priority: int | None = None,
    key: str | None = None,
    parent_task_id: str | None = None,
    desired_worker_labels: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A :class:`TriggerRequest` as it goes on the wire (fields left at their default are left out)."""
    request: dict[str, Any] = {
        "workflow": workflow,
        "input": input,
        "additional_metadata": additional_metadata,
    }
    if desired_worker_labels:
        request["desired_worker_labels"] = desired_worker_labels
    if priority is not None:
        request["priority"] = priority
    if key is not None:
        request["key"] = key
    if parent_task_id is not None:
        request["parent_task_id"] = parent_task_id
    return request


def event_request(
    key: Any, payload: Any, additional_metadata: Any = None, scope: Any = None, priority: Any = None
) -> dict[str, Any]:
    """One event of ``push_events`` as it goes on the wire (``PushEventRequest``'s fields).

    Values are not checked here: the engine names what is wrong with them.
    """
    request: dict[str, Any] = {"key": key, "payload": payload}
    if additional_metadata is not None:
        request["additional_metadata"] = additional_metadata
    if scope is not None:
        request["scope"] = scope
    if priority is not None:
        request["priority"] = priority
    return request


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
