"""The gateway's methods for operators: workers, workflows, metrics, timings, task details.

What the HTTP API, the CLI and ``ratchet.workers`` / ``ratchet.workflows`` /
``ratchet.metrics`` read, and the pauses they set. :class:`OperatorMethods` is the
:class:`~ratchet.actors.gateway._gateway.Gateway`'s base class, apart so each file keeps
one audience: it follows the gateway's rule (validate first, against
:mod:`ratchet._contract.protocol`, then ask the actor that owns the answer or read the
store), and holds the helpers both halves use. Views are pure functions in
:mod:`._workers`, :mod:`._workflows`, :mod:`._metrics`, :mod:`._timings` and
:mod:`ratchet.actors.runs._views`.

A pause is committed before the scheduler hears of it: a restarted engine reads it back,
and a pause whose commit failed was never in effect.
"""

from __future__ import annotations

from typing import Any

from ratchet._contract.protocol import (
    GetTaskRequest,
    ListTaskEventsRequest,
    ListWorkersRequest,
    ListWorkflowsRequest,
    QueueMetricsRequest,
    RequestError,
    RunTimingsRequest,
    check_id,
    parse,
)
from ratchet._contract.status import TaskStatus
from ratchet.runtime import Actor, ActorRef, concurrent

from ..runs import _views as views
from ..store import AddPause, CommitTicket, Mutation, PauseKind, RemovePause, Store, StoreError, Workflow
from . import _metrics as metrics
from . import _workflows as workflows
from ._timings import run_timings
from ._workers import worker_view

__all__ = ["MAX_WORKER_NAMES", "OperatorMethods"]

MAX_WORKER_NAMES = 4096  # worker names the gateway remembers for run details


