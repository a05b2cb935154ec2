"""What a tenant may use: its limits, their defaults, and how a change to them is checked.

:class:`TenantLimits` is the whole set, a frozen pydantic model: the store keeps it as
JSON (:meth:`TenantLimits.settings`), the REST API documents it from the same model, and
a change (:func:`updated_limits`) names only the limits it changes. Defaults are generous
but finite, so one runaway tenant cannot take the engine from the others; a stored
tenant whose row predates a limit gets that limit's default.
"""

from __future__ import annotations

import enum
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from ratchet._contract.protocol import RequestError

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_PAYLOAD_CAP",
    "Limit",
    "TenantLimits",
    "limits_from_settings",
    "updated_limits",
]

#: The largest per-request payload cap a tenant may be given (the engine's own ceiling).
MAX_PAYLOAD_CAP = 256 * 1024 * 1024
_MAX_RATE = 1_000_000.0
_MAX_BURST = 10_000_000
_MAX_COUNT = 1_000_000_000


class Limit(enum.StrEnum):
    """The name of each limit, as a :class:`~ratchet.TenantLimitError` names the one exceeded."""

    RUNS_PER_SECOND = "runs_per_second"
    EVENTS_PER_SECOND = "events_per_second"
    WEBHOOK_CALLS_PER_SECOND = "webhook_calls_per_second"
    MAX_QUEUED_TASKS = "max_queued_tasks"
    MAX_WORKERS = "max_workers"
    MAX_PAYLOAD_BYTES = "max_payload_bytes"


class TenantLimits(BaseModel):
    """One tenant's limits.

    Attributes:
        runs_per_second: runs triggered a second, over time (a token bucket).
        runs_burst: runs triggered at once, above the rate (the bucket's size).
        events_per_second: events pushed a second.
        events_burst: events pushed at once.
        webhook_calls_per_second: calls to the tenant's webhooks a second.
        webhook_calls_burst: webhook calls at once.
        max_queued_tasks: tasks waiting for a worker at most; a trigger that would go
            over it is refused until workers take some.
        max_workers: workers registered at once.
        max_payload_bytes: the largest run input or event payload of this tenant, in
            bytes of msgpack (under the engine's own limit); None: the engine's limit only.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    runs_per_second: float = Field(default=1000.0, gt=0, le=_MAX_RATE)
    runs_burst: int = Field(default=5000, ge=1, le=_MAX_BURST)
    events_per_second: float = Field(default=1000.0, gt=0, le=_MAX_RATE)
    events_burst: int = Field(default=5000, ge=1, le=_MAX_BURST)
    webhook_calls_per_second: float = Field(default=100.0, gt=0, le=_MAX_RATE)
    webhook_calls_burst: int = Field(default=500, ge=1, le=_MAX_BURST)
    max_queued_tasks: int = Field(default=1_000_000, ge=0, le=_MAX_COUNT)
    max_workers: int = Field(default=1000, ge=0, le=_MAX_COUNT)
    max_payload_bytes: int | None = Field(default=None, ge=1024, le=MAX_PAYLOAD_CAP)

    def settings(self) -> dict[str, Any]:
        """The limits as the store keeps them (plain JSON values)."""
        return self.model_dump()


#: The limits of a tenant nobody set limits for.
DEFAULT_LIMITS = TenantLimits()


def _problems(exc: pydantic.ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(limits)'}: {e['msg']}" for e in exc.errors())


def limits_from_settings(settings: Any) -> TenantLimits:
    """The limits a stored row holds (None: the defaults).

    Limits added since the row was written take their defaults; names no longer known
    are dropped, so an older or newer engine's row still reads.

    Raises:
        ValueError: the row holds a value no limit accepts (the store was edited by hand).
    """
    if settings is None:
        return DEFAULT_LIMITS
    if not isinstance(settings, dict):
        raise ValueError(f"stored tenant limits must be a JSON object, got {type(settings).__name__}")
    known = {k: v for k, v in settings.items() if k in TenantLimits.model_fields}
    try:
        return TenantLimits.model_validate(known)
    except pydantic.ValidationError as exc:
        raise ValueError(f"stored tenant limits are invalid: {_problems(exc)}") from None


def updated_limits(current: TenantLimits, change: Any) -> TenantLimits:
    """``current`` with the limits ``change`` names set; the others keep their values.

    ``max_payload_bytes: None`` removes the tenant's payload cap.

    Raises:
        RequestError: ``change`` is not a map, names an unknown limit, or gives a value
            out of range (the message names each; nothing is changed).
    """
    if not isinstance(change, dict):
        raise RequestError(
            f"a change of tenant limits must be a map of limit names to values, got {type(change).__name__}"
        )
    unknown = sorted(str(k) for k in set(change) - set(TenantLimits.model_fields))
    if unknown:
        raise RequestError(
            f"tenant limits have no {', '.join(repr(u) for u in unknown)}; "
            f"the limits are {', '.join(TenantLimits.model_fields)}"
        )
    try:
        return TenantLimits.model_validate({**current.settings(), **change})
    except pydantic.ValidationError as exc:
        raise RequestError(f"tenant limits are invalid: {_problems(exc)}") from None
