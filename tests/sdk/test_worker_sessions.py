"""A worker that comes back after the engine ended its session runs nothing twice.

A frozen worker process (SIGSTOP) neither heartbeats nor reads its socket; what the
engine sends it meanwhile waits in the socket. The engine ends its session, reports its
attempts lost and runs them elsewhere. When the process resumes it finds those old
deliveries: it must ask the engine before starting any of them (and drop them once it
learns its session ended), and the attempt it was running must learn it was superseded.

Here the real engine (memory store) and two real workers talk over the simulated
network in virtual time. A freeze is a long latency on both directions of one worker's
link: everything either side sends in the meantime arrives late, as a resumed process
finds it. The gateway stand-in tests at the end drive one worker through the same rule
directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio

from ratchet._connection import signer_for
from ratchet._declare.workflow import Workflow
from ratchet._worker.context import Context
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors import EngineOptions, open_engine
from ratchet.actors.store import MemoryStore, open_store
from ratchet.runtime import ActorRef, ActorSystem, open_runtime, run_deterministic
from ratchet.transport import LinkFaults, SimNetwork, open_actor_node, open_sim_network

ENGINE = "sim://engine"
FREEZE = 30.0  # virtual seconds a frozen worker's traffic is held back: ten session timeouts
LIMIT = 600.0


@dataclass
class Seen:
    """What the task functions saw: who ran which attempt, and what the old one learned."""

    ran: list[tuple[str, str, int]] = field(default_factory=list)
    started: dict[tuple[str, int], trio.Event] = field(default_factory=dict)
    superseded: dict[tuple[str, int], bool] = field(default_factory=dict)

    def started_event(self, task: str, attempt: int) -> trio.Event:
        return self.started.setdefault((task, attempt), trio.Event())


def workflows(seen: Seen, worker: list[str]) -> list[Workflow]:
    lingering = Workflow(None, "lingering")

    @lingering.task()
    async def linger(input: Any, ctx: Context) -> str:
        seen.ran.append((worker[0], "linger", ctx.attempt_number))
        seen.started_event("linger", ctx.attempt_number).set()
        if ctx.attempt_number == 1:
            try:
                await trio.sleep_forever()
            finally:
                seen.superseded[("linger", 1)] = ctx.is_superseded
        return worker[0]

    quick = Workflow(None, "quick")

    @quick.task()
    async def step(input: Any, ctx: Context) -> str:
        seen.ran.append((worker[0], "step", ctx.attempt_number))
        return worker[0]

    return [lingering, quick]


@dataclass
class World:
    network: SimNetwork
    gateway: ActorRef
    nursery: trio.Nursery
    seen: Seen
    token: str

    async def start_worker(self, name: str) -> WorkerActor:
        """A worker process named ``name``, dialing the engine; returns its actor once registered."""
        started: trio.Event = trio.Event()
        box: list[WorkerActor] = []

        async def run() -> None:
            async with open_runtime(seed=len(name)) as system:
                endpoint = await self.network.dial(ENGINE, name=name)
                async with open_actor_node(system, endpoint) as node:
                    gateway = node.ref(ENGINE, "gateway")
                    box.append(
                        await spawn_worker(system, gateway, name, self.seen, signer_for(ENGINE, self.token))
                    )
                    started.set()
                    await trio.sleep_forever()

        self.nursery.start_soon(run)
        with trio.fail_after(LIMIT):
            await started.wait()
            await box[0].registered.wait()
        return box[0]

    async def trigger(self, workflow: str) -> str:
        (created,) = await self.gateway.trigger.ask([{"workflow": workflow, "input": {}}])
        return created["run_id"]

    async def wait_until(self, predicate: Any, what: str) -> None:
        with trio.fail_after(LIMIT):
            while not await predicate():
                await trio.sleep(0.1)  # virtual time: polls the engine as a client would

    async def task(self, run_id: str) -> dict[str, Any]:
        run = await self.gateway.get_run.ask(run_id)
        return run["tasks"][0]

    async def workers(self) -> list[str]:
        return sorted(w["name"] for w in await self.gateway.list_workers.ask())


async def spawn_worker(
    system: ActorSystem, gateway: ActorRef, name: str, seen: Seen, signer: Any
) -> WorkerActor:
    config = WorkerConfig(name, workflows(seen, [name]), slots=4, threads=False)
    ref = await system.spawn(
        WorkerActor, config, gateway, peer=name, worker_id=name, name=name, signer=signer
    )
    instance = ref._cell.instance  # type: ignore[attr-defined]
    assert isinstance(instance, WorkerActor)
    return instance


@asynccontextmanager
async def world() -> AsyncIterator[World]:
    options = EngineOptions(heartbeat_interval=1.0, heartbeat_misses=3)
    async with (
        open_sim_network(seed=5) as network,
        open_store(MemoryStore()) as store,
        open_runtime(seed=7) as system,
        trio.open_nursery() as nursery,
    ):
        listener = await network.listen(ENGINE, name="engine")
        async with (
            open_actor_node(system, listener) as node,
            open_engine(system, store, options, node=node) as engine,
        ):
            token = await engine.issue_token("workers")
            yield World(network, engine.gateway, nursery, Seen(), token)
            nursery.cancel_scope.cancel()


def freeze(network: SimNetwork, worker: str) -> None:
    network.set_faults("engine", worker, LinkFaults(latency=FREEZE))


def thaw(network: SimNetwork, worker: str) -> None:
    network.set_faults("engine", worker, LinkFaults())


async def frozen_and_resumed() -> None:
    async with world() as w:
        frozen = await w.start_worker("frozen")
        lingering = await w.trigger("lingering")
        with trio.fail_after(LIMIT):
            await w.seen.started_event("linger", 1).wait()
        # Freeze once the engine has heard the worker since: its answer to the assignment
        # went out before that heartbeat, so the engine's deliveries are not held up by it.
        started = trio.current_time()
        await w.wait_until(lambda: _heard_since(frozen, started), "a heartbeat after the start")

        freeze(w.network, "frozen")
        quick = await w.trigger("quick")  # sent to the frozen worker: its session has not ended yet
        await w.wait_until(lambda: _status_is(w, quick, "RUNNING"), "the assignment to the frozen worker")
        await w.wait_until(lambda: _no_workers(w), "the engine to end the frozen worker's session")
        await w.start_worker("rescuer")
        with trio.fail_after(LIMIT):
            done = [await w.gateway.wait_run.ask(run_id) for run_id in (lingering, quick)]
        assert [(d["status"], d["output"]) for d in done] == [
            ("COMPLETED", {"linger": "rescuer"}),
            ("COMPLETED", {"step": "rescuer"}),
        ]

        thaw(w.network, "frozen")  # what was sent while frozen still arrives, late
        await w.wait_until(lambda: _settled(w, frozen), "the frozen worker to take in its old deliveries")
        assert ("frozen", "step", 1) not in w.seen.ran  # the stale assignment never ran
        assert frozen.dropped == 1
        assert w.seen.superseded == {("linger", 1): True}
        await w.wait_until(lambda: _workers_are(w, ["frozen", "rescuer"]), "the frozen worker to return")
        for run_id in (lingering, quick):
            task = await w.task(run_id)
            assert (task["status"], task["attempt"]) == ("COMPLETED", 2)


@pytest.mark.parametrize("seed", range(8))
def test_a_worker_back_after_its_session_ended_drops_what_was_reassigned_and_supersedes_its_attempt(
    seed: int,
) -> None:
    run_deterministic(frozen_and_resumed, seed=seed)


async def _heard_since(worker: WorkerActor, when: float) -> bool:
    return worker._heard_at >= when


async def _status_is(w: World, run_id: str, status: str) -> bool:
    return (await w.task(run_id))["status"] == status


async def _no_workers(w: World) -> bool:
    return "frozen" not in await w.workers()


async def _workers_are(w: World, names: list[str]) -> bool:
    return await w.workers() == names


async def _settled(w: World, worker: WorkerActor) -> bool:
    return worker.dropped > 0 or ("frozen", "step", 1) in w.seen.ran
