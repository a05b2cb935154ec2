"""The in-memory backend: the reference semantics, for tests and the simulation.

No threads, no files, no clock. A :class:`MemoryDatabase` holds the committed state;
a :class:`MemoryStore` is a connection to it. A transaction applies its operations one
by one with an undo log and rolls back on the first error, so a batch is all or nothing
exactly as in the SQL backends. :meth:`MemoryStore.crash` models a process crash: the
store stops answering, whatever was not committed is gone, and a new
``MemoryStore(db)`` over the same database sees every committed row.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import trio

from ._errors import MutationRejected, StoreClosedError, StoreError
from ._metadata import holds_text, pairs_object
from ._migrations import MIGRATIONS as _MIGRATIONS
from ._objects import ObjectStore
from ._ops import Cond, Delete, Insert, Op, Update, Upsert
from ._schema import LATER_INDEXES, TABLES, Table
from ._store import DEFAULT_OFFLOAD_THRESHOLD, Order, Store

__all__ = ["MemoryDatabase", "MemoryStore"]

MIGRATIONS = [m.version for m in _MIGRATIONS]


class MemoryDatabase:
    """The committed state of an in-memory store; outlives the :class:`MemoryStore` on it."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {name: {} for name in TABLES}
        self.unique: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], tuple[Any, ...]]] = {
            (t.name, cols): {} for t in TABLES.values() for cols in t.unique
        }
        self.seq: dict[str, int] = {name: 0 for name in TABLES}
        self.migrations: list[int] = []
        # single-column hash indexes (value -> primary keys) on every column a declared
        # index or the primary key starts with, so lookups by id, run or status skip scans
        self.index_columns: dict[str, tuple[str, ...]] = {
            t.name: tuple(
                dict.fromkeys(
                    c
                    for cols in (t.primary_key, *t.indexes, *t.unique, *LATER_INDEXES.get(t.name, ()))
                    for c in cols
                )
            )
            for t in TABLES.values()
        }
        self.indexes: dict[tuple[str, str], dict[Any, dict[tuple[Any, ...], None]]] = {
            (table, col): {} for table, cols in self.index_columns.items() for col in cols
        }

    def reindex(
        self, table: str, pk: tuple[Any, ...], old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> None:
        """Move ``pk`` in ``table``'s hash indexes from ``old``'s values to ``new``'s."""
        for col in self.index_columns[table]:
            index = self.indexes[(table, col)]
            if old is not None:
                bucket = index.get(old[col])
                if bucket is not None:
                    bucket.pop(pk, None)
                    if not bucket:
                        del index[old[col]]
            if new is not None:
                index.setdefault(new[col], {})[pk] = None

    def candidates(
        self, table: str, equal: dict[str, Any], any_of: dict[str, tuple[Any, ...]] | None = None
    ) -> Any:
        """The rows that may match ``equal`` (column -> value) and ``any_of`` (column ->
        values it may hold): the smallest index bucket, or union of buckets, or all rows."""
        rows = self.rows[table]
        best: dict[tuple[Any, ...], None] | None = None
        for col, value in equal.items():
            index = self.indexes.get((table, col))
            if index is None:
                continue
            try:
                bucket = index.get(value, {})
            except TypeError:  # an unhashable value never matches an indexed scalar column
                return ()
            if best is None or len(bucket) < len(best):
                best = bucket
        for col, values in (any_of or {}).items():
            index = self.indexes.get((table, col))
            if index is None:
                continue
            union: dict[tuple[Any, ...], None] = {}
            for value in values:
                try:
                    union.update(index.get(value, {}))
                except TypeError:
                    continue
            if best is None or len(union) < len(best):
                best = union
        if best is None:
            return rows.values()
        return [rows[pk] for pk in best]

    def count(self, table: str) -> int:
        """How many committed rows ``table`` holds."""
        return len(self.rows[table])


def _matches(row: dict[str, Any], cond: Cond) -> bool:
    v = row[cond.column]
    op, want = cond.op, cond.value
    if op == "=":
        return bool(v is None if want is None else v == want)
    if v is None or want is None:
        return False
    if op == "in":
        return bool(v in want)
    if op == "holds":
        return not want or bool(holds_text(v, pairs_object(want)))
    if op == "!=":
        return bool(v != want)
    if op == "<":
        return bool(v < want)
    if op == "<=":
        return bool(v <= want)
    if op == ">":
        return bool(v > want)
    if op == ">=":
        return bool(v >= want)
    raise AssertionError(f"unknown condition operator {op!r}")


class _Txn:
    """One transaction over a :class:`MemoryDatabase`, with an undo log."""

    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db
        self.undo: list[Callable[[], None]] = []

    def rollback(self) -> None:
        for fn in reversed(self.undo):
            fn()

    def _pk(self, t: Table, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[c] for c in t.primary_key)

    def _find(self, t: Table, key: dict[str, Any]) -> tuple[Any, ...] | None:
        if set(key) == set(t.primary_key):
            pk = tuple(key[c] for c in t.primary_key)
            return pk if pk in self.db.rows[t.name] else None
        for row in self.db.candidates(t.name, key):
            if all(row[c] == v for c, v in key.items()):
                return self._pk(t, row)
        return None

    def _put(self, t: Table, pk: tuple[Any, ...], new: dict[str, Any] | None) -> None:
        """Replace the row at ``pk`` (None: delete), keeping unique indexes and the undo log."""
        rows = self.db.rows[t.name]
        old = rows.get(pk)
        if new is not None:
            for cols in t.unique:
                nkey = tuple(new[c] for c in cols)
                holder = self.db.unique[(t.name, cols)].get(nkey)
                if None not in nkey and holder is not None and holder != pk:
                    raise MutationRejected(
                        "batch", f"{t.name}: a row with {dict(zip(cols, nkey, strict=True))} already exists"
                    )
        for cols in t.unique:
            index = self.db.unique[(t.name, cols)]
            if old is not None:
                index.pop(tuple(old[c] for c in cols), None)
            if new is not None:
                nkey = tuple(new[c] for c in cols)
                if None not in nkey:
                    index[nkey] = pk
        if new is None:
            del rows[pk]
        else:
            rows[pk] = new
        self.db.reindex(t.name, pk, old, new)

        def undo() -> None:
            self.db.reindex(t.name, pk, new, old)
            for cols in t.unique:
                index = self.db.unique[(t.name, cols)]
                if new is not None:
                    index.pop(tuple(new[c] for c in cols), None)
                if old is not None:
                    okey = tuple(old[c] for c in cols)
                    if None not in okey:
                        index[okey] = pk
            if old is None:
                rows.pop(pk, None)
            else:
                rows[pk] = old

        self.undo.append(undo)

    def insert(self, op: Insert | Upsert) -> None:
        t = TABLES[op.table]
        row: dict[str, Any] = {c.name: None for c in t.storage_columns()}
        row.update(op.row)
        seq = t.seq_column
        if seq is not None:
            before = self.db.seq[t.name]
            self.db.seq[t.name] = before + 1
            row[seq] = before + 1
            self.undo.append(lambda: self.db.seq.__setitem__(t.name, before))
        pk = self._pk(t, row)
        if pk in self.db.rows[t.name]:
            raise MutationRejected("batch", f"{t.name}: a row with key {pk!r} already exists")
        self._put(t, pk, row)

    def upsert(self, op: Upsert) -> None:
        t = TABLES[op.table]
        pk = self._find(t, {c: op.row[c] for c in op.conflict})
        if pk is None:
            self.insert(op)
        elif op.update:
            new = dict(self.db.rows[t.name][pk])
            new.update({c: op.row[c] for c in op.update})
            self._put(t, pk, new)

    def _check(self, row: dict[str, Any], expect: Any, expect_in: Any) -> bool:
        return all(row[c] == v for c, v in expect.items()) and all(
            row[c] in vs for c, vs in expect_in.items()
        )

    def update(self, op: Update) -> bool:
        t = TABLES[op.table]
        pk = self._find(t, dict(op.key))
        if pk is None:
            return False
        old = self.db.rows[t.name][pk]
        if not self._check(old, op.expect, op.expect_in):
            return False
        new = dict(old)
        new.update(op.values)
        self._put(t, pk, new)
        for side in op.on_applied:
            self.apply(side)
        return True

    def delete(self, op: Delete) -> bool:
        t = TABLES[op.table]
        pk = self._find(t, dict(op.key))
        if pk is None or not self._check(self.db.rows[t.name][pk], op.expect, {}):
            return False
        self._put(t, pk, None)
        return True

    def apply(self, op: Op) -> Any:
        if isinstance(op, Insert):
            self.insert(op)
            return None
        if isinstance(op, Upsert):
            self.upsert(op)
            return None
        if isinstance(op, Update):
            return self.update(op)
        return self.delete(op)


class MemoryStore(Store):
    """A store in memory with the SQL backends' semantics, and a crash switch.

    Args:
        database: the committed state to open (a new, empty one by default); pass the
            ``database`` of a crashed store to "restart" on what it had committed.
        objects: where big payloads go (a :class:`MemoryObjectStore`, to be handed to
            the store reopened after a crash too); ``None`` keeps them in their rows.
        offload_threshold: as for :class:`Store`.
    """

    backend = "memory"

    def __init__(
        self,
        database: MemoryDatabase | None = None,
        *,
        objects: ObjectStore | None = None,
        offload_threshold: int = DEFAULT_OFFLOAD_THRESHOLD,
    ) -> None:
        self.database = database if database is not None else MemoryDatabase()
        super().__init__(objects=objects, offload_threshold=offload_threshold)
        self._crashed = False
        self._fail_next: list[BaseException] = []
        self._commit_delay = 0.0

    async def _connect(self) -> None:
        await trio.lowlevel.checkpoint()
        if self._crashed:
            raise StoreClosedError("this memory store crashed; open a new MemoryStore(store.database)")
        for version in MIGRATIONS:
            if version not in self.database.migrations:
                self.database.migrations.append(version)

    async def _disconnect(self) -> None:
        await trio.lowlevel.checkpoint()

    def crash(self) -> None:
        """Simulate a crash: the store answers nothing more; committed rows stay in :attr:`database`."""
        self._crashed = True
        self._open = False

    def _check_open(self) -> None:
        if self._crashed:
            raise StoreClosedError("this memory store crashed; open a new MemoryStore(store.database)")
        super()._check_open()

    def fail_next_transaction(self, error: StoreError | None = None) -> None:
        """Make the next transaction fail (rolled back) with ``error``: a fault for tests and simulation."""
        self._fail_next.append(error or StoreError("injected failure of a memory store transaction"))

    def slow_commits(self, seconds: float) -> None:
        """Make every transaction take ``seconds`` of runtime clock (0: instant again).

        A fault for tests and simulation: a transaction sleeps before it applies, so a crash
        meanwhile loses it, as a crash mid-commit loses an uncommitted transaction.
        """
        if not 0 <= seconds < float("inf"):
            raise ValueError(f"slow_commits: seconds must be a finite number >= 0, got {seconds!r}")
        self._commit_delay = seconds

    async def migration_versions(self) -> list[int]:
        await trio.lowlevel.checkpoint()
        return list(self.database.migrations)

    async def _transact(self, units: Sequence[Sequence[Op]]) -> list[list[Any]]:
        await trio.lowlevel.checkpoint()
        if self._commit_delay:
            await trio.sleep(self._commit_delay)
        if self._crashed or not self._open:
            raise StoreClosedError(f"the memory store is {'crashed' if self._crashed else 'closed'}")
        if self._fail_next:
            raise self._fail_next.pop(0)
        txn = _Txn(self.database)
        try:
            return [[txn.apply(op) for op in ops] for ops in units]
        except BaseException:
            txn.rollback()
            raise

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
        await trio.lowlevel.checkpoint()
        if self._crashed:
            raise StoreClosedError("the memory store crashed")
        equal = {c.column: c.value for c in where if c.op == "=" and c.value is not None}
        any_of = {c.column: tuple(c.value) for c in where if c.op == "in"}
        candidates = self.database.candidates(table, equal, any_of)
        rows = [r for r in candidates if all(_matches(r, c) for c in where)]
        for col, direction in reversed(order):
            rows.sort(key=operator.itemgetter(col), reverse=direction == "desc")
        if offset:
            rows = rows[offset:]
        if limit is not None:
            rows = rows[:limit]
        if columns is not None:
            return [{c: r[c] for c in columns} for r in rows]
        return [dict(r) for r in rows]
