"""Deleting a static rate limit through the gateway, in virtual time: a task waiting for room
on the key fails with a message that says why; the other keys keep working."""

from __future__ import annotations

import pytest
import trio
from engine_harness import EPOCH, engine

from ratchet import Ratchet, RateLimit
from ratchet.actors.store import MemoryDatabase
from ratchet.runtime import ActorError, FixedEpochClock


def _limited():
    r = Ratchet()
    wf = r.workflow("limited", input_validator=dict)

    @wf.task(rate_limits=[RateLimit(static_key="partner", units=1)])
    async def call(inp, ctx):
        return inp

    return wf


async def test_a_task_waiting_on_a_deleted_key_fails_saying_so(autojump_clock):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    async with engine(db, clock, [_limited()]) as eng:
        await eng.call("put_rate_limit", "partner", 1, "HOUR")
        await eng.call("put_rate_limit", "kept", 3, "MINUTE")
        started = await eng.call("trigger", [{"workflow": "limited", "input": {"n": i}} for i in range(2)])
        first, second = (s["run_id"] for s in started)
        assert (await eng.call("wait_run", first))["status"] == "COMPLETED"
        await trio.sleep(60)  # the second waits an hour for room on the key
        assert (await eng.call("get_run", second))["status"] != "COMPLETED"
        assert await eng.call("delete_rate_limit", "partner") is True
        failed = await eng.call("wait_run", second)
        assert failed["status"] == "FAILED"
        assert "rate limit key 'partner' was deleted" in str(failed)
        assert await eng.call("list_rate_limits") == [{"key": "kept", "limit": 3, "duration": "MINUTE"}]
        assert await eng.call("delete_rate_limit", "partner") is False


@pytest.mark.parametrize("key", [None, "", 7, ["k"], "x" * 201, "a\x00b"])
async def test_garbage_keys_are_refused_and_change_nothing(autojump_clock, key):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    async with engine(db, clock) as eng:
        await eng.call("put_rate_limit", "partner", 1, "HOUR")
        with pytest.raises(ActorError, match="delete_rate_limit: rate limit key"):
            await eng.call("delete_rate_limit", key)
        assert await eng.call("list_rate_limits") == [{"key": "partner", "limit": 1, "duration": "HOUR"}]
