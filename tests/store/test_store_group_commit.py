"""Group commit: the StoreWriter actor and batch isolation, on every backend.

A batch is all callers' mutations in one transaction; each caller gets exactly its own
outcome. A caller whose mutations cannot be stored fails alone, and leaves nothing
behind; the others commit.
"""

from __future__ import annotations

import math

import outcome
import pytest
import trio

from ratchet.actors.store import (
    AppendLogLine,
    CreateRun,
    CreateTenant,
    MemoryStore,
    MutationRejected,
    NewTask,
    PushEvent,
    Store,
    StoreClosedError,
    StoreError,
    StoreWriter,
    StoreWriterStopped,
    TaskEventKind,
    TaskStatus,
    TransitionTask,
    commit,
    commit_one,
    open_store,
)
from ratchet.runtime import open_runtime

T = "tenant-1"


def event(i: int, payload: object = None, key: str = "k") -> PushEvent:
    return PushEvent(
        tenant_id=T, id=f"e{i}", key=key, payload=payload if payload is not None else {"i": i}, at=1.0
    )


def run(run_id: str, *task_ids: str) -> CreateRun:
    tasks = tuple(NewTask(id=t, name=t, queue="q") for t in task_ids)
    return CreateRun(
        tenant_id=T, id=run_id, workflow_id="wf", workflow_version=1, input={}, tasks=tasks, at=1.0
    )


async def test_a_conflicting_caller_fails_alone_and_writes_nothing(store: Store) -> None:
    await store.commit([event(0)])
    results = await store.commit_many(
        [
            [event(1)],
            [event(2), event(0)],  # e0 exists: this whole unit must vanish, e2 included
            [event(3)],
        ]
    )
    assert results[0] == outcome.Value([None]) and results[2] == outcome.Value([None])
    with pytest.raises(MutationRejected, match="PushEvent, PushEvent"):
        results[1].unwrap()
    assert [e.id for e in await store.list_events(T)] == ["e0", "e1", "e3"]
    assert store.statistics().isolations == 1


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: event(9, key="nul\x00key"), id="nul-in-text"),
        pytest.param(lambda: event(9, payload={"when": object()}), id="not-json"),
        pytest.param(lambda: event(9, payload={"x": math.nan}), id="nan"),
        pytest.param(
            lambda: AppendLogLine(tenant_id=T, task_id="a", attempt=2**70, level="I", message="m", at=1.0),
            id="int-overflow",
        ),
    ],
)
async def test_bad_input_is_rejected_for_its_caller_only(store: Store, bad) -> None:
    results = await store.commit_many([[event(1)], [event(2), bad()], [event(3)]])
    with pytest.raises(MutationRejected) as info:
        results[1].unwrap()
    assert "field" in str(info.value) and info.value.mutation in ("PushEvent", "AppendLogLine")
    assert [r.unwrap() for r in (results[0], results[2])] == [[None], [None]]
    assert [e.id for e in await store.list_events(T)] == ["e1", "e3"]


async def test_a_nul_inside_json_is_escaped_and_round_trips(store: Store) -> None:
    await store.commit([event(1, payload={"x": "nul\x00inside"})])
    assert (await store.get_event(T, "e1")).payload == {"x": "nul\x00inside"}


async def test_a_batch_applies_in_submission_order(store: Store) -> None:
    """Later units see earlier ones: a transition right after its run's creation applies."""
    assign = TransitionTask(
        tenant_id=T,
        task_id="a",
        run_id="r1",
        attempt=1,
        to_status=TaskStatus.RUNNING,
        event=TaskEventKind.ASSIGNED,
        at=2.0,
    )
    early = TransitionTask(
        tenant_id=T,
        task_id="b",
        run_id="r2",
        attempt=1,
        to_status=TaskStatus.RUNNING,
        event=TaskEventKind.ASSIGNED,
        at=2.0,
    )
    results = await store.commit_many([[early], [run("r1", "a")], [assign], [run("r2", "b")], [event(1)]])
    assert [r.unwrap() for r in results] == [[False], [None], [True], [None], [None]]
    assert (await store.get_task(T, "a")).status == "RUNNING"
    assert (await store.get_task(T, "b")).status == "QUEUED"
    events = await store.list_task_events(T)
    assert [(e.task_id, e.kind) for e in events] == [("a", "QUEUED"), ("a", "ASSIGNED"), ("b", "QUEUED")]


