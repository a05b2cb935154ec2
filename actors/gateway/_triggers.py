"""The Gateway's trigger methods: events, filters, crons and schedules.

A mixin of :class:`~ratchet.actors.gateway._gateway.Gateway`, kept apart so the gateway's run
and worker API stays readable. Every method validates its request here (pydantic
models, CEL compiled, cron parsed, payload sizes checked) and hands it to the
:class:`~ratchet.actors.triggers._triggers.Triggers` actor; bad input gets a
:class:`~ratchet._contract.protocol.RequestError` and changes nothing.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, field_validator

from ratchet._contract.cel import CelError, compile_cel
from ratchet._contract.cron import CronError, parse_cron
from ratchet._contract.protocol import RequestError, _Strict, check_payload_size, parse
from ratchet.runtime import ActorError, ActorRef, concurrent

from .. import _names as names

__all__ = ["MAX_BULK_EVENTS", "TriggerApi"]

MAX_BULK_EVENTS = 1000
MAX_PAST_SECONDS = 24 * 3600
MAX_FUTURE_SECONDS = 100 * 365 * 24 * 3600


def _printable(value: str, what: str) -> str:
    if not value.strip() or not value.isprintable():
        raise ValueError(f"{what} must be printable and not blank")
    return value


class PushEventRequest(_Strict):
    """One event of ``push_events``."""

    key: str = Field(min_length=1, max_length=200)
    payload: Any = None
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    scope: str | None = Field(default=None, min_length=1, max_length=200)
    priority: int | None = Field(default=None, ge=1, le=3)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        return _printable(value, "an event key")


class CreateFilterRequest(_Strict):
    """The request of ``create_filter``."""

    workflow: str = Field(min_length=1, max_length=200)
    expression: str = Field(min_length=1, max_length=10_000)
    scope: str = Field(min_length=1, max_length=200)
    payload: Any = None


class CreateCronRequest(_Strict):
    """The request of ``create_cron``."""

    workflow: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    expression: str = Field(min_length=1, max_length=200)
    input: Any = None
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(default=None, ge=1, le=3)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _printable(value, "a cron name")


class CreateScheduleRequest(_Strict):
    """The request of ``create_schedule`` (``trigger_at`` in epoch seconds)."""

    workflow: str = Field(min_length=1, max_length=200)
    trigger_at: float
    input: Any = None
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(default=None, ge=1, le=3)


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 200:
        raise RequestError(f"{what}: {value!r} is not an id")
    return value


class TriggerApi:
    """Gateway methods for events, filters, crons and schedules (see the module docstring)."""

    max_payload_bytes: int
    context: Any

    @property
    def _triggers(self) -> ActorRef:
        return self.context.system.lookup(names.TRIGGERS)

    def _check_time(self, trigger_at: float, what: str) -> float:
        now = self.context.clock.time()
        if not math.isfinite(trigger_at) or trigger_at < now - MAX_PAST_SECONDS:
            raise RequestError(
                f"{what}: trigger time {trigger_at!r} is more than a day in the past; give a future time"
            )
        if trigger_at > now + MAX_FUTURE_SECONDS:
            raise RequestError(f"{what}: trigger time {trigger_at!r} is more than 100 years away")
        return float(trigger_at)

    # -- events ----------------------------------------------------------------------------------

    @concurrent
    async def push_events(self, events: Any) -> list[dict[str, Any]]:
        """Push 1 to 1000 events; each answer is ``{"id", "runs"}`` once durable, or ``{"error"}``.

        Raises:
            RequestError: not a list of 1 to 1000 events, or an event is malformed
                (then none of them is pushed).
        """
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_BULK_EVENTS:
            size = len(events) if isinstance(events, list) else type(events).__name__
            raise RequestError(f"push_events: expected a list of 1 to {MAX_BULK_EVENTS} events, got {size}")
        checked = []
        for number, raw in enumerate(events, 1):
            req = parse(PushEventRequest, raw, f"event #{number}")
            check_payload_size(req.payload, self.max_payload_bytes, f"payload of event {req.key!r}")
            check_payload_size(
                req.additional_metadata, self.max_payload_bytes, f"metadata of event {req.key!r}"
            )
            checked.append(req.model_dump())
        return list(await self._triggers.push.ask(checked))

    # -- filters ---------------------------------------------------------------------------------

    @concurrent
    async def create_filter(self, request: Any) -> dict[str, Any]:
        """Add an event filter to a workflow: ``{workflow, expression, scope, payload}``."""
        req = parse(CreateFilterRequest, request, "create_filter request")
        try:
            compile_cel(req.expression)
        except CelError as exc:
            raise RequestError(f"filter of workflow {req.workflow!r}: {exc}") from None
        check_payload_size(req.payload, self.max_payload_bytes, "filter payload")
        return await self._ask_triggers("create_filter", req.workflow, req.expression, req.scope, req.payload)

    @concurrent
    async def list_filters(self, workflow: Any = None) -> list[dict[str, Any]]:
        """Event filters, declared and stored, of one workflow or all."""
        if workflow is not None and not isinstance(workflow, str):
            raise RequestError(f"list_filters: workflow must be a name, got {workflow!r}")
        return list(await self._triggers.list_filters.ask(workflow))

    @concurrent
    async def delete_filter(self, filter_id: Any) -> bool:
        """Delete an event filter; False if there was none."""
        return bool(await self._ask_triggers("delete_filter", _id(filter_id, "delete_filter")))

    # -- crons -----------------------------------------------------------------------------------

    @concurrent
    async def create_cron(self, request: Any) -> dict[str, Any]:
        """Add a cron trigger: ``{workflow, name, expression, input, additional_metadata, priority}``."""
        req = parse(CreateCronRequest, request, "create_cron request")
        try:
            parse_cron(req.expression)
        except CronError as exc:
            raise RequestError(f"cron {req.name!r} of workflow {req.workflow!r}: {exc}") from None
        check_payload_size(req.input, self.max_payload_bytes, f"input of cron {req.name!r}")
        return await self._ask_triggers(
            "create_cron",
            req.workflow,
            req.name,
            req.expression,
            req.input,
            req.additional_metadata,
            req.priority,
        )

    @concurrent
    async def list_crons(self, workflow: Any = None) -> list[dict[str, Any]]:
        """Crons, of one workflow or all."""
        if workflow is not None and not isinstance(workflow, str):
            raise RequestError(f"list_crons: workflow must be a name, got {workflow!r}")
        return list(await self._triggers.list_crons.ask(workflow))

    @concurrent
    async def get_cron(self, cron_id: Any) -> dict[str, Any] | None:
        """A cron by id, or None."""
        return await self._triggers.get_cron.ask(_id(cron_id, "get_cron"))

    @concurrent
    async def delete_cron(self, cron_id: Any) -> bool:
        """Delete a cron; False if there was none."""
        return bool(await self._triggers.delete_cron.ask(_id(cron_id, "delete_cron")))

    # -- schedules -------------------------------------------------------------------------------

    @concurrent
    async def create_schedule(self, request: Any) -> dict[str, Any]:
        """Schedule one run: ``{workflow, trigger_at, input, additional_metadata, priority}``."""
        req = parse(CreateScheduleRequest, request, "create_schedule request")
        trigger_at = self._check_time(req.trigger_at, f"schedule of workflow {req.workflow!r}")
        check_payload_size(req.input, self.max_payload_bytes, f"input of the schedule of {req.workflow!r}")
        return await self._ask_triggers(
            "create_schedule", req.workflow, trigger_at, req.input, req.additional_metadata, req.priority
        )

    @concurrent
    async def list_schedules(self, filters: Any = None) -> list[dict[str, Any]]:
        """Schedules, soonest first, filtered by workflow and status."""
        filters = filters or {}
        if not isinstance(filters, dict) or set(filters) - {"workflow", "status"}:
            raise RequestError("list_schedules: filters may name a workflow and a status")
        rows = await self.store.list_schedules(self.tenant_id, status=filters.get("status"))  # type: ignore[attr-defined]
        out = [await self._triggers.describe_schedule.ask(row) for row in rows]
        return [s for s in out if filters.get("workflow") in (None, s["workflow"])]

    @concurrent
    async def get_schedule(self, schedule_id: Any) -> dict[str, Any] | None:
        """A schedule by id, or None."""
        row = await self.store.get_schedule(self.tenant_id, _id(schedule_id, "get_schedule"))  # type: ignore[attr-defined]
        return None if row is None else await self._triggers.describe_schedule.ask(row)

    @concurrent
    async def update_schedule(self, schedule_id: Any, trigger_at: Any) -> bool:
        """Move a pending schedule to ``trigger_at``; False once it fired or was deleted."""
        sid = _id(schedule_id, "update_schedule")
        if isinstance(trigger_at, bool) or not isinstance(trigger_at, int | float):
            raise RequestError(f"update_schedule: trigger_at must be epoch seconds, got {trigger_at!r}")
        return bool(
            await self._triggers.update_schedule.ask(sid, self._check_time(trigger_at, "update_schedule"))
        )

    @concurrent
    async def delete_schedule(self, schedule_id: Any) -> bool:
        """Cancel a pending schedule; False once it fired or was deleted."""
        return bool(await self._triggers.delete_schedule.ask(_id(schedule_id, "delete_schedule")))

    async def _ask_triggers(self, method: str, *args: Any) -> Any:
        try:
            return await getattr(self._triggers, method).ask(*args)
        except ActorError as exc:
            if exc.error_type.endswith(("TriggerError", "CronError", "CelError")):
                raise RequestError(exc.error_message) from None
            raise
