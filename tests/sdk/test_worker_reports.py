"""A worker still reporting an attempt's outcome does not run that attempt again.

Found by the simulation: an engine that restarted before storing an outcome assigned the
attempt again to the worker that ran it; the worker ran it a second time, and the first
run's late report freed the second run's slot, so the engine gave the worker more work
than it has slots. The worker now answers such a re-assignment with the report it is
still sending.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from ratchet._declare.workflow import Workflow
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.runtime import Actor, concurrent, open_runtime


class SlowToAcknowledge(Actor):
    """A gateway that takes results only once :meth:`release` is called."""

    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []
        self.gate = trio.Event()
        self.arrived = trio.Event()

    def register_worker(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"heartbeat_interval": 1.0, "versions": {}, "epoch": ["engine-2", 1]}

    def heartbeat(self, worker_id: str) -> bool:
        return True

    @concurrent
    async def task_results(self, results: list[dict[str, Any]]) -> int:
        self.arrived.set()
        await self.gate.wait()
        self.results.extend(results)
        return len(results)

    def release(self) -> None:
        self.gate.set()

    @concurrent
    async def wait_arrived(self) -> None:
        await self.arrived.wait()

    def reported(self) -> list[tuple[str, int, str]]:
        return [(r["task_id"], r["attempt"], r["status"]) for r in self.results]


def payload() -> dict[str, Any]:
    return {"task_id": "t1", "attempt": 1, "run_id": "r1", "workflow": "wf", "task": "work", "timeout": 60.0}


async def test_a_reassigned_attempt_whose_outcome_is_being_reported_does_not_run_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runs: list[str] = []
    wf = Workflow(None, "wf")

    @wf.task()
    async def work(input: Any, ctx: Any) -> str:
        runs.append(ctx.task_run_id)
        return "done"

    async with open_runtime(seed=1) as system:
        gateway = await system.spawn(SlowToAcknowledge, name="gateway")
        config = WorkerConfig("w", [wf], slots=1, threads=False)
        worker = await system.spawn(WorkerActor, config, gateway, worker_id="w1", name="worker")
        with trio.fail_after(30):
            await worker.wait_registered.ask()
            await worker.deliver.ask([payload()], [], ["engine-2", 1])
            await gateway.wait_arrived.ask()  # ran, and its report waits for the engine
            await worker.deliver.ask([payload()], [], ["engine-2", 1])  # assigned again
            await trio.testing.wait_all_tasks_blocked()
            assert runs == ["t1"]
            assert (await worker.status.ask())["running"] == 0
            await gateway.release.ask()
            await trio.testing.wait_all_tasks_blocked()
        assert await gateway.reported.ask() == [("t1", 1, "completed")]
        # once acknowledged, a further assignment of the attempt runs it (the engine that
        # took the report may have died before storing it)
        with trio.fail_after(30):
            await worker.deliver.ask([payload()], [], ["engine-2", 1])
            await trio.testing.wait_all_tasks_blocked()
        assert runs == ["t1", "t1"]
