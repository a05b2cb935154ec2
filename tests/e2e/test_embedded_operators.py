"""The operator features through the SDK, end to end in embedded mode.

``ratchet.runs.bulk_cancel`` / ``bulk_replay`` by filter (hatchet-sdk's
``BulkCancelReplayOpts(filters=RunFilter(...))``), ``ratchet.workers``,
``ratchet.workflows``, ``ratchet.metrics``, and a run's timings, task details and
timeline, each in its sync and ``aio_`` form; bad arguments raise ``ValueError``, unknown
ids ``LookupError``. That a pause holds over time is shown in virtual time
(``tests/actors/gateway/test_gateway_operators.py``); here a task held on a gate shows
what waits, and the rest waits on results, never on sleeps.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pydantic
import pytest
import trio
from e2e_helpers import eventually, start, wait_set

from ratchet import BulkCancelReplayOpts, Context, Ratchet, RunFilter, RunStatus
from ratchet._clients.runs import RunCancelledError


def _declare(r: Ratchet, gate: threading.Event, started: threading.Event):
    job = r.workflow("ops-job", input_validator=dict)

    @job.task()
    def step(inp: dict, ctx: Context) -> str:
        if inp.get("hold"):
            started.set()
            gate.wait(10)
        return "stepped"

    flaky = r.workflow("ops-flaky", input_validator=dict)

    @flaky.task(retries=1)
    def wobble(inp: dict, ctx: Context) -> str:
        if ctx.attempt_number == 1:
            raise RuntimeError("first try fails")
        return "second try"

    parent = r.workflow("ops-parent", input_validator=dict)

    @parent.task()
    async def spawn(inp: dict, ctx: Context) -> dict:
        return await job.aio_run({})

    orders = r.workflow("ops-orders", on_events=["ops:order"], input_validator=dict)

    @orders.task()
    def handle(inp: dict, ctx: Context) -> dict:
        return inp

    return job, flaky, parent, orders


def test_runs_are_cancelled_and_replayed_by_filter_and_listed_by_new_filters(new_client):
    r = new_client()
    gate, started = threading.Event(), threading.Event()
    job, _, _, orders = _declare(r, gate, started)
    start(r, slots=1)
    since = datetime.now() - timedelta(minutes=1)
    held = job.run_no_wait({"hold": True}, additional_metadata={"team": "a"})
    wait_set(started, "the held task to start")
    queued = [job.run_no_wait({}, additional_metadata={"team": team}) for team in ("a", "b")]

    opts = BulkCancelReplayOpts(filters=RunFilter(since=since, additional_metadata={"team": "a"}))
    assert r.runs.bulk_cancel(opts) == 2
    for ref in (held, queued[0]):
        with pytest.raises(RunCancelledError):
            ref.result()
    gate.set()
    assert queued[1].result() == {"step": "stepped"}

    cancelled = RunFilter(since=since, statuses=[RunStatus.CANCELLED], workflow_ids=["ops-job"])
    assert sorted(r.runs.bulk_replay(BulkCancelReplayOpts(filters=cancelled))) == sorted(
        [held.run_id, queued[0].run_id]
    )
    assert held.result() == {"step": "stepped"} and queued[0].result() == {"step": "stepped"}
    assert r.runs.bulk_cancel([queued[1].run_id]) == 0  # by ids: it had finished

    event = r.event.push("ops:order", {"n": 1})
    (from_event,) = r.runs.list(triggering_event_id=event.id)
    assert from_event.workflow == orders.name
    assert r.runs.get(from_event.run_id).triggering_event_id == event.id
    workers = {w.name: w.id for w in r.workers.list()}
    on_w1 = {run.run_id for run in r.runs.list(worker_id=workers["w1"], workflow=job)}
    assert on_w1 == {held.run_id, queued[0].run_id, queued[1].run_id}
    either = r.runs.list(workflow=job, additional_metadata={"team": "b", "x": 1}, metadata_match="any")
    assert [run.run_id for run in either] == [queued[1].run_id]
    assert [run.run_id for run in r.runs.list(workflow=job, offset=1, limit=1)] == [queued[0].run_id]

    async def aio() -> None:
        assert await r.runs.aio_bulk_cancel(RunFilter(since=since, workflow_ids=["ops-job"])) == 0
        assert await r.runs.aio_bulk_replay([held.run_id]) == []  # completed: nothing to replay

    trio.run(aio)


def test_workers_are_read_paused_and_resumed(new_client):
    r = new_client()
    gate, started = threading.Event(), threading.Event()
    job, *_ = _declare(r, gate, started)
    start(r, slots=2)
    (worker,) = r.workers.list()
    assert (worker.name, worker.status, worker.slots, worker.worker_id) == ("w1", "ACTIVE", 2, worker.id)
    assert worker.workflows["ops-job"] == 1 and worker.last_heartbeat_at is not None

    paused = r.workers.pause(worker.id)
    assert (paused.status, paused.paused, paused.slots_free) == ("PAUSED", True, 0)
    ref = job.run_no_wait({})
    eventually(lambda: r.metrics.queue_metrics().queues.get("ops-job:step") == 1, "the run to be queued")
    assert r.runs.get(ref.run_id).status == RunStatus.QUEUED
    assert r.workers.get(worker.id).status == "PAUSED"
    assert r.workers.resume(worker.id).status == "ACTIVE"
    assert ref.result() == {"step": "stepped"}

    async def aio() -> None:
        assert (await r.workers.aio_pause(worker.id)).paused is True
        assert (await r.workers.aio_resume(worker.id)).paused is False
        assert (await r.workers.aio_get(worker.id)).status == "ACTIVE"
        assert [w.id for w in await r.workers.aio_list(include_inactive=True)] == [worker.id]

    trio.run(aio)
    with pytest.raises(LookupError, match="no worker with id 'ghost'"):
        r.workers.get("ghost")
    with pytest.raises(ValueError, match="not a worker id"):
        r.workers.pause("")


def test_workflows_are_read_paused_and_unpaused_and_stay_a_mapping_of_declarations(new_client):
    r = new_client()
    gate, started = threading.Event(), threading.Event()
    job, flaky, *_ = _declare(r, gate, started)
    start(r)
    assert r.workflows["ops-job"] is job and "ops-flaky" in r.workflows and len(r.workflows) == 4
    assert [w.name for w in r.workflows.list(name_contains="ops-")] == sorted(r.workflows)

    details = r.workflows.get(job)
    assert (details.name, details.paused, details.current_version) == ("ops-job", False, 1)
    assert [v.tasks for v in details.versions] == [["step"]]
    assert r.workflows.get(details.id).name == "ops-job"
    (version,) = r.workflows.list_versions("ops-job")
    assert version.current and version.definition is not None and version.definition["name"] == "ops-job"

    assert r.workflows.pause(job).paused is True
    ref = job.run_no_wait({})
    eventually(lambda: r.metrics.queue_metrics().workflows.get("ops-job") == 1, "the run to wait")
    assert "paused" in (r.runs.get(ref.run_id).tasks[0].queued_reason or "")
    assert flaky.run({}) == {"wobble": "second try"}  # other workflows run on
    assert r.workflows.unpause("ops-job").paused is False
    assert ref.result() == {"step": "stepped"}

    async def aio() -> None:
        assert (await r.workflows.aio_pause(job)).paused is True
        assert (await r.workflows.aio_unpause(job)).paused is False
        assert (await r.workflows.aio_get("ops-job")).current_version == 1
        assert len(await r.workflows.aio_list_versions(job)) == 1
        assert [w.name for w in await r.workflows.aio_list(limit=1)] == ["ops-flaky"]

    trio.run(aio)
    with pytest.raises(LookupError, match="no workflow 'ghost'"):
        r.workflows.get("ghost")
    with pytest.raises(ValueError, match="limit"):
        r.workflows.list(limit=0)


def test_metrics_timings_and_task_details(new_client):
    r = new_client()
    gate, started = threading.Event(), threading.Event()
    _, flaky, parent, _ = _declare(r, gate, started)
    start(r)
    since = datetime.now() - timedelta(minutes=1)
    ref = flaky.run_no_wait({})
    assert ref.result() == {"wobble": "second try"}
    top = parent.run_no_wait({})
    assert top.result() == {"spawn": {"step": "stepped"}}

    counts = r.metrics.task_metrics(since)
    assert counts.completed == 3 and counts.by_status == {"COMPLETED": 3} and counts.total == 3
    assert r.metrics.get_task_metrics(since, datetime.now() - timedelta(seconds=30)).total == 0
    usage = r.metrics.queue_metrics().slots
    assert (usage.workers, usage.total, usage.used) == (1, 4, 0)

    timings = r.runs.get_timings(top.run_id, depth=1)
    assert [(t.name, t.depth, t.workflow) for t in timings.tasks] == [
        ("spawn", 0, "ops-parent"),
        ("step", 1, "ops-job"),
    ]
    assert timings.tasks[1].parent_task_id == timings.tasks[0].task_id
    assert [t.name for t in r.runs.get_timings(top.run_id, depth=0).tasks] == ["spawn"]

    task_id = r.runs.get(ref.run_id).tasks[0].task_id
    task = r.runs.get_task(task_id)
    assert (task.attempts, task.attempt_details.attempt, task.output) == ([1, 2], 2, "second try")
    first = r.runs.get_task(task_id, attempt=1).attempt_details
    assert first.status == "FAILED" and "first try fails" in (first.error or {}).get("message", "")
    events = r.runs.list_task_events(task_id)
    assert events[0].kind == "QUEUED" and events[-1].kind == "COMPLETED"
    assert r.runs.list_task_events(task_id, after_seq=events[0].seq, limit=1) == events[1:2]

    async def aio() -> None:
        assert (await r.metrics.aio_queue_metrics()).queued == 0
        assert (await r.metrics.aio_task_metrics(since)).completed == 3
        assert len((await r.runs.aio_get_timings(top.run_id)).tasks) == 2
        assert (await r.runs.aio_get_task(task_id, 1)).attempt_details.status == "FAILED"
        assert await r.runs.aio_list_task_events(task_id) == events

    trio.run(aio)
    with pytest.raises(ValueError, match="has no attempt 9"):
        r.runs.get_task(task_id, attempt=9)
    with pytest.raises(ValueError, match="depth"):
        r.runs.get_timings(top.run_id, depth=99)
    with pytest.raises(LookupError):
        r.runs.get_timings("no-such-run")
    with pytest.raises(LookupError):
        r.runs.list_task_events("no-such-task")
    with pytest.raises(ValueError, match="since must be a datetime or epoch seconds"):
        r.metrics.task_metrics("yesterday")  # type: ignore[arg-type]


def test_bad_bulk_options_are_refused_before_anything_is_sent(new_client):
    r = new_client()
    gate, started = threading.Event(), threading.Event()
    _declare(r, gate, started)
    start(r)
    with pytest.raises(pydantic.ValidationError, match="ids or filters must be set"):
        BulkCancelReplayOpts()
    with pytest.raises(pydantic.ValidationError, match="cannot both be set"):
        BulkCancelReplayOpts(ids=["a"], filters=RunFilter(since=0.0))
    with pytest.raises(ValueError, match="expected run ids, a RunFilter or BulkCancelReplayOpts"):
        r.runs.bulk_cancel("run-1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="metadata_match"):
        r.runs.list(metadata_match="most")
    with pytest.raises(ValueError, match="worker_id"):
        r.runs.list(worker_id="")
