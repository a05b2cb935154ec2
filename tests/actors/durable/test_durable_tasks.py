"""Durable tasks in virtual time: sleeps and waits without a slot, replay, crashes mid-wait."""

from __future__ import annotations

import trio
from engine_harness import EPOCH, engine

from ratchet import DurableContext, Ratchet
from ratchet.actors.store import MemoryDatabase
from ratchet.runtime import FixedEpochClock


async def wait_run(eng, run_id):
    return await eng.call("wait_run", run_id, None)


async def trigger(eng, workflow, input=None):
    (answer,) = await eng.call("trigger", [{"workflow": workflow, "input": input}])
    return answer["run_id"]


def sleeper(calls):
    r = Ratchet()

    @r.durable_task(execution_timeout=60)
    async def nap(inp, ctx: DurableContext):
        calls.append(("start", ctx.attempt_number))
        started = await ctx.aio_now()
        await ctx.aio_sleep_for(3600)
        woke = await ctx.aio_now()
        calls.append(("woke", ctx.attempt_number))
        return {"slept": (woke - started).total_seconds()}

    return nap


async def test_a_durable_sleep_evicts_the_task_and_replays_without_sleeping_twice(autojump_clock):
    calls: list = []
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    nap = sleeper(calls)
    async with engine(db, clock, [nap], slots=1) as eng:
        run_id = await trigger(eng, "nap")
        await trio.sleep(60)
        (task,) = await eng.store.list_tasks("default", run_id)
        assert task.status == "EVICTED"  # waiting, holding no slot
        assert eng.actor("scheduler").scheduler_statistics().free_slots == 1
        details = await wait_run(eng, run_id)
        assert details["status"] == "COMPLETED"
        assert 3600 <= details["output"]["nap"]["slept"] < 3602
    assert calls == [("start", 1), ("start", 2), ("woke", 2)]
    kinds = [e["kind"] for e in details["tasks"][0]["events"]]
    assert "EVICTED" in kinds and "RESUMED" in kinds and kinds[-1] == "COMPLETED"


async def test_an_engine_crash_mid_sleep_resumes_without_duplicating_anything(autojump_clock):
    calls: list = []
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    nap = sleeper(calls)
    async with engine(db, clock, [nap]) as eng:
        run_id = await trigger(eng, "nap")
        await trio.sleep(600)
    await trio.sleep(600)  # the engine is down for 10 minutes of the hour
    async with engine(db, clock, [nap]) as eng:
        details = await wait_run(eng, run_id)
        assert details["status"] == "COMPLETED"
        assert 3600 <= details["output"]["nap"]["slept"] < 3602
        log = await eng.store.read_durable_log("default", details["tasks"][0]["task_id"])
        assert [(e.seq, e.kind) for e in log] == [(0, "now"), (1, "sleep"), (2, "now")]
    assert calls.count(("woke", 1)) + calls.count(("woke", 2)) + calls.count(("woke", 3)) == 1


def waiter(seen):
    r = Ratchet()

    @r.durable_task()
    async def approve(inp, ctx: DurableContext):
        seen.append("start")
        event = await ctx.aio_wait_for_event("approval", "input.ok == true", lookback_window=30)
        return {"by": event["payload"]["by"], "event": event["id"]}

    return approve


async def test_a_durable_event_wait_returns_the_same_event_on_replay(autojump_clock):
    seen: list = []
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    approve = waiter(seen)
    async with engine(db, clock, [approve]) as eng:
        run_id = await trigger(eng, "approve")
        await trio.sleep(120)
        await eng.call("push_events", [{"key": "approval", "payload": {"ok": False, "by": "mallory"}}])
        (pushed,) = await eng.call(
            "push_events", [{"key": "approval", "payload": {"ok": True, "by": "alice"}}]
        )
        details = await wait_run(eng, run_id)
    assert details["output"]["approve"] == {"by": "alice", "event": pushed["id"]}
    assert seen == ["start", "start"]  # evicted while waiting, replayed once


