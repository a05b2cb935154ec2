"""Child workflows: a run triggered from inside a task knows its parent.

While a task attempt runs, :data:`current_context` holds its :class:`Context` (the
executor sets it; Trio copies it into the thread of a sync task). A run triggered in
that time is the task's child: its request carries ``parent_task_id``, and the engine
records the parent and passes the parent run's ``additional_metadata`` down (so it
reaches grandchildren too).

A retried parent must not spawn its children twice. Each child gets a dedupe key
scoped to the parent task: the user's ``key`` if given, else the child's spawn index
within the attempt (0, 1, 2, ...). A retry spawns the same indexes in the same order,
so the engine answers with the runs the first attempt created instead of new ones.
Durable tasks go further and log every spawn (see :mod:`ratchet._worker.durable_context`).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from .._contract.keys import child_key, spawn_index_key

if TYPE_CHECKING:
    from .context import Context

__all__ = ["child_request", "current_context"]

current_context: ContextVar[Context | None] = ContextVar("ratchet_current_context", default=None)
"""The context of the task attempt running in this (Trio task or thread) context."""


def child_request(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` (a trigger request) as a child of the running task, if one runs here."""
    ctx = current_context.get()
    if ctx is None or "parent_task_id" in payload:
        return payload
    parent = ctx.task_run_id
    user_key = payload.get("key")
    if user_key is not None:
        key = child_key(parent, user_key)
    else:
        # the workflow is part of the key: a retry that spawns something else at the
        # same index gets a new run, not the earlier run of another workflow
        key = spawn_index_key(parent, ctx._next_spawn_index(), payload["workflow"])
    return {**payload, "parent_task_id": parent, "key": key}
