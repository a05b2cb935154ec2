"""Checks of the gateway's trigger requests: events, filters, crons and schedules.

Plain functions the :class:`~ratchet.actors.gateway._gateway.Gateway` calls before it
hands a request to the :class:`~ratchet.actors.triggers._triggers.Triggers` actor: the
pydantic models parse it, CEL is compiled, a cron parsed, payload sizes and times
checked. Bad input raises :class:`~ratchet._contract.protocol.RequestError` and
changes nothing; no check touches an actor or the store.
"""

from __future__ import annotations

import math
from typing import Any

from ratchet._contract.cel import CelError, compile_cel
from ratchet._contract.cron import CronError, parse_cron
from ratchet._contract.protocol import (
    MAX_BULK_EVENTS,
    CreateCronRequest,
    CreateFilterRequest,
    CreateScheduleRequest,
    ErrorCode,
    PushEventRequest,
    RequestError,
    check_id,
    check_payload_size,
    error_code,
    parse,
)
from ratchet.runtime import ActorError, ActorRef

__all__ = [
    "MAX_BULK_EVENTS",
    "ask_triggers",
    "check_cron",
    "check_events",
    "check_filter",
    "check_id",
    "check_new_time",
    "check_schedule",
    "check_schedule_filters",
    "check_trigger_time",
    "check_workflow_name",
]

MAX_PAST_SECONDS = 24 * 3600
MAX_FUTURE_SECONDS = 100 * 365 * 24 * 3600


def check_workflow_name(workflow: Any, what: str) -> str | None:
    """``workflow`` as the name a listing is filtered by (None: every workflow)."""
    if workflow is not None and not isinstance(workflow, str):
        raise RequestError(f"{what}: workflow must be a name, got {workflow!r}")
    return workflow


def check_trigger_time(trigger_at: float, now: float, what: str) -> float:
    """``trigger_at`` (epoch seconds) as a schedule's time: at most a day past, 100 years ahead."""
    if not math.isfinite(trigger_at) or trigger_at < now - MAX_PAST_SECONDS:
        raise RequestError(
            f"{what}: trigger time {trigger_at!r} is more than a day in the past; give a future time"
        )
    if trigger_at > now + MAX_FUTURE_SECONDS:
        raise RequestError(f"{what}: trigger time {trigger_at!r} is more than 100 years away")
    return float(trigger_at)


def check_events(events: Any, max_payload_bytes: int) -> list[dict[str, Any]]:
    """1 to 1000 events to push, each as a plain dict; one malformed event refuses them all."""
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_BULK_EVENTS:
        size = len(events) if isinstance(events, list) else type(events).__name__
        raise RequestError(f"push_events: expected a list of 1 to {MAX_BULK_EVENTS} events, got {size}")
    checked = []
    for number, raw in enumerate(events, 1):
        req = parse(PushEventRequest, raw, f"event #{number}")
        check_payload_size(req.payload, max_payload_bytes, f"payload of event {req.key!r}")
        check_payload_size(req.additional_metadata, max_payload_bytes, f"metadata of event {req.key!r}")
        checked.append(req.model_dump())
    return checked


def check_filter(request: Any, max_payload_bytes: int) -> CreateFilterRequest:
    """A ``create_filter`` request, its expression compiled."""
    req = parse(CreateFilterRequest, request, "create_filter request")
    try:
        compile_cel(req.expression)
    except CelError as exc:
        raise RequestError(f"filter of workflow {req.workflow!r}: {exc}") from None
    check_payload_size(req.payload, max_payload_bytes, "filter payload")
    return req


def check_cron(request: Any, max_payload_bytes: int) -> CreateCronRequest:
    """A ``create_cron`` request, its expression parsed."""
    req = parse(CreateCronRequest, request, "create_cron request")
    try:
        parse_cron(req.expression)
    except CronError as exc:
        raise RequestError(f"cron {req.name!r} of workflow {req.workflow!r}: {exc}") from None
    check_payload_size(req.input, max_payload_bytes, f"input of cron {req.name!r}")
    return req


def check_schedule(request: Any, max_payload_bytes: int, now: float) -> tuple[CreateScheduleRequest, float]:
    """A ``create_schedule`` request and its checked trigger time."""
    req = parse(CreateScheduleRequest, request, "create_schedule request")
    trigger_at = check_trigger_time(req.trigger_at, now, f"schedule of workflow {req.workflow!r}")
    check_payload_size(req.input, max_payload_bytes, f"input of the schedule of {req.workflow!r}")
    return req, trigger_at


def check_schedule_filters(filters: Any) -> dict[str, Any]:
    """The filters of ``list_schedules``: a workflow and a status, both optional."""
    filters = filters or {}
    if not isinstance(filters, dict) or set(filters) - {"workflow", "status"}:
        raise RequestError("list_schedules: filters may name a workflow and a status")
    return filters


def check_new_time(trigger_at: Any, now: float) -> float:
    """The new time of ``update_schedule``."""
    if isinstance(trigger_at, bool) or not isinstance(trigger_at, int | float):
        raise RequestError(f"update_schedule: trigger_at must be epoch seconds, got {trigger_at!r}")
    return check_trigger_time(trigger_at, now, "update_schedule")


async def ask_triggers(triggers: ActorRef, method: str, *args: Any) -> Any:
    """Ask the Triggers actor; its refusals of the request reach the caller as RequestError."""
    try:
        return await getattr(triggers, method).ask(*args)
    except ActorError as exc:
        if error_code(exc.error_type) in (ErrorCode.TRIGGER, ErrorCode.CRON, ErrorCode.CEL):
            raise RequestError(exc.error_message) from None
        raise
