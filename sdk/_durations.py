"""Durations as users write them: ``timedelta``, seconds, or strings like ``"10s"``/``"1h30m"``."""

from __future__ import annotations

import datetime as _dt
import re

__all__ = ["Duration", "parse_duration"]

Duration = _dt.timedelta | int | float | str

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


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
        raise TypeError(f"{what} must be a timedelta, seconds or a string like '10s', got {value!r}")
    if isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        seconds = float(value)
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
                f"{what} {value!r} is not a duration; write e.g. '30s', '5m', '1h30m' or '250ms'"
            )
    else:
        raise TypeError(f"{what} must be a timedelta, seconds or a string like '10s', got {value!r}")
    if not (seconds >= 0 and seconds != float("inf")):
        raise ValueError(f"{what} must be a finite, non-negative duration, got {value!r}")
    return seconds
