"""Events: push one, push many.

``POST /api/v1/events`` and ``/api/v1/events/bulk`` push as ``ratchet.event.push`` and
``bulk_push`` do: an event is answered once it is durable, with the runs it started.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ratchet._contract.calls import MAX_BULK_EVENTS, Method
from ratchet._contract.protocol import PushEventRequest

from ._access import Caller, CallerDep
from ._errors import ApiProblem

__all__ = ["BulkPushRequest", "Event", "Events", "router"]


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
