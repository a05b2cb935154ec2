"""Finding runs by metadata in the store (migration 8), alike on memory, SQLite and Postgres.

A filter's pairs must all be held, each value equal as JSON: numbers by value, booleans
only to booleans, arrays and objects whole (never a part of them). Metadata holding a
NUL character is stored like any other and matches no filter. On Postgres a rare pair
is found through the metadata index and a common one by reading the window newest
first; neither reads the whole table.
"""

from __future__ import annotations

from typing import Any

import pytest

from ratchet.actors.store import (
    MIGRATIONS,
    CreateRun,
    PostgresStore,
    RunFilter,
    RunStatus,
    SetRunStatus,
    Store,
    metadata_holds,
    open_store,
)
from ratchet.actors.store._ddl import render_where
from ratchet.actors.store._metadata import pg_metadata_jsonb
from ratchet.actors.store._ops import Cond

T = "tenant-1"

#: run id -> its metadata, oldest first (run i is created at time i)
HISTORY: dict[str, dict[str, Any]] = {
    "a": {"team": "x", "n": 1},
    "b": {"team": "x", "n": 1.0, "flag": True},
    "c": {"team": "y", "tags": ["p", "q"], "obj": {"k": 1, "j": 2}},
    "d": {"flag": 1},
    "e": {},
    "f": {"team": None},
    "g": {"team": "x", "note": "a\\u0000b"},  # the six characters, not a NUL
}


async def _seed(store: Store) -> None:
    await store.commit(
        [
            CreateRun(
                tenant_id=T,
                id=run_id,
                workflow_id="wf",
                workflow_version=1,
                input={},
                tasks=(),
                at=float(i),
                additional_metadata=metadata,
            )
            for i, (run_id, metadata) in enumerate(HISTORY.items())
        ]
    )


async def _ids(store: Store, wanted: dict[str, Any], **kw: Any) -> list[str]:
    return [r.id for r in await store.list_runs(T, run_filter=RunFilter(metadata=wanted), **kw)]


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ({"team": "x"}, ["g", "b", "a"]),
        ({"n": 1}, ["b", "a"]),  # 1 and 1.0 are one number
        ({"n": 1.0}, ["b", "a"]),
        ({"flag": True}, ["b"]),  # true is not 1
        ({"flag": 1}, ["d"]),
        ({"tags": ["p", "q"]}, ["c"]),
        ({"tags": ["p"]}, []),  # a part of an array is not the array
        ({"tags": ["q", "p"]}, []),
        ({"tags": "p"}, []),
        ({"obj": {"j": 2, "k": 1}}, ["c"]),  # an object's keys in any order
        ({"obj": {"k": 1}}, []),
        ({"team": None}, ["f"]),  # null, held
        ({"missing": None}, []),  # not held at all
        ({"team": "x", "n": 1}, ["b", "a"]),
        ({"team": "x", "n": 2}, []),
        ({"note": "a\\u0000b"}, ["g"]),
        ({}, ["g", "f", "e", "d", "c", "b", "a"]),
    ],
)
async def test_runs_are_found_by_metadata_pairs_equal_as_json(
    store: Store, wanted: dict[str, Any], expected: list[str]
) -> None:
    await _seed(store)
    assert await _ids(store, wanted) == expected
    ids = await store.list_run_ids(T, run_filter=RunFilter(metadata=wanted))
    assert [run_id for run_id, _ in ids] == expected
    # the store's answer is the one rule's answer, as the gateway applies it to other lists
    assert [r for r in reversed(HISTORY) if metadata_holds(HISTORY[r], wanted)] == expected


