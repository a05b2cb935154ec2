"""Migration 5's additions, on memory, SQLite and Postgres: pauses and the API's lookups.

Pauses of workers and workflows are kept until lifted; the lookups behind the API (runs
by parent, by triggering event, by worker; child runs; task counts in a time window)
answer the same on every backend. Sequence numbers are never compared by value.
"""

from __future__ import annotations

import pytest

from ratchet.actors.store import (
    LATER_INDEXES,
    MIGRATIONS,
    AddPause,
    CreateRun,
    MutationRejected,
    NewTask,
    PauseKind,
    RemovePause,
    RunFilter,
    RunStatus,
    SetRunStatus,
    Store,
    TaskEventKind,
    TaskStatus,
    TransitionTask,
)

T = "tenant-1"


def run_of(run_id: str, *tasks: NewTask, at: float = 10.0, **kw) -> CreateRun:
    kw.setdefault("workflow_id", "wf")
    kw.setdefault("workflow_version", 1)
    kw.setdefault("input", {"n": 1})
    return CreateRun(tenant_id=T, id=run_id, tasks=tuple(tasks), at=at, **kw)


def task(task_id: str, **kw) -> NewTask:
    kw.setdefault("name", task_id)
    kw.setdefault("queue", "default")
    return NewTask(id=task_id, **kw)


def assign(task_id: str, run_id: str, worker: str, *, attempt: int = 1, at: float = 20.0) -> TransitionTask:
    return TransitionTask(
        tenant_id=T,
        task_id=task_id,
        run_id=run_id,
        attempt=attempt,
        to_status=TaskStatus.RUNNING,
        event=TaskEventKind.ASSIGNED,
        worker_id=worker,
        at=at,
    )


async def test_a_pause_is_kept_until_lifted_and_pausing_twice_keeps_the_first_time(store: Store) -> None:
    assert await store.list_pauses(T) == []
    await store.commit([AddPause(tenant_id=T, kind=PauseKind.WORKER, target="w1", at=1.0)])
    await store.commit([AddPause(tenant_id=T, kind=PauseKind.WORKER, target="w1", at=2.0)])
    await store.commit([AddPause(tenant_id=T, kind=PauseKind.WORKFLOW, target="etl", at=3.0)])
    pause = await store.get_pause(T, PauseKind.WORKER, "w1")
    assert (pause.kind, pause.target, pause.paused_at) == ("worker", "w1", 1.0)
    assert [(p.kind, p.target) for p in await store.list_pauses(T)] == [("worker", "w1"), ("workflow", "etl")]
    assert [p.target for p in await store.list_pauses(T, kind=PauseKind.WORKFLOW)] == ["etl"]
    assert await store.get_pause(T, PauseKind.WORKFLOW, "w1") is None  # kinds do not mix
    assert await store.list_pauses("other-tenant") == []
    assert await store.commit([RemovePause(tenant_id=T, kind=PauseKind.WORKER, target="w1")]) == [True]
    assert await store.commit([RemovePause(tenant_id=T, kind=PauseKind.WORKER, target="w1")]) == [False]
    assert [p.target for p in await store.list_pauses(T)] == ["etl"]


@pytest.mark.parametrize(
    ("mutation", "problem"),
    [
        (AddPause(tenant_id=T, kind=PauseKind.WORKER, target="w\x00", at=1.0), "NUL"),
        (AddPause(tenant_id=T, kind=PauseKind.WORKER, target=None, at=1.0), "target"),  # type: ignore[arg-type]
        (AddPause(tenant_id=T, kind=PauseKind.WORKER, target="w", at=float("nan")), "paused_at"),
        (AddPause(tenant_id=T, kind=PauseKind.WORKER, target=3, at=1.0), "target"),  # type: ignore[arg-type]
    ],
)
async def test_a_malformed_pause_is_refused_and_writes_nothing(store: Store, mutation, problem: str) -> None:
    with pytest.raises(MutationRejected, match=problem):
        await store.commit([AddPause(tenant_id=T, kind=PauseKind.WORKFLOW, target="ok", at=1.0), mutation])
    assert await store.list_pauses(T) == []


async def test_runs_are_found_by_parent_task_event_key_and_workflows_with_offsets(store: Store) -> None:
    await store.commit([run_of("parent", task("p1"), at=1.0)])
    await store.commit([run_of(f"c{i}", at=2.0 + i, parent_task_id="p1") for i in range(3)])
    await store.commit([run_of("other-child", at=9.0, parent_task_id="p2")])
    await store.commit([run_of("e1", at=10.0, idempotency_key="event:ev1:-:wf", workflow_id="wf2")])
    await store.commit([run_of("e2", at=11.0, idempotency_key="event:ev1:f:other", workflow_id="wf3")])
    await store.commit([run_of("e3", at=12.0, idempotency_key="event:ev10:-:wf")])  # another event
    by_parent = RunFilter(parent_task_id="p1")
    assert [r.id for r in await store.list_runs(T, run_filter=by_parent)] == ["c2", "c1", "c0"]
    assert [r.id for r in await store.list_runs(T, run_filter=by_parent, offset=1, limit=1)] == ["c1"]
    by_event = RunFilter(idempotency_key_prefix="event:ev1:")
    assert [r.id for r in await store.list_runs(T, run_filter=by_event)] == ["e2", "e1"]
    by_workflows = RunFilter(workflow_ids=("wf2", "wf3"))
    assert [r.id for r in await store.list_runs(T, run_filter=by_workflows)] == ["e2", "e1"]
    assert await store.list_runs(T, run_filter=RunFilter(workflow_ids=())) == []
    assert [r.id for r in await store.list_runs(T, offset=6)] == ["c0", "parent"]
    assert [r.id for r in await store.list_runs(T, offset=7, limit=None)] == ["parent"]
    ids = await store.list_run_ids(T, run_filter=by_parent, since=3.0)
    assert ids == [("c2", {}), ("c1", {})]


