"""Property: the SQL backends' batched statements mean exactly what the memory backend does.

The memory backend applies a batch's operations one by one, in submission order: that is
the reference meaning. SQLite and Postgres regroup them into few statements (multi-row
inserts, ``unnest`` updates). Hypothesis draws random batches of mutations over a small
id space (so that keys clash, fences fail and units get rejected) and checks that every
caller gets the same outcome and every table ends in the same state on all backends.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ratchet.actors.store import (
    TABLES,
    AcquireConcurrencySlot,
    AppendDurableLog,
    CreateRun,
    DirectoryObjectStore,
    Heartbeat,
    MemoryObjectStore,
    MemoryStore,
    NewTask,
    PostgresStore,
    PushEvent,
    ReleaseConcurrencySlot,
    RunStatus,
    SetRunStatus,
    SQLiteStore,
    Store,
    TaskEventKind,
    TaskStatus,
    TransitionTask,
    UpsertWorker,
    open_store,
)

T = "t"
RUNS = ["r0", "r1", *[f"r{i}" for i in range(2, 12)]]
TASKS = [f"{r}-{x}" for r in RUNS[:4] for x in "ab"]
STATUSES = [s for s in TaskStatus if s != TaskStatus.PENDING]

create_run = st.builds(
    lambda r, big: CreateRun(
        tenant_id=T,
        id=r,
        workflow_id="wf",
        workflow_version=1,
        input={"r": r, "pad": "x" * (300 if big else 1)},
        tasks=(NewTask(id=f"{r}-a", name="a", queue="q"), NewTask(id=f"{r}-b", name="b", queue="q")),
        at=1.0,
    ),
    st.sampled_from(RUNS[2:]),
    st.booleans(),
)
transition = st.builds(
    lambda task, attempt, to, froms, retry, out: TransitionTask(
        tenant_id=T,
        task_id=task,
        run_id=task[:2],
        attempt=attempt,
        to_status=to,
        event=TaskEventKind.RETRYING if retry else TaskEventKind.ASSIGNED,
        from_statuses=tuple(froms),
        new_attempt=attempt + 1 if retry else None,
        output={"o": out} if out is not None else None,
        worker_id="w0" if out is None else None,
        at=2.0,
    ),
    st.sampled_from(TASKS),
    st.integers(1, 2),
    st.sampled_from(STATUSES),
    st.lists(st.sampled_from(list(TaskStatus)), min_size=1, max_size=4, unique=True),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 3)),
)
other = st.one_of(
    st.builds(
        lambda i: PushEvent(tenant_id=T, id=f"e{i}", key="k", payload={"i": i}, at=3.0), st.integers(0, 4)
    ),
    st.builds(lambda w: UpsertWorker(tenant_id=T, id=f"w{w}", name="n", at=4.0), st.integers(0, 1)),
    st.builds(lambda w: Heartbeat(tenant_id=T, worker_id=f"w{w}", at=5.0), st.integers(0, 1)),
    st.builds(
        lambda r, s: SetRunStatus(tenant_id=T, run_id=r, status=s, at=6.0),
        st.sampled_from(RUNS),
        st.sampled_from(list(RunStatus)),
    ),
    st.builds(
        lambda t: AcquireConcurrencySlot(tenant_id=T, group_key="g", task_id=f"c{t}", run_id="r0", at=7.0),
        st.integers(0, 12),
    ),
    st.builds(
        lambda t: ReleaseConcurrencySlot(tenant_id=T, group_key="g", task_id=f"c{t}"), st.integers(0, 12)
    ),
    st.builds(
        lambda s: AppendDurableLog(tenant_id=T, task_id="d", seq=s, kind="sleep", key="k", at=8.0),
        st.integers(0, 10),
    ),
)
# Mostly transitions, so that whole batches commit and updates run as one statement;
# the rest make keys clash now and then, which sends a batch down the isolation path.
# Same-shape transitions (assignments) coalesce into one UPDATE ... FROM unnest statement.
assign = st.builds(
    lambda task, attempt, froms: TransitionTask(
        tenant_id=T,
        task_id=task,
        run_id=task[:2],
        attempt=attempt,
        to_status=TaskStatus.RUNNING,
        event=TaskEventKind.ASSIGNED,
        from_statuses=tuple(froms),
        worker_id="w1",
        at=2.5,
    ),
    st.sampled_from(TASKS),
    st.integers(1, 2),
    st.lists(st.sampled_from(list(TaskStatus)), min_size=1, max_size=4, unique=True),
)
mutation = st.one_of(create_run, other, *[transition] * 3, *[assign] * 8)
batches = st.lists(
    st.lists(st.lists(mutation, min_size=1, max_size=3), min_size=1, max_size=8), min_size=1, max_size=3
)
SEED_BATCH = [
    [
        CreateRun(
            tenant_id=T,
            id=r,
            workflow_id="wf",
            workflow_version=1,
            input={},
            at=0.5,
            tasks=(NewTask(id=f"{r}-a", name="a", queue="q"), NewTask(id=f"{r}-b", name="b", queue="q")),
        )
    ]
    for r in RUNS[:2]
]


async def _apply(store: Store, plan: list) -> tuple[list, dict]:
    outcomes = []
    for batch in plan:
        for result in await store.commit_many(batch):
            try:
                outcomes.append(("ok", result.unwrap()))
            except Exception as exc:
                outcomes.append(("error", type(exc).__name__))
    state = {}
    for name, table in TABLES.items():
        rows = await store._select(name, [], [(c, "asc") for c in table.primary_key])
        seq = table.seq_column
        state[name] = [{k: await _resolved(store, k, v) for k, v in row.items() if k != seq} for row in rows]
    return outcomes, state


async def _resolved(store: Store, column: str, value: object) -> object:
    """An object reference as what it refers to: each store names its objects its own way."""
    if column.endswith("_ref") and value is not None:
        assert store.objects is not None
        return ("object", await store.objects.get(value))
    return value


def _run(store: Store, plan: list) -> tuple[list, dict]:
    async def main() -> tuple[list, dict]:
        async with open_store(store) as s:
            return await _apply(s, plan)

    return trio.run(main)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sql_backends_agree_with_the_memory_reference(backend: str, tmp_path: Path, request) -> None:
    if backend == "postgres":
        dsn = request.getfixturevalue("pg_databases").create()

    @settings(
        max_examples=int(os.environ.get("RATCHET_STORE_EXAMPLES", "40")),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(plan=batches)
    def check(plan: list) -> None:
        plan = [SEED_BATCH, *plan]
        objects = DirectoryObjectStore(tmp_path / "objects")
        expected = _run(MemoryStore(objects=MemoryObjectStore(), offload_threshold=100), plan)
        if backend == "sqlite":
            store: Store = SQLiteStore(
                tmp_path / f"{uuid.uuid4().hex}.db", objects=objects, offload_threshold=100
            )
        else:
            store = PostgresStore(dsn, objects=objects, offload_threshold=100)

            async def reset() -> None:
                async with open_store(PostgresStore(dsn, objects=objects)) as s:
                    await s._aio(s._require().execute, f"TRUNCATE {', '.join(TABLES)}")

            trio.run(reset)
        assert _run(store, plan) == expected

    check()
