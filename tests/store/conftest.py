"""Fixtures for the store tests: one ``store`` fixture over the three backends.

Postgres tests create a uniquely named database for the test run and drop it after.
When the server is unreachable they skip, except under ``CI``, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from ratchet.actors.store import TABLES, MemoryStore, SQLiteStore, Store, open_store
from ratchet.actors.store._migrations import MIGRATIONS_TABLE

PG_ADMIN_DSN = os.environ.get("RATCHET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_dsn(database: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class PostgresDatabases:
    """Creates uniquely named databases on the test server and drops them at the end."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def create(self) -> str:
        """A new empty database; returns its DSN."""
        name = f"ratchet_test_{uuid.uuid4().hex[:12]}"
        try:
            asyncio.run(_admin(f"CREATE DATABASE {name}"))
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            message = f"Postgres at {PG_ADMIN_DSN} is unreachable: {exc}"
            if os.environ.get("CI"):
                pytest.fail(message + " (CI is set: Postgres tests must run)")
            pytest.skip(message)
        self.created.append(name)
        return _pg_dsn(name)

    def drop_all(self) -> None:
        for name in self.created:
            asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PostgresDatabases]:
    """Make Postgres databases for this test run; all are dropped at the end."""
    dbs = PostgresDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def pg_dsn(pg_databases: PostgresDatabases) -> str:
    """One fresh database for the conformance suite of this test run."""
    return pg_databases.create()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test."""
    if request.param == "postgres":
        request.getfixturevalue("pg_dsn")
    return request.param


@pytest.fixture
def make_store(backend: str, tmp_path, request: pytest.FixtureRequest):
    """A factory of unopened stores of the backend under test, all on the same database."""
    if backend == "memory":
        database = MemoryStore().database

        def make(**kw) -> Store:
            return MemoryStore(database, **kw)

    elif backend == "sqlite":

        def make(**kw) -> Store:
            return SQLiteStore(tmp_path / "store.db", **kw)

    else:
        from ratchet.actors.store import DirectoryObjectStore, PostgresStore

        dsn = request.getfixturevalue("pg_dsn")
        asyncio.run(_truncate_if_exists(dsn))

        def make(**kw) -> Store:
            kw.setdefault("objects", DirectoryObjectStore(tmp_path / "objects"))
            return PostgresStore(dsn, **kw)

    return make


async def _truncate_if_exists(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        exists = await conn.fetchval("SELECT to_regclass($1)", MIGRATIONS_TABLE)
        if exists:
            await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
    finally:
        await conn.close()


@pytest.fixture
async def store(make_store) -> AsyncIterator[Store]:
    """An open store of the backend under test, empty."""
    async with open_store(make_store()) as s:
        yield s
