"""What queries return: one frozen record type per table.

A record's fields are its table's columns, in order (the ``_ref`` columns of offloaded
payloads are resolved away: the field holds the payload itself). JSON columns are
decoded; timestamps are epoch seconds (UTC) from the runtime clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "RECORD_TYPES",
    "ApiToken",
    "ConcurrencySlot",
    "Cron",
    "CurrentWorkflowVersion",
    "DurableLogEntry",
    "Event",
    "EventFilter",
    "LogLine",
    "Pause",
    "RateLimit",
    "RateLimitWindow",
    "Run",
    "Schedule",
    "Task",
    "TaskAttempt",
    "TaskEvent",
    "Tenant",
    "TenantLimitSettings",
    "Webhook",
    "WebhookDelivery",
    "WebhookFailure",
    "Worker",
    "Workflow",
    "WorkflowVersion",
]


@dataclass(frozen=True, slots=True)
class Tenant:
    """An isolated workspace; every other row belongs to one."""

    id: str
    name: str
    created_at: float


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token of a tenant; only its hash is stored."""

    tenant_id: str
    id: str
    name: str
    token_hash: str
    created_at: float
    expires_at: float | None
    revoked: int
    role: str


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow's identity; its definitions are :class:`WorkflowVersion` rows."""

    tenant_id: str
    id: str
    name: str
    created_at: float


@dataclass(frozen=True, slots=True)
class WorkflowVersion:
    """One immutable definition of a workflow; a run is bound to the version it started with."""

    tenant_id: str
    workflow_id: str
    version: int
    checksum: str
    definition: Any
    created_at: float


@dataclass(frozen=True, slots=True)
class Run:
    """A workflow run."""

    tenant_id: str
    id: str
    workflow_id: str
    workflow_version: int
    status: str
    input: Any
    additional_metadata: Any
    priority: int
    parent_task_id: str | None
    idempotency_key: str | None
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None


@dataclass(frozen=True, slots=True)
class Task:
    """A task of a run, with its current attempt."""

    tenant_id: str
    id: str
    run_id: str
    name: str
    queue: str
    status: str
    attempt: int
    retry_count: int
    internal_retry_count: int
    max_retries: int
    priority: int
    durable: int
    parents: Any
    input: Any
    output: Any
    error: str | None
    worker_id: str | None
    concurrency_key: str | None
    created_at: float
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    timeout_at: float | None


@dataclass(frozen=True, slots=True)
class TaskAttempt:
    """One attempt of a task: who ran it, when, and how it ended."""

    tenant_id: str
    task_id: str
    attempt: int
    status: str
    worker_id: str | None
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """One entry of a task's timeline; ``seq`` orders them."""

    seq: int
    tenant_id: str
    task_id: str
    run_id: str
    attempt: int
    kind: str
    worker_id: str | None
    message: str | None
    at: float


@dataclass(frozen=True, slots=True)
class Worker:
    """A registered worker."""

    tenant_id: str
    id: str
    name: str
    slots: int
    durable_slots: int
    labels: Any
    actions: Any
    status: str
    registered_at: float
    last_heartbeat_at: float


@dataclass(frozen=True, slots=True)
class Event:
    """A pushed event; ``seq`` orders them."""

    seq: int
    tenant_id: str
    id: str
    key: str
    payload: Any
    additional_metadata: Any
    scope: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class EventFilter:
    """A CEL filter deciding which events trigger a workflow."""

    tenant_id: str
    id: str
    workflow_id: str
    scope: str
    expression: str
    payload: Any
    created_at: float


@dataclass(frozen=True, slots=True)
class Cron:
    """A cron trigger of a workflow."""

    tenant_id: str
    id: str
    workflow_id: str
    name: str
    expression: str
    input: Any
    additional_metadata: Any
    priority: int
    enabled: int
    created_at: float
    last_fired_at: float | None


