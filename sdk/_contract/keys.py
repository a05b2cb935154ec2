"""The idempotency keys the engine and the SDK derive for the runs they start.

A run created with an idempotency key that a stored run already has is not created
again: the engine answers with the earlier run. Wherever a run may be started twice
(a retried parent spawning its children, a durable task replaying a spawn, a cron tick
fired again after an engine restart), its key is derived from what identifies that
start, so the second start finds the first run. The grammar lives here, once:

- ``child:<parent task run>:key:<user key>``: a child run the user gave a key;
- ``child:<parent task run>:<spawn index>:<workflow>``: a child run of an ordinary task,
  by its spawn index within the attempt (the workflow is part of the key, so a retry
  that spawns something else at the same index gets a new run);
- ``durable:<task run>:<log position>:<item>``: a child run of a durable task's spawn;
- ``cron:<workflow id>:<cron name>:<tick>``: the run of one cron tick;
- ``event:<event id>:<filter id or ->:<workflow>``: a run a pushed event started (through
  one of the workflow's filters, or ``-`` without one); the runs of one event share the
  prefix :func:`event_key_prefix` gives, which is how they are found.
"""

from __future__ import annotations

__all__ = [
    "child_key",
    "cron_key",
    "durable_spawn_key",
    "event_key",
    "event_key_prefix",
    "event_of_key",
    "spawn_index_key",
]


def child_key(parent_task_id: str, key: str) -> str:
    """The key of a child run the user gave ``key``, scoped to its parent task run."""
    return f"child:{parent_task_id}:key:{key}"


def spawn_index_key(parent_task_id: str, index: int, workflow: str) -> str:
    """The key of the ``index``-th child run (of ``workflow``) an ordinary task's attempt spawns."""
    return f"child:{parent_task_id}:{index}:{workflow}"


def durable_spawn_key(task_id: str, seq: int, item: int) -> str:
    """The key of item ``item`` of the spawn at log position ``seq`` of durable task run ``task_id``."""
    return f"durable:{task_id}:{seq}:{item}"


def cron_key(workflow_id: str, name: str, tick: int) -> str:
    """The key of the run cron ``name`` of workflow ``workflow_id`` starts at ``tick``."""
    return f"cron:{workflow_id}:{name}:{tick}"


def event_key(event_id: str, filter_id: str | None, workflow: str) -> str:
    """The key of the run of ``workflow`` that event ``event_id`` starts (through filter ``filter_id``)."""
    return f"{event_key_prefix(event_id)}{filter_id if filter_id is not None else '-'}:{workflow}"


def event_key_prefix(event_id: str) -> str:
    """What the keys of every run event ``event_id`` started begin with."""
    return f"event:{event_id}:"


def event_of_key(key: str | None) -> str | None:
    """The id of the event whose run has idempotency key ``key`` (see :func:`event_key`), or None."""
    if not key or not key.startswith("event:"):
        return None
    event_id, sep, rest = key[len("event:") :].partition(":")
    return event_id if event_id and sep and rest else None
