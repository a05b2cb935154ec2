"""Migrations: numbered, applied once in a transaction, recorded, and safe at concurrent start."""

from __future__ import annotations

import sqlite3

import pytest
import trio

from ratchet.actors.store import (
    MIGRATIONS,
    TABLES,
    CreateApiToken,
    CreateTenant,
    DirectoryObjectStore,
    MemoryStore,
    MigrationError,
    PostgresStore,
    SQLiteStore,
    Store,
    open_store,
)


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_store_factory(request: pytest.FixtureRequest, tmp_path):
    """A factory of SQL stores on one brand-new database (no schema yet)."""
    if request.param == "sqlite":
        path = tmp_path / "fresh.db"
        return lambda: SQLiteStore(path)
    dsn = request.getfixturevalue("pg_databases").create()
    return lambda: PostgresStore(dsn, objects=DirectoryObjectStore(tmp_path / "objects"))


async def _migration_rows(store: Store) -> list[dict]:
    return await store._select("ratchet_migrations", [], [("version", "asc")])


async def test_an_up_to_date_database_is_left_unchanged(fresh_store_factory) -> None:
    async with open_store(fresh_store_factory()) as store:
        await store.commit([CreateTenant(id="t", name="acme", at=1.0)])
        first = await _migration_rows(store)
    assert [r["version"] for r in first] == [m.version for m in MIGRATIONS]
    async with open_store(fresh_store_factory()) as store:
        assert await _migration_rows(store) == first
        assert (await store.get_tenant("t")).name == "acme"


async def test_two_engines_starting_at_once_migrate_once(fresh_store_factory) -> None:
    opened: list[Store] = []

    async def start() -> None:
        async with open_store(fresh_store_factory()) as store:
            opened.append(store)
            assert await store.migration_versions() == [m.version for m in MIGRATIONS]

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(start)
    assert len(opened) == 3
    async with open_store(fresh_store_factory()) as store:
        assert len(await _migration_rows(store)) == len(MIGRATIONS)


async def test_a_database_from_a_newer_ratchet_is_refused(fresh_store_factory) -> None:
    async with open_store(fresh_store_factory()) as store:
        if isinstance(store, SQLiteStore):
            conn = sqlite3.connect(store.path)
            conn.execute("INSERT INTO ratchet_migrations VALUES (999, 'future', 0)")
            conn.commit()
            conn.close()
        else:
            sql = "INSERT INTO ratchet_migrations VALUES (999, 'future', 0)"
            await store._aio(store._require().execute, sql)
    with pytest.raises(MigrationError, match=r"\[999\].*newer"):
        async with open_store(fresh_store_factory()):
            pass


async def test_memory_store_keeps_committed_state_across_a_crash() -> None:
    store = MemoryStore()
    async with open_store(store):
        await store.commit([CreateTenant(id="t", name="acme", at=1.0)])
        store.crash()
        with pytest.raises(Exception, match="crash"):
            await store.get_tenant("t")
    restarted = MemoryStore(store.database)
    async with open_store(restarted):
        assert (await restarted.get_tenant("t")).name == "acme"
        assert await restarted.migration_versions() == [m.version for m in MIGRATIONS]


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_later_migrations_build_the_tables_the_schema_describes(dialect: str) -> None:
    # migration 1 stays as released; each table added since is written out by hand in its
    # own migration, and must say what the schema (which the memory store follows) says,
    # indexes included (the partial indexes of object references are not in the schema)
    from ratchet.actors.store._ddl import create_statements
    from ratchet.actors.store._migrations import INITIAL_TABLES

    later = [name for name in TABLES if name not in INITIAL_TABLES]

    def on_later_table(sql: str) -> bool:
        if sql.startswith("CREATE TABLE"):
            return True
        return sql.startswith("CREATE INDEX") and sql.split(" ON ")[1].split(" ")[0] in later

    # indexes and columns added to migration 1's tables are checked on live databases below
    written = [sql for m in MIGRATIONS[1:] for sql in m.statements(dialect) if on_later_table(sql)]
    assert written == create_statements(dialect, later)
    # the tables migration 1 made are changed since only by ALTER TABLE, checked on a live database below
    assert MIGRATIONS[0].statements(dialect) != create_statements(dialect, INITIAL_TABLES)


async def test_every_migrated_table_has_the_columns_the_schema_describes(tmp_path) -> None:
    async with open_store(SQLiteStore(tmp_path / "m.db")):
        pass
    conn = sqlite3.connect(tmp_path / "m.db")
    try:
        for name, described in TABLES.items():
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({name})")]
            assert columns == [c.name for c in described.storage_columns()], name
    finally:
        conn.close()


async def test_a_database_at_migration_1_is_brought_up_to_date(tmp_path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE ratchet_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)")
    for sql in MIGRATIONS[0].statements("sqlite"):
        conn.execute(sql)
    conn.execute("INSERT INTO ratchet_migrations VALUES (1, 'initial schema', 0)")
    conn.commit()
    conn.close()
    async with open_store(SQLiteStore(path)) as store:
        assert await store.migration_versions() == [m.version for m in MIGRATIONS]
        assert await store.list_rate_limit_windows("t") == []
        # a token row written after the upgrade carries its role
        await store.commit(
            [CreateApiToken(tenant_id="t", id="k", name="n", token_hash="h", at=1.0, role="admin")]
        )
        assert (await store.get_api_token("t", "k")).role == "admin"


def test_every_column_that_can_reference_an_object_is_indexed() -> None:
    # sweeping orphaned objects looks rows up by these columns; a new offloadable column
    # needs its index in a new migration
    from ratchet.actors.store._migrations import _OBJECT_REFS

    offloadable = {(t.name, f"{c.name}_ref") for t in TABLES.values() for c in t.columns if c.offload}
    assert offloadable == set(_OBJECT_REFS)
