"""Fixtures for the store tests: one ``store`` fixture over the three backends.

Postgres tests create a uniquely named database for the test run and drop it after
(see ``tests/conftest.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from ratchet.actors.store import (
    TABLES,
    DirectoryObjectStore,
    MemoryObjectStore,
    MemoryStore,
    ObjectStore,
    SQLiteStore,
    Store,
    open_store,
)
from ratchet.actors.store._migrations import MIGRATIONS_TABLE


@pytest.fixture(scope="session")
def pg_dsn(pg_databases: Any) -> str:
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
        from ratchet.actors.store import PostgresStore

        dsn = request.getfixturevalue("pg_dsn")
        asyncio.run(_truncate_if_exists(dsn))

        def make(**kw) -> Store:
            return PostgresStore(dsn, **kw)

    return make


@pytest.fixture
def objects(backend: str, tmp_path) -> ObjectStore:
    """An object store for the backend under test (in memory for the memory backend)."""
    if backend == "memory":
        return MemoryObjectStore()
    return DirectoryObjectStore(tmp_path / "objects")


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
