"""The Postgres backend: asyncpg on an asyncio thread, awaited from Trio, one crossing per batch.

Theory of operation: asyncpg is asyncio code. It runs on a plain asyncio loop in a
thread of the store's own (:class:`~ratchet.actors.store._aio_thread.AsyncioThread`,
which says why not trio-asyncio), and each store call crosses over once and runs a
whole coroutine there: for a batch, that coroutine takes a pooled connection, opens a
transaction, runs every statement of the plan and commits. Crossing per statement would
cost ~40%; crossing per batch costs nothing measurable. Plain inserts become one
``INSERT ... SELECT * FROM unnest(...)`` per table; fenced updates of one shape become
one ``UPDATE ... FROM unnest(...) RETURNING`` that tells which rows applied; upserts use
``executemany`` (unnest cannot upsert the same key twice in one statement).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, TypeVarTuple

import asyncpg
import trio

from ._aio_thread import AsyncioThread
from ._ddl import pg_array_type, render_where
from ._errors import MutationRejected, StoreClosedError, StoreError
from ._migrations import MIGRATIONS_TABLE, PG_MIGRATION_LOCK, pending
from ._objects import ObjectStore
from ._ops import Cond, Delete, Insert, Op, Update, Upsert
from ._plan import Item, Step, plan, side_units
from ._schema import TABLES
from ._store import DEFAULT_OFFLOAD_THRESHOLD, Order, Store

__all__ = ["PostgresStore"]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

_REJECTED = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)


# asyncpg prepares every statement and reuses it, and after five runs Postgres may plan a
# prepared statement once for any parameters. The best plan of a read depends on them: a
# rare metadata pair is read from its index, a common one by reading the time window
# newest first (45 ms against 3 ms over a million runs); a generic plan serves every call
# with one of the two. Planning each run takes a fraction of a millisecond.
_SESSION = {"plan_cache_mode": "force_custom_plan"}


def _pg_placeholder(n: int, col: Any, values: Any) -> str:
    return f"${n}::{pg_array_type(col)}" if values is not None else f"${n}"


class PostgresStore(Store):
    """A store in a Postgres database, for production and several engines.

    Args:
        dsn: a libpq connection string (``postgresql://user@host:port/db``).
        objects: where big payloads go; ``None`` (the default) keeps every payload in its
            row (TOASTed, compressed by Postgres, up to 1 GB a value), as Hatchet does.
            Engines sharing the database must share the object store.
        offload_threshold: see :class:`Store`.
        min_size: connections the pool keeps open.
        max_size: connections the pool may open (batches commit one at a time per
            writer; reads use the others).
    """

    backend = "postgres"

    def __init__(
        self,
        dsn: str,
        *,
        objects: ObjectStore | None = None,
        offload_threshold: int = DEFAULT_OFFLOAD_THRESHOLD,
        min_size: int = 1,
        max_size: int = 4,
    ) -> None:
        super().__init__(objects=objects, offload_threshold=offload_threshold)
        self.dsn = dsn
        self.min_size = min_size
        self.max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._loop: AsyncioThread | None = None

    async def _aio(self, fn: Callable[[*_Ts], Awaitable[_T]], *args: *_Ts) -> _T:
        if self._loop is None:
            raise StoreClosedError("the Postgres store is closed")
        try:
            return await self._loop.run(fn, *args)
        except StoreError:
            raise
        except _REJECTED as exc:
            raise MutationRejected("batch", f"Postgres refused it: {type(exc).__name__}: {exc}") from exc
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StoreError(f"Postgres store failed: {type(exc).__name__}: {exc}") from exc

    # -- connection and migrations ---------------------------------------------------------

    async def _connect(self) -> None:
        self._loop = AsyncioThread("ratchet-postgres")
        await self._loop.start()
        try:
            self._pool = await self._aio(self._connect_aio)
        except BaseException:
            loop, self._loop = self._loop, None
            with trio.CancelScope(shield=True):
                await loop.aclose()
            raise

    async def _connect_aio(self) -> asyncpg.Pool:
        pool = await asyncpg.create_pool(
            self.dsn, min_size=self.min_size, max_size=self.max_size, server_settings=_SESSION
        )
        try:
            async with pool.acquire() as conn, conn.transaction():
                # Transaction-scoped: released at commit or rollback, even if we die.
                await conn.execute("SELECT pg_advisory_xact_lock($1)", PG_MIGRATION_LOCK)
                await conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version BIGINT PRIMARY KEY,"
                    " name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
                )
                applied = [
                    r[0] for r in await conn.fetch(f"SELECT version FROM {MIGRATIONS_TABLE} ORDER BY 1")
                ]
                for m in pending(applied):
                    for stmt in m.statements("postgres"):
                        await conn.execute(stmt)
                    await conn.execute(
                        f"INSERT INTO {MIGRATIONS_TABLE} (version, name, applied_at) VALUES ($1, $2, $3)",
                        m.version,
                        m.name,
                        time.time(),
                    )
        except BaseException:
            await pool.close()
            raise
        return pool

    async def _disconnect(self) -> None:
        pool, self._pool = self._pool, None
        try:
            if pool is not None:
                await self._aio(pool.close)
        finally:
            loop, self._loop = self._loop, None
            if loop is not None:
                with trio.CancelScope(shield=True):
                    await loop.aclose()

    def _require(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreClosedError("the Postgres store is closed")
        return self._pool

    async def migration_versions(self) -> list[int]:
        pool = self._require()
        rows = await self._aio(pool.fetch, f"SELECT version FROM {MIGRATIONS_TABLE} ORDER BY 1")
        return [r[0] for r in rows]

    # -- writing -----------------------------------------------------------------------------

    async def _transact(self, units: Sequence[Sequence[Op]]) -> list[list[Any]]:
        pool = self._require()
        return await self._aio(self._transact_aio, pool, units)

    async def _transact_aio(self, pool: asyncpg.Pool, units: Sequence[Sequence[Op]]) -> list[list[Any]]:
        results: list[list[Any]] = [[None] * len(ops) for ops in units]
        async with pool.acquire() as conn, conn.transaction():
            await self._run_steps(conn, plan(units), results)
        return results

    async def _run_steps(self, conn: Any, steps: list[Step], results: list[list[Any]]) -> None:
        for step in steps:
            first = step.items[0].op
            if step.kind == "insert":
                assert isinstance(first, Insert)
                t = TABLES[first.table]
                cols = list(first.row)
                cols_t = {c.name: c for c in t.storage_columns()}
                rows = step.rows()
                arrays = [[row[c] for row in rows] for c in cols]
                types = ", ".join(f"${i + 1}::{pg_array_type(cols_t[c])}" for i, c in enumerate(cols))
                sql = f"INSERT INTO {t.name} ({', '.join(cols)}) SELECT * FROM unnest({types})"
                await conn.execute(sql, *arrays)
            elif step.kind == "upsert":
                assert isinstance(first, Upsert)
                cols = list(first.row)
                action = (
                    "DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in first.update)
                    if first.update
                    else "DO NOTHING"
                )
                values = ", ".join(f"${i + 1}" for i in range(len(cols)))
                sql = (
                    f"INSERT INTO {first.table} ({', '.join(cols)}) VALUES ({values}) "
                    f"ON CONFLICT ({', '.join(first.conflict)}) {action}"
                )
                await conn.executemany(sql, [tuple(row.values()) for row in step.rows()])
            elif step.kind == "update":
                applied = await self._update_step(conn, step.items)
                for it, ok in zip(step.items, applied, strict=True):
                    results[it.unit][it.index] = ok
                side = side_units(step.items, applied)
                if side:
                    await self._run_steps(conn, plan(side), [[None] * len(side[0])])
            else:
                for it in step.items:
                    op = it.op
                    assert isinstance(op, Delete)
                    where = [Cond(c, "=", v) for c, v in {**op.key, **op.expect}.items()]
                    clause, params = render_where(op.table, where, _pg_placeholder, dialect="postgres")
                    row = await conn.fetchrow(f"DELETE FROM {op.table}{clause} RETURNING 1", *params)
                    results[it.unit][it.index] = row is not None

    async def _update_step(self, conn: Any, items: list[Item]) -> list[bool]:
        # Split into runs of distinct rows: within a run order cannot matter (each row is
        # touched once), and runs go in order, so the same row twice stays sequential.
        applied: list[bool] = []
        chunk: list[Update] = []
        seen: set[tuple[Any, ...]] = set()
        for it in items:
            op = it.op
            assert isinstance(op, Update), f"an update step holds {op!r}"
            key = tuple(op.key.values())
            if key in seen:
                applied.extend(await self._update_distinct(conn, chunk))
                chunk, seen = [], set()
            chunk.append(op)
            seen.add(key)
        applied.extend(await self._update_distinct(conn, chunk))
        return applied

    async def _update_distinct(self, conn: Any, ops: list[Update]) -> list[bool]:
        """Updates of one shape on distinct rows, as one ``UPDATE ... FROM unnest`` statement."""
        if len(ops) == 1:
            return [await self._update_one(conn, ops[0])]
        first = ops[0]
        keys = [tuple(op.key.values()) for op in ops]
        cols = {c.name: c for c in TABLES[first.table].storage_columns()}
        arrays: list[list[Any]] = []
        casts: list[str] = []
        names: list[str] = []
        conds: list[str] = []
        sets: list[str] = []

        def add(alias: str, col: str, values: list[Any], array_type: str) -> str:
            arrays.append(values)
            casts.append(f"${len(arrays)}::{array_type}")
            names.append(alias)
            return alias

        for i, c in enumerate(first.key):
            a = add(f"k{i}", c, [op.key[c] for op in ops], pg_array_type(cols[c]))
            conds.append(f"t.{c} = v.{a}")
        for i, c in enumerate(first.values):
            a = add(f"s{i}", c, [op.values[c] for op in ops], pg_array_type(cols[c]))
            sets.append(f"{c} = v.{a}")
        for i, c in enumerate(first.expect):
            a = add(f"e{i}", c, [op.expect[c] for op in ops], pg_array_type(cols[c]))
            conds.append(f"t.{c} IS NOT DISTINCT FROM v.{a}")
        for i, c in enumerate(first.expect_in):
            # A list per row: carried as one text, split back in SQL (values hold no commas).
            a = add(f"i{i}", c, [",".join(op.expect_in[c]) for op in ops], "text[]")
            conds.append(f"t.{c} = ANY(string_to_array(v.{a}, ','))")
        key_cols = list(first.key)
        sql = (
            f"UPDATE {first.table} AS t SET {', '.join(sets)} "
            f"FROM unnest({', '.join(casts)}) AS v({', '.join(names)}) "
            f"WHERE {' AND '.join(conds)} RETURNING {', '.join('t.' + c for c in key_cols)}"
        )
        rows = await conn.fetch(sql, *arrays)
        done = {tuple(r) for r in rows}
        return [k in done for k in keys]

    @staticmethod
    async def _update_one(conn: Any, op: Update) -> bool:
        params = list(op.values.values())
        sets = ", ".join(f"{c} = ${i + 1}" for i, c in enumerate(op.values))
        clauses = []
        for c, v in op.key.items():
            params.append(v)
            clauses.append(f"{c} = ${len(params)}")
        for c, v in op.expect.items():
            params.append(v)
            clauses.append(f"{c} IS NOT DISTINCT FROM ${len(params)}")
        for c, vs in op.expect_in.items():
            params.append(list(vs))
            clauses.append(f"{c} = ANY(${len(params)}::text[])")
        sql = f"UPDATE {op.table} SET {sets} WHERE {' AND '.join(clauses)} RETURNING 1"
        return await conn.fetchrow(sql, *params) is not None

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
        pool = self._require()
        clause, params = render_where(table, where, _pg_placeholder, dialect="postgres")
        sql = f"SELECT {', '.join(columns) if columns else '*'} FROM {table}{clause}"
        if order:
            sql += " ORDER BY " + ", ".join(f"{c} {d.upper()}" for c, d in order)
        if limit is not None:
            params.append(limit)
            sql += f" LIMIT ${len(params)}"
        if offset:
            params.append(offset)
            sql += f" OFFSET ${len(params)}"
        rows = await self._aio(pool.fetch, sql, *params)
        return [dict(r) for r in rows]

    async def _count(self, table: str, where: Sequence[Cond], group_by: str) -> dict[Any, int]:
        pool = self._require()
        clause, params = render_where(table, where, _pg_placeholder, dialect="postgres")
        sql = f"SELECT {group_by}, COUNT(*) FROM {table}{clause} GROUP BY {group_by}"
        rows = await self._aio(pool.fetch, sql, *params)
        return {r[0]: r[1] for r in rows}
