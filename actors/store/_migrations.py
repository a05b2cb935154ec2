"""Numbered schema migrations, applied at start inside one transaction and recorded.

Each backend takes a lock first (Postgres: a transaction-scoped advisory lock; SQLite:
``BEGIN IMMEDIATE``), reads ``ratchet_migrations``, applies what is missing in order and
records it, all in one transaction. So two engines starting at once migrate once, a
crash mid-migration leaves nothing half-applied, and starting on an up-to-date database
changes nothing. A database newer than this code is refused.

Migration 1 renders the schema of :mod:`._schema`. Later migrations must be written as
explicit statements (never regenerated), so that a migration's meaning never changes
once released.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._ddl import create_statements
from ._errors import MigrationError
from ._schema import TABLES, table

__all__ = ["MIGRATIONS", "MIGRATIONS_TABLE", "PG_MIGRATION_LOCK", "Migration", "pending"]

MIGRATIONS_TABLE = "ratchet_migrations"
PG_MIGRATION_LOCK = 0x52415443484554  # "RATCHET": the advisory lock key migrations hold


@dataclass(frozen=True)
class Migration:
    """One schema step: ``statements(dialect)`` gives its SQL for ``sqlite`` or ``postgres``."""

    version: int
    name: str
    statements: Callable[[str], list[str]]


# The tables migration 1 created; tables added since come from later migrations.
INITIAL_TABLES = (
    "tenants",
    "api_tokens",
    "workflows",
    "workflow_versions",
    "workflow_runs",
    "tasks",
    "task_attempts",
    "task_events",
    "workers",
    "events",
    "event_filters",
    "crons",
    "schedules",
    "rate_limits",
    "concurrency_slots",
    "durable_log",
    "log_lines",
)


# Tables as migration 1 created them, where a later migration changed them since.
_AS_FIRST_CREATED = {
    **TABLES,
    "api_tokens": table(
        "api_tokens",
        "tenant_id text, id text, name text, token_hash text, created_at float,"
        "expires_at float?, revoked int",
        ("tenant_id", "id"),
        unique=(("token_hash",),),
    ),
}


def _initial_schema(dialect: str) -> list[str]:
    """Migration 1: the tables as first released."""
    return create_statements(dialect, INITIAL_TABLES, schema=_AS_FIRST_CREATED)


def _rate_limit_windows(dialect: str) -> list[str]:
    """Migration 2: each rate-limit key's sliding log, kept across engine restarts."""
    if dialect == "sqlite":
        return [
            "CREATE TABLE rate_limit_windows (\n"
            "    tenant_id TEXT NOT NULL,\n"
            "    key TEXT NOT NULL,\n"
            "    limit_units INTEGER NOT NULL,\n"
            "    duration_seconds REAL NOT NULL,\n"
            "    log TEXT NOT NULL,\n"
            "    updated_at REAL NOT NULL,\n"
            "    PRIMARY KEY (tenant_id, key)\n"
            ")"
        ]
    return [
        "CREATE TABLE rate_limit_windows (\n"
        '    tenant_id TEXT COLLATE "C" NOT NULL,\n'
        '    key TEXT COLLATE "C" NOT NULL,\n'
        "    limit_units BIGINT NOT NULL,\n"
        "    duration_seconds DOUBLE PRECISION NOT NULL,\n"
        '    log TEXT COLLATE "C" NOT NULL,\n'
        "    updated_at DOUBLE PRECISION NOT NULL,\n"
        "    PRIMARY KEY (tenant_id, key)\n"
        ")"
    ]


def _current_workflow_versions(dialect: str) -> list[str]:
    """Migration 3: which version of each workflow new runs use (the one registered last)."""
    if dialect == "sqlite":
        return [
            "CREATE TABLE current_workflow_versions (\n"
            "    tenant_id TEXT NOT NULL,\n"
            "    workflow_id TEXT NOT NULL,\n"
            "    version INTEGER NOT NULL,\n"
            "    checksum TEXT NOT NULL,\n"
            "    updated_at REAL NOT NULL,\n"
            "    PRIMARY KEY (tenant_id, workflow_id)\n"
            ")"
        ]
    return [
        "CREATE TABLE current_workflow_versions (\n"
        '    tenant_id TEXT COLLATE "C" NOT NULL,\n'
        '    workflow_id TEXT COLLATE "C" NOT NULL,\n'
        "    version BIGINT NOT NULL,\n"
        '    checksum TEXT COLLATE "C" NOT NULL,\n'
        "    updated_at DOUBLE PRECISION NOT NULL,\n"
        "    PRIMARY KEY (tenant_id, workflow_id)\n"
        ")"
    ]


