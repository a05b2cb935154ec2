"""Commit streams: once a commit of a stream fails, no later commit of that stream is written.

A caller whose commits build on each other (the coordinator's transitions) tags them
with one stream. Inside one batch (:meth:`Store.commit_many`) and across batches (the
:class:`StoreWriter`), a failed unit of a stream makes every later unit of the same
stream fail with :class:`StreamBroken`, unwritten; units of other streams, and units of
no stream, commit as before.
"""

from __future__ import annotations

import math

import outcome
import pytest
import trio
import trio.testing

from ratchet.actors.store import (
    CommitTicket,
    MemoryStore,
    MutationRejected,
    PushEvent,
    Store,
    StoreClosedError,
    StoreError,
    StoreWriter,
    StreamBroken,
    open_store,
)
from ratchet.runtime import open_runtime

T = "tenant-1"
A = "stream-a"
B = "stream-b"


def event(i: int) -> PushEvent:
    return PushEvent(tenant_id=T, id=f"e{i}", key="k", payload={"i": i}, at=1.0)


async def stored_ids(store: Store) -> list[str]:
    return sorted(e.id for e in await store.list_events(T, limit=None))


def error_of(result: outcome.Outcome[list[object]]) -> BaseException:
    assert isinstance(result, outcome.Error), f"expected a failed unit, got {result!r}"
    return result.error


# -- inside one batch (Store.commit_many) --------------------------------------------------------


async def test_a_unit_failing_in_isolation_fails_the_later_units_of_its_stream_only() -> None:
    async with open_store(MemoryStore()) as store:
        assert isinstance(store, MemoryStore)
        # The first failure fails the batch as a whole; the second fails the first unit's
        # own transaction when the store retries the units one by one.
        store.fail_next_transaction()
        store.fail_next_transaction(StoreError("disk on fire"))
        results = await store.commit_many(
            [[event(1)], [event(2)], [event(3)], [event(4)], [event(5)], [event(6)]],
            [A, None, A, B, A, None],
        )
        failed = error_of(results[0])
        assert "disk on fire" in str(failed) and not isinstance(failed, StreamBroken)
        assert isinstance(error_of(results[2]), StreamBroken)
        assert isinstance(error_of(results[4]), StreamBroken)
        assert [results[i].unwrap() for i in (1, 3, 5)] == [[None]] * 3
        assert await stored_ids(store) == ["e2", "e4", "e6"]
        stats = store.statistics()
        assert stats.isolations == 1
        assert stats.units_failed == 3 and stats.units_committed == 3


async def test_units_of_a_stream_before_its_failed_unit_still_commit(store: Store) -> None:
    await store.commit([event(0)])
    results = await store.commit_many(
        [[event(1)], [event(0)], [event(2)], [event(3)]],  # e0 exists: the second unit is rejected
        [A, A, A, B],
    )
    assert results[0].unwrap() == [None]
    assert isinstance(error_of(results[1]), MutationRejected)
    assert isinstance(error_of(results[2]), StreamBroken)
    assert results[3].unwrap() == [None]
    assert await stored_ids(store) == ["e0", "e1", "e3"]


async def test_a_unit_rejected_before_the_transaction_breaks_its_stream(store: Store) -> None:
    """A unit refused while its mutations are compiled (bad input) breaks its stream too."""
    bad = PushEvent(tenant_id=T, id="bad", key="nul\x00key", payload={}, at=1.0)
    results = await store.commit_many([[bad], [event(1)], [event(2)]], [A, A, B])
    assert isinstance(error_of(results[0]), MutationRejected)
    assert isinstance(error_of(results[1]), StreamBroken)
    assert results[2].unwrap() == [None]
    assert await stored_ids(store) == ["e2"]


async def test_without_streams_a_failed_unit_fails_alone(store: Store) -> None:
    await store.commit([event(0)])
    results = await store.commit_many([[event(0)], [event(1)], [event(2)]])
    assert isinstance(error_of(results[0]), MutationRejected)
    assert [r.unwrap() for r in results[1:]] == [[None], [None]]
    assert await stored_ids(store) == ["e0", "e1", "e2"]


async def test_stream_broken_explains_that_nothing_was_written(store: Store) -> None:
    await store.commit([event(0)])
    results = await store.commit_many([[event(0)], [event(1)]], [A, A])
    with pytest.raises(StreamBroken, match=r"earlier commit of this stream failed.*were not written"):
        results[1].unwrap()


# -- across batches (the StoreWriter) ------------------------------------------------------------


