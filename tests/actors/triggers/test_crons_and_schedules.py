"""Crons and one-time schedules in virtual time: on their ticks, once, across engines and restarts."""

from __future__ import annotations

import itertools

import pytest
import trio
from engine_harness import EPOCH, engine, runs_of

from ratchet import Ratchet
from ratchet.actors.store import MemoryDatabase
from ratchet.runtime import ActorError, FixedEpochClock


def _workflows(crons=("* * * * *",)):
    r = Ratchet()
    wf = r.workflow("ticker", on_crons=list(crons), cron_input={"from": "cron"}, input_validator=dict)

    @wf.task()
    async def tick(inp, ctx):
        return inp

    other = r.workflow("later", input_validator=dict)

    @other.task()
    async def run_later(inp, ctx):
        return inp

    return wf, other


async def test_a_declared_cron_fires_once_per_tick_with_its_input(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    wf, _ = _workflows()
    async with engine(db, clock, [wf]) as eng:
        await trio.sleep(10 * 60 + 1)
        runs = await runs_of(eng.store, "ticker")
        assert [r.idempotency_key.rsplit(":", 1)[1] for r in runs] == [
            str(int(EPOCH) + 60 * i) for i in range(1, 11)
        ]
        assert all(r.input == {"from": "cron"} for r in runs)
        for r in runs:  # each started on its tick, not late
            assert 0 <= r.created_at - int(r.idempotency_key.rsplit(":", 1)[1]) < 1
        (cron,) = await eng.call("list_crons", "ticker")
        assert cron["name"] == "on_crons:* * * * *" and cron["last_fired_at"] == EPOCH + 600


async def test_two_engines_on_one_database_fire_each_tick_once(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    wf, _ = _workflows(["*/10 * * * * *"])  # every 10 seconds
    async with engine(db, clock, [wf], seed=1) as first:
        async with engine(db, clock, [wf], seed=2) as second:
            await trio.sleep(605)
            fires = [e.actor("triggers").trigger_statistics().cron_fires for e in (first, second)]
            runs = await runs_of(first.store, "ticker")
    ticks = [int(r.idempotency_key.rsplit(":", 1)[1]) for r in runs]
    assert len(ticks) == len(set(ticks)) == sum(fires)
    assert ticks == sorted(ticks) and all(b - a == 10 for a, b in itertools.pairwise(ticks))
    assert len(ticks) == 60 and all(fires)  # both engines fired some ticks


async def test_ticks_missed_while_the_engine_was_down_fire_once_when_it_returns(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    wf, _ = _workflows(["*/5 * * * *"])
    async with engine(db, clock, [wf]) as eng:
        await trio.sleep(5 * 60 + 1)  # fires the tick at +5 min
        assert len(await runs_of(eng.store, "ticker")) == 1
    await trio.sleep(30 * 60)  # down for the ticks at +10 ... +35 min
    async with engine(db, clock, [wf]) as eng:
        await trio.sleep(1)
        runs = await runs_of(eng.store, "ticker")
        ticks = [int(r.idempotency_key.rsplit(":", 1)[1]) - int(EPOCH) for r in runs]
        assert ticks == [5 * 60, 35 * 60]  # the latest missed tick only
        await trio.sleep(5 * 60)
        assert len(await runs_of(eng.store, "ticker")) == 3  # and on schedule again


async def test_created_crons_are_listed_fire_and_are_deleted(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    _, later = _workflows()
    async with engine(db, clock, [later]) as eng:
        cron = await eng.call(
            "create_cron",
            {"workflow": "later", "name": "hourly", "expression": "@hourly", "input": {"x": 1}},
        )
        assert cron["expression"] == "0 * * * *" and cron["next_fire_at"] == EPOCH + 3600
        assert await eng.call("get_cron", cron["id"]) == cron
        await trio.sleep(2 * 3600 + 1)
        assert [r.input for r in await runs_of(eng.store, "later")] == [{"x": 1}, {"x": 1}]
        assert await eng.call("delete_cron", cron["id"]) is True
        await trio.sleep(2 * 3600)
        assert len(await runs_of(eng.store, "later")) == 2
        assert await eng.call("list_crons", None) == []
        assert await eng.call("get_cron", cron["id"]) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "Bad minute"),
        ("* * *", "3 fields"),
        ("@sometimes", "unknown alias"),
        ("0 0 31 2 *", "Bad day-of-month"),
        ("", "at least 1 character"),
    ],
)
async def test_a_bad_cron_string_is_refused_and_nothing_is_stored(autojump_clock, expression, message):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    _, later = _workflows()
    async with engine(db, clock, [later]) as eng:
        with pytest.raises(ActorError, match=message):
            await eng.call("create_cron", {"workflow": "later", "name": "x", "expression": expression})
        with pytest.raises(ActorError, match="unknown workflow 'nope'"):
            await eng.call("create_cron", {"workflow": "nope", "name": "x", "expression": "@daily"})
        await eng.call("create_cron", {"workflow": "later", "name": "x", "expression": "@daily"})
        with pytest.raises(ActorError, match="already has a cron named 'x'"):
            await eng.call("create_cron", {"workflow": "later", "name": "x", "expression": "@daily"})
        assert len(await eng.store.list_crons("default")) == 1


async def test_a_schedule_fires_within_a_second_of_its_time(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    _, later = _workflows()
    async with engine(db, clock, [later]) as eng:
        s = await eng.call(
            "create_schedule", {"workflow": "later", "trigger_at": EPOCH + 3600, "input": {"a": 1}}
        )
        assert s["status"] == "PENDING"
        await trio.sleep(3599)
        assert await runs_of(eng.store, "later") == []
        await trio.sleep(2)
        (run,) = await runs_of(eng.store, "later")
        assert run.input == {"a": 1} and 0 <= run.created_at - (EPOCH + 3600) < 1
        fired = await eng.call("get_schedule", s["id"])
        assert fired["status"] == "FIRED" and fired["run_id"] == run.id


async def test_schedules_are_moved_and_deleted_before_they_fire(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    _, later = _workflows()
    async with engine(db, clock, [later]) as eng:
        moved = await eng.call("create_schedule", {"workflow": "later", "trigger_at": EPOCH + 60})
        dropped = await eng.call("create_schedule", {"workflow": "later", "trigger_at": EPOCH + 60})
        assert await eng.call("update_schedule", moved["id"], EPOCH + 600) is True
        assert await eng.call("delete_schedule", dropped["id"]) is True
        await trio.sleep(120)
        assert await runs_of(eng.store, "later") == []
        await trio.sleep(600)
        assert len(await runs_of(eng.store, "later")) == 1
        assert await eng.call("update_schedule", moved["id"], EPOCH + 9000) is False  # fired already
        assert await eng.call("delete_schedule", dropped["id"]) is False
        statuses = sorted(s["status"] for s in await eng.call("list_schedules", {"workflow": "later"}))
        assert statuses == ["CANCELLED", "FIRED"]


async def test_a_schedule_due_while_the_engine_was_down_fires_when_it_returns(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    _, later = _workflows()
    async with engine(db, clock, [later]) as eng:
        await eng.call("create_schedule", {"workflow": "later", "trigger_at": EPOCH + 60})
    await trio.sleep(3600)
    async with engine(db, clock, [later]) as eng:
        await trio.sleep(1)
        assert len(await runs_of(eng.store, "later")) == 1


@pytest.mark.parametrize(
    ("trigger_at", "message"),
    [
        (EPOCH - 2 * 86400, "more than a day in the past"),
        (float("nan"), "more than a day in the past"),
        (EPOCH + 200 * 365 * 86400, "more than 100 years away"),
        ("tomorrow", "trigger_at"),
    ],
)
async def test_bad_schedule_times_are_refused(autojump_clock, trigger_at, message):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    _, later = _workflows()
    async with engine(db, clock, [later]) as eng:
        with pytest.raises(ActorError, match=message):
            await eng.call("create_schedule", {"workflow": "later", "trigger_at": trigger_at})
        with pytest.raises(ActorError, match=message):
            s = await eng.call("create_schedule", {"workflow": "later", "trigger_at": EPOCH + 5})
            await eng.call("update_schedule", s["id"], trigger_at)
        assert len(await eng.store.list_schedules("default")) <= 1


async def test_a_new_version_with_another_cron_input_replaces_the_declared_cron(autojump_clock):
    from ratchet._worker.worker import WorkerActor, WorkerConfig

    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    first, _ = _workflows()
    r = Ratchet()
    second = r.workflow("ticker", on_crons=["* * * * *"], cron_input={"from": "v2"}, input_validator=dict)

    @second.task()
    async def tick(inp, ctx):
        return inp

    async with engine(db, clock, [first]) as eng:
        await trio.sleep(61)
        config = WorkerConfig(name="w2", workflows=[second], threads=False)
        ref = await eng.system.spawn(WorkerActor, config, eng.gateway, name="worker:w2")
        await ref.wait_registered.ask()
        await trio.sleep(120)
        runs = await runs_of(eng.store, "ticker")
        (cron,) = await eng.call("list_crons", "ticker")
    assert [r.input for r in runs] == [{"from": "cron"}, {"from": "v2"}, {"from": "v2"}]
    ticks = [r.idempotency_key.rsplit(":", 1)[1] for r in runs]
    assert len(set(ticks)) == 3 and cron["input"] == {"from": "v2"}
