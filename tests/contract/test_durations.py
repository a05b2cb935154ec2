"""parse_duration: every accepted spelling gives the right seconds; garbage names the option."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet._contract.durations import parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (dt.timedelta(minutes=2, milliseconds=500), 120.5),
        (dt.timedelta(0), 0.0),
        (0, 0.0),
        (10, 10.0),
        (2.5, 2.5),
        ("10s", 10.0),
        ("0s", 0.0),
        ("250ms", 0.25),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("  1H30M ", 5400.0),
        ("1.5h", 5400.0),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("1m30s250ms", 90.25),
    ],
    ids=repr,
)
def test_accepted_spellings(value: object, seconds: float) -> None:
    result = parse_duration(value)  # type: ignore[arg-type]
    assert result == pytest.approx(seconds)
    assert isinstance(result, float)


@settings(max_examples=100, deadline=None)
@given(
    d=st.integers(0, 30),
    h=st.integers(0, 23),
    m=st.integers(0, 59),
    s=st.integers(0, 59),
    ms=st.integers(0, 999),
)
def test_parts_add_up(d: int, h: int, m: int, s: int, ms: int) -> None:
    assert parse_duration(f"{d}d{h}h{m}m{s}s{ms}ms") == pytest.approx(
        d * 86400 + h * 3600 + m * 60 + s + ms / 1000
    )


@settings(max_examples=100, deadline=None)
@given(st.timedeltas(min_value=dt.timedelta(0)))
def test_timedelta_is_its_total_seconds(value: dt.timedelta) -> None:
    assert parse_duration(value) == value.total_seconds()


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=0, max_value=1e12) | st.integers(0, 10**12))
def test_numbers_are_seconds(value: float) -> None:
    assert parse_duration(value) == float(value)


BAD_VALUES = [
    "",
    "   ",
    "10",
    "s10",
    "-5s",
    "1x",
    "10s5",
    "10s x",
    "h",
    ".5s",
    "1e3s",
    "nan",
    "inf",
    "ten seconds",
    -1,
    -0.5,
    math.nan,
    math.inf,
    -math.inf,
    dt.timedelta(seconds=-1),
    10**400,
]


def short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:10]}...({len(text)} chars)"


@pytest.mark.parametrize("value", BAD_VALUES, ids=short)
def test_bad_values_raise_value_error_naming_the_option(value: object) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(value, what="execution_timeout")  # type: ignore[arg-type]
    assert "execution_timeout" in str(info.value)


@pytest.mark.parametrize("value", [None, True, False, [], {}, b"10s", object(), 1j], ids=short)
def test_wrong_types_raise_type_error_naming_the_option(value: object) -> None:
    with pytest.raises(TypeError) as info:
        parse_duration(value, what="schedule_timeout")  # type: ignore[arg-type]
    assert "schedule_timeout" in str(info.value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_random_text_is_seconds_or_value_error(text: str) -> None:
    try:
        seconds = parse_duration(text, what="timeout")
    except ValueError as exc:
        assert "timeout" in str(exc)
    else:
        assert math.isfinite(seconds) and seconds >= 0


def test_default_option_name() -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration("soon")
