"""Times on the HTTP API: ISO 8601 (or epoch seconds) in, ISO 8601 in UTC out.

The engine counts time in epoch seconds; the API speaks date-times. Response models
declare :data:`UtcDatetime` fields and are built from the engine's numbers; a
date-time a client sends becomes epoch seconds with :func:`epoch`, reading one without
a zone as UTC.

A date-time holds microseconds, the engine's seconds more digits, so a number is cut
*down* to its microsecond, never rounded up: a run's ``created_at`` sent back as a
list's ``since`` then still finds that run.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

__all__ = ["UtcDatetime", "epoch"]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _from_seconds(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        try:
            return _EPOCH + timedelta(microseconds=math.floor(value * 1_000_000))
        except OverflowError:
            return value  # out of datetime's range: pydantic names the problem
    return value


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: A date-time in UTC: one sent without a zone is read as UTC, a number as epoch seconds.
UtcDatetime = Annotated[datetime, BeforeValidator(_from_seconds), AfterValidator(_utc)]


def epoch(value: datetime) -> float:
    """``value`` in epoch seconds (without a zone it is UTC)."""
    return _utc(value).timestamp()
