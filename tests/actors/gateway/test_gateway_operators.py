"""The gateway's operator methods on a real engine in virtual time (memory store, MockClock).

Pausing workers and workflows (and keeping the pause across an engine restart), runs
found by worker, parent, triggering event, workflows and metadata, bulk cancel and
replay by filter, queue metrics, run timings and task details. Tasks that must stay
running wait on a ``trio.Event`` the test sets; time passes only in the virtual clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import trio
from engine_harness import EPOCH, RunningEngine, engine

from ratchet import Context, DurableContext, Ratchet, Workflow
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors.store import MemoryDatabase, PauseKind
from ratchet.runtime import ActorError, FixedEpochClock

SCHEDULE_TIMEOUT = 5 * 60  # the default


@dataclass
class Family:
    """The workflows of these tests, and the gate their held tasks wait on."""

    gate: trio.Event
    job: Workflow
    other: Workflow
    on_order: Workflow
    parent: Workflow
    flaky: Workflow

    def all(self) -> list[Workflow]:
        return [self.job, self.other, self.on_order, self.parent, self.flaky]


def declare() -> Family:
    r = Ratchet()
    gate = trio.Event()
    job = r.workflow("job", input_validator=dict)

    @job.task()
    async def step(inp: dict[str, Any], ctx: Context) -> dict[str, Any]:
        if inp.get("hold"):
            await gate.wait()
        return {"ok": True}

    other = r.workflow("other", input_validator=dict)

    @other.task()
    async def work(inp: dict[str, Any], ctx: Context) -> str:
        return "done"

    on_order = r.workflow("on-order", on_events=["order:*"], input_validator=dict)

    @on_order.task()
    async def handle(inp: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return inp

    parent = r.workflow("parent", input_validator=dict)

    @parent.durable_task()  # (in-process, a task spawns through its worker when it is durable)
    async def spawn(inp: dict[str, Any], ctx: DurableContext) -> Any:
        return await job.aio_run({}, additional_metadata={"level": "child"})

    flaky = r.workflow("flaky", input_validator=dict)

    @flaky.task(retries=1)
    async def wobble(inp: dict[str, Any], ctx: Context) -> str:
        if ctx.attempt_number == 1:
            raise RuntimeError("first try fails")
        return "second try"

    return Family(gate, job, other, on_order, parent, flaky)


@asynccontextmanager
async def operated(
    db: MemoryDatabase,
    clock: FixedEpochClock,
    workers: Sequence[tuple[str, str, int, Sequence[Workflow]]],
) -> AsyncIterator[RunningEngine]:
    """An engine on ``db`` with in-process workers ``(name, worker id, slots, workflows)``."""
    async with engine(db, clock) as eng:
        for name, worker_id, slots, workflows in workers:
            config = WorkerConfig(name=name, workflows=list(workflows), slots=slots, threads=False)
            ref = await eng.system.spawn(
                WorkerActor, config, eng.gateway, worker_id=worker_id, name=f"worker:{name}"
            )
            await ref.wait_registered.ask()
        yield eng


async def trigger(eng: RunningEngine, workflow: str, input: Any = None, **kw: Any) -> str:
    (answer,) = await eng.call("trigger", [{"workflow": workflow, "input": input or {}, **kw}])
    return str(answer["run_id"])


async def status_of(eng: RunningEngine, run_id: str) -> str:
    return str((await eng.call("get_run", run_id, False))["status"])


async def task_id_of(eng: RunningEngine, run_id: str) -> str:
    (task,) = (await eng.call("get_run", run_id))["tasks"]
    return str(task["task_id"])


# -- workers ---------------------------------------------------------------------------------------


async def test_a_paused_worker_finishes_its_task_takes_nothing_new_and_stays_paused_after_a_restart(
    autojump_clock,
):
    db, clock, fam = MemoryDatabase(), FixedEpochClock(EPOCH), declare()
    workers = [("w1", "wid-1", 2, fam.all())]
    async with operated(db, clock, workers) as eng:
        held = await trigger(eng, "job", {"hold": True})
        await trio.sleep(1)
        worker = await eng.call("pause_worker", "wid-1")
        assert (worker["status"], worker["paused"], worker["slots_used"], worker["slots_free"]) == (
            "PAUSED",
            True,
            1,
            0,
        )
        waiting = await trigger(eng, "job")
        await trio.sleep(10)  # (within the held task's execution timeout of 60 s)
        assert await status_of(eng, waiting) == "QUEUED"
        fam.gate.set()
        assert (await eng.call("wait_run", held))["status"] == "COMPLETED"  # it ran to its end
        await trio.sleep(60)
        assert await status_of(eng, waiting) == "QUEUED"  # a free slot, but paused
    async with operated(db, clock, workers) as eng:  # the engine (and the worker) came back
        await trio.sleep(60)
        assert await status_of(eng, waiting) == "QUEUED"
        assert (await eng.call("get_worker", "wid-1"))["status"] == "PAUSED"
        resumed = await eng.call("resume_worker", "wid-1")
        assert (resumed["status"], resumed["paused"]) == ("ACTIVE", False)
        assert (await eng.call("wait_run", waiting))["status"] == "COMPLETED"
        assert await eng.store.list_pauses("default") == []


async def test_a_worker_reads_with_its_slots_labels_workflows_and_heartbeat(autojump_clock):
    db, clock, fam = MemoryDatabase(), FixedEpochClock(EPOCH), declare()
    async with operated(db, clock, [("w1", "wid-1", 3, [fam.job]), ("w2", "wid-2", 1, [fam.other])]) as eng:
        await trio.sleep(5)
        worker = await eng.call("get_worker", "wid-1")
        assert worker["id"] == "wid-1" and worker["name"] == "w1" and worker["status"] == "ACTIVE"
        assert (worker["slots"], worker["slots_used"], worker["slots_free"]) == (3, 0, 3)
        assert worker["workflows"] == {"job": 1} and worker["draining"] is False
        assert worker["registered_at"] == EPOCH
        assert EPOCH <= worker["last_heartbeat_at"] <= EPOCH + 5
        assert [w["id"] for w in await eng.call("list_workers")] == ["wid-1", "wid-2"]
        assert await eng.call("get_worker", "nobody") is None
        assert await eng.call("pause_worker", "nobody") is None
        await eng.system.root.terminate_child("worker:w2")  # it stops heartbeating
        await trio.sleep(6 * 30)  # missed heartbeats (every 30 s here): given up for gone
        assert [w["id"] for w in await eng.call("list_workers")] == ["wid-1"]
        everyone = await eng.call("list_workers", {"include_inactive": True})
        assert [(w["id"], w["status"]) for w in everyone] == [("wid-1", "ACTIVE"), ("wid-2", "INACTIVE")]
        assert (await eng.call("get_worker", "wid-2"))["status"] == "INACTIVE"


# -- workflows -------------------------------------------------------------------------------------


async def test_a_paused_workflow_keeps_its_runs_queued_past_their_schedule_timeout_until_unpaused(
    autojump_clock,
):
    db, clock, fam = MemoryDatabase(), FixedEpochClock(EPOCH), declare()
    workers = [("w1", "wid-1", 2, fam.all())]
    async with operated(db, clock, workers) as eng:
        view = await eng.call("pause_workflow", "job")
        assert view["paused"] is True and view["name"] == "job"
        waiting = await trigger(eng, "job")
        other = await trigger(eng, "other")
        assert (await eng.call("wait_run", other))["status"] == "COMPLETED"  # others run on
        await trio.sleep(2 * SCHEDULE_TIMEOUT)
        run = await eng.call("get_run", waiting)
        assert run["status"] == "QUEUED"
        assert "workflow 'job' is paused" in run["tasks"][0]["queued_reason"]
    async with operated(db, clock, workers) as eng:
        await trio.sleep(2 * SCHEDULE_TIMEOUT)
        assert await status_of(eng, waiting) == "QUEUED"
        assert (await eng.call("get_workflow", "job"))["paused"] is True
        view = await eng.call("unpause_workflow", "job")
        assert view["paused"] is False
        assert (await eng.call("wait_run", waiting))["status"] == "COMPLETED"


async def test_a_workflow_reads_by_name_or_id_with_its_versions(autojump_clock):
    db, clock, fam = MemoryDatabase(), FixedEpochClock(EPOCH), declare()
    async with operated(db, clock, [("w1", "wid-1", 2, fam.all())]) as eng:
        view = await eng.call("get_workflow", "job")
        assert (view["name"], view["paused"], view["current_version"]) == ("job", False, 1)
        assert [(v["version"], v["current"], v["tasks"]) for v in view["versions"]] == [(1, True, ["step"])]
        assert await eng.call("get_workflow", view["id"]) == view
        (version,) = await eng.call("list_workflow_versions", "job")
        assert version["definition"]["name"] == "job" and version["current"] is True
        listed = await eng.call("list_workflows", {"name_contains": "o"})
        assert [w["name"] for w in listed] == ["job", "on-order", "other"]
        assert [w["name"] for w in await eng.call("list_workflows", {"offset": 1, "limit": 2})] == [
            "job",
            "on-order",
        ]
        assert "job" in await eng.call("list_workflows")  # without filters: the names
        for method in ("get_workflow", "list_workflow_versions", "pause_workflow", "unpause_workflow"):
            assert await eng.call(method, "nope") is None
        assert await eng.store.list_pauses("default") == []


# -- finding runs ----------------------------------------------------------------------------------


async def test_runs_are_found_by_metadata_worker_event_parent_and_workflows(autojump_clock):
    db, clock, fam = MemoryDatabase(), FixedEpochClock(EPOCH), declare()
    serving = [fam.job, fam.on_order, fam.parent]
    async with operated(db, clock, [("w1", "wid-1", 4, serving), ("w2", "wid-2", 4, [fam.other])]) as eng:
        a = await trigger(eng, "job", additional_metadata={"team": "a", "env": "prod"})
        await trio.sleep(1)
        b = await trigger(eng, "job", additional_metadata={"team": "b", "env": "prod"})
        await trio.sleep(1)
        c = await trigger(eng, "other", additional_metadata={"team": "c", "env": "dev"})
        await trio.sleep(1)
        (event,) = await eng.call("push_events", [{"key": "order:paid", "payload": {"n": 1}}])
        (e,) = event["runs"]
        await trio.sleep(1)
        p = await trigger(eng, "parent")
        for run_id in (a, b, c, e, p):
            assert (await eng.call("wait_run", run_id))["status"] == "COMPLETED"
        spawner = await task_id_of(eng, p)
        (k,) = [r["run_id"] for r in await eng.call("list_runs", {"parent_task_id": spawner})]

        async def ids(**filters: Any) -> list[str]:
            return [r["run_id"] for r in await eng.call("list_runs", filters)]

        prod_a = {"team": "a", "env": "prod"}
        assert await ids(additional_metadata=prod_a) == [a]
        assert await ids(additional_metadata=prod_a, metadata_match="any") == [b, a]
        assert await ids(additional_metadata={"level": "child"}) == [k]
        assert await ids(worker_id="wid-2") == [c]
        assert set(await ids(worker_id="wid-1")) == {a, b, e, p, k}
        assert await ids(worker_id="wid-1", additional_metadata={"team": "b"}) == [b]
        assert await ids(triggering_event_id=event["id"]) == [e]
        assert (await eng.call("get_run", e))["triggering_event_id"] == event["id"]
        assert await ids(triggering_event_id="no-such-event") == []
        other_id = (await eng.call("get_workflow", "other"))["id"]
        assert await ids(workflow_ids=[other_id, "on-order"]) == [e, c]
        assert await ids(workflow="job", workflow_ids=["other"]) == []
        assert await ids(workflow_ids=["nope"]) == []
        everything = await ids(limit=100)
        assert len(everything) == 6 and await ids(offset=2, limit=3) == everything[2:5]
        assert await ids(since=EPOCH + 2, until=EPOCH + 3) == [c]


async def test_runs_are_cancelled_and_replayed_by_filter_or_by_ids(autojump_clock):
    db, clock, fam = MemoryDatabase(), FixedEpochClock(EPOCH), declare()
    async with operated(db, clock, [("w1", "wid-1", 1, fam.all())]) as eng:
        hold = {"hold": True}
        x1 = await trigger(eng, "job", hold, additional_metadata={"team": "a"})
        x2 = await trigger(eng, "job", hold, additional_metadata={"team": "a"})
        y = await trigger(eng, "job", hold, additional_metadata={"team": "b"})
        await trio.sleep(1)
        since = EPOCH - 1
        finished_only = {"since": since, "statuses": ["COMPLETED"], "additional_metadata": {"team": "a"}}
        assert await eng.call("cancel_runs", {"filter": finished_only}) == 0
        team_a = {"since": since, "additional_metadata": {"team": "a"}}
        assert await eng.call("cancel_runs", {"filter": team_a}) == 2
        for run_id in (x1, x2):
            assert (await eng.call("wait_run", run_id))["status"] == "CANCELLED"
        assert await status_of(eng, y) in ("QUEUED", "RUNNING")
        assert await eng.call("replay_runs", {"filter": {**team_a, "statuses": ["COMPLETED"]}}) == []
        replayed = await eng.call("replay_runs", {"filter": {**team_a, "statuses": ["CANCELLED", "QUEUED"]}})
        assert sorted(replayed) == sorted([x1, x2])
        assert await eng.call("cancel_runs", {"ids": [y]}) == 1
        fam.gate.set()
        for run_id in (x1, x2):
            assert (await eng.call("wait_run", run_id))["status"] == "COMPLETED"
        assert await eng.call("replay_runs", {"ids": [y]}) == [y]
        assert (await eng.call("wait_run", y))["status"] == "COMPLETED"


# -- metrics, timings, task details ----------------------------------------------------------------


async def test_queue_metrics_count_queued_tasks_slots_and_tasks_by_status(autojump_clock):
    db, clock, fam = MemoryDatabase(), FixedEpochClock(EPOCH), declare()
    async with operated(db, clock, [("w1", "wid-1", 2, fam.all())]) as eng:
        await eng.call("pause_workflow", "job")
        for _ in range(3):
            await trigger(eng, "job")
        assert (await eng.call("wait_run", await trigger(eng, "other")))["status"] == "COMPLETED"
        await trio.sleep(1)
        now = await eng.call("queue_metrics")
        assert (now["queues"], now["workflows"], now["queued"], now["tasks"]) == (
            {"job:step": 3},
            {"job": 3},
            3,
            None,
        )
        assert now["slots"] == {
            "workers": 1,
            "total": 2,
            "used": 0,
            "free": 2,
            "durable_total": 1000,
            "durable_used": 0,
            "durable_free": 1000,
        }
        window = await eng.call("queue_metrics", {"since": EPOCH, "until": EPOCH + 3600})
        assert window["tasks"] == {"COMPLETED": 1, "QUEUED": 3}
        assert (await eng.call("queue_metrics", {"since": EPOCH - 60, "until": EPOCH}))["tasks"] == {}


async def test_run_timings_follow_child_runs_to_the_depth_asked(autojump_clock):
    db, clock, fam = MemoryDatabase(), FixedEpochClock(EPOCH), declare()
    async with operated(db, clock, [("w1", "wid-1", 2, fam.all())]) as eng:
        p = await trigger(eng, "parent")
        assert (await eng.call("wait_run", p))["status"] == "COMPLETED"
        spawner = await task_id_of(eng, p)
        alone = await eng.call("get_run_timings", p, 0)
        assert [(t["name"], t["depth"]) for t in alone["tasks"]] == [("spawn", 0)]
        assert alone["truncated"] is False and alone["status"] == "COMPLETED"
        deep = await eng.call("get_run_timings", p, 2)
        assert [(t["name"], t["depth"], t["workflow"]) for t in deep["tasks"]] == [
            ("spawn", 0, "parent"),
            ("step", 1, "job"),
        ]
        child = deep["tasks"][1]
        assert child["parent_task_id"] == spawner and child["run_id"] != p
        for row in deep["tasks"]:
            assert row["queued_at"] <= row["started_at"] <= row["finished_at"]
        assert await eng.call("get_run_timings", "nope") is None


async def test_a_task_reads_with_each_of_its_attempts_and_its_timeline(autojump_clock):
    db, clock, fam = MemoryDatabase(), FixedEpochClock(EPOCH), declare()
    async with operated(db, clock, [("w1", "wid-1", 2, fam.all())]) as eng:
        run_id = await trigger(eng, "flaky")
        assert (await eng.call("wait_run", run_id))["status"] == "COMPLETED"
        task_id = await task_id_of(eng, run_id)
        task = await eng.call("get_task", task_id)
        assert (task["status"], task["attempts"], task["output"], task["workflow"]) == (
            "COMPLETED",
            [1, 2],
            "second try",
            "flaky",
        )
        assert task["attempt_details"]["attempt"] == 2 and task["attempt_details"]["worker_name"] == "w1"
        first = (await eng.call("get_task", task_id, 1))["attempt_details"]
        assert first["status"] == "FAILED" and "first try fails" in first["error"]["message"]
        with pytest.raises(ActorError, match=r"has no attempt 3; its attempts are \[1, 2\]"):
            await eng.call("get_task", task_id, 3)
        events = await eng.call("list_task_events", task_id)
        kinds = [e["kind"] for e in events]
        assert kinds[0] == "QUEUED" and kinds[-1] == "COMPLETED" and "RETRYING" in kinds
        later = await eng.call("list_task_events", task_id, {"after_seq": events[1]["seq"], "limit": 2})
        assert later == events[2:4]
        assert await eng.call("get_task", "nope") is None
        assert await eng.call("list_task_events", "nope") is None


# -- garbage ---------------------------------------------------------------------------------------

NOT_IDS = [None, 3, "", "x" * 201, ["a"]]
BAD_METRICS = [3, "x", [], {"bogus": 1}, {"since": "yesterday"}, {"until": 5.0}, {"since": 5.0, "until": 1.0}]
BAD_LIST_RUNS = [
    {"worker_id": ""},
    {"metadata_match": "some"},
    {"offset": -1},
    {"workflow_ids": "job"},
    {"triggering_event_id": 5},
    {"limit": True},
    {"parent_task_id": ""},
    {"until": float("nan")},
]
BAD_BULK = [
    {"ids": ["a"], "filter": {"since": 1.0}},
    {"filter": {}},
    {"ids": [""]},
    {"filter": {"since": 1.0, "statuses": ["NOPE"]}},
    {"filter": {"since": 1.0, "metadata_match": "x"}},
    {"filter": {"since": 1.0, "workflow_ids": ["x" * 201]}},
    {"ids": ["a"] * 10_001},
    {"bogus": []},
]
WORKFLOW_METHODS = ("get_workflow", "list_workflow_versions", "pause_workflow", "unpause_workflow")
GARBAGE = [
    *[(m, (g,)) for m in ("get_worker", "pause_worker", "resume_worker") for g in NOT_IDS],
    *[(m, (g,)) for m in WORKFLOW_METHODS for g in NOT_IDS],
    *[("queue_metrics", (g,)) for g in [*BAD_METRICS, {"since": float("nan")}, {"since": float("inf")}]],
    *[("get_run_timings", args) for args in [(None,), ("r", -1), ("r", 11), ("r", True), ("r", "1")]],
    *[("get_task", args) for args in [(None,), ("", 1), ("t", 0), ("t", True), ("t", "1"), ("t", 1.5)]],
    *[("list_task_events", args) for args in [(None,), ("t", 3), ("t", {"limit": 0}), ("t", {"x": 1})]],
    ("list_task_events", ("t", {"after_seq": -1})),
    *[("list_workers", (g,)) for g in [3, "all", {"include_inactive": "yes"}, {"bogus": True}]],
    *[("list_workflows", (g,)) for g in [3, {"limit": 0}, {"name_contains": ""}, {"offset": -1}]],
    *[("list_runs", (g,)) for g in BAD_LIST_RUNS],
    *[(m, (g,)) for m in ("cancel_runs", "replay_runs") for g in BAD_BULK],
]


@pytest.mark.parametrize(("method", "args"), GARBAGE, ids=lambda v: repr(v)[:50])
async def test_garbage_is_refused_with_a_clear_error_and_changes_nothing(autojump_clock, method, args):
    db, clock, fam = MemoryDatabase(), FixedEpochClock(EPOCH), declare()
    async with operated(db, clock, [("w1", "wid-1", 1, fam.all())]) as eng:
        held = await trigger(eng, "job", {"hold": True})
        await trio.sleep(1)
        with pytest.raises(ActorError) as info:
            await eng.call(method, *args)
        assert info.value.error_type == "ratchet._contract.protocol.RequestError"
        message = info.value.error_message
        assert message and "\n" not in message and "Traceback" not in message
        assert await status_of(eng, held) == "RUNNING"
        assert await eng.store.list_pauses("default") == []
        assert await eng.store.list_pauses("default", kind=PauseKind.WORKFLOW) == []
        fam.gate.set()
        assert (await eng.call("wait_run", held))["status"] == "COMPLETED"
