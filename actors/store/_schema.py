"""The schema as data: every table, column, key and index, keyed by tenant.

One description feeds the three backends: the SQL backends render DDL from it (see
:mod:`._ddl`), the memory backend enforces the same primary and unique keys, and the
conformance suite checks that every record type matches its table. Column kinds are
deliberately few so that the backends agree bit for bit:

* ``text``, ``int`` (64-bit), ``float`` (epoch seconds for every timestamp);
* ``json``: JSON text; when ``offload`` is set, a sibling ``<name>_ref`` column holds the
  object-store key of a payload too big to keep in the row (the JSON column is then NULL);
* ``seq``: an auto-assigned, strictly increasing 64-bit row number (the primary key of
  append-only tables: task events, pushed events, log lines), which gives them a total
  order that every backend reproduces.

There are no foreign keys: the engine writes parents before children in one transaction,
and leaving them out lets a batch reorder independent inserts into one statement per table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LATER_INDEXES", "TABLES", "Column", "Table", "table"]


@dataclass(frozen=True)
class Column:
    """One column.

    Attributes:
        name: the column name.
        kind: ``text``, ``int``, ``float``, ``json`` or ``seq``.
        nullable: whether NULL is allowed.
        offload: for ``json`` columns: big values go to the object store.
    """

    name: str
    kind: str
    nullable: bool = False
    offload: bool = False


@dataclass(frozen=True)
class Table:
    """One table: columns, primary key, unique keys, secondary indexes."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    unique: tuple[tuple[str, ...], ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name.update({c.name: c for c in self.columns})

    @property
    def seq_column(self) -> str | None:
        """The auto-assigned sequence column, if the table has one."""
        return next((c.name for c in self.columns if c.kind == "seq"), None)

    def storage_columns(self) -> list[Column]:
        """The columns as stored: an offloadable column is nullable and followed by its ``_ref`` column."""
        out: list[Column] = []
        for c in self.columns:
            out.append(Column(c.name, c.kind, nullable=True) if c.offload else c)
            if c.offload:
                out.append(Column(f"{c.name}_ref", "text", nullable=True))
        return out


def _c(spec: str) -> Column:
    """Parse ``"name kind[?][!]"``: ``?`` nullable, ``!`` offloadable json."""
    name, kind = spec.split()
    nullable = "?" in kind
    offload = "!" in kind
    return Column(name, kind.strip("?!"), nullable=nullable, offload=offload)


def table(
    name: str,
    columns: str,
    primary_key: tuple[str, ...],
    unique: tuple[tuple[str, ...], ...] = (),
    indexes: tuple[tuple[str, ...], ...] = (),
) -> Table:
    """Build a :class:`Table` from a compact ``"name kind, ..."`` column list."""
    cols = tuple(_c(s.strip()) for s in columns.split(",") if s.strip())
    return Table(name, cols, primary_key, unique, indexes)


TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        table("tenants", "id text, name text, created_at float", ("id",), unique=(("name",),)),
        table(
            "api_tokens",
            "tenant_id text, id text, name text, token_hash text, created_at float,"
            "expires_at float?, revoked int, role text",
            ("tenant_id", "id"),
            unique=(("token_hash",),),
        ),
        table(
            "workflows",
            "tenant_id text, id text, name text, created_at float",
            ("tenant_id", "id"),
            unique=(("tenant_id", "name"),),
        ),
        table(
            "workflow_versions",
            "tenant_id text, workflow_id text, version int, checksum text, definition json, created_at float",
            ("tenant_id", "workflow_id", "version"),
        ),
        table(
            "workflow_runs",
            "tenant_id text, id text, workflow_id text, workflow_version int, status text,"
            "input json!, additional_metadata json, priority int, parent_task_id text?,"
            "idempotency_key text?, error text?, created_at float, started_at float?, finished_at float?",
            ("tenant_id", "id"),
            unique=(("tenant_id", "idempotency_key"),),
            indexes=(("tenant_id", "created_at"), ("tenant_id", "status", "created_at")),
        ),
        table(
            "tasks",
            "tenant_id text, id text, run_id text, name text, queue text, status text, attempt int,"
            "retry_count int, internal_retry_count int, max_retries int, priority int, durable int,"
            "parents json, input json!, output json!, error text?, worker_id text?,"
            "concurrency_key text?, created_at float, queued_at float?, started_at float?,"
            "finished_at float?, timeout_at float?",
            ("tenant_id", "id"),
            indexes=(("tenant_id", "run_id"), ("tenant_id", "status", "queue")),
        ),
        table(
            "task_attempts",
            "tenant_id text, task_id text, attempt int, status text, worker_id text?, error text?,"
            "created_at float, started_at float?, finished_at float?",
            ("tenant_id", "task_id", "attempt"),
        ),
        table(
            "task_events",
            "seq seq, tenant_id text, task_id text, run_id text, attempt int, kind text,"
            "worker_id text?, message text?, at float",
            ("seq",),
            indexes=(("tenant_id", "task_id", "seq"), ("tenant_id", "run_id", "seq")),
        ),
        table(
            "workers",
            "tenant_id text, id text, name text, slots int, durable_slots int, labels json,"
            "actions json, status text, registered_at float, last_heartbeat_at float",
            ("tenant_id", "id"),
        ),
        table(
            "events",
            "seq seq, tenant_id text, id text, key text, payload json!, additional_metadata json,"
            "scope text?, created_at float",
            ("seq",),
            unique=(("tenant_id", "id"),),
            indexes=(("tenant_id", "key", "seq"),),
        ),
        table(
            "event_filters",
            "tenant_id text, id text, workflow_id text, scope text, expression text, payload json,"
            "created_at float",
            ("tenant_id", "id"),
            indexes=(("tenant_id", "workflow_id"),),
        ),
        table(
            "crons",
            "tenant_id text, id text, workflow_id text, name text, expression text, input json,"
            "additional_metadata json, priority int, enabled int, created_at float, last_fired_at float?",
            ("tenant_id", "id"),
            unique=(("tenant_id", "workflow_id", "name"),),
        ),
        table(
            "schedules",
            "tenant_id text, id text, workflow_id text, trigger_at float, input json!,"
            "additional_metadata json, priority int, status text, run_id text?, created_at float",
            ("tenant_id", "id"),
            indexes=(("status", "trigger_at"),),
        ),
        table(
            "rate_limits",
            "tenant_id text, key text, limit_units int, duration_seconds float, updated_at float",
            ("tenant_id", "key"),
        ),
        table(
            "rate_limit_windows",
            "tenant_id text, key text, limit_units int, duration_seconds float, log json, updated_at float",
            ("tenant_id", "key"),
        ),
        table(
            "concurrency_slots",
            "tenant_id text, group_key text, task_id text, run_id text, acquired_at float",
            ("tenant_id", "group_key", "task_id"),
        ),
        table(
            "durable_log",
            "tenant_id text, task_id text, seq int, kind text, key text, data json!, created_at float",
            ("tenant_id", "task_id", "seq"),
        ),
        table(
            "log_lines",
            "seq seq, tenant_id text, task_id text, attempt int, level text, message text, created_at float",
            ("seq",),
            indexes=(("tenant_id", "task_id", "seq"),),
        ),
        table(
            "current_workflow_versions",
            "tenant_id text, workflow_id text, version int, checksum text, updated_at float",
            ("tenant_id", "workflow_id"),
        ),
        table(
            "pauses",
            "tenant_id text, kind text, target text, paused_at float",
            ("tenant_id", "kind", "target"),
        ),
        table(
            "webhooks",
            "tenant_id text, name text, id text, kind text, settings json, sealed_secret text,"
            "created_at float",
            ("tenant_id", "name"),
        ),
        table(
            "webhook_failures",
            "seq seq, tenant_id text, webhook_id text, reason text, excerpt text?, at float",
            ("seq",),
            indexes=(("tenant_id", "webhook_id", "seq"),),
        ),
        table(
            "webhook_deliveries",
            "tenant_id text, webhook_id text, delivery_id text, expires_at float",
            ("tenant_id", "webhook_id", "delivery_id"),
            indexes=(("tenant_id", "webhook_id", "expires_at"),),
        ),
        table(
            "tenant_limits",
            "tenant_id text, settings json, updated_at float",
            ("tenant_id",),
        ),
    ]
}

#: Secondary indexes that migrations after the first added to tables migration 1 created,
#: by table. Their SQL is written out in the migration that adds them (a released
#: migration never changes); the memory store reads this to keep the same lookups cheap.
LATER_INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "workflow_runs": (("tenant_id", "parent_task_id"),),
    "tasks": (("tenant_id", "created_at"),),
    "task_attempts": (("tenant_id", "worker_id", "created_at"),),
}
