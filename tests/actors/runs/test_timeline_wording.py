"""Rewording any message the engine or the worker writes changes no recorded timeline.

Runs that time out (noticed by the engine's timer, or by the worker's watchdog alone),
time out in the queue, retry, get skipped, get cancelled (by a parent's failure, by a
cancel_if condition, by request) and sleep durably (evicted, then resumed) are played in
virtual time twice: with the messages as written, and with every one reworded. The
sequence of :class:`TaskEventKind` the store records for each task is the same.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from engine_harness import EPOCH, engine

from ratchet import DurableContext, ParentCondition, Ratchet, UserEventCondition
from ratchet._contract import codes
from ratchet._worker import executor
from ratchet.actors.runs import _coordinator, _machine
from ratchet.actors.store import MemoryDatabase
from ratchet.runtime import FixedEpochClock

REWORDED = {
    (_machine, "EXECUTION_TIMEOUT_MESSAGE"): "reworded: over {timeout:g} seconds",
    (executor, "EXECUTION_TIMEOUT_MESSAGE"): "reworded: watchdog fired after {timeout:g} seconds",
    (codes, "EXECUTION_TIMEOUT_MESSAGE"): "reworded: no time left ({timeout:g})",
    (_machine, "SCHEDULE_TIMEOUT_MESSAGE"): "reworded: {task} queued over {timeout:g} seconds",
    (_machine, "WORKER_LOST_MESSAGE"): "reworded: {times} workers gone",
    (_machine, "CANCEL_IF_MESSAGE"): "reworded: {task} called off",
    (_machine, "PARENT_ENDED_MESSAGE"): "reworded: {parent} went {status}",
}


def workflows() -> list[Any]:
    r = Ratchet()

    @r.task(execution_timeout="5s")
    async def too_slow(inp, ctx):
        await trio.sleep(3600)

    @r.task(execution_timeout="5s", retries=1)
    async def slow_once(inp, ctx):
        if ctx.attempt_number == 1:
            await trio.sleep(3600)
        return "second time"

    @r.task(retries=1)
    async def flaky(inp, ctx):
        if ctx.attempt_number == 1:
            raise ValueError("first attempt fails")
        return "fine"

    @r.task()
    async def hog(inp, ctx):
        await trio.sleep(120)

    @r.task(schedule_timeout="10s")
    async def impatient(inp, ctx):
        return "never runs"

    @r.durable_task()
    async def nap(inp, ctx: DurableContext):
        await ctx.aio_sleep_for(3600)
        return "rested"

    dag = r.workflow("dag", input_validator=dict)

    @dag.task()
    async def first(inp, ctx):
        if inp.get("fail"):
            raise ValueError("first failed")
        return {"n": inp.get("n", 0)}

    @dag.task(parents=[first], skip_if=[ParentCondition(first, "output.n > 5")])
    async def small_only(inp, ctx):
        return "small"

    @dag.task(
        parents=[first], wait_for=[UserEventCondition("never")], cancel_if=[UserEventCondition("abort")]
    )
    async def on_signal(inp, ctx):
        return "signalled"

    @dag.task(parents=[small_only])
    async def after(inp, ctx):
        return "after"

    return [too_slow, slow_once, flaky, hog, impatient, nap, dag]


async def timelines() -> tuple[dict[str, dict[str, list[str]]], str | None]:
    """Play every run; per run (named by what it does), each task's recorded event kinds;
    and the message of the execution timeout that failed ``too_slow``."""
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    async with engine(db, clock, workflows(), slots=1) as eng:

        async def trigger(workflow: str, input: Any = None) -> str:
            (answer,) = await eng.call("trigger", [{"workflow": workflow, "input": input}])
            return answer["run_id"]

        runs: dict[str, str] = {}
        for name in ("too_slow", "slow_once", "flaky", "nap"):
            runs[name] = await trigger(name)
            await eng.call("wait_run", runs[name], None)
        runs["hog"] = await trigger("hog")  # holds the one slot for two minutes
        runs["impatient"] = await trigger("impatient")
        await eng.call("wait_run", runs["impatient"], None)
        await eng.call("wait_run", runs["hog"], None)
        runs["skip"] = await trigger("dag", {"n": 10})
        runs["parent failed"] = await trigger("dag", {"fail": True})
        await eng.call("wait_run", runs["parent failed"], None)
        await trio.sleep(60)
        await eng.call("push_events", [{"key": "abort", "payload": {}}])
        await eng.call("wait_run", runs["skip"], None)
        runs["cancelled"] = await trigger("dag", {"n": 1})
        await trio.sleep(60)
        await eng.call("cancel_runs", [runs["cancelled"]])
        await eng.call("wait_run", runs["cancelled"], None)
        out = {}
        for label, run_id in runs.items():
            names = {t.id: t.name for t in await eng.store.list_tasks("default", run_id)}
            kinds: dict[str, list[str]] = {}
            for e in await eng.store.list_task_events("default", run_id=run_id):
                kinds.setdefault(names[e.task_id], []).append(str(e.kind))
            out[label] = kinds
        events = await eng.store.list_task_events("default", run_id=runs["too_slow"])
        return out, events[-1].message


@pytest.fixture(params=[False, True], ids=["engine-timer", "worker-watchdog"])
def watchdog_only(request, monkeypatch) -> bool:
    """With True, the engine's own execution timer is ignored: only the worker's report of
    its watchdog can time an attempt out."""
    if request.param:
        timer_fired = _coordinator.RunCoordinator.timer_fired

        def without_execution_timeouts(self, task_id: str, attempt: int, kind: str) -> None:
            if kind != _machine.TimerKind.EXECUTION_TIMEOUT.value:
                timer_fired(self, task_id, attempt, kind)

        monkeypatch.setattr(_coordinator.RunCoordinator, "timer_fired", without_execution_timeouts)
    return request.param


async def test_rewording_every_message_changes_no_recorded_timeline(
    autojump_clock, monkeypatch, watchdog_only
):
    as_written, _ = await timelines()
    for (module, name), text in REWORDED.items():
        assert hasattr(module, name), f"{module.__name__} has no {name}"
        monkeypatch.setattr(module, name, text)
    reworded, timeout_message = await timelines()
    assert reworded == as_written
    by = "watchdog fired" if watchdog_only else "over 5 seconds"
    assert timeout_message is not None and by in timeout_message  # who noticed the timeout

    def kinds(label: str, task: str) -> list[str]:
        return as_written[label][task]

    assert kinds("too_slow", "too_slow")[-1] == "TIMED_OUT"
    assert "RETRYING" in kinds("slow_once", "slow_once")
    assert kinds("slow_once", "slow_once")[-1] == "COMPLETED"
    assert "RETRYING" in kinds("flaky", "flaky")
    assert kinds("impatient", "impatient")[-1] == "SCHEDULE_TIMED_OUT"
    assert "EVICTED" in kinds("nap", "nap") and "RESUMED" in kinds("nap", "nap")
    assert kinds("skip", "small_only")[-1] == "SKIPPED"
    assert kinds("skip", "on_signal")[-1] == "CANCELLED"  # its cancel_if event
    assert kinds("parent failed", "small_only")[-1] == "CANCELLED"  # its parent failed
    assert kinds("cancelled", "on_signal")[-1] == "CANCELLED"  # by request
