"""Triggering before any worker registered: the client carries the workflow's definition.

An application may start before its workers (a deploy does it all the time). The first
trigger of a workflow the engine does not know registers the client's definition; the
runs wait QUEUED, their tasks saying no worker serves them yet, and start when a worker
comes. A client's registration is not a worker: the engine never believes it serves
anything, and it never replaces the version workers registered.
"""

from __future__ import annotations

import time
from typing import Any

import trio
from e2e_helpers import eventually
from live_workers import add_worker

from ratchet import Context, DurableContext, Ratchet, Workflow

NOT_SERVED = "no live worker serves task"


def early(client: Ratchet, *, extra_task: bool = False) -> Workflow:
    wf = client.workflow("early", input_validator=dict)

    @wf.task()
    def greet(inp: dict, ctx: Context) -> str:
        return f"hi {inp.get('name', 'you')}"

    if extra_task:

        @wf.task(parents=[greet])
        def shout(inp: dict, ctx: Context) -> str:
            return ctx.task_output(greet).upper()

    return wf


def test_a_run_triggered_before_any_worker_registered_waits_for_one(new_client):
    r = new_client()
    wf = early(r)
    r.embedded("memory://")  # no worker yet

    ref = wf.run_no_wait({"name": "ann"})
    details = r.runs.get(ref.workflow_run_id)
    assert details.status == "QUEUED"
    reason = details.task("greet").queued_reason
    assert reason is not None and reason.startswith(f"{NOT_SERVED} 'greet' of workflow 'early' (version 1)")
    assert "no worker running workflow 'early' is connected yet" in reason
    assert r.connection.call("list_workers") == []  # the client's registration made no worker

    add_worker(r, "late", [early(Ratchet())])
    assert ref.result() == {"greet": "hi ann"}
    assert r.runs.get(ref.workflow_run_id).task("greet").queued_reason is None


def test_many_runs_and_async_triggers_before_any_worker_registered(new_client):
    r = new_client()
    wf = early(r)
    r.embedded("memory://")

    refs = wf.run_many_no_wait([wf.create_bulk_run_item({"name": n}) for n in ("a", "b")])

    async def trigger() -> str:
        return (await wf.aio_run_no_wait({"name": "c"})).workflow_run_id

    run_ids = [ref.workflow_run_id for ref in refs] + [trio.run(trigger)]
    assert [r.runs.get(run_id).status for run_id in run_ids] == ["QUEUED"] * 3

    add_worker(r, "late", [early(Ratchet())])
    for run_id, name in zip(run_ids, "abc", strict=True):
        assert r.runs._wait(run_id).output == {"greet": f"hi {name}"}


def test_a_schedule_made_before_any_worker_registered_runs_once_one_comes(new_client):
    r = new_client()
    wf = early(r)
    r.embedded("memory://")

    scheduled = wf.schedule(time.time() + 0.2, {"name": "later"})
    eventually(lambda: r.scheduled.get(scheduled.id).run_id is not None, "the schedule to fire")
    run_id = r.scheduled.get(scheduled.id).run_id
    assert run_id is not None and r.runs.get(run_id).status == "QUEUED"

    add_worker(r, "late", [early(Ratchet())])
    assert r.runs._wait(run_id).output == {"greet": "hi later"}


def test_the_version_workers_registered_wins_over_a_clients_definition(new_client):
    r = new_client()
    app = early(r, extra_task=True)  # the application was built with a newer definition
    r.embedded("memory://")
    add_worker(r, "w", [early(Ratchet())])  # the workers run the older one

    run = app.run_no_wait({"name": "bob"})
    assert run.result() == {"greet": "hi bob"}  # the workers' version: one task
    assert [t.name for t in r.runs.get(run.workflow_run_id).tasks] == ["greet"]


def test_a_durable_task_spawning_a_workflow_no_worker_registered_waits_for_one(new_client):
    r = new_client()
    child = early(r)

    @r.durable_task(input_validator=dict)
    async def parent(inp: dict, ctx: DurableContext) -> Any:
        return await child.aio_run({"name": "kid"})

    r.embedded("memory://")
    add_worker(r, "parents-only", [parent])  # serves the parent, not the child

    ref = parent.run_no_wait({})
    children = []

    def child_queued() -> bool:
        children[:] = r.runs.list(parent_task_id=r.runs.get(ref.workflow_run_id).tasks[0].task_id)
        return bool(children) and children[0].status == "QUEUED"

    eventually(child_queued, "the child run to be created")
    add_worker(r, "children", [early(Ratchet())])
    assert ref.result() == {"greet": "hi kid"}
