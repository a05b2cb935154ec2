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

from ratchet._contract.status import RunStatus, TaskEventKind, TaskStatus

from ..store import Run, Task, TaskEvent

__all__ = ["dag_order", "error_view", "run_summary", "run_view", "task_views", "unknown_run_summary"]

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
