"""Queue metrics as operators and autoscalers read them: what waits where, and how full workers are.

Queued tasks are counted in the store (every QUEUED task, whether it waits for a worker
slot, for flow control or for its paused workflow), by queue through the index on
``(tenant, status, queue)``. A queue is one task of one workflow; it reads as
``"<workflow>:<task>"`` (the engine's queue names also carry the tenant, which is left
out). Which workflow a queue belongs to is found among the stored workflows' names, the
longest name first, since both names may hold a ``:``. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["metrics_view", "queue_label", "workflow_of_queue"]


def queue_label(tenant_id: str, queue: str) -> str:
    """A queue's name without its tenant (``"<tenant>/<workflow>:<task>"`` → ``"<workflow>:<task>"``)."""
    prefix = f"{tenant_id}/"
    return queue[len(prefix) :] if queue.startswith(prefix) else queue


def workflow_of_queue(label: str, names_longest_first: Iterable[str]) -> str | None:
    """The workflow whose task queue ``label`` is (see :func:`queue_label`), or None."""
    for name in names_longest_first:
        if label.startswith(f"{name}:"):
            return name
    return None


def metrics_view(
    tenant_id: str,
    queued: Mapping[str, int],
    workflow_names: Iterable[str],
    slots: Mapping[str, int],
    tasks: Mapping[str, int] | None,
    since: float | None,
    until: float | None,
) -> dict[str, Any]:
    """What ``queue_metrics`` answers.

    Args:
        tenant_id: the tenant (its queue names start with it).
        queued: QUEUED tasks by the engine's queue name.
        workflow_names: the tenant's workflows.
        slots: the scheduler's slot usage (``QueueScheduler.slot_usage``).
        tasks: task counts by status in the window, or None when no window was asked for.
        since: the window's start, or None.
        until: its end, or None (now).

    Returns:
        ``{queues: {"<workflow>:<task>": n}, workflows: {name: n}, queued: total,
        slots: {workers, total, used, free, durable_total, durable_used, durable_free},
        tasks: {status: n} or None, since, until}``.
    """
    names = sorted(workflow_names, key=len, reverse=True)
    queues: dict[str, int] = {}
    workflows: dict[str, int] = {}
    for queue, count in sorted(queued.items()):
        label = queue_label(tenant_id, queue)
        queues[label] = queues.get(label, 0) + count
        workflow = workflow_of_queue(label, names)
        if workflow is not None:
            workflows[workflow] = workflows.get(workflow, 0) + count
    return {
        "queues": queues,
        "workflows": dict(sorted(workflows.items())),
        "queued": sum(queues.values()),
        "slots": dict(slots),
        "tasks": None if tasks is None else dict(sorted(tasks.items())),
        "since": since,
        "until": until,
    }
