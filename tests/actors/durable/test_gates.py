"""DAG-task gates, piece by piece: wait ids, the arming helper, a gate's decision, the log positions."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ratchet._contract.conditions import ConditionSet
from ratchet.actors.durable import _log as dl
from ratchet.actors.durable._gates import ConditionArming, Gate, WaitId

SLEEP = {"kind": "sleep", "seconds": 5.0}
EVENT = {"kind": "event", "event_key": "order:paid", "expression": "true", "scope": None}


class Recorder:
    """Stands in for an actor ref: records every ``ref.method.tell(*args)``."""

    def __init__(self, name: str, told: list[tuple[str, str, tuple[Any, ...]]]) -> None:
        self._name = name
        self._told = told

    def __getattr__(self, method: str) -> Any:
        recorder = self

        class _Method:
            def tell(self, *args: Any) -> None:
                recorder._told.append((recorder._name, method, args))

        return _Method()


def arming() -> tuple[ConditionArming, list[tuple[str, str, tuple[Any, ...]]]]:
    told: list[tuple[str, str, tuple[Any, ...]]] = []

    def timer_at(key: Any, wall: float, method: str, *args: Any) -> None:
        told.append(("timer_at", method, (key, wall, *args)))

    timers: Any = Recorder("timers", told)  # stand-ins for actor refs
    triggers: Any = Recorder("triggers", told)
    target: Any = Recorder("target", told)
    helper = ConditionArming(timers=timers, triggers=triggers, target=target, timer_at=timer_at)
    return helper, told


def test_a_wait_id_names_its_condition_without_text_to_parse() -> None:
    wait = WaitId("task-1", -2, "skip_if", 1, 0)
    assert (wait.task_id, wait.seq, wait.option, wait.group, wait.condition) == (
        "task-1",
        -2,
        "skip_if",
        1,
        0,
    )
    assert WaitId("task-1", 3) == ("task-1", 3, None, 0, 0)
    assert wait.timer_key() == ("condition", "task-1", -2, "skip_if", 1, 0)
    assert len({wait, WaitId("task-1", -2, "wait_for", 1, 0)}) == 2


def test_arming_a_condition_set_starts_its_sleeps_and_event_waits_from_since() -> None:
    helper, told = arming()
    sets = {"wait_for": ConditionSet([[SLEEP], [EVENT, SLEEP]])}
    helper.arm("t", -1, sets, 100.0, sleep_method="gate_due", event_method="gate_event")
    first, second = WaitId("t", -1, "wait_for", 0, 0), WaitId("t", -1, "wait_for", 1, 0)
    third = WaitId("t", -1, "wait_for", 1, 1)
    assert told[0] == ("timer_at", "gate_due", (first.timer_key(), 105.0, first, 5.0))
    name, method, args = told[1]
    assert (name, method) == ("triggers", "add_wait")
    assert args[:5] == (second, "order:paid", "true", None, 100.0) and args[6] == "gate_event"
    assert told[2] == ("timer_at", "gate_due", (third.timer_key(), 105.0, third, 5.0))
    assert len(told) == 3


def test_disarming_cancels_exactly_what_arming_armed_in_one_message_each() -> None:
    helper, told = arming()
    sets: dict[str | None, ConditionSet] = {None: ConditionSet([[SLEEP, EVENT], [EVENT]])}
    helper.disarm("t", 4, sets)
    assert told == [
        ("timers", "cancel_many", ([WaitId("t", 4, None, 0, 0).timer_key()],)),
        ("triggers", "cancel_waits", ([WaitId("t", 4, None, 0, 1), WaitId("t", 4, None, 1, 0)],)),
    ]


def test_disarming_a_set_of_parent_conditions_only_sends_nothing() -> None:
    helper, told = arming()
    helper.disarm("t", -1, {"skip_if": ConditionSet([[{"kind": "parent", "parent": "a"}]])})
    assert told == []


def test_a_gate_decides_cancel_before_skip_before_run() -> None:
    request = {
        option: {"groups": [[SLEEP]], "satisfied": []} for option in ("wait_for", "skip_if", "cancel_if")
    }
    gate = Gate.from_request(request)
    assert gate.decision() is None
    gate.sets["wait_for"].satisfy(0, {"sleep": 5.0})
    assert gate.decision() == "run"
    gate.sets["skip_if"].satisfy(0, {"sleep": 5.0})
    assert gate.decision() == "skip"
    gate.sets["cancel_if"].satisfy(0, {"sleep": 5.0})
    assert gate.decision() == "cancel"


def test_groups_the_parents_satisfied_count_at_once() -> None:
    gate = Gate.from_request({"skip_if": {"groups": [[{"kind": "parent"}], [SLEEP]], "satisfied": [0, 1]}})
    assert gate.decision() == "skip"


@given(st.integers(min_value=1, max_value=10_000))
def test_a_gate_takes_a_negative_log_position_per_attempt(attempt: int) -> None:
    seq = dl.gate_seq(attempt)
    assert dl.is_gate_seq(seq) and seq == -attempt
    assert not dl.is_gate_seq(attempt - 1)  # every durable call's position
