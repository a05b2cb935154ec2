"""Crons disabled and enabled, and run on request, in virtual time: a disabled cron fires
nothing for hours, stays disabled across an engine restart, and fires again once enabled."""

from __future__ import annotations

import pytest
import trio
from engine_harness import EPOCH, engine, runs_of

from ratchet import Ratchet
from ratchet.actors.store import MemoryDatabase
from ratchet.runtime import ActorError, FixedEpochClock


def _workflows():
    r = Ratchet()
    ticker = r.workflow("ticker", on_crons=["*/5 * * * *"], cron_input={"from": "cron"}, input_validator=dict)

    @ticker.task()
    async def tick(inp, ctx):
        return inp

    later = r.workflow("later", input_validator=dict)

    @later.task()
    async def run_later(inp, ctx):
        return inp

    return ticker, later


async def _hourly(eng):
    return await eng.call(
        "create_cron",
        {
            "workflow": "later",
            "name": "hourly",
            "expression": "@hourly",
            "input": {"x": 1},
            "additional_metadata": {"team": "ops"},
        },
    )


async def test_a_disabled_cron_fires_nothing_for_hours_and_fires_again_once_enabled(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    _, later = _workflows()
    async with engine(db, clock, [later]) as eng:
        cron = await _hourly(eng)
        assert cron["enabled"] is True
        disabled = await eng.call("pause_cron", cron["id"])
        assert disabled["enabled"] is False and disabled["next_fire_at"] is None
        assert await eng.call("pause_cron", cron["id"]) == disabled  # again: no change
        await trio.sleep(5 * 3600 + 1)
        assert await runs_of(eng.store, "later") == []
        enabled = await eng.call("resume_cron", cron["id"])
        assert enabled["enabled"] is True and enabled["next_fire_at"] == EPOCH + 6 * 3600
        await trio.sleep(3600)
        runs = await runs_of(eng.store, "later")  # the next tick only: none of the skipped ones
        assert [r.idempotency_key.rsplit(":", 1)[1] for r in runs] == [str(int(EPOCH) + 6 * 3600)]


async def test_a_declared_cron_stays_disabled_across_a_restart_and_its_missed_ticks_never_fire(
    autojump_clock,
):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    ticker, _ = _workflows()
    async with engine(db, clock, [ticker]) as eng:
        (cron,) = await eng.call("list_crons", "ticker")
        await eng.call("pause_cron", cron["id"])
    await trio.sleep(3600)  # down, then up again: still disabled
    async with engine(db, clock, [ticker]) as eng:
        await trio.sleep(3600)
        assert await runs_of(eng.store, "ticker") == []
        assert (await eng.call("get_cron", cron["id"]))["enabled"] is False
        await eng.call("resume_cron", cron["id"])
    async with engine(db, clock, [ticker]) as eng:  # enabled is kept across a restart too
        await trio.sleep(5 * 60 + 1)
        assert len(await runs_of(eng.store, "ticker")) == 1
        assert (await eng.call("get_cron", cron["id"]))["enabled"] is True


async def test_run_now_starts_one_run_with_the_crons_input_each_time_even_when_disabled(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    _, later = _workflows()
    async with engine(db, clock, [later]) as eng:
        cron = await _hourly(eng)
        await eng.call("pause_cron", cron["id"])
        first = await eng.call("run_cron_now", cron["id"])
        second = await eng.call("run_cron_now", cron["id"])
        assert first["run_id"] != second["run_id"]
        runs = await runs_of(eng.store, "later")
        assert sorted(r.id for r in runs) == sorted([first["run_id"], second["run_id"]])
        assert all(r.input == {"x": 1} and r.additional_metadata == {"team": "ops"} for r in runs)
        assert (await eng.call("get_cron", cron["id"]))["last_fired_at"] is None  # not a tick


async def test_a_deleted_cron_leaves_no_pause_behind(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    _, later = _workflows()
    async with engine(db, clock, [later]) as eng:
        cron = await _hourly(eng)
        await eng.call("pause_cron", cron["id"])
        assert await eng.call("delete_cron", cron["id"]) is True
        assert await eng.store.list_pauses("default", kind="cron") == []


@pytest.mark.parametrize("method", ["pause_cron", "resume_cron", "run_cron_now"])
@pytest.mark.parametrize("cron_id", [None, "", 7, ["a"], "x" * 10_000])
async def test_garbage_cron_ids_are_refused_and_change_nothing(autojump_clock, method, cron_id):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    _, later = _workflows()
    async with engine(db, clock, [later]) as eng:
        cron = await _hourly(eng)
        with pytest.raises(ActorError, match=method):
            await eng.call(method, cron_id)
        assert await eng.call(method, "no-such-cron") is None
        assert await eng.call("get_cron", cron["id"]) == cron
        assert await runs_of(eng.store, "later") == []
        assert await eng.store.list_pauses("default") == []
