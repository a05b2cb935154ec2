"""The token bucket behind each webhook's rate limit, stated as properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratchet.actors.limits import TokenBucket

rates = st.floats(min_value=0.01, max_value=1000, allow_nan=False)
bursts = st.integers(min_value=1, max_value=50)
gaps = st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), max_size=200)


def _times(start: float, steps: list[float]) -> list[float]:
    times, now = [], start
    for step in steps:
        now += step
        times.append(now)
    return times


@given(rate=rates, burst=bursts, steps=gaps)
def test_no_interval_admits_more_than_burst_plus_rate_times_its_length(rate, burst, steps) -> None:
    bucket = TokenBucket(rate, burst, 0.0)
    admitted = [t for t in _times(0.0, steps) if bucket.take(1, t)]
    for i, first in enumerate(admitted):
        for j in range(i, len(admitted)):
            span = admitted[j] - first
            assert j - i + 1 <= math.floor(burst + rate * span + 1e-6)


@given(rate=rates, burst=bursts, steps=gaps)
def test_a_refused_request_is_admitted_once_it_waits_retry_after(rate, burst, steps) -> None:
    bucket = TokenBucket(rate, burst, 0.0)
    delay = 0.0  # the waits so far push the later requests back
    for t in _times(0.0, steps):
        if not bucket.take(1, t + delay):
            wait = bucket.retry_after(1, t + delay)
            assert 0 < wait <= 1 / rate + 1e-9
            delay += wait
            assert bucket.take(1, t + delay)


@given(rate=rates, burst=bursts, steps=gaps)
def test_tokens_never_exceed_the_burst_nor_go_negative(rate, burst, steps) -> None:
    bucket = TokenBucket(rate, burst, 0.0)
    for t in _times(0.0, steps):
        bucket.take(1, t)
        assert 0 <= bucket.tokens(t) <= burst


@given(rate=st.floats(min_value=0.1, max_value=100), burst=bursts, n=st.integers(1, 300))
def test_a_sender_at_the_rate_is_never_refused(rate, burst, n) -> None:
    bucket = TokenBucket(rate, burst, 0.0)
    assert all(bucket.take(1, i / rate) for i in range(n))


def test_a_burst_is_admitted_at_once_then_one_request_per_refill() -> None:
    bucket = TokenBucket(2.0, 3, 100.0)
    assert [bucket.take(1, 100.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.retry_after(1, 100.0) == pytest.approx(0.5)
    assert not bucket.take(1, 100.4)
    assert bucket.take(1, 100.5)


def test_a_clock_reading_from_the_past_adds_nothing() -> None:
    bucket = TokenBucket(1.0, 1, 10.0)
    assert bucket.take(1, 10.0)
    assert not bucket.take(1, 5.0)
    assert bucket.retry_after(1, 5.0) == pytest.approx(6.0)  # until 10.0, then one token's refill
    assert not bucket.take(1, 10.5)
    assert bucket.take(1, 11.0)


@pytest.mark.parametrize(
    ("rate", "burst", "now", "message"),
    [
        (0, 1, 0.0, "rate must be"),
        (-1, 1, 0.0, "rate must be"),
        (float("nan"), 1, 0.0, "rate must be"),
        (float("inf"), 1, 0.0, "rate must be"),
        ("1", 1, 0.0, "rate must be"),
        (1, 0, 0.0, "burst must be"),
        (1, 1.5, 0.0, "burst must be"),
        (1, True, 0.0, "burst must be"),
        (1, 1, float("nan"), "now must be"),
    ],
)
def test_a_bucket_refuses_garbage_settings(rate, burst, now, message) -> None:
    with pytest.raises(ValueError, match=message):
        TokenBucket(rate, burst, now)