async def test_a_metadata_filter_combines_with_status_time_and_paging(store: Store) -> None:
    await _seed(store)
    await store.commit([SetRunStatus(tenant_id=T, run_id="b", status=RunStatus.FAILED, at=20.0)])
    team_x = {"team": "x"}
    assert await _ids(store, team_x, statuses=[RunStatus.QUEUED]) == ["g", "a"]
    assert await _ids(store, team_x, statuses=[RunStatus.FAILED]) == ["b"]
    assert await _ids(store, team_x, since=1.0, until=6.0) == ["b"]
    assert await _ids(store, team_x, offset=1, limit=1) == ["b"]
    assert await _ids(store, team_x, offset=3) == []
    assert await store.list_runs("other-tenant", run_filter=RunFilter(metadata=team_x)) == []


async def test_metadata_holding_a_nul_is_stored_and_matches_no_filter(store: Store) -> None:
    await _seed(store)
    await store.commit(
        [
            CreateRun(
                tenant_id=T,
                id="nul",
                workflow_id="wf",
                workflow_version=1,
                input={},
                tasks=(),
                at=50.0,
                additional_metadata={"team": "x", "note": "a\x00b"},
            )
        ]
    )
    assert (await store.get_run(T, "nul")).additional_metadata == {"team": "x", "note": "a\x00b"}
    assert await _ids(store, {"note": "a\x00b"}) == []
    assert await _ids(store, {"team": "x"}) == ["g", "b", "a"]
    assert await _ids(store, {"te\x00am": "x"}) == []
    assert not metadata_holds({"team": "x", "note": "a\x00b"}, {"team": "x"})


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ("team=x", "must be a mapping"),
        ([("team", "x")], "must be a mapping"),
        ({1: "x"}, "keys must be text"),
        ({"n": float("nan")}, "value of 'n' is not plain JSON"),
        ({"n": float("inf")}, "value of 'n' is not plain JSON"),
        ({"b": b"bytes"}, "value of 'b' is not plain JSON"),
        ({"s": {1, 2}}, "value of 's' is not plain JSON"),
    ],
)
async def test_a_malformed_metadata_filter_is_refused_before_any_query(
    store: Store, metadata: Any, problem: str
) -> None:
    await _seed(store)
    with pytest.raises(ValueError, match=problem):
        RunFilter(metadata=metadata)
    assert len(await store.list_runs(T)) == len(HISTORY)


def test_queries_spell_the_expression_migration_8_indexes() -> None:
    (eight,) = [m for m in MIGRATIONS if m.version == 8]
    index, statistics = eight.statements("postgres")
    expression = pg_metadata_jsonb("additional_metadata")
    assert f"USING gin ({expression} jsonb_path_ops) WHERE additional_metadata <> '{{}}'" in index
    assert f"ON {expression} FROM workflow_runs" in statistics
    clause, _ = render_where(
        "workflow_runs",
        [Cond("additional_metadata", "holds", (("team", '"x"'),))],
        lambda n, col, values: f"${n}",
        dialect="postgres",
    )
    assert "additional_metadata <> '{}'" in clause and f"{expression} @> $1::jsonb" in clause
    assert eight.statements("sqlite") == []


#: ``$2`` runs, one a second; 40% with metadata, "env" on all of those, "customer" c0..c999 each on 1 in 1000
SEED_SQL = """
    INSERT INTO workflow_runs (tenant_id, id, workflow_id, workflow_version, status, input,
        additional_metadata, priority, created_at)
    SELECT $1, 'r' || g, 'wf', 1, CASE WHEN g % 10 = 0 THEN 'FAILED' ELSE 'COMPLETED' END, '{}',
        CASE WHEN g % 5 < 2 THEN '{"customer":"c' || (g % 1000) || '","env":"prod"}' ELSE '{}' END,
        1, g::float8
    FROM generate_series(1, $2) AS g
"""


