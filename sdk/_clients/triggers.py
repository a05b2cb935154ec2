"""Clients for what starts runs besides ``run``: events, filters, crons, schedules.

``ratchet.event.push(...)`` and ``bulk_push``; ``ratchet.filters``, ``ratchet.cron``
and ``ratchet.scheduled`` manage stored triggers (a workflow's ``create_filter``,
``create_cron`` and ``schedule`` are shortcuts). Each call is one gateway call with a
sync and an ``aio_`` form. The engine checks every request; a refusal is raised here
as a :class:`ValueError` carrying the engine's one-line reason.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pydantic

from .._contract.calls import MAX_BULK_EVENTS, Method, event_request
from .calls import ClientCalls

__all__ = [
    "MAX_BULK_EVENTS",
    "BulkPushEvent",
    "CronClient",
    "CronWorkflow",
    "Event",
    "EventClient",
    "EventFilter",
    "FiltersClient",
    "ScheduledClient",
    "ScheduledWorkflow",
    "to_epoch",
]


class Event(pydantic.BaseModel):
    """A pushed event, as acknowledged (committed) by the engine."""

    model_config = pydantic.ConfigDict(defer_build=True)  # built on first use: import ratchet stays light

    id: str
    key: str
    payload: Any = None
    additional_metadata: dict[str, Any] = {}
    scope: str | None = None
    run_ids: list[str] = []
    #: when it was stored (epoch seconds); given by ``list`` and ``get``
    created_at: float | None = None

    @property
    def event_id(self) -> str:
        """The event's id (hatchet-sdk's name for it)."""
        return self.id


class EventFilter(pydantic.BaseModel):
    """An event filter of a workflow.

    ``declared`` filters come from the workflow's ``default_filters`` (change them in
    code); the others were created with ``ratchet.filters.create`` and stored.
    """

    model_config = pydantic.ConfigDict(defer_build=True)  # built on first use: import ratchet stays light

    id: str
    workflow: str
    scope: str
    expression: str
    payload: Any = None
    declared: bool = False


class CronWorkflow(pydantic.BaseModel):
    """A cron trigger of a workflow."""

    model_config = pydantic.ConfigDict(defer_build=True)  # built on first use: import ratchet stays light

    id: str
    workflow: str
    name: str
    expression: str
    input: Any = None
    additional_metadata: dict[str, Any] = {}
    priority: int = 1
    created_at: float
    last_fired_at: float | None = None
    enabled: bool = True
    next_fire_at: float | None = None


class ScheduledWorkflow(pydantic.BaseModel):
    """A one-time scheduled run of a workflow."""

    model_config = pydantic.ConfigDict(defer_build=True)  # built on first use: import ratchet stays light

    id: str
    workflow: str
    trigger_at: float
    input: Any = None
    additional_metadata: dict[str, Any] = {}
    priority: int = 1
    status: str
    run_id: str | None = None
    created_at: float


@dataclass(frozen=True)
class BulkPushEvent:
    """One event of :meth:`EventClient.bulk_push`."""

    key: str
    payload: Any = None
    additional_metadata: dict[str, Any] = field(default_factory=dict)
    scope: str | None = None
    priority: int | None = None


def to_epoch(when: Any, what: str = "schedule time") -> float:
    """A schedule time as epoch seconds: an aware or naive (local) datetime, or epoch seconds.

    Raises:
        ValueError: anything else, or a number that is not finite.
    """
    if isinstance(when, datetime):
        return when.timestamp()
    if isinstance(when, bool) or not isinstance(when, int | float):
        raise ValueError(f"{what} must be a datetime or epoch seconds, got {when!r}")
    if not math.isfinite(when):
        raise ValueError(f"{what} must be a finite number of epoch seconds, got {when!r}")
    return float(when)


def _cron_or_missing(found: Any, cron_id: str) -> CronWorkflow:
    if found is None:
        raise LookupError(f"no cron with id {cron_id!r}")
    return CronWorkflow.model_validate(found)


def _started(answer: Any, cron_id: str) -> str:
    if answer is None:
        raise LookupError(f"no cron with id {cron_id!r}")
    if "error" in answer:
        raise ValueError(f"cron {cron_id!r} could not start a run: {answer['error']}")
    return str(answer["run_id"])


def _name(workflow: Any) -> str:
    name = getattr(workflow, "name", workflow)
    if not isinstance(name, str):
        raise ValueError(f"expected a workflow or its name, got {workflow!r}")
    return name


def _event_request(
    key: Any, payload: Any, additional_metadata: Any, scope: Any, priority: Any
) -> dict[str, Any]:
    # a non-mapping goes as it is: the engine names the problem
    if isinstance(additional_metadata, dict):
        additional_metadata = dict(additional_metadata)
    return event_request(key, payload, additional_metadata, scope, priority)


class _Calls(ClientCalls):
    def _known(self, workflow: Any) -> None:
        """A workflow object's definition goes to the engine first, in case no worker
        registered it yet (a name alone must already be known)."""
        make_known = getattr(workflow, "_make_known", None)
        if make_known is not None:
            make_known(self._client.connection)

    async def _aio_known(self, workflow: Any) -> None:
        make_known = getattr(workflow, "_aio_make_known", None)
        if make_known is not None:
            await make_known(self._client.connection)


def _events(requests: list[dict[str, Any]], answers: list[dict[str, Any]]) -> list[Event]:
    out = []
    for request, answer in zip(requests, answers, strict=True):
        if "error" in answer:
            raise RuntimeError(f"event {request['key']!r} was not stored: {answer['error']}")
        out.append(Event(id=answer["id"], run_ids=answer.get("runs", []), **request))
    return out


def _bulk(events: Sequence[BulkPushEvent | dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(events, str | bytes) or not isinstance(events, Sequence):
        raise ValueError(f"bulk_push takes a list of events, got {type(events).__name__}")
    if not 1 <= len(events) <= MAX_BULK_EVENTS:
        raise ValueError(f"bulk_push takes 1 to {MAX_BULK_EVENTS} events, got {len(events)}; split the batch")
    out = []
    for e in events:
        if isinstance(e, BulkPushEvent):
            out.append(_event_request(e.key, e.payload, e.additional_metadata, e.scope, e.priority))
        elif isinstance(e, dict):
            out.append(dict(e))
        else:
            raise ValueError(f"bulk_push: {e!r} is not a BulkPushEvent or a dict")
    return out


def _event_filters(
    since: Any, until: Any, keys: Sequence[str] | None, limit: int, offset: int
) -> dict[str, Any]:
    filters: dict[str, Any] = {"limit": limit, "offset": offset}
    if since is not None:
        filters["since"] = to_epoch(since, "since")
    if until is not None:
        filters["until"] = to_epoch(until, "until")
    if keys is not None:
        if isinstance(keys, str):
            raise ValueError(f"keys must be a list of event keys, got the string {keys!r}")
        filters["keys"] = list(keys)
    return filters


def _found_event(answer: Any, event_id: str) -> Event:
    if answer is None:
        raise LookupError(f"no event with id {event_id!r}")
    return Event.model_validate(answer)


class EventClient(_Calls):
    """``ratchet.event``: push events (acknowledged once durable), and read them back."""

    def list(
        self,
        *,
        since: datetime | float | None = None,
        until: datetime | float | None = None,
        keys: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Event]:
        """Pushed events, newest first: stored in ``[since, until)``, with any of ``keys``.

        Raises:
            ValueError: a bad filter (nothing is read).
        """
        filters = _event_filters(since, until, keys, limit, offset)
        return [Event.model_validate(e) for e in self._call(Method.LIST_EVENTS, filters)]

    async def aio_list(
        self,
        *,
        since: datetime | float | None = None,
        until: datetime | float | None = None,
        keys: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Event]:
        """The ``aio_`` form of :meth:`list`."""
        filters = _event_filters(since, until, keys, limit, offset)
        return [Event.model_validate(e) for e in await self._acall(Method.LIST_EVENTS, filters)]

    def get(self, event_id: str) -> Event:
        """A pushed event by id; LookupError if there is none."""
        return _found_event(self._call(Method.GET_EVENT, event_id), event_id)

    async def aio_get(self, event_id: str) -> Event:
        """The ``aio_`` form of :meth:`get`."""
        return _found_event(await self._acall(Method.GET_EVENT, event_id), event_id)

    def push(
        self,
        key: str,
        payload: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        scope: str | None = None,
        priority: int | None = None,
    ) -> Event:
        """Push one event; workflows listening to ``key`` start (through their filters).

        Raises:
            ValueError: a bad key, payload, scope or priority (nothing is pushed).
        """
        requests = [_event_request(key, payload, additional_metadata, scope, priority)]
        return _events(requests, self._call(Method.PUSH_EVENTS, requests))[0]

    async def aio_push(
        self,
        key: str,
        payload: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        scope: str | None = None,
        priority: int | None = None,
    ) -> Event:
        """The ``aio_`` form of :meth:`push`."""
        requests = [_event_request(key, payload, additional_metadata, scope, priority)]
        return _events(requests, await self._acall(Method.PUSH_EVENTS, requests))[0]

    def bulk_push(self, events: Sequence[BulkPushEvent | dict[str, Any]]) -> builtins.list[Event]:
        """Push up to 1000 events in one request; all are checked before any is pushed."""
        requests = _bulk(events)
        return _events(requests, self._call(Method.PUSH_EVENTS, requests))

    async def aio_bulk_push(self, events: Sequence[BulkPushEvent | dict[str, Any]]) -> builtins.list[Event]:
        """The ``aio_`` form of :meth:`bulk_push`."""
        requests = _bulk(events)
        return _events(requests, await self._acall(Method.PUSH_EVENTS, requests))


class FiltersClient(_Calls):
    """``ratchet.filters``: event filters of workflows."""

    def create(self, workflow: Any, expression: str, scope: str, payload: Any = None) -> EventFilter:
        """Add a filter: events of ``scope`` start ``workflow`` when ``expression`` is true."""
        request = {"workflow": _name(workflow), "expression": expression, "scope": scope, "payload": payload}
        self._known(workflow)
        return EventFilter.model_validate(self._call(Method.CREATE_FILTER, request))

    async def aio_create(
        self, workflow: Any, expression: str, scope: str, payload: Any = None
    ) -> EventFilter:
        """The ``aio_`` form of :meth:`create`."""
        request = {"workflow": _name(workflow), "expression": expression, "scope": scope, "payload": payload}
        await self._aio_known(workflow)
        return EventFilter.model_validate(await self._acall(Method.CREATE_FILTER, request))

    def list(self, workflow: Any = None) -> list[EventFilter]:
        """Filters of one workflow or all: declared ones (``default_filters``), then stored ones."""
        name = None if workflow is None else _name(workflow)
        return [EventFilter.model_validate(f) for f in self._call(Method.LIST_FILTERS, name)]

    def delete(self, filter_id: str) -> bool:
        """Delete a stored filter; False if there was none.

        Raises:
            ValueError: the filter is declared in code (``default_filters``).
        """
        return bool(self._call(Method.DELETE_FILTER, filter_id))


class CronClient(_Calls):
    """``ratchet.cron``: cron triggers (UTC; 5 or 6 fields, or ``@daily``-style aliases)."""

    def _request(
        self, workflow: Any, cron_name: str, expression: str, input: Any, metadata: Any, priority: Any
    ) -> dict[str, Any]:
        from .._declare.workflow import Workflow

        if isinstance(workflow, Workflow):
            input = workflow.input.dump(input)
        return {
            "workflow": _name(workflow),
            "name": cron_name,
            "expression": expression,
            "input": input,
            "additional_metadata": dict(metadata or {}),
            "priority": priority,
        }

    def create(
        self,
        workflow: Any,
        cron_name: str,
        expression: str,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> CronWorkflow:
        """Run ``workflow`` on every tick of ``expression``.

        Raises:
            ValueError: a bad expression, an unknown workflow, or a name already taken.
        """
        request = self._request(workflow, cron_name, expression, input, additional_metadata, priority)
        self._known(workflow)
        return CronWorkflow.model_validate(self._call(Method.CREATE_CRON, request))

    async def aio_create(
        self,
        workflow: Any,
        cron_name: str,
        expression: str,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> CronWorkflow:
        """The ``aio_`` form of :meth:`create`."""
        request = self._request(workflow, cron_name, expression, input, additional_metadata, priority)
        await self._aio_known(workflow)
        return CronWorkflow.model_validate(await self._acall(Method.CREATE_CRON, request))

    def list(self, workflow: Any = None) -> list[CronWorkflow]:
        """Crons (those declared with ``on_crons`` too), of one workflow or all."""
        name = None if workflow is None else _name(workflow)
        return [CronWorkflow.model_validate(c) for c in self._call(Method.LIST_CRONS, name)]

    async def aio_list(self, workflow: Any = None) -> builtins.list[CronWorkflow]:
        """The ``aio_`` form of :meth:`list`."""
        name = None if workflow is None else _name(workflow)
        return [CronWorkflow.model_validate(c) for c in await self._acall(Method.LIST_CRONS, name)]

    def get(self, cron_id: str) -> CronWorkflow:
        """A cron by id. Raises LookupError if there is none."""
        found = self._call(Method.GET_CRON, cron_id)
        if found is None:
            raise LookupError(f"no cron with id {cron_id!r}")
        return CronWorkflow.model_validate(found)

    def delete(self, cron_id: str) -> bool:
        """Delete a cron; False if there was none."""
        return bool(self._call(Method.DELETE_CRON, cron_id))

    async def aio_delete(self, cron_id: str) -> bool:
        """The ``aio_`` form of :meth:`delete`."""
        return bool(await self._acall(Method.DELETE_CRON, cron_id))

    def enable(self, cron_id: str) -> CronWorkflow:
        """Enable a disabled cron from its next tick. Raises LookupError if there is none."""
        return _cron_or_missing(self._call(Method.RESUME_CRON, cron_id), cron_id)

    async def aio_enable(self, cron_id: str) -> CronWorkflow:
        """The ``aio_`` form of :meth:`enable`."""
        return _cron_or_missing(await self._acall(Method.RESUME_CRON, cron_id), cron_id)

    def disable(self, cron_id: str) -> CronWorkflow:
        """Disable a cron: no tick fires until it is enabled, across engine restarts too.

        Raises:
            LookupError: there is no such cron.
        """
        return _cron_or_missing(self._call(Method.PAUSE_CRON, cron_id), cron_id)

    async def aio_disable(self, cron_id: str) -> CronWorkflow:
        """The ``aio_`` form of :meth:`disable`."""
        return _cron_or_missing(await self._acall(Method.PAUSE_CRON, cron_id), cron_id)

    def run_now(self, cron_id: str) -> str:
        """Start one run of the cron's workflow with its input and metadata now; its run id.

        Raises:
            LookupError: there is no such cron.
            ValueError: the engine refused the run (its message says why).
        """
        return _started(self._call(Method.RUN_CRON_NOW, cron_id), cron_id)

    async def aio_run_now(self, cron_id: str) -> str:
        """The ``aio_`` form of :meth:`run_now`."""
        return _started(await self._acall(Method.RUN_CRON_NOW, cron_id), cron_id)


class ScheduledClient(_Calls):
    """``ratchet.scheduled``: one-time runs at a given time."""

    def _request(
        self, workflow: Any, trigger_at: Any, input: Any, metadata: Any, priority: Any
    ) -> dict[str, Any]:
        from .._declare.workflow import Workflow

        if isinstance(workflow, Workflow):
            input = workflow.input.dump(input)
        if isinstance(trigger_at, timedelta):
            raise ValueError("a schedule time is a datetime or epoch seconds, not a timedelta; add it to now")
        return {
            "workflow": _name(workflow),
            "trigger_at": to_epoch(trigger_at),
            "input": input,
            "additional_metadata": dict(metadata or {}),
            "priority": priority,
        }

    def create(
        self,
        workflow: Any,
        trigger_at: datetime | float,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> ScheduledWorkflow:
        """Run ``workflow`` once at ``trigger_at`` (a datetime, naive means local, or epoch seconds)."""
        request = self._request(workflow, trigger_at, input, additional_metadata, priority)
        self._known(workflow)
        return ScheduledWorkflow.model_validate(self._call(Method.CREATE_SCHEDULE, request))

    async def aio_create(
        self,
        workflow: Any,
        trigger_at: datetime | float,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> ScheduledWorkflow:
        """The ``aio_`` form of :meth:`create`."""
        request = self._request(workflow, trigger_at, input, additional_metadata, priority)
        await self._aio_known(workflow)
        return ScheduledWorkflow.model_validate(await self._acall(Method.CREATE_SCHEDULE, request))

    def list(self, workflow: Any = None, status: str | None = None) -> list[ScheduledWorkflow]:
        """Schedules (PENDING, FIRED or CANCELLED), soonest first."""
        filters: dict[str, Any] = {}
        if workflow is not None:
            filters["workflow"] = _name(workflow)
        if status is not None:
            filters["status"] = status
        return [ScheduledWorkflow.model_validate(s) for s in self._call(Method.LIST_SCHEDULES, filters)]

    def get(self, schedule_id: str) -> ScheduledWorkflow:
        """A schedule by id. Raises LookupError if there is none."""
        found = self._call(Method.GET_SCHEDULE, schedule_id)
        if found is None:
            raise LookupError(f"no schedule with id {schedule_id!r}")
        return ScheduledWorkflow.model_validate(found)

    def update(self, schedule_id: str, trigger_at: datetime | float) -> bool:
        """Move a pending schedule; False once it fired or was deleted."""
        return bool(self._call(Method.UPDATE_SCHEDULE, schedule_id, to_epoch(trigger_at)))

    def delete(self, schedule_id: str) -> bool:
        """Cancel a pending schedule; False once it fired or was deleted."""
        return bool(self._call(Method.DELETE_SCHEDULE, schedule_id))

    async def aio_delete(self, schedule_id: str) -> bool:
        """The ``aio_`` form of :meth:`delete`."""
        return bool(await self._acall(Method.DELETE_SCHEDULE, schedule_id))
