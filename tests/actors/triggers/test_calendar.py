"""The Calendar, the pure part of crons and schedules: decisions out, no actor, no clock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratchet._contract.cron import CronError
from ratchet._contract.status import ScheduleStatus
from ratchet.actors.store import CreateCron, DeleteCron
from ratchet.actors.store import Cron as CronRow
from ratchet.actors.store import Schedule as ScheduleRow
from ratchet.actors.triggers._crons import (
    DECLARED_CRON_PREFIX,
    ArmTimer,
    Calendar,
    TriggerError,
    mirror_declared_crons,
)

T = "tenant"
EPOCH = 1_700_000_040.0  # a whole minute


@dataclass
class Spec:
    on_crons: tuple[str, ...] = ()
    cron_input: Any = None
    default_priority: int = 1


@dataclass
class Wf:
    id: str
    spec: Spec


def cron(id: str = "c1", expression: str = "* * * * *", *, created_at: float = EPOCH, **kw: Any) -> CronRow:
    values = dict(
        tenant_id=T,
        id=id,
        workflow_id="wf1",
        name="every-minute",
        expression=expression,
        input={"x": 1},
        additional_metadata={"m": 1},
        priority=2,
        enabled=1,
        created_at=created_at,
        last_fired_at=None,
    )
    return CronRow(**{**values, **kw})


def schedule(id: str = "s1", trigger_at: float = EPOCH + 30) -> ScheduleRow:
    return ScheduleRow(T, id, "wf1", trigger_at, {"y": 2}, None, 1, ScheduleStatus.PENDING, None, EPOCH)


def calendar() -> Calendar:
    cal = Calendar(T)
    cal.workflow_names = {"wf1": "ticker"}
    return cal


def ids(prefix: str = "id") -> Any:
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"


# -- declared crons ------------------------------------------------------------------------------


def test_a_declared_cron_without_a_row_is_created_with_the_workflows_input_and_priority() -> None:
    wf = Wf("wf1", Spec(("*/5 * * * *",), {"from": "cron"}, 3))
    (create,) = mirror_declared_crons(T, [wf], [], EPOCH, ids())
    assert isinstance(create, CreateCron)
    assert (create.id, create.name, create.input, create.priority) == (
        "id1",
        DECLARED_CRON_PREFIX + "*/5 * * * *",
        {"from": "cron"},
        3,
    )


def test_a_declared_cron_already_stored_as_declared_needs_nothing() -> None:
    wf = Wf("wf1", Spec(("* * * * *",), {"x": 1}, 2))
    row = cron(name=DECLARED_CRON_PREFIX + "* * * * *")
    assert mirror_declared_crons(T, [wf], [row], EPOCH, ids()) == []


def test_a_declared_cron_whose_input_changed_is_replaced() -> None:
    wf = Wf("wf1", Spec(("* * * * *",), {"x": 2}, 2))
    row = cron(name=DECLARED_CRON_PREFIX + "* * * * *")
    delete, create = mirror_declared_crons(T, [wf], [row], EPOCH, ids())
    assert delete == DeleteCron(tenant_id=T, id="c1")
    assert isinstance(create, CreateCron) and create.input == {"x": 2}


def test_a_declared_row_no_workflow_declares_any_more_is_deleted_but_api_crons_stay() -> None:
    declared = cron("c1", name=DECLARED_CRON_PREFIX + "* * * * *")
    made_by_api = cron("c2", name="nightly")
    assert mirror_declared_crons(T, [Wf("wf1", Spec())], [declared, made_by_api], EPOCH, ids()) == [
        DeleteCron(tenant_id=T, id="c1")
    ]


# -- arming and firing crons ---------------------------------------------------------------------


def test_adopting_a_new_cron_arms_its_next_tick() -> None:
    cal = calendar()
    effects = cal.adopt_crons([cron()], EPOCH + 10)
    assert effects.cancel == [] and effects.fire == []
    assert effects.arm == [ArmTimer(("cron", "c1"), EPOCH + 60, "cron_due", ("c1", EPOCH + 60))]
    assert set(cal.crons) == {"c1"}


def test_adopting_a_cron_that_missed_ticks_fires_only_the_latest_once() -> None:
    cal = calendar()
    effects = cal.adopt_crons([cron(created_at=EPOCH)], EPOCH + 185)
    assert effects.fire == [("c1", EPOCH + 180)]
    assert cal.adopt_crons([cron(created_at=EPOCH)], EPOCH + 185).fire == []  # known: not again


def test_adopting_a_cron_whose_latest_tick_fired_fires_nothing() -> None:
    effects = calendar().adopt_crons([cron(last_fired_at=EPOCH + 180)], EPOCH + 185)
    assert effects.fire == []


def test_a_cron_gone_from_the_store_is_dropped_and_its_timer_cancelled() -> None:
    cal = calendar()
    cal.adopt_crons([cron("c1"), cron("c2")], EPOCH)
    effects = cal.adopt_crons([cron("c2")], EPOCH)
    assert effects.cancel == [("cron", "c1")] and effects.arm == []
    assert set(cal.crons) == {"c2"}


def test_a_late_timer_fires_the_latest_missed_tick_and_arms_the_one_after_now() -> None:
    cal = calendar()
    cal.adopt_crons([cron()], EPOCH)
    effects = cal.cron_due("c1", int(EPOCH) + 60, EPOCH + 150)
    assert effects.fire == [("c1", EPOCH + 120)]
    assert effects.arm == [ArmTimer(("cron", "c1"), EPOCH + 180, "cron_due", ("c1", EPOCH + 180))]


def test_a_timer_of_a_deleted_cron_does_nothing() -> None:
    cal = calendar()
    cal.adopt_crons([cron()], EPOCH)
    assert cal.cron_deleted("c1").cancel == [("cron", "c1")]
    effects = cal.cron_due("c1", int(EPOCH) + 60, EPOCH + 60)
    assert (effects.fire, effects.arm) == ([], [])
    assert cal.cron_firing("c1", int(EPOCH) + 60) is None


def test_a_ticks_run_is_keyed_by_workflow_cron_name_and_tick() -> None:
    cal = calendar()
    cal.adopt_crons([cron()], EPOCH)
    firing = cal.cron_firing("c1", int(EPOCH) + 60)
    assert firing is not None
    request, record = firing
    assert request.idempotency_key == f"cron:wf1:every-minute:{int(EPOCH) + 60}"
    assert (request.workflow, request.input, request.priority) == ("ticker", {"x": 1}, 2)
    assert (record.id, record.fired_at, record.previous) == ("c1", int(EPOCH) + 60, None)


def test_a_fired_tick_is_remembered_and_counted() -> None:
    cal = calendar()
    cal.adopt_crons([cron()], EPOCH)
    cal.cron_fired("c1", int(EPOCH) + 60, ["run-1"])
    cal.cron_fired("c1", int(EPOCH) + 120, ["unknown workflow 'ticker'"])
    assert cal.crons["c1"].last_fired_at == EPOCH + 120
    assert cal.cron_fires == 1


@given(
    st.integers(min_value=0, max_value=7 * 86400),
    st.sampled_from(["* * * * *", "*/7 * * * *", "0 9 * * 1-5"]),
)
def test_a_due_cron_fires_a_tick_not_after_now_and_arms_one_after_now(offset: int, expression: str) -> None:
    cal = calendar()
    now = EPOCH + offset
    cal.adopt_crons([cron(expression=expression)], EPOCH)
    effects = cal.cron_due("c1", int(EPOCH), now)
    ((_, tick),) = effects.fire
    (timer,) = effects.arm
    assert EPOCH <= tick <= max(now, EPOCH) < timer.wall


def test_a_cron_of_the_same_name_in_the_workflow_is_refused() -> None:
    cal = calendar()
    cal.adopt_crons([cron()], EPOCH)
    wf = Wf("wf1", Spec())
    with pytest.raises(TriggerError, match="already has a cron named 'every-minute'"):
        cal.cron_to_create(wf, "ticker", "every-minute", "* * * * *", None, {}, None, EPOCH, ids())
    with pytest.raises(CronError):
        cal.cron_to_create(wf, "ticker", "other", "not a cron", None, {}, None, EPOCH, ids())
    made = cal.cron_to_create(wf, "ticker", "other", "*/2 * * * *", None, {}, None, EPOCH, ids())
    assert (made.id, made.priority) == ("id1", 1)


# -- schedules -----------------------------------------------------------------------------------


def test_a_schedule_is_armed_at_its_time_and_fires_once_with_its_key() -> None:
    cal = calendar()
    effects = cal.schedule_added(schedule())
    assert effects.arm == [ArmTimer(("schedule", "s1"), EPOCH + 30, "schedule_due", ("s1", EPOCH + 30))]
    row = cal.schedule_due("s1", EPOCH + 30)
    assert row is not None
    firing = cal.schedule_firing(row, ids("run"))
    assert firing is not None
    request, fire = firing
    assert (request.idempotency_key, request.run_id, fire.run_id) == ("schedule:s1", "run1", "run1")
    cal.schedule_fired("s1")
    assert cal.schedules == {} and cal.schedules_fired == 1


def test_a_moved_schedule_ignores_its_old_timer() -> None:
    cal = calendar()
    cal.schedule_added(schedule())
    effects = cal.schedule_moved("s1", EPOCH + 90, moved=True)
    assert effects.arm == [ArmTimer(("schedule", "s1"), EPOCH + 90, "schedule_due", ("s1", EPOCH + 90))]
    assert cal.schedule_due("s1", EPOCH + 30) is None
    assert cal.schedule_due("s1", EPOCH + 90) is not None


def test_a_schedule_the_store_did_not_move_is_not_rearmed() -> None:
    cal = calendar()
    cal.schedule_added(schedule())
    assert cal.schedule_moved("s1", EPOCH + 90, moved=False).arm == []
    assert cal.schedule_due("s1", EPOCH + 30) is not None


def test_a_deleted_schedule_cancels_its_timer_and_never_fires() -> None:
    cal = calendar()
    cal.schedule_added(schedule())
    assert cal.schedule_deleted("s1").cancel == [("schedule", "s1")]
    assert cal.schedule_due("s1", EPOCH + 30) is None


def test_a_schedule_of_an_unknown_workflow_does_not_fire_nor_draw_a_run_id() -> None:
    cal = Calendar(T)
    drawn: list[str] = []
    assert cal.schedule_firing(schedule(), lambda: drawn.append("x") or "x") is None
    assert drawn == []
    assert cal.describe_schedule(schedule())["workflow"] == "wf1"


# -- disabled crons ------------------------------------------------------------------------------


def test_a_disabled_cron_has_no_timer_fires_nothing_and_shows_no_next_tick() -> None:
    cal = calendar()
    cal.disabled.add("c1")
    effects = cal.adopt_crons([cron(created_at=EPOCH)], EPOCH + 185)  # missed ticks too
    assert (effects.fire, effects.arm) == ([], [])
    assert cal.cron_due("c1", int(EPOCH) + 240, EPOCH + 240).fire == []
    assert cal.cron_firing("c1", int(EPOCH) + 240) is None
    described = cal.describe_cron(cal.crons["c1"], EPOCH + 185)
    assert described["enabled"] is False and described["next_fire_at"] is None


def test_disabling_cancels_the_timer_and_enabling_arms_the_next_tick_only() -> None:
    cal = calendar()
    cal.adopt_crons([cron()], EPOCH)
    assert cal.cron_disabled("c1").cancel == [("cron", "c1")]
    skipped = cal.ticks_skipped("c1", EPOCH + 185)
    assert skipped is not None and (skipped.fired_at, skipped.previous) == (EPOCH + 180, None)
    cal.ticks_skipped_recorded(skipped)
    assert cal.ticks_skipped("c1", EPOCH + 185) is None  # nothing passed since
    effects = cal.cron_enabled("c1", EPOCH + 185)
    assert effects.fire == []
    assert effects.arm == [ArmTimer(("cron", "c1"), EPOCH + 240, "cron_due", ("c1", EPOCH + 240))]
    assert cal.describe_cron(cal.crons["c1"], EPOCH + 185)["enabled"] is True


def test_run_now_is_an_unkeyed_run_with_the_crons_input_and_unknown_crons_have_none() -> None:
    cal = calendar()
    cal.adopt_crons([cron()], EPOCH)
    request = cal.run_now("c1")
    assert request is not None and request.idempotency_key is None
    assert (request.workflow, request.input, request.additional_metadata, request.priority) == (
        "ticker",
        {"x": 1},
        {"m": 1},
        2,
    )
    assert cal.run_now("nope") is None
    assert cal.ticks_skipped("nope", EPOCH) is None