async def test_an_event_pushed_just_before_the_wait_is_not_missed(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    approve = waiter([])
    async with engine(db, clock, [approve]) as eng:
        await eng.call("push_events", [{"key": "approval", "payload": {"ok": True, "by": "early"}}])
        await trio.sleep(10)
        run_id = await trigger(eng, "approve")
        details = await wait_run(eng, run_id)
    assert details["output"]["approve"]["by"] == "early"


async def test_an_engine_crash_mid_event_wait_finds_the_event_pushed_meanwhile(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    seen: list = []
    approve = waiter(seen)
    async with engine(db, clock, [approve]) as eng:
        run_id = await trigger(eng, "approve")
        await trio.sleep(60)
    async with engine(db, clock, []) as eng:  # no worker: the event arrives meanwhile
        await eng.call("push_events", [{"key": "approval", "payload": {"ok": True, "by": "bob"}}])
    async with engine(db, clock, [approve]) as eng:
        details = await wait_run(eng, run_id)
    assert details["output"]["approve"]["by"] == "bob"


def orchestrator(spawned):
    r = Ratchet()
    page = r.workflow("page", input_validator=dict)

    @page.task()
    async def parse(inp, ctx):
        spawned.append(inp["n"])
        return inp["n"] * 2

    @r.durable_task(input_validator=dict)
    async def fan(inp, ctx: DurableContext):
        outs = await page.aio_run_many([page.create_bulk_run_item({"n": n}) for n in range(inp["pages"])])
        await ctx.aio_sleep_for(60)
        single = await page.aio_run({"n": 100})
        return {"sum": sum(o["parse"] for o in outs), "single": single["parse"]}

    return page, fan


async def test_children_spawned_by_a_durable_task_are_not_spawned_again_on_replay(autojump_clock):
    spawned: list = []
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    page, fan = orchestrator(spawned)
    async with engine(db, clock, [page, fan]) as eng:
        run_id = await trigger(eng, "fan", {"pages": 5})
        details = await wait_run(eng, run_id)
        assert details["output"]["fan"] == {"sum": 20, "single": 200}
        children = await eng.call("list_runs", {"parent_task_id": details["tasks"][0]["task_id"]})
    assert sorted(spawned) == [0, 1, 2, 3, 4, 100]  # each child ran once
    assert len(children) == 6


async def test_a_worker_crash_mid_wait_resumes_on_another_worker_without_duplicates(autojump_clock):
    from ratchet._worker.worker import WorkerActor, WorkerConfig

    spawned: list = []
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    page, fan = orchestrator(spawned)
    async with engine(db, clock, [page, fan]) as eng:
        run_id = await trigger(eng, "fan", {"pages": 3})
        await trio.sleep(30)  # children done, the parent sleeps (evicted)
        await eng.system.root.terminate_child("worker:w")
        config = WorkerConfig(name="w2", workflows=[page, fan], slots=10, threads=False)
        await eng.system.spawn(WorkerActor, config, eng.gateway, name="worker:w2")
        details = await wait_run(eng, run_id)
    assert details["output"]["fan"] == {"sum": 6, "single": 200}
    assert sorted(spawned) == [0, 1, 2, 100]


def conditional():
    r = Ratchet()

    @r.durable_task(input_validator=dict)
    async def gate(inp, ctx: DurableContext):
        from ratchet import SleepCondition, UserEventCondition, or_

        got = await ctx.aio_wait_for(
            "gate",
            or_(SleepCondition(inp["timeout"]), UserEventCondition("go", "input.n > 1")),
            UserEventCondition("ready"),
        )
        return got

    return gate


async def test_aio_wait_for_waits_for_every_group_and_any_condition_of_an_or(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    gate = conditional()
    async with engine(db, clock, [gate]) as eng:
        fast = await trigger(eng, "gate", {"timeout": 3600})
        slow = await trigger(eng, "gate", {"timeout": 100})
        await trio.sleep(10)
        await eng.call("push_events", [{"key": "go", "payload": {"n": 5}}])
        await eng.call("push_events", [{"key": "ready", "payload": {"r": 1}}])
        first = await wait_run(eng, fast)
        second = await wait_run(eng, slow)
    go, ready = first["output"]["gate"]
    assert go["event"]["payload"] == {"n": 5} and ready["event"]["payload"] == {"r": 1}
    # the event "go" came at +10 s, before the 100 s timeout: it satisfies the or_ too
    assert second["output"]["gate"][0]["event"]["payload"] == {"n": 5}


async def test_a_replay_that_diverges_fails_with_non_determinism_naming_the_entry(autojump_clock):
    r = Ratchet()
    runs: list = []

    @r.durable_task()
    async def fickle(inp, ctx: DurableContext):
        runs.append(1)
        if len(runs) == 1:
            await ctx.aio_sleep_for(60)
        else:
            await ctx.aio_wait_for_event("something")
        return "never"

    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    async with engine(db, clock, [fickle]) as eng:
        run_id = await trigger(eng, "fickle")
        details = await wait_run(eng, run_id)
    assert details["status"] == "FAILED"
    error = details["tasks"][0]["error"]
    assert error["type"] == "ratchet.NonDeterminismError"
    assert (
        "entry 0 of the log is sleep('for 60s') but the replay asked for event('something')"
        in error["message"]
    )


async def test_a_failed_child_raises_in_its_durable_parent_on_every_replay(autojump_clock):
    from ratchet import FailedTaskRunExceptionGroup

    r = Ratchet()
    flaky = r.workflow("flaky", input_validator=dict)
    failures: list = []

    @flaky.task()
    async def explode(inp, ctx):
        failures.append(1)
        raise ValueError(f"page {inp['n']} is unreadable")

    @r.durable_task()
    async def parent(inp, ctx: DurableContext):
        try:
            await flaky.aio_run({"n": 7})
        except FailedTaskRunExceptionGroup as group:
            caught = [f"{e.task_name}: {e.exc_type}: {e.message}" for e in group.exceptions]
        await ctx.aio_sleep_for(60)  # evicted: the replay must catch the same failure again
        return caught

    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    async with engine(db, clock, [flaky, parent]) as eng:
        details = await wait_run(eng, await trigger(eng, "parent"))
    assert details["output"]["parent"] == ["explode: ValueError: page 7 is unreadable"]
    assert failures == [1]  # the child ran once; the replay read its logged outcome