# The columns that may keep a payload in the object store (table, column) when migration 4 was written.
_OBJECT_REFS = (
    ("workflow_runs", "input_ref"),
    ("tasks", "input_ref"),
    ("tasks", "output_ref"),
    ("events", "payload_ref"),
    ("schedules", "input_ref"),
    ("durable_log", "data_ref"),
)


def _object_ref_indexes(dialect: str) -> list[str]:
    """Migration 4: find the rows referencing an object, so sweeping orphans reads no whole table.

    Partial indexes: only rows whose payload is in the object store have an entry, so a
    database that keeps payloads inline pays nothing for them.
    """
    return [
        f"CREATE INDEX {table}_{column}_idx ON {table} ({column}) WHERE {column} IS NOT NULL"
        for table, column in _OBJECT_REFS
    ]


def _pauses_and_lookups(dialect: str) -> list[str]:
    """Migration 5: what operators paused, and the indexes the API's lookups read.

    ``pauses`` keeps paused workers and workflows across restarts. The indexes find a
    run's child runs (run timings, listing runs by parent), the attempts a worker ran
    (listing runs by worker) and the tasks created in a time window (task metrics)
    without reading whole tables; the first two are partial, as only rows with a parent
    or a worker have an entry.
    """
    if dialect == "sqlite":
        table = (
            "CREATE TABLE pauses (\n"
            "    tenant_id TEXT NOT NULL,\n"
            "    kind TEXT NOT NULL,\n"
            "    target TEXT NOT NULL,\n"
            "    paused_at REAL NOT NULL,\n"
            "    PRIMARY KEY (tenant_id, kind, target)\n"
            ")"
        )
    else:
        table = (
            "CREATE TABLE pauses (\n"
            '    tenant_id TEXT COLLATE "C" NOT NULL,\n'
            '    kind TEXT COLLATE "C" NOT NULL,\n'
            '    target TEXT COLLATE "C" NOT NULL,\n'
            "    paused_at DOUBLE PRECISION NOT NULL,\n"
            "    PRIMARY KEY (tenant_id, kind, target)\n"
            ")"
        )
    return [
        table,
        "CREATE INDEX workflow_runs_tenant_id_parent_task_id_idx "
        "ON workflow_runs (tenant_id, parent_task_id) WHERE parent_task_id IS NOT NULL",
        "CREATE INDEX tasks_tenant_id_created_at_idx ON tasks (tenant_id, created_at)",
        "CREATE INDEX task_attempts_tenant_id_worker_id_created_at_idx "
        "ON task_attempts (tenant_id, worker_id, created_at) WHERE worker_id IS NOT NULL",
    ]


def _api_token_roles(dialect: str) -> list[str]:
    """Migration 7: what each API token may do (tokens made before roles existed were never handed out)."""
    kind = "TEXT" if dialect == "sqlite" else 'TEXT COLLATE "C"'
    return [f"ALTER TABLE api_tokens ADD COLUMN role {kind} NOT NULL DEFAULT 'viewer'"]


