"""Durations as users write them: ``timedelta``, seconds, or strings like ``"10s"``/``"1h30m"``."""

from __future__ import annotations

import datetime as _dt
import math
import re
import reprlib

__all__ = ["Duration", "parse_duration"]

Duration = _dt.timedelta | int | float | str

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def _show(value: object) -> str:
    # A bad value must not break its own error message: a huge string is cut short, and
    # repr() of an int over 4300 digits raises ValueError.
    try:
        return reprlib.repr(value)
    except ValueError:
        return f"<{type(value).__name__} too large to show>"


def parse_duration(value: Duration, *, what: str = "duration") -> float:
    """Seconds in ``value``.

    Args:
        value: a ``timedelta``, a number of seconds, or a string of number-unit parts
            (``ms``, ``s``, ``m``, ``h``, ``d``, ``w``), e.g. ``"10s"``, ``"1h30m"``.
        what: the option's name, for the error message.

    Raises:
        ValueError: negative, not finite, or not understood.
        TypeError: not one of the accepted types.
    """
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a timedelta, seconds or a string like '10s', got {_show(value)}")
    if isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond the float range, e.g. 10**400
            seconds = math.inf
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        pos = 0
        seconds = 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text:
            raise ValueError(
                f"{what} {_show(value)} is not a duration; write e.g. '30s', '5m', '1h30m' or '250ms'"
            )
    else:
        raise TypeError(f"{what} must be a timedelta, seconds or a string like '10s', got {_show(value)}")
    if not (seconds >= 0 and math.isfinite(seconds)):
        raise ValueError(f"{what} must be a finite, non-negative duration, got {_show(value)}")
    return seconds
