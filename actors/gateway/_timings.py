"""A run's waterfall: its tasks' times, and those of the runs its tasks spawned, level by level.

Each level costs two indexed reads however many runs it holds: the child runs of the
previous level's tasks (by parent task run) and their tasks (by run). A waterfall stops
at :data:`MAX_TIMING_TASKS` tasks and says it was cut (``truncated``), so one huge
fan-out cannot make a read unbounded.
"""

from __future__ import annotations

from typing import Any

from ..runs import _views as views
from ..store import Run, Store

__all__ = ["MAX_TIMING_TASKS", "run_timings"]

#: Tasks one waterfall shows at most.
MAX_TIMING_TASKS = 5000


async def run_timings(store: Store, tenant_id: str, run: Run, depth: int) -> dict[str, Any]:
    """What ``get_run_timings`` answers for ``run``, following child runs ``depth`` levels down.

    Returns:
        ``{run_id, workflow, status, created_at, started_at, finished_at, depth,
        truncated, tasks: [timing rows]}``, rows by level, then by creation time
        (see :func:`ratchet.actors.runs._views.timing_row`).
    """
    names = {wf.id: wf.name for wf in await store.list_workflows(tenant_id)}
    rows: list[dict[str, Any]] = []
    truncated = False
    level: list[Run] = [run]
    tasks = await store.list_tasks(tenant_id, run.id)
    for current in range(depth + 1):
        by_run = {r.id: r for r in level}
        for task in tasks:
            if len(rows) >= MAX_TIMING_TASKS:
                truncated = True
                break
            owner = by_run[task.run_id]
            rows.append(
                views.timing_row(task, owner, names.get(owner.workflow_id, owner.workflow_id), current)
            )
        if truncated or current == depth or not tasks:
            break
        level = await store.list_child_runs(tenant_id, [t.id for t in tasks])
        if not level:
            break
        tasks = await store.list_tasks_of_runs(tenant_id, [r.id for r in level])
    return {
        "run_id": run.id,
        "workflow": names.get(run.workflow_id, run.workflow_id),
        "status": str(run.status),
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "depth": depth,
        "truncated": truncated,
        "tasks": rows,
    }
