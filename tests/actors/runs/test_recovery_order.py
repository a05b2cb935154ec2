"""What a restarted engine actor may rely on: stored versions only, and its predecessor's commits settled.

Found by the simulation: a workflow version whose registration commit failed stayed in
memory and new runs referenced it, so after a restart nobody could drive them; and a
coordinator that rebuilt its runs while its predecessor's last commit was still in
flight never saw the run that commit created.
"""

from __future__ import annotations

from typing import Any

import outcome
import trio
import trio.testing

from ratchet._declare.workflow import Workflow
from ratchet.actors.runs._registry import Registration, WorkflowRegistry
from ratchet.actors.store import (
    CommitTicket,
    MemoryStore,
    StoreError,
    StoreWriter,
    open_store,
    wait_settled,
)
from ratchet.runtime import open_runtime


def spec(name: str = "wf", task: str = "a") -> object:
    wf = Workflow(None, name)
    wf.task(name=task)(lambda input, ctx: None)
    return wf.spec


def register(registry: WorkflowRegistry, workflow: object, at: float = 0.0) -> tuple[Any, int, CommitTicket]:
    """A worker new to the engine registers ``workflow``; returns the entry, its version
    and the commit carrying the registration (not resolved yet)."""
    entry, number, mutations, _ = registry.register(
        "t",
        workflow,  # type: ignore[arg-type]
        Registration.DEPLOY,
        at=at,
    )
    ticket = CommitTicket(mutations)
    registry.submitted(entry, ticket)
    return entry, number, ticket


def test_a_new_version_is_not_used_until_its_commit_lands() -> None:
    registry = WorkflowRegistry()
    entry, number, ticket = register(registry, spec())
    assert number == 1 and ticket.mutations
    assert entry.current is None  # new runs must not reference a version the store may not hold
    ticket._resolve(outcome.Value([None, None]))
    assert entry.current == 1
    registry.settle("t", "wf", ticket)
    assert entry.pending == {} and entry.current == 1


def test_a_version_whose_commit_failed_is_written_again_by_the_next_registration() -> None:
    registry = WorkflowRegistry()
    entry, _, ticket = register(registry, spec())
    ticket._resolve(outcome.Error(StoreError("the commit failed")))
    assert entry.current is None
    registry.settle("t", "wf", ticket)
    assert registry.get("t", "wf") is None
    _, number_again, ticket_again = register(registry, spec(), at=1.0)
    assert ticket_again.mutations and number_again == 1


def test_an_older_version_serves_new_runs_while_a_newer_one_is_pending() -> None:
    registry = WorkflowRegistry()
    entry, one, first = register(registry, spec(task="a"))
    _, two, _ = register(registry, spec(task="b"), at=1.0)
    assert (one, two) == (1, 2)
    first._resolve(outcome.Value([None, None]))
    assert entry.current == 1


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