async def test_run_ids_come_with_their_metadata_in_list_order(store: Store) -> None:
    await store.commit([run_of("a", at=1.0, additional_metadata={"team": "x"})])
    await store.commit([run_of("b", at=2.0, additional_metadata={"team": "y", "n": 1})])
    await store.commit([SetRunStatus(tenant_id=T, run_id="a", status=RunStatus.FAILED, at=3.0)])
    assert await store.list_run_ids(T) == [("b", {"team": "y", "n": 1}), ("a", {"team": "x"})]
    assert await store.list_run_ids(T, statuses=[RunStatus.FAILED]) == [("a", {"team": "x"})]
    assert await store.list_run_ids(T, limit=1, offset=1) == [("a", {"team": "x"})]
    assert await store.list_run_ids(T, until=2.0) == [("a", {"team": "x"})]


async def test_child_runs_and_the_tasks_of_several_runs(store: Store) -> None:
    await store.commit([run_of("root", task("t1"), task("t2", parents=("t1",)), at=1.0)])
    await store.commit([run_of("kid1", task("k1"), at=2.0, parent_task_id="t1")])
    await store.commit([run_of("kid2", task("k2"), at=3.0, parent_task_id="t2")])
    await store.commit([run_of("stranger", task("s1"), at=4.0)])
    kids = await store.list_child_runs(T, ["t1", "t2", "t1"])
    assert [r.id for r in kids] == ["kid1", "kid2"]
    assert await store.list_child_runs(T, []) == []
    tasks = await store.list_tasks_of_runs(T, ["root", "kid2"])
    assert [t.id for t in tasks] == ["t1", "t2", "k2"]
    many = [f"missing-{i}" for i in range(1200)] + ["kid1"]  # more ids than one query takes
    assert [t.id for t in await store.list_tasks_of_runs(T, many)] == ["k1"]
    assert sorted(r.id for r in await store.get_runs(T, [*many, "root"])) == ["kid1", "root"]


async def test_the_runs_a_worker_took_part_in_count_every_attempt(store: Store) -> None:
    await store.commit([run_of("r1", task("a"), at=1.0), run_of("r2", task("b"), at=2.0)])
    await store.commit([run_of("r3", task("c"), at=30.0)])
    await store.commit([assign("a", "r1", "w1", at=5.0), assign("b", "r2", "w2", at=6.0)])
    # a's first attempt was lost with w1; its second ran on w2
    retry = TransitionTask(
        tenant_id=T,
        task_id="a",
        run_id="r1",
        attempt=1,
        new_attempt=2,
        to_status=TaskStatus.QUEUED,
        event=TaskEventKind.REASSIGNED,
        clear_worker=True,
        at=7.0,
    )
    await store.commit([retry])
    await store.commit([assign("a", "r1", "w2", attempt=2, at=8.0), assign("c", "r3", "w1", at=31.0)])
    assert await store.list_worker_run_ids(T, "w1") == {"r1", "r3"}
    assert await store.list_worker_run_ids(T, "w2") == {"r1", "r2"}
    assert await store.list_worker_run_ids(T, "w1", since=20.0) == {"r3"}
    assert await store.list_worker_run_ids(T, "nobody") == set()


async def test_tasks_are_counted_by_status_or_queue_in_a_time_window(store: Store) -> None:
    await store.commit([run_of("r1", task("a", queue="q1"), task("b", queue="q2"), at=1.0)])
    await store.commit([run_of("r2", task("c", queue="q1"), at=5.0)])
    await store.commit([assign("a", "r1", "w1", at=6.0)])
    assert await store.count_tasks(T, by="status") == {"RUNNING": 1, "QUEUED": 2}
    assert await store.count_tasks(T, by="queue", statuses=[TaskStatus.QUEUED]) == {"q1": 1, "q2": 1}
    assert await store.count_tasks(T, by="status", since=2.0) == {"QUEUED": 1}
    assert await store.count_tasks(T, by="status", until=2.0) == {"RUNNING": 1, "QUEUED": 1}
    assert await store.count_tasks("other", by="status") == {}
    with pytest.raises(ValueError, match="by must be 'status' or 'queue'"):
        await store.count_tasks(T, by="worker_id")


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_migration_5_indexes_are_the_ones_the_memory_store_keeps(dialect: str) -> None:
    (five,) = [m for m in MIGRATIONS if m.version == 5]
    written = {}
    for sql in five.statements(dialect):
        if sql.startswith("CREATE INDEX"):
            table, _, columns = sql.split(" ON ", 1)[1].partition(" (")
            written.setdefault(table, []).append(tuple(c.strip() for c in columns.split(")")[0].split(",")))
    assert written == {table: list(indexes) for table, indexes in LATER_INDEXES.items()}
