"""Where payloads live: inside the database by default, or in an object store that is swept.

Run on every backend. Without an object store a payload of any size stays in its row.
With one, payloads above the threshold are objects, and :meth:`Store.sweep_objects`
deletes the objects no row references (rejected commits, overwritten or deleted rows,
a crash between writing an object and committing) while sparing every referenced one
and every one younger than the age it is given.
"""

from __future__ import annotations

import pytest
from test_store_conformance import T, move, run_of, task

from ratchet.actors.store import (
    MutationRejected,
    ObjectStore,
    PushEvent,
    Store,
    StoreError,
    TaskEventKind,
    TaskStatus,
    open_store,
)
from ratchet.actors.store._ops import Delete

BIG = {"blob": "x" * 5000}
THRESHOLD = 1000


async def _refs(store: Store) -> set[str]:
    refs = set()
    for table, column in (("workflow_runs", "input_ref"), ("tasks", "input_ref"), ("tasks", "output_ref")):
        refs |= {r[column] for r in await store._select(table, []) if r[column] is not None}
    return refs


async def test_payloads_of_any_size_stay_in_their_rows_without_an_object_store(make_store) -> None:
    huge = {"blob": "y" * 3_000_000}
    async with open_store(make_store(offload_threshold=THRESHOLD)) as store:
        assert store.objects is None
        await store.commit([run_of("r1", task("a"), input=huge)])
        await store.commit([move("a", 1, TaskStatus.COMPLETED, TaskEventKind.COMPLETED, output=huge)])
        assert (await store.get_run(T, "r1")).input == huge
        assert (await store.get_task(T, "a")).output == huge
        assert await _refs(store) == set()
        assert await store.sweep_objects(0) == 0


async def test_big_payloads_go_to_the_object_store_and_come_back(make_store, objects: ObjectStore) -> None:
    async with open_store(make_store(objects=objects, offload_threshold=THRESHOLD)) as store:
        await store.commit([run_of("r1", task("a", input=BIG), input=BIG)])
        await store.commit([move("a", 1, TaskStatus.COMPLETED, TaskEventKind.COMPLETED, output=BIG)])
        assert (await store.get_run(T, "r1")).input == BIG
        t = await store.get_task(T, "a")
        assert (t.input, t.output) == (BIG, BIG)
        rows = await store._select("tasks", [])
        assert rows[0]["input"] is None and rows[0]["input_ref"].startswith("obj-")
        assert len(await _refs(store)) == 3  # each payload written is an object of its own
        await store.commit([PushEvent(tenant_id=T, id="e", key="k", payload={"small": 1}, at=1.0)])
        (row,) = await store._select("events", [])
        assert row["payload_ref"] is None and row["payload"] == '{"small":1}'


async def test_the_sweep_deletes_objects_of_rejected_commits_and_overwritten_payloads(
    make_store, objects: ObjectStore
) -> None:
    async with open_store(make_store(objects=objects, offload_threshold=THRESHOLD)) as store:
        await store.commit([run_of("r1", task("a"), input=BIG)])
        with pytest.raises(MutationRejected):  # same run id: its input object was written first
            await store.commit([run_of("r1", task("b"), input={"blob": "z" * 5000})])
        done = move("a", 1, TaskStatus.COMPLETED, TaskEventKind.COMPLETED, output={"first": "o" * 5000})
        assert await store.commit([done]) == [True]
        # a late report of an old attempt is fenced off, but its output was written first
        late = move("a", 0, TaskStatus.COMPLETED, TaskEventKind.COMPLETED, output={"late": "l" * 5000})
        assert await store.commit([late]) == [False]
        # a replayed task completes again: its first output's object is no longer referenced
        again = move(
            "a",
            1,
            TaskStatus.COMPLETED,
            TaskEventKind.COMPLETED,
            output={"second": "p" * 5000},
            from_statuses=(TaskStatus.COMPLETED,),
        )
        assert await store.commit([again]) == [True]
        live = await _refs(store)
        assert len(await objects.older_than(0)) == 5 and len(live) == 2

        assert await store.sweep_objects(0) == 3
        assert set(await objects.older_than(0)) == live
        assert (await store.get_run(T, "r1")).input == BIG
        assert (await store.get_task(T, "a")).output == {"second": "p" * 5000}
        assert await store.sweep_objects(0) == 0


async def test_the_sweep_deletes_the_objects_of_deleted_runs(make_store, objects: ObjectStore) -> None:
    async with open_store(make_store(objects=objects, offload_threshold=THRESHOLD)) as store:
        await store.commit([run_of("r1", task("a"), input=BIG)])
        await store.commit([run_of("r2", task("b"), input={"other": "q" * 5000})])
        (kept,) = [r["input_ref"] for r in await store._select("workflow_runs", []) if r["id"] == "r2"]
        # whatever deletes a run (retention, an operator's DELETE) drops its references
        await store._transact(
            [
                [
                    Delete("workflow_runs", {"tenant_id": T, "id": "r1"}),
                    Delete("tasks", {"tenant_id": T, "id": "a"}),
                ]
            ]
        )
        assert await store.sweep_objects(0) == 1
        assert await objects.older_than(0) == [kept]
        assert (await store.get_run(T, "r2")).input == {"other": "q" * 5000}


async def test_an_object_written_by_a_commit_that_never_came_is_swept_once_old_enough(
    make_store, objects: ObjectStore
) -> None:
    async with open_store(make_store(objects=objects, offload_threshold=THRESHOLD)) as store:
        await store.commit([run_of("r1", task("a"), input=BIG)])
        # what a process that died between writing the object and committing leaves
        orphan = await objects.put(b'{"never":"committed"}')
        assert await store.sweep_objects(3600) == 0  # young: its commit may still be on its way
        assert orphan in await objects.older_than(0)
        assert await store.sweep_objects(0) == 1
        assert orphan not in await objects.older_than(0)
        with pytest.raises(StoreError, match="missing"):
            await objects.get(orphan)
        assert (await store.get_run(T, "r1")).input == BIG


# a memory store's rows cannot outlive the store that wrote them: only the databases
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_a_row_whose_object_store_is_not_configured_says_how_to_configure_it(
    make_store, objects: ObjectStore, backend: str
) -> None:
    async with open_store(make_store(objects=objects, offload_threshold=THRESHOLD)) as store:
        await store.commit([run_of("r1", task("a"), input=BIG)])
    async with open_store(make_store()) as store:
        with pytest.raises(StoreError, match=r"no object store configured.*--objects-dir"):
            await store.get_run(T, "r1")


async def test_a_negative_sweep_age_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="age must be"):
        await store.sweep_objects(-1)
