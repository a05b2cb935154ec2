"""The gateway's reads of pushed events: list them, get one, and the keys seen.

What ``GET /api/v1/events`` and ``ratchet.event.list`` / ``get`` read. Events are the
tenant's append-only log (the store orders them by ``seq``), read straight from the
store: no actor owns a past event. :class:`EventMethods` is one of the
:class:`~ratchet.actors.gateway._gateway.Gateway`'s base classes and follows its rule:
the request is checked (:class:`ListEventsRequest`) before the store is read.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ratchet._contract.calls import MAX_ID_LENGTH
from ratchet._contract.protocol import Timestamp, check_id, parse
from ratchet.runtime import Actor, concurrent

from ..store import Event, Store

__all__ = ["MAX_EVENT_KEYS_LISTED", "EventMethods", "ListEventsRequest", "event_view"]

#: Distinct keys ``list_event_keys`` answers at most (the most used first).
MAX_EVENT_KEYS_LISTED = 10_000

_Key = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]


class ListEventsRequest(BaseModel):
    """The filters of ``list_events``, newest first: events created in ``[since, until)``
    with any of ``keys``; ``offset`` of them skipped, at most ``limit`` answered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    since: Timestamp | None = None
    until: Timestamp | None = None
    keys: list[_Key] | None = Field(default=None, min_length=1, max_length=100)
    limit: int = Field(default=100, ge=1, le=1000, strict=True)
    offset: int = Field(default=0, ge=0, le=1_000_000, strict=True)

    @model_validator(mode="after")
    def _ordered(self) -> ListEventsRequest:
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValueError("until must be later than since")
        return self


def event_view(event: Event) -> dict[str, Any]:
    """An event as clients read it: ``{id, key, payload, additional_metadata, scope, created_at}``."""
    return {
        "id": event.id,
        "key": event.key,
        "payload": event.payload,
        "additional_metadata": event.additional_metadata or {},
        "scope": event.scope,
        "created_at": event.created_at,
    }


class EventMethods(Actor):
    """The gateway's event reads (see the module docstring); the gateway sets ``store`` and ``tenant_id``."""

    store: Store
    tenant_id: str

    @concurrent
    async def list_events(self, filters: Any = None) -> list[dict[str, Any]]:
        """Pushed events, newest first, filtered (see :class:`ListEventsRequest`)."""
        req = parse(ListEventsRequest, {} if filters is None else filters, "list_events filters")
        rows = await self.store.search_events(
            self.tenant_id,
            keys=None if req.keys is None else list(dict.fromkeys(req.keys)),
            since=req.since,
            until=req.until,
            limit=req.limit,
            offset=req.offset,
        )
        return [event_view(row) for row in rows]

    @concurrent
    async def get_event(self, event_id: Any) -> dict[str, Any] | None:
        """A pushed event by id, or None."""
        row = await self.store.get_event(self.tenant_id, check_id(event_id, "get_event", "an event id"))
        return None if row is None else event_view(row)

    @concurrent
    async def list_event_keys(self) -> list[dict[str, Any]]:
        """The keys the tenant's events were pushed with, by key: ``[{key, count}]``."""
        counts = await self.store.count_event_keys(self.tenant_id)
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_EVENT_KEYS_LISTED]
        return [{"key": key, "count": count} for key, count in sorted(top)]