def _webhooks(dialect: str) -> list[str]:
    """Migration 6: webhooks (secrets sealed), the requests they refused, and the deliveries they took.

    ``webhook_deliveries`` remembers the signed delivery ids a webhook accepted (Svix's
    ``svix-id``) until their timestamp leaves the window, so a replay inside it is refused.
    """
    if dialect == "sqlite":
        text, real, seq = "TEXT", "REAL", "seq INTEGER PRIMARY KEY AUTOINCREMENT"
    else:
        text, real = 'TEXT COLLATE "C"', "DOUBLE PRECISION"
        seq = "seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    return [
        "CREATE TABLE webhooks (\n"
        f"    tenant_id {text} NOT NULL,\n"
        f"    name {text} NOT NULL,\n"
        f"    id {text} NOT NULL,\n"
        f"    kind {text} NOT NULL,\n"
        f"    settings {text} NOT NULL,\n"
        f"    sealed_secret {text} NOT NULL,\n"
        f"    created_at {real} NOT NULL,\n"
        "    PRIMARY KEY (tenant_id, name)\n"
        ")",
        "CREATE TABLE webhook_failures (\n"
        f"    {seq},\n"
        f"    tenant_id {text} NOT NULL,\n"
        f"    webhook_id {text} NOT NULL,\n"
        f"    reason {text} NOT NULL,\n"
        f"    excerpt {text},\n"
        f"    at {real} NOT NULL\n"
        ")",
        "CREATE INDEX webhook_failures_tenant_id_webhook_id_seq_idx"
        " ON webhook_failures (tenant_id, webhook_id, seq)",
        "CREATE TABLE webhook_deliveries (\n"
        f"    tenant_id {text} NOT NULL,\n"
        f"    webhook_id {text} NOT NULL,\n"
        f"    delivery_id {text} NOT NULL,\n"
        f"    expires_at {real} NOT NULL,\n"
        "    PRIMARY KEY (tenant_id, webhook_id, delivery_id)\n"
        ")",
        "CREATE INDEX webhook_deliveries_tenant_id_webhook_id_expires_at_idx"
        " ON webhook_deliveries (tenant_id, webhook_id, expires_at)",
    ]


def _run_metadata_index(dialect: str) -> list[str]:
    """Migration 8: find runs by their metadata without reading every run of a time window.

    Postgres: a GIN index over the metadata as ``jsonb`` (``jsonb_path_ops``: containment
    only, a third of the default operator class's size), and statistics on the same
    expression so the planner knows a common pair (read the window newest first and
    filter) from a rare one (read the index). Partial: a run without metadata (most of
    them, all the engine's own) costs its insert nothing. The expression is NULL for
    metadata holding a NUL character, which ``jsonb`` cannot hold, so such a run is stored
    as before and matches no filter (see :mod:`._metadata`); queries spell the expression
    exactly so (:func:`~._metadata.pg_metadata_jsonb`).

    SQLite: nothing; it has no index for this, and matches metadata run by run.
    """
    if dialect == "sqlite":
        return []
    expression = (
        r"(CASE WHEN additional_metadata !~ '(^|[^\\])(\\\\)*\\u0000'"
        r" THEN additional_metadata::jsonb END)"
    )
    return [
        f"CREATE INDEX workflow_runs_additional_metadata_idx ON workflow_runs"
        f" USING gin ({expression} jsonb_path_ops) WHERE additional_metadata <> '{{}}'",
        f"CREATE STATISTICS workflow_runs_additional_metadata_stats ON {expression} FROM workflow_runs",
    ]


def _tenant_limits(dialect: str) -> list[str]:
    """Migration 9: the limits an admin set for each tenant (see :mod:`ratchet.actors.limits`)."""
    if dialect == "sqlite":
        text, real = "TEXT", "REAL"
    else:
        text, real = 'TEXT COLLATE "C"', "DOUBLE PRECISION"
    return [
        "CREATE TABLE tenant_limits (\n"
        f"    tenant_id {text} NOT NULL,\n"
        f"    settings {text} NOT NULL,\n"
        f"    updated_at {real} NOT NULL,\n"
        "    PRIMARY KEY (tenant_id)\n"
        ")",
    ]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _initial_schema),
    Migration(2, "rate-limit windows", _rate_limit_windows),
    Migration(3, "current workflow versions", _current_workflow_versions),
    Migration(4, "object reference indexes", _object_ref_indexes),
    Migration(5, "pauses and lookup indexes", _pauses_and_lookups),
    Migration(6, "webhooks", _webhooks),
    Migration(7, "API token roles", _api_token_roles),
    Migration(8, "run metadata index", _run_metadata_index),
    Migration(9, "tenant limits", _tenant_limits),
)


def pending(applied: list[int]) -> list[Migration]:
    """The migrations still to apply on a database that has ``applied``.

    Raises:
        MigrationError: the database has migrations this code does not know (it is newer).
    """
    known = {m.version for m in MIGRATIONS}
    unknown = sorted(set(applied) - known)
    if unknown:
        raise MigrationError(
            f"the database has schema migrations {unknown} that this Ratchet does not know; "
            "it was migrated by a newer version: upgrade Ratchet, or point it at another database"
        )
    return [m for m in MIGRATIONS if m.version not in applied]
