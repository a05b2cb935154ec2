"""Rebuilding runs after a restart: stored rows back into run states, and the work to re-issue.

Theory of operation. A coordinator that (re)starts holds nothing in memory: every run
that had not finished is read back from the store (:func:`rebuild_run`), the scheduler is
told which concurrency holders are still unfinished and which held places before the
restart (:func:`flow_sync`), and each run's pending work is issued again: its QUEUED
tasks are queued (or wait out what is left of their retry backoff,
:func:`pending_work`), its RUNNING tasks are treated as lost (at-least-once execution,
one recorded outcome), and its ready gated tasks go back to settling their conditions
(:func:`rearm_gates`). The coordinator (:mod:`ratchet.actors.runs._coordinator`) carries
these out; apart from the store reads in :func:`rebuild_run`, everything here is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ratchet._contract.status import TaskEventKind

from ..scheduling._needs import FlowKeyError, RunFlow
from ..store import Run, Store, Task, TaskEvent
from . import _machine as m
from ._changes import error_from_json
from ._registry import RegisteredWorkflow, WorkflowRegistry

__all__ = [
    "FlowSync",
    "Rebuilt",
    "cancel_reasons",
    "flow_sync",
    "pending_work",
    "rearm_gates",
    "rebuild_run",
    "restore_task",
    "stored_labels",
]

CANCEL_KINDS = frozenset({str(TaskEventKind.CANCELLED), str(TaskEventKind.SCHEDULE_TIMED_OUT)})
"""The timeline kinds whose entry keeps why a task was cancelled."""


@dataclass
class Rebuilt:
    """A stored run, read back: its state and what its tasks' rows keep besides."""

    workflow: RegisteredWorkflow
    state: m.RunState
    task_ids: dict[str, str]
    ready_at: dict[str, float | None]  # a QUEUED task's retry due time (None: due now)
    filter_payload: Any = None
    desired_worker_labels: tuple[tuple[str, Any], ...] = ()


async def rebuild_run(store: Store, registry: WorkflowRegistry, tenant_id: str, row: Run) -> Rebuilt | None:
    """The run ``row`` as the store keeps it (None if its workflow version is unknown, or
    not all its tasks are stored: such a run cannot be driven)."""
    entry = registry.by_id(tenant_id, row.workflow_id)
    if entry is None or row.workflow_version not in entry.versions:
        return None
    spec = entry.versions[row.workflow_version]
    state = m.RunState(row.id, spec, priority=row.priority, status=m.RunStatus(row.status))
    rebuilt = Rebuilt(entry, state, {}, {})
    for t in await store.list_tasks(tenant_id, row.id):
        if isinstance(t.input, dict):
            rebuilt.filter_payload = t.input.get("filter_payload")
            rebuilt.desired_worker_labels = stored_labels(t.input.get("desired_worker_labels"))
        if t.name not in state.tasks:
            continue
        rebuilt.task_ids[t.name] = t.id
        rebuilt.ready_at[t.name] = t.timeout_at
        restore_task(state.tasks[t.name], t)
    if set(rebuilt.task_ids) != set(state.tasks):
        return None
    cancelled = {rebuilt.task_ids[n] for n, t in state.tasks.items() if t.status is m.TaskStatus.CANCELLED}
    if cancelled:
        reasons = cancel_reasons(await store.list_task_events(tenant_id, run_id=row.id), cancelled)
        for name, task in state.tasks.items():
            if task.status is m.TaskStatus.CANCELLED:
                task.cancel_reason = reasons.get(rebuilt.task_ids[name])
    return rebuilt


def restore_task(task: m.TaskState, row: Task) -> None:
    """Give ``task`` back what its stored row keeps."""
    task.status = m.TaskStatus(row.status)
    # the store keeps a PENDING task's next attempt; the machine its last (0: none)
    task.attempt = row.attempt - 1 if task.status is m.TaskStatus.PENDING else row.attempt
    task.retry_count = row.retry_count
    task.internal_retries = row.internal_retry_count
    task.output = row.output
    task.error = error_from_json(row.error)
    task.worker = row.worker_id


def cancel_reasons(events: Iterable[TaskEvent], cancelled: set[str]) -> dict[str, str | None]:
    """Why each of the ``cancelled`` tasks was cancelled, from the run's timeline.

    A run may end CANCELLED long after one of its tasks was (the others still ran), and
    the run's reason comes from that task; the store keeps the reason in the task's
    CANCELLED (or SCHEDULE_TIMED_OUT) timeline entry, written with the transition.
    """
    reasons: dict[str, str | None] = {}
    for e in events:
        if e.task_id in cancelled and str(e.kind) in CANCEL_KINDS:
            reasons[e.task_id] = e.message  # in commit order: the latest one stands
    return reasons