@dataclass(frozen=True, slots=True)
class Schedule:
    """A one-time scheduled run."""

    tenant_id: str
    id: str
    workflow_id: str
    trigger_at: float
    input: Any
    additional_metadata: Any
    priority: int
    status: str
    run_id: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A rate limit's configuration: at most ``limit_units`` in any window of ``duration_seconds``."""

    tenant_id: str
    key: str
    limit_units: int
    duration_seconds: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class RateLimitWindow:
    """What one rate-limit key admitted lately: its sliding log, for the next engine.

    ``log`` holds ``[first, last, units]`` entries (wall times); see
    :mod:`ratchet.actors.scheduling._rate_limits`.
    """

    tenant_id: str
    key: str
    limit_units: int
    duration_seconds: float
    log: Any
    updated_at: float


@dataclass(frozen=True, slots=True)
class ConcurrencySlot:
    """A task holding one of a concurrency group's ``max_runs`` slots."""

    tenant_id: str
    group_key: str
    task_id: str
    run_id: str
    acquired_at: float


@dataclass(frozen=True, slots=True)
class DurableLogEntry:
    """One step of a durable task's event log (child spawned, sleep, event wait, ...)."""

    tenant_id: str
    task_id: str
    seq: int
    kind: str
    key: str
    data: Any
    created_at: float


@dataclass(frozen=True, slots=True)
class CurrentWorkflowVersion:
    """Which version of a workflow new runs use: the one workers registered last.

    ``checksum`` is that version's content hash, so a pointer to a version whose own
    row never landed cannot be mistaken for another definition given the same number.
    """

    tenant_id: str
    workflow_id: str
    version: int
    checksum: str
    updated_at: float


@dataclass(frozen=True, slots=True)
class LogLine:
    """A line a task logged through its context."""

    seq: int
    tenant_id: str
    task_id: str
    attempt: int
    level: str
    message: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Pause:
    """Something an operator paused: a worker (by id) or a workflow (by name).

    ``kind`` is a :class:`~ratchet.actors.store._mutations.PauseKind`. A paused worker
    is given no new tasks; a paused workflow's tasks stay queued. The row lives until
    the pause is lifted, so a restarted engine keeps what was paused.
    """

    tenant_id: str
    kind: str
    target: str
    paused_at: float


@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook: where outside senders post events, and how their requests are verified.

    ``settings`` holds the verification settings, CEL expressions and static payload (see
    :mod:`ratchet.actors.webhooks`); ``sealed_secret`` is the secret encrypted by the
    engine: the store never holds it in plain text.
    """

    tenant_id: str
    name: str
    id: str
    kind: str
    settings: Any
    sealed_secret: str
    created_at: float


@dataclass(frozen=True, slots=True)
class WebhookFailure:
    """A request a webhook refused (bad signature, stale timestamp, failing CEL...); ``seq`` orders them."""

    seq: int
    tenant_id: str
    webhook_id: str
    reason: str
    excerpt: str | None
    at: float


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """A signed delivery id a webhook accepted, remembered until ``expires_at`` to refuse replays."""

    tenant_id: str
    webhook_id: str
    delivery_id: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class TenantLimitSettings:
    """The limits an admin set for a tenant (see :mod:`ratchet.actors.limits`).

    ``settings`` maps limit names to values; a tenant without a row has the defaults.
    """

    tenant_id: str
    settings: Any
    updated_at: float


RECORD_TYPES: dict[str, type] = {
    "tenants": Tenant,
    "api_tokens": ApiToken,
    "workflows": Workflow,
    "workflow_versions": WorkflowVersion,
    "workflow_runs": Run,
    "tasks": Task,
    "task_attempts": TaskAttempt,
    "task_events": TaskEvent,
    "workers": Worker,
    "events": Event,
    "event_filters": EventFilter,
    "crons": Cron,
    "schedules": Schedule,
    "rate_limits": RateLimit,
    "rate_limit_windows": RateLimitWindow,
    "concurrency_slots": ConcurrencySlot,
    "durable_log": DurableLogEntry,
    "log_lines": LogLine,
    "current_workflow_versions": CurrentWorkflowVersion,
    "pauses": Pause,
    "webhooks": Webhook,
    "webhook_failures": WebhookFailure,
    "webhook_deliveries": WebhookDelivery,
    "tenant_limits": TenantLimitSettings,
}
