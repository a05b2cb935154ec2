"""Events: push one, push many; list them, get one, and the keys seen.

``POST /api/v1/events`` and ``/api/v1/events/bulk`` push as ``ratchet.event.push`` and
``bulk_push`` do: an event is answered once it is durable, with the runs it started.
``GET /api/v1/events`` lists the tenant's events newest first (by time window and
keys), ``GET /api/v1/events/{id}`` reads one (with the runs it started, as ``GET
/api/v1/workflow-runs?triggering_event_id=`` would), and ``GET /api/v1/events/keys``
the keys events were pushed with.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from ratchet._contract.calls import MAX_BULK_EVENTS, MAX_ID_LENGTH, Method
from ratchet._contract.protocol import PushEventRequest

from ._access import Caller, CallerDep
from ._errors import ApiProblem, ErrorBody
from ._pages import Page, WindowDep, page_at
from ._times import UtcDatetime, epoch

__all__ = ["BulkPushRequest", "Event", "EventKey", "EventKeys", "Events", "StoredEvent", "router"]


class Event(BaseModel):
    """A pushed event, as the engine stored it."""

    id: str
    key: str
    payload: Any = None
    additional_metadata: dict[str, Any] = {}
    scope: str | None = None
    run_ids: list[str] = Field(default=[], description="The runs the event started.")


class BulkPushRequest(BaseModel):
    """Events to push together: all are checked before any is pushed."""

    model_config = {"extra": "forbid"}

    events: list[PushEventRequest] = Field(min_length=1, max_length=MAX_BULK_EVENTS)


class Events(BaseModel):
    """Pushed events, in the order they were sent."""

    events: list[Event]


router = APIRouter(prefix="/api/v1/events", tags=["Events"])


async def _push(caller: Caller, events: list[PushEventRequest]) -> list[Event]:
    requests = [e.model_dump() for e in events]
    answers = await caller.ask(Method.PUSH_EVENTS, requests)
    out = []
    for request, answer in zip(requests, answers, strict=True):
        if "id" not in answer:
            message = answer.get("error", "the event was not stored")
            raise ApiProblem(503, "unavailable", f"event {request['key']!r}: {message}; push it again")
        out.append(Event(id=answer["id"], run_ids=answer.get("runs", []), **request))
    return out


@router.post("", response_model=Event, status_code=201, summary="Push an event")
async def push_event(request: PushEventRequest, caller: CallerDep) -> Event:
    """Push one event; workflows listening to its key start (through their filters)."""
    (event,) = await _push(caller, [request])
    return event


@router.post("/bulk", response_model=Events, status_code=201, summary="Push events")
async def bulk_push_events(request: BulkPushRequest, caller: CallerDep) -> Events:
    """Push up to 1000 events in one request."""
    return Events(events=await _push(caller, request.events))


class StoredEvent(BaseModel):
    """An event the tenant pushed (or a webhook made), as stored."""

    id: str
    key: str
    payload: Any = None
    additional_metadata: dict[str, Any] = {}
    scope: str | None = None
    created_at: UtcDatetime


class EventKey(BaseModel):
    """A key events were pushed with, and how many."""

    key: str
    count: int


class EventKeys(BaseModel):
    """The keys the tenant's events were pushed with, by key."""

    keys: list[EventKey]


EventId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, description="The event's id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such event."}}


@router.get("", response_model=Page[StoredEvent], summary="List events")
async def list_events(
    at: WindowDep,
    caller: CallerDep,
    since: Annotated[UtcDatetime | None, Query(description="Events pushed at or after this time.")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Events pushed before this time.")] = None,
    keys: Annotated[
        list[Annotated[str, Query(min_length=1, max_length=MAX_ID_LENGTH)]] | None,
        Query(description="Events with any of these keys.", max_length=100),
    ] = None,
) -> Page[dict[str, Any]]:
    """The tenant's events, newest first."""
    filters: dict[str, Any] = {"offset": at.offset, "limit": at.limit + 1}
    if since is not None:
        filters["since"] = epoch(since)
    if until is not None:
        filters["until"] = epoch(until)
    if keys:
        filters["keys"] = list(dict.fromkeys(keys))
    return page_at(await caller.ask(Method.LIST_EVENTS, filters), at)


@router.get("/keys", response_model=EventKeys, summary="List event keys")
async def list_event_keys(caller: CallerDep) -> EventKeys:
    """The distinct keys the tenant's events were pushed with, and how many of each."""
    return EventKeys(keys=[EventKey(**row) for row in await caller.ask(Method.LIST_EVENT_KEYS)])


@router.get("/{event_id}", response_model=StoredEvent, responses=_NOT_FOUND, summary="Get an event")
async def get_event(event_id: EventId, caller: CallerDep) -> Any:
    """An event by id."""
    found = await caller.ask_found("event", event_id, Method.GET_EVENT, event_id)
    return found
