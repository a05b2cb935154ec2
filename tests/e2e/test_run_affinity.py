"""A run's own ``desired_worker_labels``: worker affinity chosen when it is triggered.

Given in ``TriggerWorkflowOptions`` (or ``create_bulk_run_item``), they apply to every
task of the run; a task's own wish for the same label key wins. Bad labels are refused
before anything is sent, and garbage sent to the gateway is refused with a clear error.
An engine that restarts reads them back with the run.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from ratchet import Context, DefinitionError, DesiredWorkerLabel, Ratchet, TriggerWorkflowOptions
from ratchet._declare.workflow import Workflow
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors import open_engine
from ratchet.actors.store import MemoryDatabase, MemoryStore, open_store
from ratchet.runtime import open_runtime

REGION = "region"


def worker_names(r: Ratchet) -> dict[str, str]:
    return {w["id"]: w["name"] for w in r.connection.call("list_workers")}


def ran_on(r: Ratchet, ref: Any) -> list[str]:
    names = worker_names(r)
    return [names[t.worker_id] for t in r.runs.get(ref.workflow_run_id).tasks]


def two_region_client(new_client: Any) -> tuple[Ratchet, Any]:
    r = new_client()
    wf = r.workflow("regional", input_validator=dict)

    @wf.task()
    def fetch(input: dict[str, Any], ctx: Context) -> str:
        return "fetched"

    @wf.task(parents=[fetch], desired_worker_labels={REGION: DesiredWorkerLabel("eu", required=True)})
    def store(input: dict[str, Any], ctx: Context) -> str:
        return "stored"

    r.embedded(
        "memory://",
        workers=[
            r.worker("us-box", slots=4, labels={REGION: "us"}),
            r.worker("eu-box", slots=4, labels={REGION: "eu"}),
        ],
    )
    return r, wf


def test_a_runs_labels_route_every_task_and_a_tasks_own_wish_wins(new_client):
    r, wf = two_region_client(new_client)
    us = TriggerWorkflowOptions(desired_worker_labels={REGION: DesiredWorkerLabel("us", required=True)})
    for _ in range(3):
        ref = wf.run_no_wait({}, us)
        assert ref.result() == {"fetch": "fetched", "store": "stored"}
        assert ran_on(r, ref) == ["us-box", "eu-box"]  # fetch by the run's wish, store by its own


def test_bulk_items_carry_their_own_labels(new_client):
    r, wf = two_region_client(new_client)
    items = [
        wf.create_bulk_run_item({}, desired_worker_labels={REGION: DesiredWorkerLabel("us", required=True)}),
        wf.create_bulk_run_item({}, desired_worker_labels={REGION: DesiredWorkerLabel("eu", required=True)}),
    ]
    first, second = wf.run_many_no_wait(items)
    assert first.result() == second.result() == {"fetch": "fetched", "store": "stored"}
    assert ran_on(r, first)[0] == "us-box"
    assert ran_on(r, second)[0] == "eu-box"


@pytest.mark.parametrize("labels", [{REGION: 1.5}, {REGION: None}, {"": "us"}, "us", {REGION: [1]}])
def test_bad_run_labels_are_refused_before_anything_is_sent(new_client, labels):
    r, wf = two_region_client(new_client)
    with pytest.raises(DefinitionError, match="regional"):
        wf.run_no_wait({}, TriggerWorkflowOptions(desired_worker_labels=labels))
    assert r.runs.list() == []


@pytest.mark.parametrize(
    "labels",
    [{REGION: "us"}, {REGION: {"value": 1.5}}, {REGION: {"value": "us", "comparator": "ROUGHLY"}},
     {"": {"value": "us"}}, {REGION: {"value": "us", "surprise": 1}}],
)  # fmt: skip
def test_garbage_labels_sent_to_the_gateway_are_refused(new_client, labels):
    r, _ = two_region_client(new_client)
    (answer,) = r.connection.call("trigger", [{"workflow": "regional", "desired_worker_labels": labels}])
    assert "run request is invalid" in answer["error"] and "regional" in answer["error"]
    assert r.runs.list() == []


async def test_a_restarted_engine_keeps_a_runs_labels(autojump_clock: trio.testing.MockClock) -> None:
    # the run is triggered while only the wrong worker is up; the engine restarts before
    # the right one comes: the rebuilt run must still wait for it
    ran: list[str] = []
    wf = Workflow(None, "regional", input_validator=dict)

    @wf.task()
    async def work(input: Any, ctx: Any) -> str:
        ran.append(input["worker"])
        return "done"

    database = MemoryDatabase()
    eu = {REGION: {"value": "eu", "required": True, "weight": 100, "comparator": "EQUAL"}}
    async with open_runtime(seed=1) as system:
        store = MemoryStore(database)
        async with open_store(store), open_engine(system, store) as engine:
            us = await system.spawn(
                WorkerActor, WorkerConfig("us", [wf], labels={REGION: "us"}, threads=False), engine.gateway
            )
            await us.wait_registered.ask()
            (answer,) = await engine.gateway.trigger.ask(
                [{"workflow": "regional", "input": {"worker": "?"}, "desired_worker_labels": eu}]
            )
            await trio.sleep(1.0)
            assert ran == []  # only the wrong worker is up
            await system.root.terminate_child(us.name)
        store = MemoryStore(database)
        async with open_store(store), open_engine(system, store) as engine:
            for name, region in (("us", "us"), ("eu", "eu")):
                ref = await system.spawn(
                    WorkerActor,
                    WorkerConfig(name, [wf], labels={REGION: region}, threads=False),
                    engine.gateway,
                    name=f"w-{name}",
                )
                await ref.wait_registered.ask()
            with trio.fail_after(30):
                run = await engine.gateway.wait_run.ask(answer["run_id"])
            workers = {w["id"]: w["name"] for w in await engine.gateway.list_workers.ask()}
            assert run["status"] == "COMPLETED"
            assert workers[run["tasks"][0]["worker_id"]] == "eu"
