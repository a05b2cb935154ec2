"""Restart intensity against a reference model, alone and inside a live supervisor.

The reference model is the OTP rule written the obvious way: a restart at time ``now``
is allowed iff fewer than ``max_restarts`` accepted restarts happened in the half-open
window ``(now - within, now]``. Times are drawn as integers (and windows as integers) so
that float rounding at the window's edge cannot make the model and the code disagree
about a tie.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.runtime import (
    Actor,
    RestartIntensity,
    SupervisorEscalation,
    open_runtime,
    run_deterministic,
)


def reference_decisions(times: list[float], max_restarts: int, within: float) -> list[bool]:
    """For each failure time, whether a restart is allowed (rejected ones are not recorded)."""
    accepted: list[float] = []
    decisions = []
    for now in times:
        recent = [t for t in accepted if now - t < within]
        allowed = len(recent) < max_restarts
        if allowed:
            accepted.append(now)
        decisions.append(allowed)
    return decisions


failure_times = st.lists(st.integers(min_value=0, max_value=60), max_size=30).map(sorted)
limits = st.integers(min_value=0, max_value=5)
windows = st.integers(min_value=1, max_value=20)


@settings(max_examples=100, deadline=None)
@given(times=failure_times, max_restarts=limits, within=windows)
def test_try_restart_agrees_with_the_reference_model(
    times: list[int], max_restarts: int, within: int
) -> None:
    intensity = RestartIntensity(max_restarts, float(within))
    decisions = [intensity.try_restart(float(t)) for t in times]
    assert decisions == reference_decisions(times, max_restarts, within)
    accepted = [t for t, ok in zip(times, decisions, strict=True) if ok]
    for start in accepted:
        in_window = [t for t in accepted if start <= t < start + within]
        assert len(in_window) <= max_restarts


def test_try_restart_with_zero_max_restarts_always_refuses() -> None:
    intensity = RestartIntensity(0, 1.0)
    assert [intensity.try_restart(t) for t in (0.0, 10.0, 100.0)] == [False, False, False]
    assert intensity.recent == 0


def test_restart_intensity_rejects_a_negative_limit_and_a_non_positive_window() -> None:
    with pytest.raises(ValueError, match="max_restarts"):
        RestartIntensity(-1, 1.0)
    with pytest.raises(ValueError, match="within"):
        RestartIntensity(1, 0.0)
    with pytest.raises(ValueError, match="within"):
        RestartIntensity(1, float("nan"))


class Crasher(Actor):
    """Crashes when told to, logging each crash's index and each birth's virtual time."""

    def __init__(self, births: list[float], crashes: list[int]) -> None:
        births.append(trio.current_time())
        self.crashes = crashes

    def crash(self, index: int) -> None:
        self.crashes.append(index)
        raise RuntimeError(f"scheduled failure #{index}")


async def drive_failures(
    times: list[int], max_restarts: int, within: int, births: list[float], crashes: list[int]
) -> None:
    async with open_runtime(seed=0, max_restarts=max_restarts, within=float(within)) as system:
        ref = await system.spawn(Crasher, births, crashes, name="crasher")
        for index, at in enumerate(times):
            await trio.sleep_until(at)
            ref.crash.tell(index)
        # Let the last failure be handled before the runtime stops gracefully.
        await trio.testing.wait_all_tasks_blocked()


@settings(max_examples=100, deadline=None)
@given(times=failure_times, max_restarts=limits, within=windows, seed=st.integers(0, 2**32 - 1))
def test_live_supervisor_escalates_exactly_where_the_reference_model_says(
    times: list[int], max_restarts: int, within: int, seed: int
) -> None:
    decisions = reference_decisions(times, max_restarts, within)
    expected_escalation = decisions.index(False) if False in decisions else None
    births: list[float] = []
    crashes: list[int] = []
    escalated = False
    try:
        run_deterministic(drive_failures, times, max_restarts, within, births, crashes, seed=seed)
    except SupervisorEscalation as exc:
        escalated = True
        assert (exc.supervisor, exc.child) == ("root", "crasher")

    if expected_escalation is None:
        assert not escalated
        assert crashes == list(range(len(times)))
        assert births == [0.0] + [float(t) for t in times]
    else:
        assert escalated
        assert crashes == list(range(expected_escalation + 1))
        assert births == [0.0] + [float(t) for t in times[:expected_escalation]]
    restarts = births[1:]
    for start in restarts:
        assert len([t for t in restarts if start <= t < start + within]) <= max_restarts