def pending_work(state: m.RunState, ready_at: dict[str, float | None], now: float) -> list[m.Command]:
    """Queue the run's QUEUED tasks again, or time what is left of their retry backoff.

    Marks the tasks it queues as enqueued (``now`` is wall-clock time, as ``ready_at``).
    """
    commands: list[m.Command] = []
    for name, ts in state.tasks.items():
        if ts.status is not m.TaskStatus.QUEUED:
            continue
        due = ready_at.get(name)
        if due is not None and due > now:
            commands.append(m.StartTimer(m.TimerKind.RETRY, name, ts.attempt, due - now))
            continue
        commands.append(m.QueueTask(name, ts.attempt, ts.retry_count > 0))
        ts.enqueued = True
        timeout = state.task_spec(name).schedule_timeout
        commands.append(m.StartTimer(m.TimerKind.SCHEDULE_TIMEOUT, name, ts.attempt, timeout))
    return commands


def rearm_gates(state: m.RunState) -> None:
    """Mark the ready tasks that are still settling their conditions as gated again."""
    for spec in state.spec.dag_tasks:
        ts = state.tasks[spec.name]
        if spec.gated and ts.status is m.TaskStatus.PENDING and not state.status.is_terminal:
            ts.gated = all(state.tasks[p].status is m.TaskStatus.COMPLETED for p in spec.parents)


class RecoveredRun(Protocol):
    """What :func:`flow_sync` reads of a rebuilt run (the coordinator's ActiveRun)."""

    state: m.RunState
    task_ids: dict[str, str]
    input: Any
    metadata: dict[str, Any]
    desired_worker_labels: tuple[tuple[str, Any], ...]
    flow: RunFlow | None

    @property
    def run_id(self) -> str: ...


@dataclass
class FlowSync:
    """What the scheduler is told after a restart (``flow_sync`` and ``flow_stick``)."""

    active: list[tuple[str, str]] = field(default_factory=list)  # unfinished concurrency holders
    reclaim: list[Any] = field(default_factory=list)  # the needs of holders that had started
    sticky: list[tuple[str, str]] = field(default_factory=list)  # (run id, worker) of sticky runs


def flow_sync(runs: Sequence[RecoveredRun]) -> FlowSync:
    """Which concurrency holders are unfinished, which held places before the restart
    (they take them back before anything new is admitted), and sticky runs' workers.

    A scheduler that outlived the coordinator may still hold places for runs that
    finished while it restarted; the sync releases them. Evaluates (and caches on the
    run) the run's flow-control needs where it must.
    """
    sync = FlowSync()
    for run in runs:
        spec = run.state.spec
        if not spec.flow_controlled:
            continue
        sync.active.append(("run", run.run_id))
        started_run = run.state.status is m.RunStatus.RUNNING
        for name, task in run.state.tasks.items():
            if not task.status.is_terminal and spec.task(name).concurrency:
                sync.active.append(("task", run.task_ids[name]))
            started_task = not task.status.is_terminal and (
                task.status is m.TaskStatus.RUNNING or task.retry_count > 0 or task.internal_retries > 0
            )
            if started_run or started_task:
                if run.flow is None:
                    run.flow = RunFlow(spec, run.input, run.metadata, run.desired_worker_labels)
                try:
                    needs = run.flow.needs(
                        name,
                        run.run_id,
                        run.task_ids[name],
                        reclaim_run=started_run,
                        reclaim_task=started_task,
                    )
                except FlowKeyError:
                    continue  # it fails when queued
                sync.reclaim.append(needs)
                started_run = False  # the run's places are reclaimed once
        if spec.sticky is not None:
            worker = next((t.worker for t in run.state.tasks.values() if t.worker), None)
            if worker is not None:
                sync.sticky.append((run.run_id, worker))
    return sync


def stored_labels(raw: Any) -> tuple[tuple[str, Any], ...]:
    """A run's worker affinity as its tasks' stored input keeps it (checked when triggered)."""
    if not isinstance(raw, dict):
        return ()
    from ratchet._contract.flow import DesiredWorkerLabel

    return tuple(sorted((key, DesiredWorkerLabel.from_dict(value)) for key, value in raw.items()))
