"""Times on the HTTP API: ISO 8601 (or epoch seconds) in, ISO 8601 in UTC out.

The engine counts time in epoch seconds; the API speaks date-times. Response models
declare ``datetime`` fields and are built from the engine's numbers (pydantic reads a
number as epoch seconds, in UTC); a date-time a client sends becomes epoch seconds
with :func:`epoch`, reading one without a zone as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["UtcDatetime", "epoch"]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: A date-time in UTC: one sent without a zone is read as UTC.
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def epoch(value: datetime) -> float:
    """``value`` in epoch seconds (without a zone it is UTC)."""
    return _utc(value).timestamp()