async def _plan(store: PostgresStore, wanted: dict[str, Any], since: float, until: float) -> str:
    """The plan of the first page the store reads for ``wanted`` in ``[since, until)``."""
    where = [
        Cond("tenant_id", "=", T),
        Cond("status", "in", ("COMPLETED", "FAILED")),
        Cond("created_at", ">=", since),
        Cond("created_at", "<", until),
        *RunFilter(metadata=wanted).conditions(),
    ]
    clause, params = render_where(
        "workflow_runs",
        where,
        lambda n, col, values: f"${n}::text[]" if values else f"${n}",
        dialect="postgres",
    )
    sql = f"EXPLAIN SELECT * FROM workflow_runs{clause} ORDER BY created_at DESC, id DESC LIMIT 50"
    rows = await store._aio(store._require().fetch, sql, *params)
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("backend", ["postgres"])
async def test_postgres_reads_a_rare_pair_from_the_index_and_a_common_one_from_the_window(
    make_store: Any,
) -> None:
    async with open_store(make_store()) as store:
        assert isinstance(store, PostgresStore)
        pool = store._require()
        await store._aio(pool.execute, SEED_SQL, T, 30_000)
        await store._aio(pool.execute, "ANALYZE workflow_runs")
        rare = await _plan(store, {"customer": "c41"}, 0.0, 30001.0)
        common = await _plan(store, {"env": "prod"}, 0.0, 30001.0)
        assert "workflow_runs_additional_metadata_idx" in rare, rare
        assert "Seq Scan on workflow_runs" not in common, common
        assert "workflow_runs_additional_metadata_idx" not in common, common
        assert await _ids(store, {"customer": "c41"}, limit=3) == ["r29041", "r28041", "r27041"]


async def _seventh_plan(store: PostgresStore, wanted: dict[str, Any], runs: int) -> str:
    """The plan of a page of runs (the last 30th of the ``runs``), as the store reads it,
    prepared on a store connection and run six times first."""
    where = [
        Cond("tenant_id", "=", T),
        Cond("status", "in", ("COMPLETED", "FAILED")),
        Cond("created_at", ">=", runs - runs / 30),
        Cond("created_at", "<", runs + 1.0),
        *RunFilter(metadata=wanted).conditions(),
    ]
    clause, params = render_where(
        "workflow_runs",
        where,
        lambda n, col, values: f"${n}::text[]" if values else f"${n}",
        dialect="postgres",
    )
    sql = f"SELECT * FROM workflow_runs{clause} ORDER BY created_at DESC, id DESC LIMIT 50 OFFSET 100"
    tenant, statuses, since, until, metadata = params
    execute = f"EXECUTE seventh('{tenant}', '{{{','.join(statuses)}}}', {since!r}, {until!r}, '{metadata}')"

    async def on_store_connection() -> str:
        async with store._require().acquire() as conn:
            await conn.execute(f"PREPARE seventh(text, text[], float8, float8, text) AS {sql}")
            try:
                for _ in range(6):
                    await conn.fetch(execute)
                rows = await conn.fetch(f"EXPLAIN {execute}")
            finally:
                await conn.execute("DEALLOCATE seventh")
        return "\n".join(row[0] for row in rows)

    return await store._aio(on_store_connection)


@pytest.mark.parametrize("backend", ["postgres"])
async def test_postgres_plans_each_read_for_its_own_parameters(make_store: Any) -> None:
    # over 300,000 runs a plan made once for any parameters (Postgres' generic plan of a
    # statement prepared and run often, as asyncpg does) reads a common pair from the
    # metadata index, all 120,000 entries of it; the store's connections plan every run
    async with open_store(make_store()) as store:
        assert isinstance(store, PostgresStore)
        await store._aio(store._require().execute, SEED_SQL, T, 300_000)
        await store._aio(store._require().execute, "ANALYZE workflow_runs")
        common = await _seventh_plan(store, {"env": "prod"}, 300_000)
        assert "workflow_runs_additional_metadata_idx" not in common, common
        rare = await _seventh_plan(store, {"customer": "c41"}, 300_000)
        assert "workflow_runs_additional_metadata_idx" in rare, rare
