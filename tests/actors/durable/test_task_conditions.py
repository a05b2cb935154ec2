"""DAG tasks with conditions in virtual time: wait_for, skip_if, cancel_if, across a crash."""

from __future__ import annotations

import pytest
import trio
from engine_harness import EPOCH, engine
from hypothesis import given
from hypothesis import strategies as st

from ratchet import (
    Context,
    DefinitionError,
    ParentCondition,
    Ratchet,
    SleepCondition,
    UserEventCondition,
    or_,
)
from ratchet.actors.store import MemoryDatabase
from ratchet.runtime import FixedEpochClock


async def trigger(eng, workflow, input=None):
    (answer,) = await eng.call("trigger", [{"workflow": workflow, "input": input}])
    return answer["run_id"]


def tasks(details):
    return {t["name"]: t for t in details["tasks"]}


def assigned_at(task):
    return next(e["at"] for e in task["events"] if e["kind"] == "ASSIGNED")


def gated_workflow():
    r = Ratchet()
    wf = r.workflow("gated", input_validator=dict)

    @wf.task()
    async def first(inp, ctx):
        return {"n": inp["n"]}

    @wf.task(parents=[first], wait_for=[SleepCondition(3600)])
    async def after_an_hour(inp, ctx):
        return "late"

    @wf.task(parents=[first], skip_if=[ParentCondition(first, "output.n > 5")])
    async def small_only(inp, ctx):
        return "small"

    @wf.task(parents=[small_only])
    async def report(inp, ctx: Context):
        return {"skipped": ctx.was_skipped(small_only), "saw": ctx.task_output(small_only)}

    @wf.task(
        parents=[first],
        wait_for=[or_(SleepCondition(7200), UserEventCondition("go", "input.run == true"))],
        cancel_if=[UserEventCondition("abort")],
    )
    async def on_signal(inp, ctx):
        return "signalled"

    return wf


async def test_wait_for_holds_a_task_back_and_skip_if_skips_it(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    wf = gated_workflow()
    async with engine(db, clock, [wf]) as eng:
        big = await trigger(eng, "gated", {"n": 10})
        small = await trigger(eng, "gated", {"n": 1})
        await trio.sleep(60)
        await eng.call("push_events", [{"key": "go", "payload": {"run": True}}])
        big_details = await eng.call("wait_run", big, None)
        small_details = await eng.call("wait_run", small, None)
    t = tasks(big_details)
    assert big_details["status"] == "COMPLETED"
    assert assigned_at(t["after_an_hour"]) - EPOCH >= 3600
    assert t["small_only"]["output"] == {"skipped": True}
    assert [e["kind"] for e in t["small_only"]["events"]] == ["CREATED", "SKIPPED"]
    assert t["report"]["output"] == {"skipped": True, "saw": {"skipped": True}}
    assert 60 <= assigned_at(t["on_signal"]) - EPOCH < 61  # the "go" event, not the 2 h sleep
    assert tasks(small_details)["report"]["output"] == {"skipped": False, "saw": "small"}


async def test_cancel_if_cancels_a_waiting_task_and_its_run(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    wf = gated_workflow()
    async with engine(db, clock, [wf]) as eng:
        run = await trigger(eng, "gated", {"n": 1})
        await trio.sleep(30)
        await eng.call("push_events", [{"key": "go", "payload": {"run": False}}])  # not accepted
        await eng.call("push_events", [{"key": "abort", "payload": {}}])
        details = await eng.call("wait_run", run, None)
    t = tasks(details)
    reason = "task 'on_signal' met its cancel_if conditions"
    assert (details["status"], details["error"]) == ("CANCELLED", reason)
    assert (t["on_signal"]["status"], t["on_signal"]["cancel_reason"]) == ("CANCELLED", reason)
    assert t["on_signal"]["events"][-1]["message"] == reason
    assert t["after_an_hour"]["status"] == "COMPLETED"


async def test_a_waiting_sleep_condition_counts_from_its_start_across_an_engine_crash(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    wf = gated_workflow()
    async with engine(db, clock, [wf]) as eng:
        run = await trigger(eng, "gated", {"n": 1})
        await trio.sleep(1800)
    await trio.sleep(600)
    async with engine(db, clock, [wf]) as eng:
        await eng.call("push_events", [{"key": "go", "payload": {"run": True}}])
        details = await eng.call("wait_run", run, None)
    t = tasks(details)
    assert details["status"] == "COMPLETED"
    assert 3600 <= assigned_at(t["after_an_hour"]) - EPOCH < 3602


def test_bad_conditions_are_refused_at_declaration():
    r = Ratchet()
    wf = r.workflow("bad")

    @wf.task()
    async def a(inp, ctx):
        return 1

    @wf.task()
    async def b(inp, ctx):
        return 2

    with pytest.raises(DefinitionError, match="not one of its parents"):
        wf.task(parents=[a], skip_if=[ParentCondition(b, "output > 1")])(lambda i, c: None)
    with pytest.raises(DefinitionError, match="bad CEL expression"):
        wf.task(parents=[a], skip_if=[ParentCondition(a, "output >")])(lambda i, c: None)
    with pytest.raises(DefinitionError, match="is not a condition"):
        wf.task(wait_for=["tomorrow"])(lambda i, c: None)
    with pytest.raises(DefinitionError, match="SleepCondition duration must be"):
        wf.task(wait_for=[SleepCondition(-1)])(lambda i, c: None)
    with pytest.raises(DefinitionError, match="event_key"):
        wf.task(wait_for=[UserEventCondition("")])(lambda i, c: None)
    with pytest.raises(DefinitionError, match="non-empty list"):
        wf.task(cancel_if=[or_()])(lambda i, c: None)
    assert sorted(wf.tasks) == ["a", "b"]


options = st.fixed_dictionaries(
    {},
    optional={
        o: st.integers(1, 3).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1))))
        for o in ("wait_for", "skip_if", "cancel_if")
    },
)


@given(options)
def test_a_gate_settles_by_cancel_then_skip_then_run(drawn):
    from ratchet.actors.runs._machine import gate_decision

    request = {o: {"groups": [[{}]] * n, "satisfied": sorted(s)} for o, (n, s) in drawn.items()}
    done = {o: len(s) == n for o, (n, s) in drawn.items()}
    if done.get("cancel_if"):
        expected = "cancel"
    elif done.get("skip_if"):
        expected = "skip"
    elif "wait_for" not in drawn or done["wait_for"]:
        expected = "run"
    else:
        expected = None
    assert gate_decision(request) == expected
