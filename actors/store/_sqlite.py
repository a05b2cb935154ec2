"""The SQLite backend: the embedded default (stdlib ``sqlite3``, WAL, one dedicated thread).

Every call runs in a worker thread through :func:`trio.to_thread.run_sync` with a
:class:`trio.CapacityLimiter` of one, so the connection is used by one thread at a time
and Trio's loop never blocks on the disk. A batch is one ``BEGIN IMMEDIATE`` ...
``COMMIT``: inserts go through ``executemany``; fenced updates run row by row inside
the transaction (in-process, a few microseconds each) because each needs its own
"did it apply" answer. ``synchronous=FULL`` by default: an acknowledged commit survives
a power cut, not only a process crash.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, TypeVarTuple

import trio

from ._ddl import render_where
from ._errors import MutationRejected, StoreClosedError, StoreError
from ._metadata import SQLITE_FUNCTION, holds_text
from ._migrations import MIGRATIONS_TABLE, pending
from ._objects import ObjectStore
from ._ops import Cond, Delete, Insert, Op, Update, Upsert
from ._plan import Step, plan, side_units
from ._store import DEFAULT_OFFLOAD_THRESHOLD, Order, Store

__all__ = ["SQLiteStore"]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

_MAX_PARAMS = 32766  # SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32


def _qmark(n: int, col: Any, values: Any) -> Any:
    return None if values is not None else "?"


class SQLiteStore(Store):
    """A store in one SQLite file.

    Args:
        path: the database file (created if missing).
        objects: where big payloads go; ``None`` (the default) keeps every payload in the
            database file, which SQLite handles well (up to 1 GB a value).
        offload_threshold: see :class:`Store`.
        synchronous: SQLite's ``synchronous`` pragma (``FULL`` or ``NORMAL``; NORMAL is faster
            and still survives a process crash, but may lose the last commits on power loss).
        busy_timeout: seconds to wait for another process's write lock.
    """

    backend = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        objects: ObjectStore | None = None,
        offload_threshold: int = DEFAULT_OFFLOAD_THRESHOLD,
        synchronous: str = "FULL",
        busy_timeout: float = 30.0,
    ) -> None:
        self.path = os.fspath(path)
        if self.path == ":memory:" or not self.path:
            raise ValueError("SQLiteStore needs a file path; use MemoryStore for an in-memory store")
        super().__init__(objects=objects, offload_threshold=offload_threshold)
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
        self.synchronous = synchronous.upper()
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._limiter = trio.CapacityLimiter(1)

    async def _run(self, fn: Callable[[*_Ts], _T], *args: *_Ts) -> _T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    # -- connection and migrations ---------------------------------------------------------

    async def _connect(self) -> None:
        self._conn = await self._run(self._connect_sync)

    def _connect_sync(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=self.busy_timeout
        )
        conn.create_function(SQLITE_FUNCTION, 2, holds_text, deterministic=True)
        try:
            self._enable_wal(conn)
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            self._migrate_sync(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a new database to WAL needs its lock for a moment, and SQLite does not
        # wait on its busy handler for that: engines opening one fresh file at once get
        # "database is locked" at once. Wait here instead, as long as busy_timeout allows.
        # (This runs in the store's own thread, never on Trio's.)
        deadline = time.monotonic() + self.busy_timeout
        pause = 0.005
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(pause)
                pause = min(0.1, pause * 2)

    def _migrate_sync(self, conn: sqlite3.Connection) -> None:
        # BEGIN IMMEDIATE takes the write lock before reading the migration table, so a
        # second engine starting at once waits here and then finds nothing to do.
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            applied = [r[0] for r in conn.execute(f"SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version")]
            for m in pending(applied):
                for stmt in m.statements("sqlite"):
                    conn.execute(stmt)
                conn.execute(
                    f"INSERT INTO {MIGRATIONS_TABLE} (version, name, applied_at) VALUES (?, ?, ?)",
                    (m.version, m.name, time.time()),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._run(conn.close)

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreClosedError(f"the SQLite store {self.path!r} is closed")
        return self._conn

    async def migration_versions(self) -> list[int]:
        conn = self._require()
        rows = await self._run(
            lambda: conn.execute(f"SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version").fetchall()
        )
        return [r[0] for r in rows]

    # -- writing -----------------------------------------------------------------------------

    async def _transact(self, units: Sequence[Sequence[Op]]) -> list[list[Any]]:
        conn = self._require()
        return await self._run(self._transact_sync, conn, units)

    def _transact_sync(self, conn: sqlite3.Connection, units: Sequence[Sequence[Op]]) -> list[list[Any]]:
        results: list[list[Any]] = [[None] * len(ops) for ops in units]
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite {self.path!r}: cannot begin a transaction: {exc}") from exc
        try:
            self._run_steps(conn, plan(units), results)
            conn.execute("COMMIT")
        except BaseException as exc:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(exc, sqlite3.IntegrityError):
                raise MutationRejected("batch", f"conflicts with a committed row ({exc})") from exc
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"SQLite {self.path!r}: the transaction failed: {exc}") from exc
            raise
        return results

    def _run_steps(self, conn: sqlite3.Connection, steps: list[Step], results: list[list[Any]]) -> None:
        for step in steps:
            first = step.items[0].op
            if step.kind == "insert":
                assert isinstance(first, Insert)
                self._insert_rows(conn, first.table, list(first.row), step.rows())
            elif step.kind == "upsert":
                assert isinstance(first, Upsert)
                cols = list(first.row)
                action = (
                    "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in first.update)
                    if first.update
                    else "DO NOTHING"
                )
                sql = (
                    f"INSERT INTO {first.table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                    f"ON CONFLICT ({', '.join(first.conflict)}) {action}"
                )
                conn.executemany(sql, [tuple(row.values()) for row in step.rows()])
            elif step.kind == "update":
                applied = []
                for it in step.items:
                    op = it.op
                    assert isinstance(op, Update)
                    ok = self._update_one(conn, op)
                    results[it.unit][it.index] = ok
                    applied.append(ok)
                side = side_units(step.items, applied)
                if side:
                    self._run_steps(conn, plan(side), [[None] * len(side[0])])
            else:
                for it in step.items:
                    op = it.op
                    assert isinstance(op, Delete)
                    where = [Cond(c, "=", v) for c, v in {**op.key, **op.expect}.items()]
                    clause, params = render_where(op.table, where, _qmark, dialect="sqlite")
                    results[it.unit][it.index] = (
                        conn.execute(f"DELETE FROM {op.table}{clause}", params).rowcount > 0
                    )

    @staticmethod
    def _insert_rows(conn: sqlite3.Connection, table: str, cols: list[str], rows: list[Any]) -> None:
        # One multi-row INSERT per chunk rather than executemany: executemany steps once per
        # row and takes the GIL back each time, which stalls behind the Trio thread.
        per_chunk = max(1, _MAX_PARAMS // len(cols))
        group = "(" + ", ".join("?" * len(cols)) + ")"
        head = f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
        for start in range(0, len(rows), per_chunk):
            chunk = rows[start : start + per_chunk]
            params = [v for row in chunk for v in row.values()]
            conn.execute(head + ", ".join([group] * len(chunk)), params)

    @staticmethod
    def _update_one(conn: sqlite3.Connection, op: Update) -> bool:
        sets = ", ".join(f"{c} = ?" for c in op.values)
        params = list(op.values.values())
        clauses = []
        for c, v in op.key.items():
            clauses.append(f"{c} = ?")
            params.append(v)
        for c, v in op.expect.items():
            clauses.append(f"{c} IS ?")
            params.append(v)
        for c, vs in op.expect_in.items():
            clauses.append(f"{c} IN ({', '.join('?' * len(vs))})" if vs else "0")
            params.extend(vs)
        sql = f"UPDATE {op.table} SET {sets} WHERE {' AND '.join(clauses)}"
        return conn.execute(sql, params).rowcount > 0

    # -- reading -----------------------------------------------------------------------------

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
        conn = self._require()
        clause, params = render_where(table, where, _qmark, dialect="sqlite")
        sql = f"SELECT {', '.join(columns) if columns else '*'} FROM {table}{clause}"
        if order:
            sql += " ORDER BY " + ", ".join(f"{c} {d.upper()}" for c, d in order)
        if limit is not None or offset:
            sql += " LIMIT ?"
            params.append(-1 if limit is None else limit)  # SQLite: no OFFSET without a LIMIT
        if offset:
            sql += " OFFSET ?"
            params.append(offset)

        def run() -> list[dict[str, Any]]:
            cur = conn.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

        return await self._run(run)

    async def _count(self, table: str, where: Sequence[Cond], group_by: str) -> dict[Any, int]:
        conn = self._require()
        clause, params = render_where(table, where, _qmark, dialect="sqlite")
        sql = f"SELECT {group_by}, COUNT(*) FROM {table}{clause} GROUP BY {group_by}"
        rows = await self._run(lambda: conn.execute(sql, params).fetchall())
        return {value: count for value, count in rows}
