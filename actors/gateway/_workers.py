"""How workers read to operators: one view joining a worker's session, slots, row and pause.

A connected worker's session (the dispatcher's: registration, draining, when it was
last heard from) and slots (the scheduler's: used and free, ordinary and durable) are
live; its stored row outlives the connection (a worker that left reads as INACTIVE,
with what it registered last). Pure functions: the gateway gathers the parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ratchet._contract.status import WorkerState

from ..store import Worker

__all__ = ["worker_view"]


def worker_view(
    session: Mapping[str, Any] | None,
    slots: Mapping[str, Any] | None,
    stored: Worker | None,
    *,
    paused: bool,
    now: float,
) -> dict[str, Any] | None:
    """A worker as ``get_worker`` and ``list_workers`` answer it; None if neither its
    session nor its row exists.

    Args:
        session: its dispatcher session (see ``Dispatcher.worker``), None if not connected.
        slots: its slots as the scheduler counts them (``QueueScheduler.worker_slots``).
        stored: its stored row, if any.
        paused: whether an operator paused it.
        now: wall time, to turn "seconds since last heard from" into a time.

    Returns:
        ``{id, name, status, paused, draining, slots, slots_used, slots_free,
        durable_slots, durable_slots_used, durable_slots_free, labels, actions,
        workflows, registered_at, last_heartbeat_at}``, plus ``last_seen_seconds_ago``
        for a connected worker.
    """
    if session is None and stored is None:
        return None
    live = session is not None
    out: dict[str, Any] = dict(session) if session is not None else {}
    if stored is not None:
        out.setdefault("id", stored.id)
        out.setdefault("name", stored.name)
        out.setdefault("slots", stored.slots)
        out.setdefault("durable_slots", stored.durable_slots)
        out.setdefault("labels", stored.labels or {})
        out.setdefault("actions", list(stored.actions or ()))
    out.setdefault("workflows", {})
    out.setdefault("draining", False)
    counts = slots or {}
    out["status"] = str(
        WorkerState.INACTIVE if not live else WorkerState.PAUSED if paused else WorkerState.ACTIVE
    )
    out["paused"] = paused
    out["slots_used"] = counts.get("used", 0)
    out["slots_free"] = counts.get("free", 0)
    out["durable_slots_used"] = counts.get("durable_used", 0)
    out["durable_slots_free"] = counts.get("durable_free", 0)
    out["registered_at"] = stored.registered_at if stored is not None else None
    if session is not None:
        out["last_heartbeat_at"] = now - float(session["last_seen_seconds_ago"])
    else:
        out["last_heartbeat_at"] = stored.last_heartbeat_at if stored is not None else None
    return out
