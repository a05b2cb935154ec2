"""The token bucket of tenants' rates, by its properties: what it admits over any stretch of
time, that a refusal takes nothing, and that retry_after is exact."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratchet.actors.limits import TokenBucket

rates = st.floats(min_value=0.01, max_value=10_000, allow_nan=False, allow_infinity=False)
bursts = st.integers(min_value=1, max_value=10_000)
# (gap since the previous request in seconds, units asked)
requests = st.lists(
    st.tuples(st.floats(min_value=0, max_value=5, allow_nan=False), st.integers(min_value=1, max_value=50)),
    max_size=60,
)


@given(rates, bursts, requests)
def test_admitted_units_never_exceed_burst_plus_rate_times_elapsed(rate, burst, asks) -> None:
    bucket = TokenBucket(rate, burst, 0.0)
    now, admitted = 0.0, 0
    for gap, units in asks:
        now += gap
        if bucket.take(units, now):
            admitted += units
        assert admitted <= burst + rate * now + 1e-6
        assert 0.0 <= bucket.tokens(now) <= burst


@given(rates, bursts, requests)
def test_a_refused_request_takes_nothing(rate, burst, asks) -> None:
    bucket = TokenBucket(rate, burst, 0.0)
    now = 0.0
    for gap, units in asks:
        now += gap
        before = bucket.tokens(now)
        if not bucket.take(units, now):
            assert bucket.tokens(now) == before


@given(rates, bursts, st.integers(min_value=1, max_value=10_000), st.floats(min_value=0, max_value=100))
def test_retry_after_is_when_the_request_fits(rate, burst, units, spent) -> None:
    bucket = TokenBucket(rate, burst, 0.0)
    bucket.take(min(burst, max(1, int(spent))), 0.0)
    wait = bucket.retry_after(units, 0.0)
    if units > burst:
        assert wait is None  # never fits, however long it waits
        assert not bucket.take(units, 1e9)
        return
    assert wait is not None and wait >= 0
    if wait > 0:
        assert not bucket.take(units, wait * 0.99 - 1e-6) or wait * 0.99 - 1e-6 <= 0
    assert bucket.take(units, wait)


@given(rates, bursts)
def test_a_steady_sender_at_the_rate_is_never_refused(rate, burst) -> None:
    bucket = TokenBucket(rate, burst, 0.0)
    for i in range(1, 200):
        assert bucket.take(1, i / rate)


@given(rates, bursts, rates, bursts, st.floats(min_value=0, max_value=10))
def test_resizing_keeps_the_tokens_within_the_new_burst(rate, burst, new_rate, new_burst, at) -> None:
    bucket = TokenBucket(rate, burst, 0.0)
    bucket.take(burst // 2 or 1, 0.0)
    had = bucket.tokens(at)
    resized = bucket.resized(new_rate, new_burst, at)
    assert resized.tokens(at) == min(float(new_burst), had)
    assert (resized.rate, resized.burst) == (float(new_rate), new_burst)


def test_an_earlier_clock_reading_takes_nothing_back() -> None:
    bucket = TokenBucket(1.0, 5, 10.0)
    assert bucket.take(5, 10.0)
    assert bucket.tokens(3.0) == 0.0
    assert bucket.retry_after(1, 9.0) == pytest.approx(2.0)  # until 10.0, then one second


@pytest.mark.parametrize(
    ("rate", "burst", "now", "needle"),
    [
        (0, 1, 0.0, "rate"),
        (-1, 1, 0.0, "rate"),
        (math.inf, 1, 0.0, "rate"),
        (math.nan, 1, 0.0, "rate"),
        (True, 1, 0.0, "rate"),
        ("1", 1, 0.0, "rate"),
        (1, 0, 0.0, "burst"),
        (1, 1.5, 0.0, "burst"),
        (1, True, 0.0, "burst"),
        (1, 1, math.nan, "now"),
    ],
)
def test_a_bucket_of_garbage_is_refused_by_name(rate, burst, now, needle) -> None:
    with pytest.raises(ValueError, match=needle):
        TokenBucket(rate, burst, now)