async def test_concurrent_callers_share_transactions_and_get_their_own_results(store: Store) -> None:
    results: dict[int, list[object]] = {}
    async with open_runtime(seed=1) as system:
        writer = await system.spawn(StoreWriter, store, max_batch=50, max_delay=0.01, name="store-writer")

        async def caller(i: int) -> None:
            if i == 7:
                with pytest.raises(MutationRejected):
                    await commit(writer, [event(1000 + i), CreateTenant(id="dup", name="dup", at=1.0)])
                return
            results[i] = await commit(writer, [event(i), event(500 + i)])

        await commit_one(writer, CreateTenant(id="dup", name="dup", at=1.0))
        async with trio.open_nursery() as nursery:
            for i in range(120):
                nursery.start_soon(caller, i)
        stats = await writer.writer_statistics.ask()
    assert len(results) == 119 and all(r == [None, None] for r in results.values())
    ids = {e.id for e in await store.list_events(T, limit=None)}
    assert ids == {f"e{i}" for i in range(120) if i != 7} | {f"e{500 + i}" for i in range(120) if i != 7}
    assert stats.units == 121
    assert stats.batches < stats.units  # callers shared transactions
    assert stats.largest_batch <= 50 // 2  # two mutations per caller, at most 50 per batch


async def test_one_callers_mutations_stay_in_order(store: Store) -> None:
    async with open_runtime(seed=2) as system:
        writer = await system.spawn(StoreWriter, store, max_batch=7, max_delay=0.005)
        async with trio.open_nursery() as nursery:
            for c in range(4):

                async def caller(c: int = c) -> None:
                    for i in range(10):
                        await commit_one(writer, event(c * 100 + i, key=f"caller-{c}"))

                nursery.start_soon(caller)
    for c in range(4):
        got = [e.id for e in await store.list_events(T, key=f"caller-{c}")]
        assert got == [f"e{c * 100 + i}" for i in range(10)]


async def test_a_failed_transaction_is_retried_per_caller() -> None:
    async with open_store(MemoryStore()) as store:
        assert isinstance(store, MemoryStore)
        store.fail_next_transaction()
        results = await store.commit_many([[event(1)], [event(2)]])
        assert [r.unwrap() for r in results] == [[None], [None]]
        store.fail_next_transaction(StoreError("disk on fire"))
        with pytest.raises(StoreError, match="disk on fire"):
            await store.commit([event(3)])
        assert [e.id for e in await store.list_events(T)] == ["e1", "e2"]


async def test_a_closed_store_fails_every_caller_and_the_writer_survives() -> None:
    store = MemoryStore()
    async with open_store(store), open_runtime(seed=3) as system:
        writer = await system.spawn(StoreWriter, store, max_delay=0)
        assert await commit_one(writer, event(1)) is None
        store.crash()
        with pytest.raises(StoreClosedError):
            await commit_one(writer, event(2))
        assert writer.is_alive


async def test_a_graceful_stop_commits_what_was_submitted() -> None:
    async with open_store(MemoryStore()) as store:
        async with open_runtime(seed=4) as system:
            writer = await system.spawn(StoreWriter, store, max_delay=10.0)
            tickets = [await writer.submit.ask([event(i)]) for i in range(5)]
        assert [await t.wait() for t in tickets] == [[None]] * 5
        assert len(await store.list_events(T)) == 5


async def test_a_killed_writer_fails_its_waiting_callers() -> None:
    async with open_store(MemoryStore()) as store:
        with trio.CancelScope() as scope:
            async with open_runtime(seed=5) as system:
                writer = await system.spawn(StoreWriter, store, max_delay=10.0)
                ticket = await writer.submit.ask([event(1)])
                scope.cancel()
        with pytest.raises(StoreWriterStopped, match="nothing of them was written"):
            await ticket.wait()
        assert await store.list_events(T) == []


async def test_submit_refuses_what_is_not_a_mutation() -> None:
    async with open_store(MemoryStore()) as store, open_runtime(seed=6) as system:
        writer = await system.spawn(StoreWriter, store)
        with pytest.raises(Exception, match="StoreWriter takes Mutation values"):
            await writer.submit.ask([{"not": "a mutation"}])
