"""Cron expressions: parsing, validation and the next tick, in UTC.

Accepted forms:

* 5 fields: ``minute hour day-of-month month day-of-week`` (``*/15 * * * *``);
* 6 fields: ``second minute hour day-of-month month day-of-week`` (seconds first);
* the aliases ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily``
  (``@midnight``) and ``@hourly``.

Names (``MON``, ``JAN``), ranges, lists and steps work as in cron; evaluation is done by
``cronsim``, in UTC, so there are no daylight-saving surprises. A tick is an epoch
second (an int).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from cronsim import CronSim, CronSimError

__all__ = ["ALIASES", "CronError", "next_tick", "parse_cron", "previous_tick"]

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_HELP = (
    "use 5 fields (minute hour day-of-month month day-of-week), 6 fields with seconds first, "
    "or one of " + ", ".join(ALIASES)
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CronError(ValueError):
    """A cron expression is malformed; the message names it and says what is accepted."""


def parse_cron(expression: object) -> str:
    """The expression in canonical form (aliases expanded, spaces normalised).

    Raises:
        CronError: the expression is not a valid cron expression.
    """
    if not isinstance(expression, str) or not expression.strip():
        raise CronError(f"a cron expression must be a non-empty string, got {expression!r}; {_HELP}")
    return _parse(expression)


@functools.lru_cache(maxsize=1024)
def _parse(expression: str) -> str:
    text = " ".join(expression.split())
    if text.startswith("@"):
        if text.lower() not in ALIASES:
            raise CronError(f"bad cron expression {expression!r}: unknown alias; {_HELP}")
        return ALIASES[text.lower()]
    if len(text.split(" ")) not in (5, 6):
        raise CronError(f"bad cron expression {expression!r}: it has {len(text.split(' '))} fields; {_HELP}")
    try:
        next(CronSim(text, _EPOCH))
    except (CronSimError, ValueError, StopIteration) as exc:
        raise CronError(f"bad cron expression {expression!r}: {exc}; {_HELP}") from None
    return text


def next_tick(expression: str, after: float) -> int:
    """The first tick strictly after ``after`` (epoch seconds).

    Raises:
        CronError: the expression is invalid, or never fires again (``0 0 30 2 *``).
    """
    text = parse_cron(expression)
    start = datetime.fromtimestamp(int(after // 1), UTC)
    try:
        return int(next(CronSim(text, start)).timestamp())
    except StopIteration:
        raise CronError(f"cron expression {expression!r} never fires") from None


def previous_tick(expression: str, at: float) -> int | None:
    """The last tick at or before ``at`` (None if there is none within a year)."""
    text = parse_cron(expression)
    start = datetime.fromtimestamp(int(at // 1) + 1, UTC)
    try:
        tick = int(next(CronSim(text, start, reverse=True)).timestamp())
    except (StopIteration, CronSimError):
        return None
    return tick if at - tick <= 366 * 86400 else None
