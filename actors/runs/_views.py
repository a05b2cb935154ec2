"""How runs read to clients: run details for the gateway, run summaries for durable parents.

Pure functions over store records. The gateway gathers what a view needs (the run, its
tasks and events, worker names, why queued tasks wait) and builds the view here; a
durable task waiting on children gets each child's summary from the same place, so a
run reads the same to a client and to a parent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ratchet._contract.keys import event_of_key
from ratchet._contract.status import RunStatus, TaskEventKind, TaskStatus

from ..store import Run, Task, TaskAttempt, TaskEvent

__all__ = [
    "attempt_view",
    "dag_order",
    "error_view",
    "event_view",
    "run_summary",
    "run_view",
    "task_detail",
    "task_views",
    "timing_row",
    "triggering_event_id",
    "unknown_run_summary",
]

#: Timeline kinds whose message says why a task was cancelled.
CANCEL_KINDS = (TaskEventKind.CANCELLED, TaskEventKind.SCHEDULE_TIMED_OUT)


def error_view(text: str | None) -> dict[str, Any] | None:
    """A stored task error as clients read it: ``{"type", "message", "traceback"}``."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {"type": "Error", "message": text, "traceback": ""}


def dag_order(tasks: Iterable[Task]) -> list[Task]:
    """Tasks with every task after its parents (stable otherwise): how the DAG reads."""
    placed: set[str] = set()
    out: list[Task] = []
    pending = list(tasks)
    while pending:
        rest = [t for t in pending if not set(t.parents or ()) <= placed]
        ready = [t for t in pending if set(t.parents or ()) <= placed] or rest[:1]
        for t in ready:
            placed.add(t.name)
            out.append(t)
        pending = [t for t in pending if t.name not in placed]
    return out


def _outputs(tasks: Iterable[Task]) -> dict[str, Any]:
    return {t.name: t.output for t in tasks if t.status == TaskStatus.COMPLETED}


def run_view(run: Run, workflow: str, tasks: Sequence[Task]) -> dict[str, Any]:
    """A run without its tasks' details, as ``get_run``/``list_runs`` answer it.

    Args:
        run: the stored run.
        workflow: its workflow's name.
        tasks: its tasks, in DAG order (see :func:`dag_order`).
    """
    return {
        "run_id": run.id,
        "workflow": workflow,
        "version": run.workflow_version,
        "status": str(run.status),
        "done": RunStatus(run.status).is_terminal,
        "input": run.input,
        "additional_metadata": run.additional_metadata or {},
        "priority": run.priority,
        "parent_task_id": run.parent_task_id,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "output": _outputs(tasks),
        "triggering_event_id": triggering_event_id(run),
    }


