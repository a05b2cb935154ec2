"""Engines starting together on one fresh database: every one comes up.

Everything an engine does once on a new database (migrating it, creating its tenant) must
be idempotent under concurrency: several engines (a deployment's replicas, or a restart
racing a stale process) may open the same empty database at the same instant.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from ratchet.actors import EngineOptions, open_engine
from ratchet.actors.store import (
    MIGRATIONS,
    DirectoryObjectStore,
    PostgresStore,
    SQLiteStore,
    Store,
    open_store,
)
from ratchet.runtime import open_runtime

ENGINES = 6


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path):
    """A factory of unopened stores on one brand-new database."""
    if request.param == "sqlite":
        return lambda: SQLiteStore(tmp_path / "fresh.db")
    dsn = request.getfixturevalue("pg_databases").create()
    return lambda: PostgresStore(dsn, objects=DirectoryObjectStore(tmp_path / "objects"))


async def test_engines_started_together_on_a_fresh_database_all_come_up(fresh_database) -> None:
    everyone_up = trio.Event()
    up: list[str] = []

    async def engine(n: int) -> None:
        async with open_runtime() as system, open_store(fresh_database()) as store:
            async with open_engine(system, store, EngineOptions()) as running:
                up.append(f"engine {n}")
                if len(up) == ENGINES:
                    everyone_up.set()
                # Stay up until all are: the engines overlap, as replicas would.
                await everyone_up.wait()
                assert await running.gateway.list_workflows.ask() == []

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            for n in range(ENGINES):
                nursery.start_soon(engine, n)
    assert len(up) == ENGINES

    store: Store = fresh_database()
    async with open_store(store):
        tenant = await store.get_tenant("default")
        assert tenant is not None and tenant.name == "default"
        assert await store.migration_versions() == [m.version for m in MIGRATIONS]