async def test_the_writer_fails_later_tickets_of_a_broken_stream_without_touching_the_store() -> None:
    async with open_store(MemoryStore()) as store, open_runtime(seed=1) as system:
        writer = await system.spawn(StoreWriter, store, max_delay=0)
        first = CommitTicket([event(1)], stream=A)
        writer.enqueue.tell(first)
        assert await first.wait() == [None]

        duplicate = CommitTicket([event(1)], stream=A)
        writer.enqueue.tell(duplicate)
        with pytest.raises(MutationRejected):
            await duplicate.wait()

        before = store.statistics()
        later = CommitTicket([event(2)], stream=A)
        writer.enqueue.tell(later)
        with pytest.raises(StreamBroken):
            await later.wait()
        assert store.statistics() == before  # not attempted: no transaction, no failed unit

        other = CommitTicket([event(3)], stream=B)
        loose = CommitTicket([event(4)])
        writer.enqueue.tell(other)
        writer.enqueue.tell(loose)
        assert await other.wait() == [None] and await loose.wait() == [None]
        assert await stored_ids(store) == ["e1", "e3", "e4"]


async def test_a_broken_streams_ticket_fails_while_its_batch_mates_commit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_store(MemoryStore()) as store, open_runtime(seed=2) as system:
        # A writer that lingers (in virtual time) gathers what is told together into one batch.
        writer = await system.spawn(StoreWriter, store, max_delay=1.0)
        rejected = CommitTicket([event(1), event(1)], stream=A)  # the same event twice: rejected
        writer.enqueue.tell(rejected)
        with pytest.raises(MutationRejected):
            await rejected.wait()

        later, other, loose = (
            CommitTicket([event(2)], stream=A),
            CommitTicket([event(3)], stream=B),
            CommitTicket([event(4)]),
        )
        for ticket in (later, other, loose):
            writer.enqueue.tell(ticket)
        with pytest.raises(StreamBroken):
            await later.wait()
        assert await other.wait() == [None] and await loose.wait() == [None]
        stats = await writer.writer_statistics.ask()
        assert stats.batches == 2 and stats.largest_batch == 2
        assert await stored_ids(store) == ["e3", "e4"]


async def test_a_stream_broken_inside_a_batch_stays_broken_for_later_batches(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_store(MemoryStore()) as store, open_runtime(seed=3) as system:
        assert isinstance(store, MemoryStore)
        # Lingering (in virtual time), the writer takes the first two tickets as one batch.
        writer = await system.spawn(StoreWriter, store, max_delay=1.0)
        store.fail_next_transaction()
        store.fail_next_transaction()
        broken, fine = CommitTicket([event(1)], stream=A), CommitTicket([event(2)], stream=B)
        writer.enqueue.tell(broken)
        writer.enqueue.tell(fine)
        with pytest.raises(StoreError):
            await broken.wait()
        assert await fine.wait() == [None]
        assert store.statistics().isolations == 1  # one batch, retried unit by unit

        later = CommitTicket([event(3)], stream=A)
        writer.enqueue.tell(later)
        with pytest.raises(StreamBroken):
            await later.wait()
        assert await stored_ids(store) == ["e2"]


# -- slow commits (a fault for tests and the simulation) ----------------------------------------


async def test_slow_commits_delay_each_transaction_by_that_much_virtual_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_store(MemoryStore()) as store:
        assert isinstance(store, MemoryStore)
        store.slow_commits(2.5)
        start = trio.current_time()
        await store.commit([event(1)])
        assert trio.current_time() - start == 2.5

        store.slow_commits(0)
        start = trio.current_time()
        await store.commit([event(2)])
        assert trio.current_time() == start
        assert await stored_ids(store) == ["e1", "e2"]


async def test_a_crash_during_a_slow_commit_loses_it(autojump_clock: trio.testing.MockClock) -> None:
    async with open_store(MemoryStore()) as store:
        assert isinstance(store, MemoryStore)
        store.slow_commits(10.0)
        async with trio.open_nursery() as nursery:

            async def crash_midway() -> None:
                await trio.sleep(4.0)
                store.crash()

            nursery.start_soon(crash_midway)
            with pytest.raises(StoreClosedError):
                await store.commit([event(1)])
        async with open_store(MemoryStore(store.database)) as restarted:
            assert await stored_ids(restarted) == []


@pytest.mark.parametrize("seconds", [-0.001, math.inf, math.nan])
def test_slow_commits_rejects_a_delay_that_is_not_a_finite_non_negative_number(seconds: float) -> None:
    store = MemoryStore()
    with pytest.raises(ValueError, match="finite number >= 0"):
        store.slow_commits(seconds)
