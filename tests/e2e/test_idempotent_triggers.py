"""Idempotent triggers: a trigger repeated with the same ``key`` answers the first run's id.

A client that never got the answer to a trigger repeats it with the same key. Whether
the repeat arrives in the same batch, while the first run's commit is still pending, or
long after it committed, the engine answers the run the key created and starts nothing
more; another key starts another run. The engine tests run the real actor tree on a
memory store in virtual time, with a real worker that counts what it executes; the last
test goes through the embedded client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio
import trio.testing
from e2e_helpers import start

from ratchet._declare.workflow import Workflow
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors import open_engine
from ratchet.actors.store import MemoryStore, StoreError, open_store
from ratchet.runtime import ActorRef, open_runtime

LIMIT = 60.0  # virtual seconds: far longer than any of these runs takes


@dataclass
class Engine:
    gateway: ActorRef
    store: MemoryStore
    executed: list[str] = field(default_factory=list)  # run ids, one per task execution

    async def trigger(self, *keys: str | None) -> list[str]:
        """Trigger one run per key (None: no key) in one request; returns the run ids."""
        answers = await self.gateway.trigger.ask(
            [{"workflow": "orders"} | ({} if key is None else {"key": key}) for key in keys]
        )
        assert all("run_id" in a for a in answers), answers
        return [a["run_id"] for a in answers]

    async def finish(self, run_id: str) -> dict[str, Any]:
        with trio.fail_after(LIMIT):
            details = await self.gateway.wait_run.ask(run_id)
        assert details is not None and details["status"] == "COMPLETED", details
        return details

    async def run_ids(self) -> list[str]:
        return sorted(r.id for r in await self.store.list_runs("default", limit=None))


@asynccontextmanager
async def engine_with_worker() -> AsyncIterator[Engine]:
    """The engine on a memory store, and one worker running the ``orders`` workflow."""
    executed: list[str] = []
    wf = Workflow(None, "orders")

    @wf.task()
    async def charge(input: Any, ctx: Any) -> str:
        executed.append(ctx.workflow_run_id)
        return "charged"

    async with open_store(MemoryStore()) as store, open_runtime(seed=11) as system:
        assert isinstance(store, MemoryStore)
        async with open_engine(system, store) as engine:
            config = WorkerConfig("w", [wf], slots=4, threads=False)
            worker = await system.spawn(WorkerActor, config, engine.gateway, worker_id="w1", name="worker")
            with trio.fail_after(LIMIT):
                await worker.wait_registered.ask()
            yield Engine(engine.gateway, store, executed)


async def test_the_same_key_twice_in_one_batch_creates_one_run(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with engine_with_worker() as engine:
        first, repeat, other = await engine.trigger("order-1", "order-1", "order-2")
        assert first == repeat
        assert other != first
        # The repeat shared the first run's commit instead of writing a second run that the
        # store would reject (which would fail the batch and make it retry unit by unit).
        stats = engine.store.statistics()
        assert stats.units_failed == 0 and stats.isolations == 0
        await engine.finish(first)
        await engine.finish(other)
        assert await engine.run_ids() == sorted([first, other])
        assert sorted(engine.executed) == sorted([first, other])


async def test_a_key_repeated_after_its_run_committed_answers_that_run(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with engine_with_worker() as engine:
        (first,) = await engine.trigger("order-1")
        await engine.finish(first)
        (repeat,) = await engine.trigger("order-1")
        assert repeat == first
        (other,) = await engine.trigger("order-2")
        assert other != first
        await engine.finish(other)
        assert await engine.run_ids() == sorted([first, other])
        assert sorted(engine.executed) == sorted([first, other])  # the repeat ran nothing


async def test_a_key_repeated_while_its_run_is_being_committed_answers_that_run(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with engine_with_worker() as engine:
        engine.store.slow_commits(1.0)  # virtual: the second trigger arrives mid-commit
        answers: dict[int, list[str]] = {}

        async def trigger(i: int) -> None:
            answers[i] = await engine.trigger("order-1")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trigger, 0)
            await trio.testing.wait_all_tasks_blocked()  # the first is committing
            nursery.start_soon(trigger, 1)
        assert answers[0] == answers[1]
        (run_id,) = answers[0]
        assert engine.store.statistics().units_failed == 0  # the repeat wrote nothing
        engine.store.slow_commits(0)
        await engine.finish(run_id)
        (later,) = await engine.trigger("order-1")
        assert later == run_id
        assert await engine.run_ids() == [run_id]
        assert engine.executed == [run_id]


async def test_triggers_without_a_key_each_create_a_run(autojump_clock: trio.testing.MockClock) -> None:
    async with engine_with_worker() as engine:
        first, second = await engine.trigger(None, None)
        assert first != second
        assert await engine.run_ids() == sorted([first, second])


def test_the_client_gets_the_same_run_for_a_repeated_key(new_client) -> None:
    r = new_client()
    wf = r.workflow("orders", input_validator=dict)

    @wf.task()
    def charge(inp, ctx):
        return inp["amount"]

    start(r)
    refs = wf.run_many_no_wait(
        [
            wf.create_bulk_run_item({"amount": 5}, key="order-1"),
            wf.create_bulk_run_item({"amount": 5}, key="order-1"),
        ]
    )
    assert refs[0].run_id == refs[1].run_id
    assert refs[0].result() == {"charge": 5}
    again = wf.run_no_wait({"amount": 5}, key="order-1")
    assert again.run_id == refs[0].run_id
    other = wf.run_no_wait({"amount": 7}, key="order-2")
    assert other.run_id != refs[0].run_id
    assert other.result() == {"charge": 7}
    assert sorted(run.run_id for run in r.runs.list(workflow=wf)) == sorted([refs[0].run_id, other.run_id])


class LookupFailingStore(MemoryStore):
    """A memory store whose look-up of idempotency keys fails (a store outage mid-request)."""

    async def find_run_by_idempotency_key(self, tenant_id: str, key: str) -> Any:
        raise StoreError("injected failure of the idempotency key look-up")


async def test_a_failing_key_lookup_still_answers_the_rest_of_the_batch(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The keyed run cannot be stored (its key is taken) and the look-up of the key fails
    # too: that request gets its own error; the run created beside it keeps its id.
    wf = Workflow(None, "orders")

    @wf.task()
    async def charge(input: Any, ctx: Any) -> str:
        return "x"

    store = LookupFailingStore()
    async with open_store(store), open_runtime(seed=1) as system:
        async with open_engine(system, store) as engine:
            _, tickets = await system.lookup("coordinator").register_workflows.ask([wf.spec])
            for ticket in tickets:
                await ticket.wait()
            (taken,) = await engine.gateway.trigger.ask([{"workflow": "orders", "key": "k"}])
            with trio.fail_after(LIMIT):
                first, second = await engine.gateway.trigger.ask(
                    [{"workflow": "orders"}, {"workflow": "orders", "key": "k"}]
                )
    runs = sorted(row["id"] for row in store.database.rows["workflow_runs"].values())
    assert runs == sorted([taken["run_id"], first["run_id"]])
    assert "could not be stored" in second["error"]