def task_views(
    tasks: Sequence[Task],
    events: Iterable[TaskEvent],
    worker_names: Mapping[str | None, str],
    queued_reasons: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The tasks of a run with their timelines, as run details show them.

    Args:
        tasks: the run's tasks, in DAG order.
        events: their timeline entries, in commit order.
        worker_names: the name each worker registered with, by id.
        queued_reasons: why a queued task waits, by task id (no live worker serves it).
    """
    by_task: dict[str, list[dict[str, Any]]] = {}
    cancel_reasons: dict[str, str | None] = {}
    for e in events:
        by_task.setdefault(e.task_id, []).append(
            {
                "kind": str(e.kind),
                "attempt": e.attempt,
                "at": e.at,
                "message": e.message,
                "worker_id": e.worker_id,
                "worker_name": worker_names.get(e.worker_id),
            }
        )
        if e.kind in CANCEL_KINDS:
            cancel_reasons[e.task_id] = e.message  # in commit order: the latest one stands
    return [
        {
            "name": t.name,
            "task_id": t.id,
            "status": str(t.status),
            "attempt": t.attempt,
            "retry_count": t.retry_count,
            "output": t.output,
            "error": error_view(t.error),
            "worker_id": t.worker_id,
            "started_at": t.started_at,
            "finished_at": t.finished_at,
            "events": by_task.get(t.id, []),
            "worker_name": worker_names.get(t.worker_id),
            "cancel_reason": cancel_reasons.get(t.id) if t.status == TaskStatus.CANCELLED else None,
            "queued_reason": queued_reasons.get(t.id),
        }
        for t in tasks
    ]


def run_summary(run: Run, workflow: str, tasks: Iterable[Task]) -> dict[str, Any]:
    """A finished run as a waiting durable parent sees it: status, outputs, failed tasks."""
    tasks = list(tasks)
    return {
        "run_id": run.id,
        "workflow": workflow,
        "version": run.workflow_version,
        "status": str(run.status),
        "done": True,
        "error": run.error,
        "created_at": run.created_at,
        "output": _outputs(tasks),
        "tasks": [
            {
                "name": t.name,
                "task_id": t.id,
                "status": str(t.status),
                "attempt": t.attempt,
                "retry_count": t.retry_count,
                "error": error_view(t.error),
            }
            for t in tasks
            if t.status == TaskStatus.FAILED
        ],
    }


def unknown_run_summary(run_id: str) -> dict[str, Any]:
    """The summary of a child run the store does not hold."""
    return {"run_id": run_id, "status": "UNKNOWN"}


def triggering_event_id(run: Run) -> str | None:
    """The id of the pushed event that started ``run``, or None (read from its idempotency key)."""
    return event_of_key(run.idempotency_key)


def timing_row(task: Task, run: Run, workflow: str, depth: int) -> dict[str, Any]:
    """One bar of a run's waterfall: a task with its times, its run, and how deep it sits.

    ``depth`` is 0 for the run's own tasks, 1 for its child runs' tasks, and so on;
    ``parent_task_id`` is the task run that spawned the task's run (None for a run
    nobody spawned); ``parents`` are the task's parents within its run.
    """
    return {
        "task_id": task.id,
        "name": task.name,
        "run_id": run.id,
        "workflow": workflow,
        "depth": depth,
        "parent_task_id": run.parent_task_id,
        "parents": list(task.parents or ()),
        "status": str(task.status),
        "attempt": task.attempt,
        "retry_count": task.retry_count,
        "worker_id": task.worker_id,
        "created_at": task.created_at,
        "queued_at": task.queued_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
    }


def event_view(event: TaskEvent, worker_names: Mapping[str | None, str]) -> dict[str, Any]:
    """One entry of a task's timeline as ``list_task_events`` lists it."""
    return {
        "seq": event.seq,
        "task_id": event.task_id,
        "run_id": event.run_id,
        "kind": str(event.kind),
        "attempt": event.attempt,
        "at": event.at,
        "message": event.message,
        "worker_id": event.worker_id,
        "worker_name": worker_names.get(event.worker_id),
    }


def attempt_view(task: Task, attempt: TaskAttempt | None, number: int) -> dict[str, Any]:
    """Attempt ``number`` of ``task``: its status, worker, error and times.

    An attempt the store has no row of yet (queued, never given to a worker) reads from
    the task itself.
    """
    if attempt is None:
        return {
            "attempt": number,
            "status": str(task.status),
            "worker_id": task.worker_id,
            "error": error_view(task.error) if number == task.attempt else None,
            "created_at": task.queued_at if task.queued_at is not None else task.created_at,
            "started_at": task.started_at,
            "finished_at": task.finished_at,
        }
    return {
        "attempt": attempt.attempt,
        "status": str(attempt.status),
        "worker_id": attempt.worker_id,
        "error": error_view(attempt.error),
        "created_at": attempt.created_at,
        "started_at": attempt.started_at,
        "finished_at": attempt.finished_at,
    }


def task_detail(
    task: Task, run: Run | None, workflow: str, attempts: Sequence[TaskAttempt], chosen: dict[str, Any]
) -> dict[str, Any]:
    """A task run as ``get_task`` answers it: the task, its run, the attempts it had, and
    one attempt's details (``chosen``, see :func:`attempt_view`)."""
    numbers = sorted({a.attempt for a in attempts} | {task.attempt})
    return {
        "task_id": task.id,
        "name": task.name,
        "run_id": task.run_id,
        "workflow": workflow,
        "status": str(task.status),
        "attempt": task.attempt,
        "retry_count": task.retry_count,
        "max_retries": task.max_retries,
        "priority": task.priority,
        "durable": bool(task.durable),
        "parents": list(task.parents or ()),
        "input": task.input,
        "output": task.output,
        "error": error_view(task.error),
        "worker_id": task.worker_id,
        "additional_metadata": (run.additional_metadata or {}) if run is not None else {},
        "created_at": task.created_at,
        "queued_at": task.queued_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
        "attempts": numbers,
        "attempt_details": chosen,
    }
