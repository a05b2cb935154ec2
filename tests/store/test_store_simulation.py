"""The memory store and the StoreWriter under the simulation's conditions.

Virtual time (``MockClock`` with autojump), ids from the runtime's seeded random
source, timestamps from the runtime clock, and a crash that loses only what was not
committed.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from ratchet.actors.store import (
    CreateTenant,
    MemoryStore,
    PushEvent,
    StoreClosedError,
    StoreWriter,
    commit,
    open_store,
)
from ratchet.runtime import FixedEpochClock, current_runtime, open_runtime


def pushed(key: str) -> PushEvent:
    rt = current_runtime()
    return PushEvent(tenant_id="t", id=rt.random.new_id(), key=key, payload={}, at=rt.clock.time())


async def test_the_writer_lingers_in_virtual_time_and_commits_together(autojump_clock) -> None:
    store = MemoryStore()
    async with open_store(store), open_runtime(seed=7, clock=FixedEpochClock()) as system:
        writer = await system.spawn(StoreWriter, store, max_batch=100, max_delay=30.0)
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(commit, writer, [pushed(f"k{i}")])
        assert trio.current_time() - start == pytest.approx(30.0)
        stats = await writer.writer_statistics.ask()
        assert (stats.batches, stats.units) == (1, 5)
        events = await store.list_events("t")
        assert [e.created_at for e in events] == [1_893_456_000.0] * 5


async def test_a_crash_loses_only_what_was_not_committed(autojump_clock) -> None:
    store = MemoryStore()
    async with open_store(store), open_runtime(seed=8) as system:
        writer = await system.spawn(StoreWriter, store, max_delay=1.0)
        await commit(writer, [CreateTenant(id="t", name="acme", at=1.0)])
        late = await writer.submit.ask([pushed("never")])
        store.crash()
        with pytest.raises(StoreClosedError):
            await late.wait()
    restarted = MemoryStore(store.database)
    async with open_store(restarted):
        assert (await restarted.get_tenant("t")).name == "acme"
        assert await restarted.list_events("t") == []


async def test_same_seed_same_ids_and_times(autojump_clock) -> None:
    async def one_run() -> list[tuple[str, float]]:
        store = MemoryStore()
        async with open_store(store), open_runtime(seed=9, clock=FixedEpochClock()) as system:
            writer = await system.spawn(StoreWriter, store, max_delay=0.5)
            for i in range(3):
                await commit(writer, [pushed(f"k{i}")])
                await trio.sleep(1.0)
            return [(e.id, e.created_at) for e in await store.list_events("t")]

    assert await one_run() == await one_run()


async def test_tenants_do_not_see_each_other(autojump_clock) -> None:
    store = MemoryStore()
    async with open_store(store):
        await store.commit([PushEvent(tenant_id=t, id="e", key="k", payload={"t": t}, at=1.0) for t in "ab"])
        assert [e.payload for e in await store.list_events("a")] == [{"t": "a"}]
        assert (await store.get_event("b", "e")).payload == {"t": "b"}
        assert await store.get_event("c", "e") is None
