"""The store interface: typed mutations in, typed records out, one ABC for every backend.

Theory of operation: a backend implements four primitives (open, close, run a list of
*units* of row operations in one transaction, select rows) and this class builds the
rest on them. :meth:`Store.commit_many` is group commit's core: it compiles each
caller's mutations into a unit (a bad value rejects that unit alone), offloads big
payloads when an object store is configured, and runs all units in one transaction.
If that transaction fails, it runs each unit in a transaction of its own, so the
callers whose writes are fine still commit and only the culprit sees the error; no
batch is ever half-written.

Payloads: without an object store every payload stays in its row, inside the
database. With one, payloads above the threshold are written there first and the row
keeps the key; :meth:`Store.sweep_objects` later deletes the objects no row references
(their row was deleted or overwritten, or their transaction never committed).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

import outcome

from ratchet._contract.status import ScheduleStatus

from ._errors import MutationRejected, StoreClosedError, StoreError, StreamBroken
from ._metadata import encode_pairs
from ._mutations import Mutation
from ._objects import ObjectStore
from ._ops import Cond, Op
from ._payloads import decode_json, offload_ops
from ._records import (
    RECORD_TYPES,
    ApiToken,
    ConcurrencySlot,
    Cron,
    CurrentWorkflowVersion,
    DurableLogEntry,
    Event,
    EventFilter,
    LogLine,
    Pause,
    RateLimit,
    RateLimitWindow,
    Run,
    Schedule,
    Task,
    TaskAttempt,
    TaskEvent,
    Tenant,
    TenantLimitSettings,
    Webhook,
    WebhookDelivery,
    WebhookFailure,
    Worker,
    Workflow,
    WorkflowVersion,
)
from ._schema import TABLES

__all__ = ["DEFAULT_OFFLOAD_THRESHOLD", "RunFilter", "Store", "StoreStatistics"]

DEFAULT_OFFLOAD_THRESHOLD = 64 * 1024
"""With an object store: payloads longer than this many characters of JSON go there."""

_SWEEP_CHUNK = 500  # object keys looked up per query (under SQLite's parameter limit)
_IN_CHUNK = 500  # ids looked up per query by the API's reads (under SQLite's parameter limit)

Order = Sequence[tuple[str, str]]
_R = TypeVar("_R")


@dataclass(frozen=True)
class StoreStatistics:
    """Counters of a store: what the dashboard, metrics and tests read.

    Attributes:
        transactions: transactions committed.
        units_committed: caller units committed.
        units_failed: caller units that failed (rejected or lost to a store error).
        isolations: batches that failed whole and were retried unit by unit.
        ops: row operations committed.
    """

    transactions: int
    units_committed: int
    units_failed: int
    isolations: int
    ops: int


def stream_broken() -> StreamBroken:
    """The error of a unit not attempted because an earlier unit of its stream failed."""
    return StreamBroken(
        "an earlier commit of this stream failed, so these mutations (which build on it) were not written"
    )


def _enum_values(values: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(getattr(v, "value", v) for v in values)


class Store(ABC):
    """A durable store of tenants, workflows, runs, tasks, workers, events and triggers.

    Args:
        objects: where payloads above ``offload_threshold`` go; ``None`` (the default)
            keeps every payload in its row.
        offload_threshold: with ``objects``: size in characters of JSON above which a
            payload is offloaded.
    """

    backend: ClassVar[str] = "abstract"

    def __init__(
        self, *, objects: ObjectStore | None = None, offload_threshold: int = DEFAULT_OFFLOAD_THRESHOLD
    ):
        if isinstance(offload_threshold, bool) or not isinstance(offload_threshold, int):
            raise TypeError(f"offload_threshold must be an int (characters), got {offload_threshold!r}")
        if offload_threshold < 0:
            raise ValueError(f"offload_threshold must be >= 0 characters, got {offload_threshold}")
        self.objects = objects
        self.offload_threshold = offload_threshold
        self._open = False
        self._transactions = 0
        self._units_committed = 0
        self._units_failed = 0
        self._isolations = 0
        self._ops = 0

    # -- backend primitives ------------------------------------------------------------------

    @abstractmethod
    async def _connect(self) -> None:
        """Connect and apply pending migrations."""

    @abstractmethod
    async def _disconnect(self) -> None:
        """Release connections and threads."""

    @abstractmethod
    async def _transact(self, units: Sequence[Sequence[Op]]) -> list[list[Any]]:
        """Run every unit's operations, in order, in ONE transaction; all or nothing.

        Returns:
            Per unit, per operation: ``None`` for inserts and upserts, whether it applied
            for updates and deletes.

        Raises:
            MutationRejected: a key clash or a value the database refused (rolled back).
            StoreError: the database failed (rolled back, or never started).
        """

    @abstractmethod
    async def _select(
        self,
        table: str,
        where: Sequence[Cond],
        order: Order = (),
        limit: int | None = None,
        *,
        columns: Sequence[str] | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Rows of ``table`` matching every condition, as stored (only ``columns``, if given),
        skipping the first ``offset`` of them."""

    @abstractmethod
    async def migration_versions(self) -> list[int]:
        """The migrations applied to this database, in order."""

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and bring the schema up to date (safe when several engines start at once)."""
        await self._connect()
        self._open = True

    async def close(self) -> None:
        """Release the connection; committed data stays."""
        self._open = False
        await self._disconnect()

    def _check_open(self) -> None:
        if not self._open:
            raise StoreClosedError(f"the {self.backend} store is not open; call 'await store.open()' first")

    def statistics(self) -> StoreStatistics:
        """The store's counters."""
        return StoreStatistics(
            self._transactions, self._units_committed, self._units_failed, self._isolations, self._ops
        )

    # -- writing -----------------------------------------------------------------------------

    async def commit(self, mutations: Sequence[Mutation]) -> list[Any]:
        """Commit ``mutations`` in one transaction of their own and return their results.

        The engine's hot path goes through :class:`StoreWriter` instead, which shares
        transactions between callers; this is for tools, tests and start-up.

        Raises:
            MutationRejected: a mutation cannot be stored; nothing was written.
            StoreError: the store failed; nothing was written.
        """
        (result,) = await self.commit_many([mutations])
        return result.unwrap()

    async def commit_many(
        self, units: Sequence[Sequence[Mutation]], streams: Sequence[Hashable | None] | None = None
    ) -> list[outcome.Outcome[list[Any]]]:
        """Commit several callers' mutations together; each caller gets its own outcome.

        Every unit is all or nothing. Units that can be stored commit, in one
        transaction when all can; a unit that cannot fails alone (see the module docstring).

        Args:
            units: the callers' mutations, in submission order.
            streams: per unit, the stream it belongs to (or None). Once a unit of a stream
                fails, the later units of that stream fail with :class:`StreamBroken`
                instead of committing.

        Returns:
            Per unit, ``outcome.Value`` of its mutations' results or ``outcome.Error``.
        """
        if not self._open:
            closed = StoreClosedError(
                f"the {self.backend} store is closed (or never opened); nothing was written"
            )
            self._units_failed += len(units)
            return [outcome.Error(closed) for _ in units]
        results: list[outcome.Outcome[list[Any]] | None] = [None] * len(units)
        compiled: list[tuple[int, list[Op], list[int]]] = []
        stream_of = list(streams) if streams is not None else [None] * len(units)
        broken: set[Hashable] = set()
        for u, unit in enumerate(units):
            if stream_of[u] in broken:
                results[u] = outcome.Error(stream_broken())
                continue
            try:
                ops: list[Op] = []
                bounds = [0]
                for m in unit:
                    ops.extend(m.ops())
                    bounds.append(len(ops))
                if self.objects is not None:
                    ops = await offload_ops(ops, self.offload_threshold, self.objects)
                compiled.append((u, ops, bounds))
            except StoreError as exc:
                results[u] = outcome.Error(exc)
                if stream_of[u] is not None:
                    broken.add(stream_of[u])
        if compiled:
            await self._commit_compiled(units, compiled, results, stream_of)
        final: list[outcome.Outcome[list[Any]]] = []
        for r in results:
            assert r is not None
            if isinstance(r, outcome.Error):
                self._units_failed += 1
            else:
                self._units_committed += 1
            final.append(r)
        return final

    async def _commit_compiled(
        self,
        units: Sequence[Sequence[Mutation]],
        compiled: list[tuple[int, list[Op], list[int]]],
        results: list[outcome.Outcome[list[Any]] | None],
        stream_of: Sequence[Hashable | None],
    ) -> None:
        def answer(u: int, bounds: list[int], op_results: list[Any]) -> None:
            muts = units[u]
            results[u] = outcome.Value(
                [m.result(op_results[bounds[k] : bounds[k + 1]]) for k, m in enumerate(muts)]
            )

        try:
            op_results = await self._transact([ops for _, ops, _ in compiled])
        except StoreClosedError as exc:
            for u, _, _ in compiled:
                results[u] = outcome.Error(exc)
            return
        except StoreError as exc:
            if len(compiled) == 1:
                u = compiled[0][0]
                results[u] = outcome.Error(self._blame(units[u], exc))
                return
            batch_error = exc
        else:
            self._transactions += 1
            for (u, ops, bounds), res in zip(compiled, op_results, strict=True):
                self._ops += len(ops)
                answer(u, bounds, res)
            return
        # The batch failed as a whole. Run each unit in a transaction of its own: good
        # units commit, the bad one fails alone. A store outage fails them all again.
        self._isolations += 1
        broken: set[Hashable] = set()
        for u, ops, bounds in compiled:
            if stream_of[u] in broken:
                results[u] = outcome.Error(stream_broken())
                continue
            try:
                (res,) = await self._transact([ops])
            except StoreError as exc:
                exc.__context__ = batch_error
                results[u] = outcome.Error(self._blame(units[u], exc))
                if stream_of[u] is not None:
                    broken.add(stream_of[u])
            else:
                self._transactions += 1
                self._ops += len(ops)
                answer(u, bounds, res)

    @staticmethod
    def _blame(unit: Sequence[Mutation], exc: StoreError) -> StoreError:
        if isinstance(exc, MutationRejected) and exc.mutation == "batch":
            kinds = ", ".join(m.mutation_name for m in unit) or "(empty)"
            err = MutationRejected(kinds, exc.reason)
            err.__cause__ = exc.__cause__
            return err
        return exc

    # -- reading -----------------------------------------------------------------------------

    async def _records(self, table: str, rows: list[dict[str, Any]]) -> list[Any]:
        t = TABLES[table]
        cls = RECORD_TYPES[table]
        out = []
        for row in rows:
            values: dict[str, Any] = {}
            for f in fields(cls):
                col = t.by_name[f.name]
                v = row[f.name]
                if col.kind == "json":
                    ref = row.get(f"{f.name}_ref") if col.offload else None
                    if ref is not None:
                        v = (await self._object(table, f.name, ref)).decode("utf-8")
                    v = decode_json(v)
                values[f.name] = v
            out.append(cls(**values))
        return out

    async def _object(self, table: str, column: str, key: str) -> bytes:
        if self.objects is None:
            raise StoreError(
                f"a row of {table!r} keeps its {column!r} in object {key!r}, but this {self.backend} store "
                "has no object store configured: open it with the objects directory its payloads were "
                "written to (ratchet engine --objects-dir DIR, or RATCHET_OBJECTS_DIR)"
            )
        return await self.objects.get(key)

    # -- object store housekeeping -----------------------------------------------------------

    async def sweep_objects(self, age: float) -> int:
        """Delete the objects no row references that were written more than ``age`` seconds ago.

        Such an object's row was deleted or overwritten, or its transaction never
        committed (rejected, rolled back, or the process died between writing the object
        and committing). Safe to run from several engines at once. ``age`` must exceed
        the longest time a transaction takes from writing its objects to committing:
        an object younger than that may belong to a commit still on its way.

        Returns:
            how many objects were deleted (0 without an object store).
        """
        if not age >= 0:
            raise ValueError(f"sweep_objects: age must be a number of seconds >= 0, got {age!r}")
        self._check_open()
        if self.objects is None:
            return 0
        # Candidates first, references second: an object listed here whose row commits
        # after the references are read would be lost, and the age rules that out.
        candidates = await self.objects.older_than(age)
        if not candidates:
            return 0
        referenced = await self._referenced(candidates)
        return await self.objects.delete(key for key in candidates if key not in referenced)

    async def _referenced(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for table in TABLES.values():
            for col in table.columns:
                if not col.offload:
                    continue
                ref = f"{col.name}_ref"
                for start in range(0, len(keys), _SWEEP_CHUNK):
                    chunk = tuple(keys[start : start + _SWEEP_CHUNK])
                    rows = await self._select(table.name, [Cond(ref, "in", chunk)], columns=(ref,))
                    found.update(row[ref] for row in rows)
        return found

    async def _query(
        self,
        table: str,
        where: Sequence[Cond],
        order: Order = (),
        limit: int | None = None,
        *,
        offset: int = 0,
    ) -> list[Any]:
        self._check_open()
        return await self._records(table, await self._select(table, where, order, limit, offset=offset))

    async def _one(self, kind: type[_R], table: str, where: Sequence[Cond]) -> _R | None:
        rows = await self._query(table, where, limit=1)
        if not rows:
            return None
        record = rows[0]
        assert isinstance(record, kind), f"{table!r} rows are {type(record).__name__}, not {kind.__name__}"
        return record

    @staticmethod
    def _eq(**kw: Any) -> list[Cond]:
        return [Cond(k, "=", getattr(v, "value", v)) for k, v in kw.items()]

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant with this id, or ``None``."""
        return await self._one(Tenant, "tenants", self._eq(id=tenant_id))

    async def get_tenant_by_name(self, name: str) -> Tenant | None:
        """The tenant with this name, or ``None``."""
        return await self._one(Tenant, "tenants", self._eq(name=name))

    async def list_tenants(self) -> list[Tenant]:
        """Every tenant, oldest first."""
        return await self._query("tenants", [], [("created_at", "asc"), ("id", "asc")])

    async def get_api_token(self, tenant_id: str, token_id: str) -> ApiToken | None:
        """A tenant's token by its id, or ``None``."""
        return await self._one(ApiToken, "api_tokens", self._eq(tenant_id=tenant_id, id=token_id))

    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        """The token with this hash (any tenant), or ``None``: how requests are authenticated."""
        return await self._one(ApiToken, "api_tokens", self._eq(token_hash=token_hash))

    async def list_api_tokens(self, tenant_id: str) -> list[ApiToken]:
        """A tenant's tokens, oldest first."""
        return await self._query(
            "api_tokens", self._eq(tenant_id=tenant_id), [("created_at", "asc"), ("id", "asc")]
        )

    async def get_workflow(self, tenant_id: str, workflow_id: str) -> Workflow | None:
        """A workflow by id, or ``None``."""
        return await self._one(Workflow, "workflows", self._eq(tenant_id=tenant_id, id=workflow_id))

    async def get_workflow_by_name(self, tenant_id: str, name: str) -> Workflow | None:
        """A workflow by name, or ``None``."""
        return await self._one(Workflow, "workflows", self._eq(tenant_id=tenant_id, name=name))

    async def list_workflows(self, tenant_id: str) -> list[Workflow]:
        """A tenant's workflows, by name."""
        return await self._query("workflows", self._eq(tenant_id=tenant_id), [("name", "asc")])

    async def get_workflow_version(
        self, tenant_id: str, workflow_id: str, version: int | None = None
    ) -> WorkflowVersion | None:
        """Version ``version`` of a workflow (the latest when ``None``), or ``None``."""
        where = self._eq(tenant_id=tenant_id, workflow_id=workflow_id)
        if version is not None:
            where.append(Cond("version", "=", version))
        rows = await self._query("workflow_versions", where, [("version", "desc")], limit=1)
        return rows[0] if rows else None

    async def list_workflow_versions(self, tenant_id: str, workflow_id: str) -> list[WorkflowVersion]:
        """Every version of a workflow, oldest first."""
        where = self._eq(tenant_id=tenant_id, workflow_id=workflow_id)
        return await self._query("workflow_versions", where, [("version", "asc")])

    async def list_current_workflow_versions(self, tenant_id: str) -> list[CurrentWorkflowVersion]:
        """Which version of each workflow new runs use (workflows never pointed have no row)."""
        where = self._eq(tenant_id=tenant_id)
        return await self._query("current_workflow_versions", where, [("workflow_id", "asc")])

    async def get_run(self, tenant_id: str, run_id: str) -> Run | None:
        """A run, or ``None``."""
        return await self._one(Run, "workflow_runs", self._eq(tenant_id=tenant_id, id=run_id))

    async def find_run_by_idempotency_key(self, tenant_id: str, key: str) -> Run | None:
        """The run created with this idempotency key, or ``None``."""
        return await self._one(Run, "workflow_runs", self._eq(tenant_id=tenant_id, idempotency_key=key))

    async def list_runs(
        self,
        tenant_id: str,
        *,
        statuses: Sequence[str] | None = None,
        workflow_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = 100,
        run_filter: RunFilter | None = None,
        offset: int = 0,
    ) -> list[Run]:
        """A tenant's runs, newest first, filtered.

        Args:
            tenant_id: the tenant.
            statuses: keep runs in one of these statuses.
            workflow_id: keep runs of this workflow.
            since: keep runs created at or after this time.
            until: keep runs created before this time.
            limit: at most this many (``None``: all).
            run_filter: more conditions (see :class:`RunFilter`).
            offset: skip this many of the runs that match first.
        """
        where = self._eq(tenant_id=tenant_id)
        if statuses is not None:
            where.append(Cond("status", "in", _enum_values(statuses)))
        if workflow_id is not None:
            where.append(Cond("workflow_id", "=", workflow_id))
        if since is not None:
            where.append(Cond("created_at", ">=", since))
        if until is not None:
            where.append(Cond("created_at", "<", until))
        where.extend(run_filter.conditions() if run_filter is not None else ())
        order = [("created_at", "desc"), ("id", "desc")]
        return await self._query("workflow_runs", where, order, limit, offset=offset)

    async def get_task(self, tenant_id: str, task_id: str) -> Task | None:
        """A task, or ``None``."""
        return await self._one(Task, "tasks", self._eq(tenant_id=tenant_id, id=task_id))

    async def list_tasks(self, tenant_id: str, run_id: str) -> list[Task]:
        """A run's tasks, in creation order."""
        where = self._eq(tenant_id=tenant_id, run_id=run_id)
        return await self._query("tasks", where, [("created_at", "asc"), ("id", "asc")])

    async def list_tasks_by_status(
        self, tenant_id: str, statuses: Sequence[str], *, queue: str | None = None, limit: int | None = None
    ) -> list[Task]:
        """Tasks in some statuses (what the engine rebuilds its queues from at start).

        Ordered by priority (highest first), then creation time, then id.
        """
        where = [*self._eq(tenant_id=tenant_id), Cond("status", "in", _enum_values(statuses))]
        if queue is not None:
            where.append(Cond("queue", "=", queue))
        order = [("priority", "desc"), ("created_at", "asc"), ("id", "asc")]
        return await self._query("tasks", where, order, limit)

    async def list_task_attempts(self, tenant_id: str, task_id: str) -> list[TaskAttempt]:
        """A task's attempts, first first."""
        where = self._eq(tenant_id=tenant_id, task_id=task_id)
        return await self._query("task_attempts", where, [("attempt", "asc")])

    async def list_task_events(
        self,
        tenant_id: str,
        *,
        task_id: str | None = None,
        run_id: str | None = None,
        after_seq: int | None = None,
        limit: int | None = None,
    ) -> list[TaskEvent]:
        """Timeline entries of a task or a run, in commit order."""
        where = self._eq(tenant_id=tenant_id)
        if task_id is not None:
            where.append(Cond("task_id", "=", task_id))
        if run_id is not None:
            where.append(Cond("run_id", "=", run_id))
        if after_seq is not None:
            where.append(Cond("seq", ">", after_seq))
        return await self._query("task_events", where, [("seq", "asc")], limit)

    async def get_worker(self, tenant_id: str, worker_id: str) -> Worker | None:
        """A worker, or ``None``."""
        return await self._one(Worker, "workers", self._eq(tenant_id=tenant_id, id=worker_id))

    async def list_workers(
        self, tenant_id: str, *, status: str | None = None, heartbeat_since: float | None = None
    ) -> list[Worker]:
        """A tenant's workers, by id; optionally only those heard from since a time."""
        where = self._eq(tenant_id=tenant_id)
        if status is not None:
            where.append(Cond("status", "=", getattr(status, "value", status)))
        if heartbeat_since is not None:
            where.append(Cond("last_heartbeat_at", ">=", heartbeat_since))
        return await self._query("workers", where, [("id", "asc")])

    async def get_event(self, tenant_id: str, event_id: str) -> Event | None:
        """A pushed event, or ``None``."""
        return await self._one(Event, "events", self._eq(tenant_id=tenant_id, id=event_id))

    async def list_events(
        self,
        tenant_id: str,
        *,
        key: str | None = None,
        since: float | None = None,
        after_seq: int | None = None,
        limit: int | None = 100,
    ) -> list[Event]:
        """Pushed events in commit order; ``since`` looks back for durable event waits."""
        where = self._eq(tenant_id=tenant_id)
        if key is not None:
            where.append(Cond("key", "=", key))
        if since is not None:
            where.append(Cond("created_at", ">=", since))
        if after_seq is not None:
            where.append(Cond("seq", ">", after_seq))
        return await self._query("events", where, [("seq", "asc")], limit)

    async def search_events(
        self,
        tenant_id: str,
        *,
        keys: Sequence[str] | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[Event]:
        """Pushed events newest first (by ``seq``), with any of ``keys``, created in ``[since, until)``;
        ``offset`` of them skipped: what operators list."""
        where = self._eq(tenant_id=tenant_id)
        if keys is not None:
            where.append(Cond("key", "in", tuple(keys)))
        if since is not None:
            where.append(Cond("created_at", ">=", since))
        if until is not None:
            where.append(Cond("created_at", "<", until))
        return await self._query("events", where, [("seq", "desc")], limit, offset=offset)

    async def count_event_keys(self, tenant_id: str) -> dict[str, int]:
        """How many events of each key the tenant pushed."""
        counts = await self._count("events", self._eq(tenant_id=tenant_id), "key")
        return {str(key): int(count) for key, count in counts.items()}

    async def list_event_filters(
        self, tenant_id: str, *, workflow_id: str | None = None
    ) -> list[EventFilter]:
        """A tenant's event filters, by id."""
        where = self._eq(tenant_id=tenant_id)
        if workflow_id is not None:
            where.append(Cond("workflow_id", "=", workflow_id))
        return await self._query("event_filters", where, [("id", "asc")])

    async def get_cron(self, tenant_id: str, cron_id: str) -> Cron | None:
        """A cron, or ``None``."""
        return await self._one(Cron, "crons", self._eq(tenant_id=tenant_id, id=cron_id))

    async def list_crons(self, tenant_id: str, *, workflow_id: str | None = None) -> list[Cron]:
        """A tenant's crons, by creation time."""
        where = self._eq(tenant_id=tenant_id)
        if workflow_id is not None:
            where.append(Cond("workflow_id", "=", workflow_id))
        return await self._query("crons", where, [("created_at", "asc"), ("id", "asc")])

    async def get_schedule(self, tenant_id: str, schedule_id: str) -> Schedule | None:
        """A one-time schedule, or ``None``."""
        return await self._one(Schedule, "schedules", self._eq(tenant_id=tenant_id, id=schedule_id))

    async def list_schedules(
        self, tenant_id: str, *, status: str | None = None, workflow_id: str | None = None
    ) -> list[Schedule]:
        """A tenant's schedules, by trigger time."""
        where = self._eq(tenant_id=tenant_id)
        if status is not None:
            where.append(Cond("status", "=", getattr(status, "value", status)))
        if workflow_id is not None:
            where.append(Cond("workflow_id", "=", workflow_id))
        return await self._query("schedules", where, [("trigger_at", "asc"), ("id", "asc")])

    async def list_due_schedules(self, due_before: float, *, limit: int | None = 1000) -> list[Schedule]:
        """Pending schedules of every tenant whose trigger time is before ``due_before``, soonest first."""
        where = [Cond("status", "=", ScheduleStatus.PENDING), Cond("trigger_at", "<", due_before)]
        return await self._query("schedules", where, [("trigger_at", "asc"), ("id", "asc")], limit)

    async def read_durable_log(self, tenant_id: str, task_id: str) -> list[DurableLogEntry]:
        """A durable task's event log, by sequence number."""
        where = self._eq(tenant_id=tenant_id, task_id=task_id)
        return await self._query("durable_log", where, [("seq", "asc")])

    async def get_rate_limit(self, tenant_id: str, key: str) -> RateLimit | None:
        """A rate limit, or ``None``."""
        return await self._one(RateLimit, "rate_limits", self._eq(tenant_id=tenant_id, key=key))

    async def list_rate_limits(self, tenant_id: str) -> list[RateLimit]:
        """A tenant's rate limits, by key."""
        return await self._query("rate_limits", self._eq(tenant_id=tenant_id), [("key", "asc")])

    async def list_rate_limit_windows(self, tenant_id: str) -> list[RateLimitWindow]:
        """Every rate-limit key's kept sliding log, by key."""
        return await self._query("rate_limit_windows", self._eq(tenant_id=tenant_id), [("key", "asc")])

    async def list_concurrency_slots(
        self, tenant_id: str, *, group_key: str | None = None
    ) -> list[ConcurrencySlot]:
        """Held concurrency slots, by group then acquisition time."""
        where = self._eq(tenant_id=tenant_id)
        if group_key is not None:
            where.append(Cond("group_key", "=", group_key))
        order = [("group_key", "asc"), ("acquired_at", "asc"), ("task_id", "asc")]
        return await self._query("concurrency_slots", where, order)

    async def list_log_lines(
        self, tenant_id: str, task_id: str, *, after_seq: int | None = None, limit: int | None = None
    ) -> list[LogLine]:
        """Lines a task logged, in order."""
        where = self._eq(tenant_id=tenant_id, task_id=task_id)
        if after_seq is not None:
            where.append(Cond("seq", ">", after_seq))
        return await self._query("log_lines", where, [("seq", "asc")], limit)

    # -- reads of the API (what operators look at) ---------------------------------------------

    async def _count(self, table: str, where: Sequence[Cond], group_by: str) -> dict[Any, int]:
        """How many rows of ``table`` match ``where``, by their value of ``group_by``.

        The SQL backends answer with one ``GROUP BY`` query; this reads the one column.
        """
        counts: dict[Any, int] = {}
        for row in await self._select(table, where, columns=(group_by,)):
            counts[row[group_by]] = counts.get(row[group_by], 0) + 1
        return counts

    async def get_pause(self, tenant_id: str, kind: str, target: str) -> Pause | None:
        """The pause of a worker or workflow (``kind``: a ``PauseKind``), or ``None``."""
        return await self._one(Pause, "pauses", self._eq(tenant_id=tenant_id, kind=kind, target=target))

    async def list_pauses(self, tenant_id: str, *, kind: str | None = None) -> list[Pause]:
        """What is paused, by kind then target."""
        where = self._eq(tenant_id=tenant_id)
        if kind is not None:
            where.append(Cond("kind", "=", getattr(kind, "value", kind)))
        return await self._query("pauses", where, [("kind", "asc"), ("target", "asc")])

    async def list_run_ids(
        self,
        tenant_id: str,
        *,
        statuses: Sequence[str] | None = None,
        since: float | None = None,
        until: float | None = None,
        run_filter: RunFilter | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[tuple[str, Any]]:
        """``(run id, additional metadata)`` of the runs :meth:`list_runs` would list, in its
        order, without reading their payloads: what bulk operations go through."""
        self._check_open()
        where = self._eq(tenant_id=tenant_id)
        if statuses is not None:
            where.append(Cond("status", "in", _enum_values(statuses)))
        if since is not None:
            where.append(Cond("created_at", ">=", since))
        if until is not None:
            where.append(Cond("created_at", "<", until))
        where.extend(run_filter.conditions() if run_filter is not None else ())
        order = [("created_at", "desc"), ("id", "desc")]
        rows = await self._select(
            "workflow_runs", where, order, limit, columns=("id", "additional_metadata"), offset=offset
        )
        return [(row["id"], decode_json(row["additional_metadata"])) for row in rows]

    async def list_child_runs(self, tenant_id: str, parent_task_ids: Sequence[str]) -> list[Run]:
        """The runs the given task runs spawned, oldest first."""
        out: list[Run] = []
        for chunk in _chunks(parent_task_ids):
            where = [*self._eq(tenant_id=tenant_id), Cond("parent_task_id", "in", chunk)]
            out.extend(await self._query("workflow_runs", where))
        return sorted(out, key=lambda r: (r.created_at, r.id))

    async def list_tasks_of_runs(self, tenant_id: str, run_ids: Sequence[str]) -> list[Task]:
        """The tasks of several runs, in creation order."""
        out: list[Task] = []
        for chunk in _chunks(run_ids):
            where = [*self._eq(tenant_id=tenant_id), Cond("run_id", "in", chunk)]
            out.extend(await self._query("tasks", where))
        return sorted(out, key=lambda t: (t.created_at, t.id))

    async def list_worker_run_ids(
        self, tenant_id: str, worker_id: str, *, since: float | None = None
    ) -> set[str]:
        """The runs that have a task an attempt of which was given to ``worker_id``
        (attempts begun at or after ``since``, if given)."""
        self._check_open()
        where = self._eq(tenant_id=tenant_id, worker_id=worker_id)
        if since is not None:
            where.append(Cond("created_at", ">=", since))
        rows = await self._select("task_attempts", where, columns=("task_id",))
        task_ids = list(dict.fromkeys(row["task_id"] for row in rows))
        run_ids: set[str] = set()
        for chunk in _chunks(task_ids):
            where = [*self._eq(tenant_id=tenant_id), Cond("id", "in", chunk)]
            run_ids.update(row["run_id"] for row in await self._select("tasks", where, columns=("run_id",)))
        return run_ids

    async def get_runs(self, tenant_id: str, run_ids: Sequence[str]) -> list[Run]:
        """The runs with these ids that exist (in no particular order)."""
        out: list[Run] = []
        for chunk in _chunks(run_ids):
            where = [*self._eq(tenant_id=tenant_id), Cond("id", "in", chunk)]
            out.extend(await self._query("workflow_runs", where))
        return out

    async def count_tasks(
        self,
        tenant_id: str,
        *,
        by: str,
        statuses: Sequence[str] | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> dict[str, int]:
        """How many tasks there are, by ``status`` or by ``queue`` (``by``).

        Args:
            tenant_id: the tenant.
            by: the column to count by: ``"status"`` or ``"queue"``.
            statuses: count only tasks in these statuses.
            since: count only tasks created at or after this time.
            until: count only tasks created before this time.
        """
        if by not in ("status", "queue"):
            raise ValueError(f"count_tasks: by must be 'status' or 'queue', got {by!r}")
        self._check_open()
        where = self._eq(tenant_id=tenant_id)
        if statuses is not None:
            where.append(Cond("status", "in", _enum_values(statuses)))
        if since is not None:
            where.append(Cond("created_at", ">=", since))
        if until is not None:
            where.append(Cond("created_at", "<", until))
        return {str(k): int(v) for k, v in (await self._count("tasks", where, by)).items()}

    async def get_webhook(self, tenant_id: str, name: str) -> Webhook | None:
        """A webhook by name, or ``None``."""
        return await self._one(Webhook, "webhooks", self._eq(tenant_id=tenant_id, name=name))

    async def list_webhooks(self, tenant_id: str) -> list[Webhook]:
        """A tenant's webhooks, by name."""
        return await self._query("webhooks", self._eq(tenant_id=tenant_id), [("name", "asc")])

    async def list_webhook_failures(
        self, tenant_id: str, webhook_id: str, *, limit: int | None = 100
    ) -> list[WebhookFailure]:
        """The requests a webhook refused, newest first."""
        where = self._eq(tenant_id=tenant_id, webhook_id=webhook_id)
        return await self._query("webhook_failures", where, [("seq", "desc")], limit)

    async def get_webhook_delivery(
        self, tenant_id: str, webhook_id: str, delivery_id: str
    ) -> WebhookDelivery | None:
        """A delivery id a webhook remembers, or ``None``."""
        where = self._eq(tenant_id=tenant_id, webhook_id=webhook_id, delivery_id=delivery_id)
        return await self._one(WebhookDelivery, "webhook_deliveries", where)

    async def get_tenant_limits(self, tenant_id: str) -> TenantLimitSettings | None:
        """The limits set for a tenant, or ``None`` (it has the defaults)."""
        return await self._one(TenantLimitSettings, "tenant_limits", self._eq(tenant_id=tenant_id))

    async def list_expired_webhook_deliveries(
        self, tenant_id: str, webhook_id: str, before: float, *, limit: int | None = 100
    ) -> list[WebhookDelivery]:
        """Delivery ids a webhook remembers that expired before ``before``, soonest expired first."""
        where = [*self._eq(tenant_id=tenant_id, webhook_id=webhook_id), Cond("expires_at", "<", before)]
        order = [("expires_at", "asc"), ("delivery_id", "asc")]
        return await self._query("webhook_deliveries", where, order, limit)


@dataclass(frozen=True)
class RunFilter:
    """Conditions on runs beyond status and time, all of which a run must meet.

    Attributes:
        workflow_ids: the run's workflow is one of these (ids).
        parent_task_id: the run was spawned by this task run.
        idempotency_key_prefix: the run's idempotency key starts with this (how the runs
            one event started are found: their keys name the event).
        metadata: the run's additional metadata holds every one of these pairs, each value
            equal as JSON (see :mod:`._metadata`; Postgres answers from an index).

    Raises:
        ValueError: ``metadata`` is not a mapping of text to plain JSON values.
    """

    workflow_ids: tuple[str, ...] | None = None
    parent_task_id: str | None = None
    idempotency_key_prefix: str | None = None
    metadata: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.metadata is not None:
            encode_pairs(self.metadata)  # refuses a malformed filter here, not in a query

    def conditions(self) -> list[Cond]:
        """The conditions, for a query of ``workflow_runs``."""
        out: list[Cond] = []
        if self.workflow_ids is not None:
            out.append(Cond("workflow_id", "in", tuple(self.workflow_ids)))
        if self.parent_task_id is not None:
            out.append(Cond("parent_task_id", "=", self.parent_task_id))
        prefix = self.idempotency_key_prefix
        if prefix:
            # a range on the key's unique index: keys starting with the prefix sort between it
            # and the prefix with its last character moved one up (byte order in every backend)
            out.append(Cond("idempotency_key", ">=", prefix))
            out.append(Cond("idempotency_key", "<", prefix[:-1] + chr(ord(prefix[-1]) + 1)))
        if self.metadata:
            out.append(Cond("additional_metadata", "holds", encode_pairs(self.metadata)))
        return out


def _chunks(ids: Sequence[str]) -> list[tuple[str, ...]]:
    unique = list(dict.fromkeys(ids))
    return [tuple(unique[i : i + _IN_CHUNK]) for i in range(0, len(unique), _IN_CHUNK)]
