"""The next cron tick against a brute-force reference, and the parser's refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet._contract.cron import CronError, next_tick, parse_cron, previous_tick

# values drawn for day-of-month stop at 28 so that every expression fires; "*" still means 1-31
FIELDS = [("minute", 0, 59), ("hour", 0, 23), ("dom", 1, 28), ("month", 1, 12), ("dow", 0, 6)]
BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]


@st.composite
def field_text(draw, low, high):
    kind = draw(st.sampled_from(["*", "step", "value", "range", "list"]))
    if kind == "*":
        return "*"
    if kind == "step":
        return f"*/{draw(st.integers(1, high - low + 1))}"
    if kind == "value":
        return str(draw(st.integers(low, high)))
    if kind == "range":
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, high))
        return f"{a}-{b}"
    values = draw(st.lists(st.integers(low, high), min_size=1, max_size=3, unique=True))
    return ",".join(map(str, values))


@st.composite
def expressions(draw):
    return " ".join(draw(field_text(low, high)) for _, low, high in FIELDS)


def allowed(text, low, high):
    out = set()
    for part in text.split(","):
        if part == "*":
            out.update(range(low, high + 1))
        elif part.startswith("*/"):
            out.update(range(low, high + 1, int(part[2:])))
        elif "-" in part:
            a, b = map(int, part.split("-"))
            out.update(range(a, b + 1))
        else:
            out.add(int(part))
    return out


def reference_next(expression: str, after: float) -> int:
    """Walk day by day, then hour and minute, checking each field (Vixie cron's day rule)."""
    texts = expression.split()
    minute, hour, dom, month, dow = (allowed(t, lo, hi) for t, (lo, hi) in zip(texts, BOUNDS, strict=True))
    dom_star, dow_star = texts[2].startswith("*"), texts[4].startswith("*")
    start = datetime.fromtimestamp((int(after) // 60 + 1) * 60, UTC)
    day = start.replace(hour=0, minute=0)
    for _ in range(366 * 28):  # the calendar repeats every 28 years (within a century)
        cron_dow = (day.weekday() + 1) % 7
        in_dom, in_dow = day.day in dom, cron_dow in dow
        day_ok = (in_dom and in_dow) if (dom_star or dow_star) else (in_dom or in_dow)
        if day.month in month and day_ok:
            for h in sorted(hour):
                for m in sorted(minute):
                    candidate = day.replace(hour=h, minute=m)
                    if candidate >= start:
                        return int(candidate.timestamp())
        day += timedelta(days=1)
    raise AssertionError(f"{expression} never fires")


instants = st.floats(1_700_000_000, 1_900_000_000, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(expressions(), instants)
def test_next_tick_is_the_first_minute_after_that_every_field_allows(expression, after):
    assert next_tick(expression, after) == reference_next(expression, after)


@settings(max_examples=100, deadline=None)
@given(expressions(), instants)
def test_previous_tick_is_the_last_tick_at_or_before(expression, at):
    tick = previous_tick(expression, at)
    if tick is not None:
        assert tick <= at and next_tick(expression, tick - 1) == tick
        assert next_tick(expression, tick) > at


@given(st.integers(1, 30), instants)
def test_six_fields_put_seconds_first(step, after):
    tick = next_tick(f"*/{step} * * * * *", after)
    assert after < tick and tick % 60 % step == 0
    assert all((t % 60) % step != 0 for t in range(int(after) + 1, tick))


def test_aliases_mean_their_five_field_forms():
    assert parse_cron("@daily") == parse_cron("@midnight") == "0 0 * * *"
    assert parse_cron("@HOURLY") == "0 * * * *"
    assert next_tick("@weekly", 0) == 3 * 86400  # 1970-01-04, a Sunday


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "* * * *",
        "* * * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "@often",
        "a b c d e",
        None,
        5,
        ["*"],
    ],
)
def test_bad_cron_strings_are_refused_with_what_is_accepted(bad):
    with pytest.raises(CronError, match="use 5 fields"):
        parse_cron(bad)