class OperatorMethods(Actor):
    """The gateway's operator methods and shared helpers (see the module docstring).

    The :class:`~ratchet.actors.gateway._gateway.Gateway` sets the attributes below in
    its ``__init__`` and ``on_start``.
    """

    store: Store
    tenant_id: str
    _worker_names: dict[str, str]  # worker id -> the name it registered with
    _coordinator: ActorRef
    _dispatcher: ActorRef
    _scheduler: ActorRef
    _writer: ActorRef

    # -- workers (views: gateway/_workers.py) ------------------------------------------------------

    @concurrent
    async def list_workers(self, filters: Any = None) -> list[dict[str, Any]]:
        """The connected workers (with ``{"include_inactive": true}``, also those gone), by
        id; each as :meth:`get_worker` describes it."""
        req = parse(ListWorkersRequest, {} if filters is None else filters, "list_workers filters")
        sessions = {s["id"]: s for s in await self._dispatcher.workers.ask()}
        slots = await self._scheduler.all_worker_slots.ask()
        if req.include_inactive:
            stored = {w.id: w for w in await self.store.list_workers(self.tenant_id)}
        else:  # the rows of the connected ones only: the table keeps every worker that ever was
            rows = [await self.store.get_worker(self.tenant_id, worker_id) for worker_id in sessions]
            stored = {w.id: w for w in rows if w is not None}
        paused = {p.target for p in await self.store.list_pauses(self.tenant_id, kind=PauseKind.WORKER)}
        ids = set(sessions) | (set(stored) if req.include_inactive else set())
        now = self.context.clock.time()
        out = []
        for worker_id in sorted(ids):
            view = worker_view(
                sessions.get(worker_id),
                slots.get(worker_id),
                stored.get(worker_id),
                paused=worker_id in paused,
                now=now,
            )
            if view is not None:
                out.append(view)
        return out

    @concurrent
    async def get_worker(self, worker_id: Any) -> dict[str, Any] | None:
        """A worker: status (ACTIVE, PAUSED or INACTIVE), slots used and free (ordinary and
        durable), labels, last heartbeat and registered workflows; None if unknown."""
        return await self._worker(check_id(worker_id, "get_worker", "a worker id"))

    @concurrent
    async def pause_worker(self, worker_id: Any) -> dict[str, Any] | None:
        """Give a worker no new tasks until it is resumed; the tasks it runs finish.

        The pause is committed first, so it holds across engine restarts and while the
        worker is away. Returns the worker (:meth:`get_worker`), None if it is unknown.
        """
        wid = check_id(worker_id, "pause_worker", "a worker id")
        if not await self._known_worker(wid):
            return None
        at = self.context.clock.time()
        await self._commit(AddPause(tenant_id=self.tenant_id, kind=PauseKind.WORKER, target=wid, at=at))
        await self._scheduler.pause_worker.ask(wid)
        return await self._worker(wid)

    @concurrent
    async def resume_worker(self, worker_id: Any) -> dict[str, Any] | None:
        """Lift a worker's pause: it takes work again at once. Returns the worker, None if unknown."""
        wid = check_id(worker_id, "resume_worker", "a worker id")
        if not await self._known_worker(wid):
            return None
        await self._commit(RemovePause(tenant_id=self.tenant_id, kind=PauseKind.WORKER, target=wid))
        await self._scheduler.resume_worker.ask(wid)
        return await self._worker(wid)

    async def _worker(self, worker_id: str) -> dict[str, Any] | None:
        paused = await self.store.get_pause(self.tenant_id, PauseKind.WORKER, worker_id)
        return worker_view(
            await self._dispatcher.worker.ask(worker_id),
            await self._scheduler.worker_slots.ask(worker_id),
            await self.store.get_worker(self.tenant_id, worker_id),
            paused=paused is not None,
            now=self.context.clock.time(),
        )

    # -- workflows (views: gateway/_workflows.py) --------------------------------------------------

    @concurrent
    async def list_workflows(self, filters: Any = None) -> list[Any]:
        """Without ``filters``: the names of the workflows this engine knows.

        With ``filters`` (:class:`~ratchet._contract.protocol.ListWorkflowsRequest`, ``{}``
        for all): the stored workflows by name, each ``{id, name, created_at, paused,
        current_version}``.
        """
        if filters is None:
            return list(await self._coordinator.workflow_names.ask())
        req = parse(ListWorkflowsRequest, filters, "list_workflows filters")
        rows = [
            wf
            for wf in await self.store.list_workflows(self.tenant_id)
            if req.name_contains is None or req.name_contains in wf.name
        ][req.offset : req.offset + req.limit]
        pointed = await workflows.current_versions(self.store, self.tenant_id)
        paused = {p.target for p in await self.store.list_pauses(self.tenant_id, kind=PauseKind.WORKFLOW)}
        out = []
        for wf in rows:
            current = pointed.get(wf.id)
            if current is None:
                latest = await self.store.get_workflow_version(self.tenant_id, wf.id)
                current = latest.version if latest is not None else None
            out.append(workflows.workflow_summary(wf, current, paused=wf.name in paused))
        return out

    @concurrent
    async def get_workflow(self, workflow: Any) -> dict[str, Any] | None:
        """A workflow (by name or id) with its versions; None if unknown."""
        found = await self._find_workflow(workflow, "get_workflow")
        return None if found is None else await self._workflow_view(found)

    @concurrent
    async def list_workflow_versions(self, workflow: Any) -> list[dict[str, Any]] | None:
        """Every version of a workflow (by name or id), oldest first, with its definition;
        None if the workflow is unknown."""
        found = await self._find_workflow(workflow, "list_workflow_versions")
        if found is None:
            return None
        versions = await self.store.list_workflow_versions(self.tenant_id, found.id)
        current = (await workflows.current_versions(self.store, self.tenant_id)).get(found.id)
        if current is None and versions:
            current = versions[-1].version
        return [workflows.version_view(v, current, definition=True) for v in versions]

    @concurrent
    async def pause_workflow(self, workflow: Any) -> dict[str, Any] | None:
        """Pause a workflow (by name or id): its new runs are accepted and their tasks stay
        QUEUED (not timing out in the queue) until it is unpaused; running tasks finish.

        Committed first, so it holds across restarts. Returns the workflow
        (:meth:`get_workflow`), None if unknown.
        """
        found = await self._find_workflow(workflow, "pause_workflow")
        if found is None:
            return None
        at = self.context.clock.time()
        await self._commit(
            AddPause(tenant_id=self.tenant_id, kind=PauseKind.WORKFLOW, target=found.name, at=at)
        )
        await self._scheduler.pause_workflow.ask(found.name)
        self._coordinator.workflow_paused.tell(found.name, True)
        return await self._workflow_view(found)

    @concurrent
    async def unpause_workflow(self, workflow: Any) -> dict[str, Any] | None:
        """Unpause a workflow: its queued tasks start as workers have room. None if unknown."""
        found = await self._find_workflow(workflow, "unpause_workflow")
        if found is None:
            return None
        await self._commit(RemovePause(tenant_id=self.tenant_id, kind=PauseKind.WORKFLOW, target=found.name))
        self._coordinator.workflow_paused.tell(found.name, False)
        await self._scheduler.resume_workflow.ask(found.name)
        return await self._workflow_view(found)

    async def _find_workflow(self, workflow: Any, what: str) -> Workflow | None:
        ref = check_id(workflow, what, "a workflow name or id")
        return await workflows.find_workflow(self.store, self.tenant_id, ref)

    async def _workflow_view(self, workflow: Workflow) -> dict[str, Any]:
        versions = await self.store.list_workflow_versions(self.tenant_id, workflow.id)
        pointed = await workflows.current_versions(self.store, self.tenant_id)
        paused = await self.store.get_pause(self.tenant_id, PauseKind.WORKFLOW, workflow.name)
        return workflows.workflow_view(workflow, versions, pointed, paused=paused is not None)

    # -- metrics, timings, task details ------------------------------------------------------------

    @concurrent
    async def queue_metrics(self, request: Any = None) -> dict[str, Any]:
        """Queued tasks per queue and per workflow, slot usage across connected workers, and
        (with ``since``) task counts by status for tasks created in ``[since, until)``.

        See :func:`ratchet.actors.gateway._metrics.metrics_view` for the answer's shape.
        """
        req = parse(QueueMetricsRequest, {} if request is None else request, "queue_metrics request")
        queued = await self.store.count_tasks(self.tenant_id, by="queue", statuses=[TaskStatus.QUEUED])
        names = [wf.name for wf in await self.store.list_workflows(self.tenant_id)]
        slots = await self._scheduler.slot_usage.ask()
        tasks = None
        if req.since is not None:
            tasks = await self.store.count_tasks(
                self.tenant_id, by="status", since=req.since, until=req.until
            )
        return metrics.metrics_view(self.tenant_id, queued, names, slots, tasks, req.since, req.until)

    @concurrent
    async def get_run_timings(self, run_id: Any, depth: Any = 1) -> dict[str, Any] | None:
        """A run's tasks with their queued, started and finished times, and its child runs'
        tasks down to ``depth`` levels (0: the run alone): the data of a waterfall.
        None if there is no such run. See :mod:`ratchet.actors.gateway._timings`."""
        req = parse(RunTimingsRequest, {"run_id": run_id, "depth": depth}, "get_run_timings request")
        run = await self.store.get_run(self.tenant_id, req.run_id)
        if run is None:
            return None
        return await run_timings(self.store, self.tenant_id, run, req.depth)

    @concurrent
    async def get_task(self, task_id: Any, attempt: Any = None) -> dict[str, Any] | None:
        """A task run's details and one of its attempts (default: the current one); None if
        there is no such task run.

        Raises:
            RequestError: the task run has no attempt ``attempt``.
        """
        req = parse(GetTaskRequest, {"task_id": task_id, "attempt": attempt}, "get_task request")
        task = await self.store.get_task(self.tenant_id, req.task_id)
        if task is None:
            return None
        attempts = await self.store.list_task_attempts(self.tenant_id, task.id)
        number = task.attempt if req.attempt is None else req.attempt
        known = sorted({a.attempt for a in attempts} | {task.attempt})
        if number not in known:
            raise RequestError(
                f"get_task: task run {task.id!r} has no attempt {number}; its attempts are {known}"
            )
        row = next((a for a in attempts if a.attempt == number), None)
        chosen = views.attempt_view(task, row, number)
        run = await self.store.get_run(self.tenant_id, task.run_id)
        workflow = await self.store.get_workflow(self.tenant_id, run.workflow_id) if run is not None else None
        names = await self._worker_names_of({task.worker_id, chosen["worker_id"]})
        chosen["worker_name"] = names.get(chosen["worker_id"])
        out = views.task_detail(task, run, workflow.name if workflow is not None else "", attempts, chosen)
        out["worker_name"] = names.get(task.worker_id)
        return out

    @concurrent
    async def list_task_events(self, task_id: Any, filters: Any = None) -> list[dict[str, Any]] | None:
        """A task run's timeline in commit order (after entry ``after_seq``, at most
        ``limit``); None if there is no such task run."""
        tid = check_id(task_id, "list_task_events", "a task run id")
        req = parse(ListTaskEventsRequest, {} if filters is None else filters, "list_task_events filters")
        if await self.store.get_task(self.tenant_id, tid) is None:
            return None
        events = await self.store.list_task_events(
            self.tenant_id, task_id=tid, after_seq=req.after_seq, limit=req.limit
        )
        names = await self._worker_names_of({e.worker_id for e in events})
        return [views.event_view(e, names) for e in events]

    # -- shared helpers ------------------------------------------------------------------------------

    async def _commit(self, mutation: Mutation) -> None:
        ticket = CommitTicket([mutation])
        self._writer.enqueue.tell(ticket)
        await ticket.wait()

    async def _known_worker(self, worker_id: str) -> bool:
        """Whether ``worker_id`` registered with this engine before (now or before a restart)."""
        if await self._dispatcher.knows.ask(worker_id):
            return True
        try:
            return await self.store.get_worker(self.tenant_id, worker_id) is not None
        except StoreError:
            return False  # the store cannot say: then it counts as new code going live

    async def _worker_names_of(self, worker_ids: set[str | None]) -> dict[str | None, str]:
        """The names the workers registered with, by id (an id the store lacks has none).

        Run details name workers as their users did; a worker's name does not change
        while its id lives, so names are remembered (up to :data:`MAX_WORKER_NAMES`).
        """
        known = self._worker_names
        for worker_id in worker_ids:
            if worker_id is None or worker_id in known:
                continue
            worker = await self.store.get_worker(self.tenant_id, worker_id)
            if worker is not None:
                if len(known) >= MAX_WORKER_NAMES:
                    known.clear()
                known[worker_id] = worker.name
        return {worker_id: known[worker_id] for worker_id in worker_ids if worker_id in known}
