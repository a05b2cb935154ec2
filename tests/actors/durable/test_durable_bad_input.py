"""Bad durable calls and declarations get clear errors and record nothing."""

from __future__ import annotations

import pytest
from engine_harness import EPOCH, engine

from ratchet import DefinitionError, DurableContext, Ratchet, SleepCondition, UserEventCondition, or_
from ratchet.actors.store import MemoryDatabase
from ratchet.runtime import ActorError, FixedEpochClock


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((5, 0, "now", "now", None), "not a task run id"),
        (("t", -1, "now", "now", None), "seq must be"),
        (("t", 0, "teleport", "x", None), "unknown kind"),
        (("t", 0, "sleep", "s", {"seconds": -5}), "a sleep lasts 0 to 366 days"),
        (("t", 0, "sleep", "s", {"until": float("nan")}), "epoch seconds"),
        (("t", 0, "event", "k", {"expression": "input.("}), "bad CEL expression"),
        (("t", 0, "event", "", {}), "an event key"),
        (("t", 0, "event", "k", {"lookback": -1}), "lookback_window"),
        (("t", 0, "conditions", "k", {"groups": []}), "at least one condition"),
        (("t", 0, "conditions", "k", {"groups": [[{"kind": "teleport"}]]}), "unknown condition kind"),
        (
            (
                "t",
                0,
                "conditions",
                "k",
                {"groups": [[{"kind": "event", "event_key": "e", "expression": "1 +"}]]},
            ),
            "bad CEL",
        ),
        (("t", 0, "spawn", "wf", {"workflow": "wf", "items": []}), "1 to 10000 items"),
        (("t", 0, "wait_runs", "r", {"run_ids": [1, 2]}), "list of run ids"),
        (("t", 0, "now", "now", None, -1), "wait must be"),
    ],
)
async def test_malformed_durable_calls_are_refused_and_log_nothing(autojump_clock, args, message):
    db, clock = MemoryDatabase(), FixedEpochClock(EPOCH)
    async with engine(db, clock, []) as eng:
        with pytest.raises(ActorError, match=message):
            await eng.call("durable_step", *args)
        assert await eng.store.read_durable_log("default", "t") == []


def test_durable_declarations_are_checked():
    r = Ratchet()
    with pytest.raises(DefinitionError, match="must be an async function"):

        @r.durable_task()
        def sync_durable(inp, ctx):
            return None

    wf = r.workflow("w")
    with pytest.raises(DefinitionError, match="eviction_delay"):
        wf.durable_task(eviction_delay=-1)


_OVER_THE_CAP = r"eviction_delay must be from 0 to 3600 seconds"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # a waiting call holds the attempt, whose execution timeout keeps running
        ({"eviction_delay": 600}, r"eviction_delay \(600s\) must be shorter .*execution_timeout \(60s\)"),
        ({"eviction_delay": 30, "execution_timeout": 30}, r"shorter than .*execution_timeout \(30s\)"),
        ({"eviction_delay": 7200, "execution_timeout": 9000}, _OVER_THE_CAP),
        ({"eviction_delay": "3h", "execution_timeout": "4h"}, _OVER_THE_CAP),
    ],
)
def test_an_eviction_delay_no_durable_call_could_use_is_refused_at_declaration(options, message):
    r = Ratchet()
    wf = r.workflow("patient")

    async def wait(inp, ctx):
        return None

    with pytest.raises(DefinitionError, match=rf"workflow 'patient'.*{message}"):
        wf.durable_task(**options)(wait)
    with pytest.raises(DefinitionError, match=message):
        r.durable_task(name="alone", **options)(wait)
    assert wf.tasks == {} and "alone" not in r.workflows


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ((), "at least one condition"),
        (("soon",), "is not a condition"),
        ((SleepCondition(-3),), "must be"),
        ((UserEventCondition("e", "input.("),), "bad CEL expression"),
        ((or_(),), "must be a non-empty list"),
    ],
)
async def test_bad_wait_conditions_fail_in_the_task_before_anything_is_logged(conditions, message):
    ctx = DurableContext.__new__(DurableContext)
    ctx._seq = 0
    with pytest.raises(DefinitionError, match=message):
        await ctx.aio_wait_for("k", *conditions)
    assert ctx._seq == 0
