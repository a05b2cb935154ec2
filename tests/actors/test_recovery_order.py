"""What a restarted engine actor may rely on: stored versions only, and its predecessor's commits settled.

Found by the simulation: a workflow version whose registration commit failed stayed in
memory and new runs referenced it, so after a restart nobody could drive them; and a
coordinator that rebuilt its runs while its predecessor's last commit was still in
flight never saw the run that commit created.
"""

from __future__ import annotations

import outcome
import trio
import trio.testing

from ratchet._workflow import Workflow
from ratchet.actors._registry import WorkflowRegistry
from ratchet.actors.store import (
    CommitTicket,
    MemoryStore,
    StoreError,
    StoreWriter,
    open_store,
    wait_settled,
)
from ratchet.runtime import RandomSource, open_runtime


def spec(name: str = "wf", task: str = "a") -> object:
    wf = Workflow(None, name)
    wf.task(name=task)(lambda input, ctx: None)
    return wf.spec


def test_a_new_version_is_not_used_until_its_commit_lands() -> None:
    registry = WorkflowRegistry()
    entry, number, mutation = registry.register("t", spec(), random=RandomSource(1), at=0.0)  # type: ignore[arg-type]
    assert mutation is not None and number == 1
    ticket = CommitTicket([mutation])
    entry.pending[number] = ticket
    assert entry.latest is None  # new runs must not reference a version the store may not hold
    ticket._resolve(outcome.Value([None]))
    assert entry.latest == 1
    registry.confirm("t", "wf", 1)
    assert entry.pending == {} and entry.latest == 1


def test_a_version_whose_commit_failed_is_written_again_by_the_next_registration() -> None:
    registry = WorkflowRegistry()
    entry, number, mutation = registry.register("t", spec(), random=RandomSource(1), at=0.0)  # type: ignore[arg-type]
    ticket = CommitTicket([mutation])  # type: ignore[list-item]
    entry.pending[number] = ticket
    ticket._resolve(outcome.Error(StoreError("the commit failed")))
    assert entry.latest is None
    registry.forget("t", "wf", number)
    assert registry.get("t", "wf") is None
    _, number_again, mutation_again = registry.register("t", spec(), random=RandomSource(2), at=1.0)  # type: ignore[arg-type]
    assert mutation_again is not None and number_again == 1


def test_an_older_version_serves_new_runs_while_a_newer_one_is_pending() -> None:
    registry = WorkflowRegistry()
    entry, one, _ = registry.register("t", spec(task="a"), random=RandomSource(1), at=0.0)  # type: ignore[arg-type]
    _, two, mutation = registry.register("t", spec(task="b"), random=RandomSource(1), at=1.0)  # type: ignore[arg-type]
    assert (one, two) == (1, 2)
    entry.pending[two] = CommitTicket([mutation])  # type: ignore[list-item]
    assert entry.latest == 1


async def test_wait_settled_returns_only_after_every_earlier_commit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryStore()
    async with open_store(store), open_runtime(seed=1) as system:
        writer = await system.spawn(StoreWriter, store, max_delay=0.0, name="store-writer")
        store.slow_commits(2.0)
        earlier = [CommitTicket([]) for _ in range(3)]
        for ticket in earlier:
            writer.enqueue.tell(ticket)
        start = trio.current_time()
        await wait_settled(writer)
        assert all(t.done for t in earlier)
        assert trio.current_time() - start >= 2.0


async def test_wait_settled_returns_when_the_store_fails_too(autojump_clock: trio.testing.MockClock) -> None:
    store = MemoryStore()
    async with open_store(store), open_runtime(seed=1) as system:
        writer = await system.spawn(StoreWriter, store, max_delay=0.0, name="store-writer")
        earlier = CommitTicket([])
        writer.enqueue.tell(earlier)
        store.fail_next_transaction()
        store.fail_next_transaction()
        with trio.fail_after(10):
            await wait_settled(writer)
        assert earlier.done
