"""The sliding-window rate limiter: in any interval of ``duration``, admitted units <= limit.

Random request streams (times, units, several keys) go through the limiter; every unit it
admits is checked against the window rule by the pure checker the simulation uses. Also:
a key's waiters learn the exact moment they could start, fixed windows' boundary bursts
are refused, a persisted log restores to the same decisions, and the log stays small.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.actors.scheduling._rate_limits import (
    Blocked,
    Granted,
    RateLimiter,
    RateNeed,
    Refused,
    SlidingWindow,
)
from ratchet.simulation._flow_invariants import rate_window_violations

gaps = st.floats(min_value=0, max_value=3, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    limit=st.integers(1, 10),
    duration=st.sampled_from([0.5, 1.0, 2.5, 60.0]),
    resolution=st.sampled_from([1, 4, 256]),
    requests=st.lists(st.tuples(gaps, st.integers(1, 4)), max_size=120),
)
def test_any_window_admits_at_most_the_limit(
    limit: int, duration: float, resolution: int, requests: list[tuple[float, int]]
) -> None:
    window = SlidingWindow(limit, duration, resolution=resolution)
    now = 0.0
    admitted = []
    for gap, units in requests:
        now += gap
        if window.try_acquire(units, now):
            admitted.append((now, "k", units))
        assert window.used(now) <= limit
        assert len(window.entries()) <= resolution + 1
    assert rate_window_violations(admitted, {"k": (limit, duration)}) == []


@settings(max_examples=300, deadline=None)
@given(
    limit=st.integers(1, 10),
    duration=st.sampled_from([1.0, 7.0]),
    requests=st.lists(st.tuples(gaps, st.integers(1, 4)), max_size=60),
    units=st.integers(1, 12),
)
def test_next_free_is_the_exact_moment_units_fit(
    limit: int, duration: float, requests: list[tuple[float, int]], units: int
) -> None:
    window = SlidingWindow(limit, duration)
    now = 0.0
    for gap, u in requests:
        now += gap
        window.try_acquire(u, now)
    at = window.next_free(units, now)
    if units > limit:
        assert at == math.inf
        return
    assert at >= now
    if at > now:
        probe = SlidingWindow(limit, duration)
        probe.restore(window.entries())
        assert not probe.try_acquire(units, math.nextafter(at, -math.inf))
    assert window.try_acquire(units, at)


def test_fixed_window_boundary_burst_is_refused() -> None:
    # 10 per minute: 10 at 59.9s and 10 more at 60.1s would pass fixed windows (20 in 0.2s)
    window = SlidingWindow(10, 60.0)
    assert all(window.try_acquire(1, 59.9) for _ in range(10))
    assert not window.try_acquire(1, 60.1)
    assert window.next_free(1, 60.1) == pytest.approx(119.9)
    assert window.try_acquire(1, 119.9)


def test_sustained_demand_gets_nearly_the_limit() -> None:
    # merging admissions costs at most one resolution step per window, not throughput
    window = SlidingWindow(100, 1.0, resolution=256)
    admitted = 0
    for step in range(10_000):
        if window.try_acquire(1, step * 0.001):
            admitted += 1
    assert admitted >= 100 * 9  # ten windows


@settings(max_examples=100, deadline=None)
@given(
    requests=st.lists(st.tuples(gaps, st.integers(1, 3)), max_size=60),
    later=st.lists(st.tuples(gaps, st.integers(1, 3)), max_size=30),
)
def test_a_restored_log_decides_the_same(
    requests: list[tuple[float, int]], later: list[tuple[float, int]]
) -> None:
    original = SlidingWindow(5, 2.0, resolution=8)
    now = 0.0
    for gap, units in requests:
        now += gap
        original.try_acquire(units, now)
    restored = SlidingWindow(5, 2.0, resolution=8)
    restored.restore(original.entries())
    for gap, units in later:
        now += gap
        assert original.try_acquire(units, now) == restored.try_acquire(units, now)


def used(limiter: RateLimiter, now: float) -> dict[str, int]:
    windows = {k: limiter.get_window(k) for k in "abc"}
    return {k: w.used(now) if w is not None else 0 for k, w in windows.items()}


@settings(max_examples=200, deadline=None)
@given(
    requests=st.lists(
        st.tuples(
            gaps, st.lists(st.tuples(st.sampled_from("abc"), st.integers(1, 3)), min_size=1, max_size=3)
        ),
        max_size=80,
    )
)
def test_several_keys_are_taken_all_or_nothing(requests: list[tuple[float, list[tuple[str, int]]]]) -> None:
    limits = {"a": (3, 1.0), "b": (5, 2.0)}
    limiter = RateLimiter()
    limiter.put("a", *limits["a"])
    limiter.put("b", *limits["b"])
    now = 0.0
    facts = []
    for gap, wanted in requests:
        now += gap
        needs = []
        for key, units in dict(wanted).items():
            # "c" is dynamic: its limit travels with each need
            needs.append(RateNeed(key, units, 4, 1.5) if key == "c" else RateNeed(key, units))
        before = used(limiter, now)
        result = limiter.try_acquire(needs, now)
        if isinstance(result, Granted):
            facts += [(now, n.key, n.units) for n in needs]
        else:
            assert isinstance(result, Blocked) and result.at > now
            assert used(limiter, now) == before  # nothing taken
    assert rate_window_violations(facts, {**limits, "c": (4, 1.5)}) == []


def test_undeclared_static_keys_and_oversized_requests_are_refused() -> None:
    limiter = RateLimiter()
    refusal = limiter.check([RateNeed("openai", 1)])
    assert isinstance(refusal, Refused) and "ratchet.rate_limits.put('openai'" in refusal.message
    limiter.put("openai", 5, 60)
    assert limiter.check([RateNeed("openai", 1)]) is None
    assert "over its limit of 5" in limiter.check([RateNeed("openai", 6)]).message
    assert "over its limit of 2" in limiter.check([RateNeed("user-1", 3, 2, 1.0)]).message


def test_a_lowered_limit_blocks_for_ever_until_raised() -> None:
    limiter = RateLimiter()
    limiter.put("k", 5, 1.0)
    need = [RateNeed("k", 4)]
    assert isinstance(limiter.try_acquire(need, 0.0), Granted)
    limiter.put("k", 3, 1.0)
    assert limiter.try_acquire(need, 5.0) == Blocked("k", math.inf)
    limiter.put("k", 4, 1.0)
    assert isinstance(limiter.try_acquire(need, 5.0), Granted)


def test_idle_dynamic_windows_are_forgotten() -> None:
    limiter = RateLimiter()
    limiter.put("static", 1, 1.0)
    for user in range(100):
        limiter.try_acquire([RateNeed(f"user-{user}", 1, 1, 1.0)], 0.0)
    limiter.try_acquire([RateNeed("static", 1)], 0.0)
    assert len(limiter) == 101
    assert len(limiter.forget_idle(10.0)) == 100
    assert len(limiter) == 1


@pytest.mark.parametrize(("limit", "duration"), [(0, 1.0), (1, 0.0), (-1, 1.0), (1, -5.0)])
def test_bad_limits_are_programming_errors(limit: int, duration: float) -> None:
    with pytest.raises(ValueError, match="limit must be >= 1"):
        RateLimiter().put("k", limit, duration)
