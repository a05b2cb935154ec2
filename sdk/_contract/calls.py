"""How a call to the gateway is made: method names, limits, request builders, error codes.

The light half of the wire contract, which every client and worker loads (the request
models the engine validates against are in :mod:`.protocol`, which re-exports these):

- :class:`Method`: the names of the gateway's methods, and :data:`IDEMPOTENT`, those a
  client may send twice (retried across engine restarts);
- limits (:data:`MAX_ID_LENGTH`, :data:`MAX_BULK_EVENTS`, ...);
- :func:`trigger_request` and :func:`event_request`, which build requests with the
  request models' own fields;
- :class:`ErrorCode`: what an error that crossed the wire means. An actor's failure
  reaches its caller as an ``ActorError`` carrying only the qualified name of the
  exception's class (its ``error_type``); :func:`error_code` turns that name into a
  code, once, at the boundary (as h11 converts its protocol errors), and callers
  branch on the code, never on the name's spelling.

The idempotency keys the engine and the SDK derive for runs are in :mod:`.keys`.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "AUTHORITY_ACTOR",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "GATEWAY_ACTOR",
    "IDEMPOTENT",
    "MAX_BULK_EVENTS",
    "MAX_ID_LENGTH",
    "ErrorCode",
    "Method",
    "error_code",
    "event_request",
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
    LIST_RATE_LIMITS = "list_rate_limits"
    DELETE_RATE_LIMIT = "delete_rate_limit"
    # events, filters, crons, schedules
    PUSH_EVENTS = "push_events"
    CREATE_FILTER = "create_filter"
    LIST_FILTERS = "list_filters"
    DELETE_FILTER = "delete_filter"
    CREATE_CRON = "create_cron"
    LIST_CRONS = "list_crons"
    GET_CRON = "get_cron"
    DELETE_CRON = "delete_cron"
    PAUSE_CRON = "pause_cron"
    RESUME_CRON = "resume_cron"
    RUN_CRON_NOW = "run_cron_now"
    CREATE_SCHEDULE = "create_schedule"
    LIST_SCHEDULES = "list_schedules"
    GET_SCHEDULE = "get_schedule"
    UPDATE_SCHEDULE = "update_schedule"
    DELETE_SCHEDULE = "delete_schedule"
    # operators: workers, workflows, metrics, timings, task details
    GET_WORKER = "get_worker"
    PAUSE_WORKER = "pause_worker"
    RESUME_WORKER = "resume_worker"
    GET_WORKFLOW = "get_workflow"
    LIST_WORKFLOW_VERSIONS = "list_workflow_versions"
    PAUSE_WORKFLOW = "pause_workflow"
    UNPAUSE_WORKFLOW = "unpause_workflow"
    QUEUE_METRICS = "queue_metrics"
    GET_RUN_TIMINGS = "get_run_timings"
    GET_TASK = "get_task"
    LIST_TASK_EVENTS = "list_task_events"
    # pushed events, read back
    LIST_EVENTS = "list_events"
    GET_EVENT = "get_event"
    LIST_EVENT_KEYS = "list_event_keys"
    # webhooks (their requests come over HTTP; these define and inspect them)
    CREATE_WEBHOOK = "create_webhook"
    LIST_WEBHOOKS = "list_webhooks"
    GET_WEBHOOK = "get_webhook"
    DELETE_WEBHOOK = "delete_webhook"
    LIST_WEBHOOK_FAILURES = "list_webhook_failures"


#: Gateway methods that may run twice without harm: a client retries them across engine restarts.
GATEWAY_ACTOR = "gateway"
"""The name the engine's gateway actor answers to: what workers and clients call."""

AUTHORITY_ACTOR = "auth"
"""The name of the engine's authority: where peers sign in (``open_session``) and manage tokens."""

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
        Method.GET_WORKER,
        Method.PAUSE_WORKER,  # pausing or resuming twice leaves the same state
        Method.RESUME_WORKER,
        Method.GET_WORKFLOW,
        Method.LIST_WORKFLOW_VERSIONS,
        Method.PAUSE_WORKFLOW,
        Method.UNPAUSE_WORKFLOW,
        Method.QUEUE_METRICS,
        Method.GET_RUN_TIMINGS,
        Method.GET_TASK,
        Method.LIST_TASK_EVENTS,
        Method.LIST_EVENTS,
        Method.GET_EVENT,
        Method.LIST_EVENT_KEYS,
        Method.LIST_WEBHOOKS,
        Method.GET_WEBHOOK,
        Method.DELETE_WEBHOOK,  # deleting twice leaves no webhook either way
        Method.LIST_WEBHOOK_FAILURES,
    }
)

DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
#: An id or a name (run, task run, worker, workflow, filter, cron, schedule) is 1 to this many characters.
MAX_ID_LENGTH = 200
#: Events one ``push_events`` call (``ratchet.event.bulk_push``) carries at most.
MAX_BULK_EVENTS = 1000


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
    #: no valid API token (none, malformed, wrongly signed, expired, revoked); nothing was done
    UNAUTHENTICATED = "AuthenticationError"
    #: the token's role may not do this; nothing was done
    FORBIDDEN = "PermissionDeniedError"
    #: the tenant is over one of its limits; nothing was done, try again later
    LIMITED = "TenantLimitError"


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
