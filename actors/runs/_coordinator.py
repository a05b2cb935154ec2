"""The RunCoordinator actor: every active run's state machine, checkpointed.

Theory of operation. The coordinator owns the :class:`~ratchet.actors.runs._machine.RunState`
of every run that has not finished. Each event (a run created, a task assigned, a result,
a timer, a lost worker, a cancellation) goes through the pure
:func:`~ratchet.actors.runs._machine.apply`; the typed facts it reports (a task's change
with its event kind, the run's new status) become fenced store mutations through the pure
:func:`~ratchet.actors.runs._changes.mutations_for`, and the commands
(queue a task, start a timer, cancel an attempt, the run finished) wait for the commit
that holds those mutations. A single effects task awaits commits in submission order and
carries out their commands in the same order, so nothing is queued, cancelled or
reported before it is durable, and the coordinator's mailbox never waits on the store:
while one batch commits, the next events are already being applied.

A failed commit of a transition means memory ran ahead of the store, so the coordinator
crashes; its supervisor restarts it and :meth:`RunCoordinator.on_start` rebuilds every
active run from the store (:mod:`ratchet.actors.runs._recovery`; a task that was RUNNING
is treated as lost and retried internally: at-least-once execution, one recorded outcome).

Flow control: a queued task carries its :class:`~ratchet.actors.scheduling._admission.FlowNeeds`,
evaluated from the run's input (:mod:`ratchet.actors.scheduling._needs`); an expression that
fails for the run fails the task with a ``FlowControlError``. The coordinator tells the
scheduler when a concurrency *holder* (a run, or a task with task-level limits) has
finished, and carries out what the concurrency groups decide (cancel a run or a task)
like any other cancellation. When it (re)starts it tells the scheduler which holders are
still unfinished and which had started before the restart: those take their places back
before anything new is admitted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import trio

from ratchet._contract.codes import TaskErrorCode
from ratchet._contract.spec import TaskKind, WorkflowSpec
from ratchet._contract.status import RunStatus
from ratchet.runtime import Actor, ActorRef

from .. import _names as names
from ..scheduling._needs import FLOW_ERROR, FlowKeyError, RunFlow
from ..scheduling._queues import QueuedTask
from ..store import (
    CommitTicket,
    CreateRun,
    MutationRejected,
    NewTask,
    PauseKind,
    Run,
    Store,
    wait_settled,
)
from . import _machine as m
from ._changes import mutations_for
from ._intake import Join, Known, PendingKeys, RunRequest, Same, Submitted, admit
from ._recovery import flow_sync, pending_work, rearm_gates, rebuild_run
from ._registry import RegisteredWorkflow, Registration, WorkflowRegistry

__all__ = ["ActiveRun", "RunCoordinator", "action_name"]


def action_name(tenant_id: str, workflow: str, task: str) -> str:
    """The queue a task waits in: one per (tenant, workflow, task)."""
    return f"{tenant_id}/{workflow}:{task}"


@dataclass
class ActiveRun:
    """A run the coordinator is driving."""

    tenant_id: str
    workflow: RegisteredWorkflow
    version: int
    state: m.RunState
    input: Any
    metadata: dict[str, Any]
    task_ids: dict[str, str]
    created_at: float
    watchers: list[trio.Event] = field(default_factory=list)
    ready_at: dict[str, float | None] = field(default_factory=dict)  # retry due times, at recovery
    filter_payload: Any = None
    desired_worker_labels: tuple[tuple[str, Any], ...] = ()
    flow: RunFlow | None = None  # flow-control needs, evaluated once per run

    @property
    def run_id(self) -> str:
        return self.state.run_id


@dataclass
class _Effect:
    ticket: CommitTicket
    run: ActiveRun
    commands: Sequence[Any]
    fatal: bool = True


@dataclass(frozen=True)
class _HoldersDone:
    """Concurrency holders (tasks with task-level limits) that the transition finished."""

    holders: tuple[tuple[str, str], ...]


class RunCoordinator(Actor):
    """Drives every active run; see the module docstring.

    Messages (refs are untyped: this is the route in):
        from the Gateway: ``register_workflows``, ``create_runs``, ``cancel_runs``,
            ``replay_runs``, ``watch``, ``task_results``, ``refresh_timeout``,
            ``workflow_names``, ``workflow_paused``.
        from the QueueScheduler: ``tasks_assigned``, ``attempts_adopted``,
            ``workers_lost``, ``flow_cancel``, ``flow_refused``.
        from the Triggers actor: ``create_runs_with`` (a run and its event, tick or
            schedule, all or nothing), ``workflow_specs``.
        from DurableTasks: ``create_runs`` (spawned children), ``watch``,
            ``resume_tasks``, ``gated_tasks`` (at its start), ``gate_decided``.
        from the Timers actor: ``timer_fired`` (retry backoffs, timeouts).
        from tests and statistics: ``active_runs``.

    Args:
        store: the store (read at start to rebuild runs and workflows).
        tenant_id: the tenant this coordinator serves.
    """

    def __init__(
        self,
        store: Store,
        *,
        tenant_id: str,
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.registry = WorkflowRegistry()
        self.runs: dict[str, ActiveRun] = {}
        self._task_index: dict[str, tuple[str, str]] = {}
        self._effects_send, self._effects_recv = trio.open_memory_channel[_Effect](math.inf)
        # (task_id, attempt) -> monotonic deadline asked for by ctx.refresh_timeout before
        # the engine saw the attempt start; applied when its execution timer starts
        self._refreshed: dict[tuple[str, int], float] = {}
        self._pending_keys = PendingKeys()  # keyed runs created but not yet committed
        self._atomic: list[tuple[ActiveRun, CreateRun, list[m.Command]]] | None = None
        self._stream = object()  # this incarnation's commits (see _submit)
        self.finished = 0
        # workflows an operator paused: their queued tasks do not time out (see timer_fired)
        self._paused_workflows: set[str] = set()

    async def on_start(self) -> None:
        system = self.context.system
        self._writer: ActorRef = system.lookup(names.STORE_WRITER)
        self._scheduler: ActorRef = system.lookup(names.scoped(names.SCHEDULER, self.tenant_id))
        self._timers: ActorRef = system.lookup(names.TIMERS)
        # A previous incarnation's last commits may still be in flight (a run it created,
        # say): let them land before reading what to rebuild, or that run is never driven.
        await wait_settled(self._writer)
        await self.registry.load(self.store, self.tenant_id)
        pauses = await self.store.list_pauses(self.tenant_id, kind=PauseKind.WORKFLOW)
        self._paused_workflows = {p.target for p in pauses}
        await self._recover()
        self.context.start_soon(self._effects_loop)

    # -- plumbing -------------------------------------------------------------------------------

    def _now(self) -> float:
        return self.context.clock.time()

    def _durable(self) -> ActorRef:
        # looked up when used: it starts after the coordinator and may restart alone
        ref: ActorRef = self.context.system.lookup(names.scoped(names.DURABLE, self.tenant_id))
        return ref

    def _submit(
        self,
        run: ActiveRun,
        mutations: list[Any],
        commands: Sequence[m.Command | _HoldersDone],
        *,
        fatal: bool = True,
    ) -> CommitTicket:
        # Transitions build on each other (each assumes the ones before it landed): they
        # form this incarnation's stream, so once one fails to commit, none after it is
        # written and the store never holds a later step without an earlier one.
        ticket = CommitTicket(mutations, stream=self._stream if fatal else None)
        self._writer.enqueue.tell(ticket)
        self._effects_send.send_nowait(_Effect(ticket, run, commands, fatal))
        return ticket

    async def _effects_loop(self) -> None:
        async for effect in self._effects_recv:
            try:
                await effect.ticket.wait()
            except MutationRejected:
                if effect.fatal:
                    raise
                self._drop(effect.run)
                continue
            except Exception:
                if effect.fatal:
                    raise
                self._drop(effect.run)
                continue
            self._execute(effect.run, effect.commands)

    def _drop(self, run: ActiveRun) -> None:
        if self.runs.get(run.run_id) is run:
            del self.runs[run.run_id]
            for task_id in run.task_ids.values():
                self._task_index.pop(task_id, None)
        if self._refreshed:
            ids = set(run.task_ids.values())
            for key in [k for k in self._refreshed if k[0] in ids]:
                del self._refreshed[key]
        for watcher in run.watchers:
            watcher.set()

    # -- registration ------------------------------------------------------------------------------

    async def register_workflows(
        self, specs: Sequence[WorkflowSpec], registration: Registration = Registration.DEPLOY
    ) -> tuple[list[tuple[str, int]], list[CommitTicket]]:
        """Register workflow specs; returns their (name, version) and the commits to await.

        What they change (new versions, the version new runs use) takes effect once
        their commit lands; see :mod:`ratchet.actors.runs._registry`. The workflows are read
        back from the store first: other engines on the database may have registered them.
        """
        await self.registry.sync(self.store, self.tenant_id, {spec.name for spec in specs})
        registered = []
        waits: list[CommitTicket] = []
        changed: list[tuple[RegisteredWorkflow, list[Any]]] = []
        for spec in specs:
            entry, number, mutations, others = self.registry.register(
                self.tenant_id, spec, registration, at=self._now()
            )
            registered.append((entry.name, number))
            waits.extend(others)
            if mutations:
                changed.append((entry, mutations))
        if changed:
            ticket = CommitTicket([m for _, mutations in changed for m in mutations])
            self._writer.enqueue.tell(ticket)
            for entry, _ in changed:
                self.registry.submitted(entry, ticket)
            self.context.start_soon(self._settle_registration, ticket, [e.name for e, _ in changed])
            waits.append(ticket)
        return registered, list({id(t): t for t in waits}.values())

    async def _settle_registration(self, ticket: CommitTicket, names: list[str]) -> None:
        try:
            await ticket.wait()
        except Exception:
            pass  # the registry forgets what the commit failed to write
        for name in names:
            self.registry.settle(self.tenant_id, name, ticket)

    async def lost_workflows(self, registered: Sequence[tuple[WorkflowSpec, int]]) -> list[WorkflowSpec]:
        """After their commit: the specs of ``registered`` (spec, number) that another engine
        beat to their number, read back from the store (register them again)."""
        await self.registry.sync(self.store, self.tenant_id, {spec.name for spec, _ in registered})
        return self.registry.lost(self.tenant_id, registered)

    async def know_workflows(self, names: Sequence[str]) -> None:
        """Read the workflows ``names`` this engine holds no version of from the store
        (another engine on the database may have registered them)."""
        missing = {name for name in names if self.registry.get(self.tenant_id, name) is None}
        if missing:
            await self.registry.sync(self.store, self.tenant_id, missing)

    def workflow_names(self) -> list[str]:
        return self.registry.names(self.tenant_id)

    # -- runs ----------------------------------------------------------------------------------------

    def workflow_specs(self) -> list[tuple[str, str, WorkflowSpec]]:
        """``(workflow id, name, current spec)`` of every registered workflow (for triggers)."""
        out = []
        for name in self.registry.names(self.tenant_id):
            entry = self.registry.get(self.tenant_id, name)
            current = None if entry is None else entry.current
            if entry is not None and current is not None:
                out.append((entry.id, entry.name, entry.versions[current]))
        return out

    def create_runs(
        self, requests: Sequence[RunRequest], stored: dict[str, str] | None = None
    ) -> list[Submitted]:
        """Start runs (for :class:`~ratchet.actors.runs._intake.RunIntake`); one entry each.

        ``stored`` is the run id the store held for a key when the intake read it. The
        caller acknowledges a run only after its ticket's commit.
        """
        return self._create_runs(requests, stored or {})

    def create_runs_with(
        self, requests: Sequence[RunRequest], extra: Sequence[Any]
    ) -> tuple[list[Submitted], CommitTicket]:
        """Start runs that commit together with ``extra`` mutations, all or nothing.

        For an event and the runs it starts, a cron tick's or a schedule's run and its
        record. Returns each request's entry, and the one ticket.
        """
        self._atomic = []
        try:
            out = self._create_runs(requests, {})
        finally:
            atomic, self._atomic = self._atomic, None
        ticket = CommitTicket([*(mutation for _, mutation, _ in atomic), *extra])
        self._writer.enqueue.tell(ticket)
        for run, _, commands in atomic:
            self._effects_send.send_nowait(_Effect(ticket, run, commands, False))
        return [s if s.error is not None else replace(s, ticket=ticket) for s in out], ticket

    def _create_runs(self, requests: Sequence[RunRequest], stored: dict[str, str]) -> list[Submitted]:
        # Runs committed together with other mutations join no other batch's run: all or nothing.
        together = self._atomic is not None
        admissions = admit(
            [r.idempotency_key for r in requests],
            stored=stored,
            pending=None if together else self._pending_keys.runs(),
        )
        out: list[Submitted] = []
        for request, admission in zip(requests, admissions, strict=True):
            if isinstance(admission, Known):
                out.append(Submitted(admission.run_id, known=True))
            elif isinstance(admission, Join):
                run_id, ticket = admission.pending  # the same run, still being committed
                out.append(Submitted(run_id, ticket, joined=True))
            elif isinstance(admission, Same):
                first = out[admission.index]
                out.append(first if first.error is not None else replace(first, joined=True))
            else:
                out.append(self._create_run(request))
        return out

    def _create_run(self, request: RunRequest) -> Submitted:
        """Make a new run for ``request`` and submit its commit (or refuse an unknown workflow)."""
        entry = self.registry.get(self.tenant_id, request.workflow)
        version = None if entry is None else entry.current
        if entry is None or version is None:
            known = ", ".join(self.registry.names(self.tenant_id)) or "none yet"
            return Submitted(
                unknown_workflow=True,
                error=f"unknown workflow {request.workflow!r}: neither a worker nor a client registered "
                f"it (registered: {known}); a registration in progress counts once it is stored",
            )
        spec = entry.versions[version]
        priority = request.priority if request.priority is not None else spec.default_priority
        run_id = request.run_id or self.context.random.new_id()
        state = m.RunState(run_id, spec, priority=priority)
        key = request.idempotency_key
        task_ids = {t.name: self.context.random.new_id() for t in spec.tasks}
        now = self._now()
        run = ActiveRun(
            self.tenant_id,
            entry,
            version,
            state,
            request.input,
            self._inherited_metadata(request),
            task_ids,
            now,
            filter_payload=request.filter_payload,
            desired_worker_labels=request.desired_worker_labels,
        )
        # a task's stored input holds what its trigger adds to the run's input
        added: dict[str, Any] = {}
        if request.filter_payload is not None:
            added["filter_payload"] = request.filter_payload
        if request.desired_worker_labels:
            added["desired_worker_labels"] = {k: v.to_dict() for k, v in request.desired_worker_labels}
        trigger = added or None
        commands = m.apply(state, m.StartRun())
        queued = {c.task for c in commands if isinstance(c, m.QueueTask)}
        tasks = tuple(
            NewTask(
                id=task_ids[t.name],
                name=t.name,
                queue=action_name(self.tenant_id, spec.name, t.name),
                input=trigger,
                parents=tuple(task_ids[p] for p in t.parents),
                priority=priority,
                max_retries=t.retry.retries,
                durable=t.kind.value == "durable",
                status=m.TaskStatus.QUEUED if t.name in queued else m.TaskStatus.PENDING,
            )
            for t in spec.tasks
        )
        mutation = CreateRun(
            tenant_id=self.tenant_id,
            id=run_id,
            workflow_id=entry.id,
            workflow_version=version,
            input=request.input,
            tasks=tasks,
            at=now,
            additional_metadata=run.metadata,
            priority=priority,
            parent_task_id=request.parent_task_id,
            idempotency_key=request.idempotency_key,
        )
        self.runs[run_id] = run
        for name, task_id in task_ids.items():
            self._task_index[task_id] = (run_id, name)
        if self._atomic is not None:
            self._atomic.append((run, mutation, commands))
            return Submitted(run_id)  # its ticket is the shared one, made in create_runs_with
        ticket = self._submit(run, [mutation], commands, fatal=False)
        if key is not None:
            self._pending_keys.add(key, run_id, ticket)
            self.context.start_soon(self._forget_key, key, ticket)
        return Submitted(run_id, ticket)

    def _inherited_metadata(self, request: RunRequest) -> dict[str, Any]:
        """A child run's metadata: its parent run's, overridden by its own."""
        own = dict(request.additional_metadata)
        if request.parent_task_id is None:
            return own
        found = self._find(request.parent_task_id)
        return own if found is None else {**found[0].metadata, **own}

    async def _forget_key(self, key: str, ticket: CommitTicket) -> None:
        # once committed (or refused), the store answers for the key
        try:
            await ticket.wait()
        except Exception:
            pass
        self._pending_keys.settled(key, ticket)

    def watch(self, run_id: str) -> trio.Event | None:
        """An event set when the run finishes (committed); None if it is not active."""
        run = self.runs.get(run_id)
        if run is None:
            return None
        event = trio.Event()
        run.watchers.append(event)
        return event

    def cancel_runs(self, run_ids: Sequence[str], reason: str = "cancelled by request") -> int:
        """Cancel active runs; returns how many were active."""
        count = 0
        for run_id in run_ids:
            run = self.runs.get(run_id)
            if run is not None and not run.state.status.is_terminal:
                self._transition(run, m.CancelRun(reason))
                count += 1
        return count

    async def replay_runs(self, run_ids: Sequence[str]) -> list[str]:
        """Run FAILED or CANCELLED runs again from where they broke; returns the ids replayed."""
        replayed = []
        for run_id in run_ids:
            active = self.runs.get(run_id)
            if active is not None and active.state.status.is_terminal:
                # It finished a moment ago (a cancel just before this replay) and its
                # end is still being committed: wait for that, then replay it from the
                # store like any finished run.
                finished = trio.Event()
                active.watchers.append(finished)
                await finished.wait()
            if run_id in self.runs:
                continue  # still active
            row = await self.store.get_run(self.tenant_id, run_id)
            if (
                row is None
                or row.status not in (RunStatus.FAILED, RunStatus.CANCELLED)
                or run_id in self.runs
            ):
                continue
            run = await self._rebuild(row)
            if run is None:
                continue
            self._activate(run)
            self._transition(run, m.Replay())
            replayed.append(run_id)
        return replayed

    def active_runs(self) -> int:
        return len(self.runs)

    # -- events from the rest of the engine -------------------------------------------------------

    def _find(self, task_id: str) -> tuple[ActiveRun, str] | None:
        where = self._task_index.get(task_id)
        if where is None:
            return None
        run = self.runs.get(where[0])
        return None if run is None else (run, where[1])

    def tasks_assigned(self, assigned: Sequence[tuple[str, int, str]]) -> None:
        """``(task_id, attempt, worker)`` for attempts the scheduler handed to workers."""
        for task_id, attempt, worker in assigned:
            found = self._find(task_id)
            if found is not None:
                self._transition(found[0], m.TaskAssigned(found[1], attempt, worker))

    def task_results(self, results: Sequence[dict[str, Any]]) -> None:
        """Results reported by workers (validated by the gateway)."""
        for r in results:
            found = self._find(r["task_id"])
            if found is None:
                continue
            run, name = found
            status = r["status"]
            if status == "completed":
                event: m.Event = m.TaskCompleted(name, r["attempt"], r.get("output"))
            elif status == "failed":
                error = m.ErrorInfo(
                    r.get("error_type") or "Error", r.get("error_message") or "", r.get("traceback") or ""
                )
                timed_out = r.get("error_code") == TaskErrorCode.EXECUTION_TIMEOUT
                event = m.TaskFailed(name, r["attempt"], error, bool(r.get("retryable", True)), timed_out)
            elif status == "evicted":
                event = m.TaskEvicted(name, r["attempt"], r.get("evicted_at"))
            else:
                continue  # a cancelled attempt: the engine cancelled it and already knows
            self._transition(run, event)

    def flow_cancel(self, items: Sequence[tuple[Sequence[str], str]]) -> None:
        """Runs or tasks a concurrency group decided to cancel (CANCEL_NEWEST, CANCEL_IN_PROGRESS)."""
        for holder, reason in items:
            kind, ident = holder
            if kind == "run":
                self.cancel_runs([ident], reason)
                continue
            found = self._find(ident)
            if found is not None:
                run, name = found
                task = run.state.tasks[name]
                self._transition(run, m.CancelTask(name, task.attempt, reason))

    def flow_refused(self, items: Sequence[tuple[Sequence[Any], str]]) -> None:
        """Attempts flow control can never start as declared: fail their tasks."""
        for key, reason in items:
            task_id, attempt = key
            found = self._find(task_id)
            if found is not None:
                self._transition(
                    found[0],
                    m.TaskFailed(found[1], attempt, m.ErrorInfo(FLOW_ERROR, reason), retryable=False),
                )

    def attempts_adopted(self, keys: Sequence[tuple[str, int]]) -> None:
        """Attempts a worker still runs from before an engine restart.

        One the run has moved past (a newer attempt, a finished task or run) was cancelled
        while its worker was away, so it is cancelled again now that the worker is back.
        """
        stale = []
        for task_id, attempt in keys:
            found = self._find(task_id)
            task = found[0].state.tasks[found[1]] if found is not None else None
            if task is None or task.attempt != attempt or task.status.is_terminal:
                stale.append((task_id, attempt))
        if stale:
            self._scheduler.cancel.tell(stale, "superseded while the engine restarted")

    def workers_lost(self, keys: Sequence[tuple[str, int]]) -> None:
        """Attempts whose worker went silent or away."""
        for task_id, attempt in keys:
            found = self._find(task_id)
            if found is not None:
                self._transition(found[0], m.WorkerLost(found[1], attempt))

    def refresh_timeout(self, task_id: str, attempt: int, seconds: float) -> bool:
        """Move a running attempt's execution deadline to ``seconds`` from now.

        Returns False for an attempt that is not running (finished, or another attempt).
        """
        found = self._find(task_id)
        if found is None:
            return False
        run, name = found
        task = run.state.tasks[name]
        if task.attempt != attempt or task.status.is_terminal:
            return False
        deadline = self.context.clock.monotonic() + seconds
        # Remember it for the attempt's execution timer if that has not started yet (the
        # assignment may still await its commit), and move the timer if it has.
        key = (task_id, attempt)
        self._refreshed[key] = max(deadline, self._refreshed.get(key, deadline))
        if task.status is m.TaskStatus.RUNNING:
            self._timers.reschedule.tell(task_id, deadline, "execution_timeout")
        return True

    def gate_decided(self, task_id: str, decision: str) -> None:
        """A gated task's conditions settled (``run``, ``skip`` or ``cancel``)."""
        found = self._find(task_id)
        if found is not None:
            self._transition(found[0], m.GateDecided(found[1], decision))

    def gated_tasks(self) -> list[tuple[str, int, dict[str, Any]]]:
        """``(task id, attempt, request)`` of every task waiting on its conditions."""
        out = []
        for run in self.runs.values():
            for name, task in run.state.tasks.items():
                if task.gated and task.status is m.TaskStatus.PENDING:
                    request = m.gate_request(run.state, run.state.task_spec(name))
                    out.append((run.task_ids[name], task.attempt + 1, request))
        return out

    def resume_tasks(self, tasks: Sequence[str | tuple[str, int | None]]) -> None:
        """Durable tasks whose waits ended (a task id, or ``(task id, log position)``):
        queue them to replay their logs (see :class:`~ratchet.actors.runs._machine.Resume`)."""
        for item in tasks:
            task_id, seq = (item, None) if isinstance(item, str) else item
            found = self._find(task_id)
            if found is not None:
                self._transition(found[0], m.Resume(found[1], seq))

    def workflow_paused(self, workflow: str, paused: bool) -> None:
        """An operator paused or unpaused ``workflow`` (committed already)."""
        if paused:
            self._paused_workflows.add(workflow)
        else:
            self._paused_workflows.discard(workflow)

    def timer_fired(self, task_id: str, attempt: int, kind: str) -> None:
        found = self._find(task_id)
        if found is None:
            return
        run, name = found
        timer = m.TimerKind(kind)
        if timer is m.TimerKind.RETRY:
            self._transition(run, m.RetryDue(name, attempt))
        elif timer is m.TimerKind.SCHEDULE_TIMEOUT:
            task = run.state.tasks[name]
            if (
                run.workflow.name in self._paused_workflows
                and task.status is m.TaskStatus.QUEUED
                and task.attempt == attempt
            ):
                # A paused workflow's tasks wait for it to be unpaused, not for a worker:
                # the wait does not count, so the schedule timeout starts over.
                delay = run.state.task_spec(name).schedule_timeout
                self._timers.schedule_at.tell(
                    task_id,
                    self.context.clock.monotonic() + delay,
                    self.context.ref,
                    "timer_fired",
                    task_id,
                    attempt,
                    kind,
                )
                return
            self._transition(run, m.ScheduleTimedOut(name, attempt))
        else:
            self._transition(run, m.TimedOut(name, attempt))

    # -- the transition: apply, persist, then act -------------------------------------------------

    def _transition(self, run: ActiveRun, event: m.Event) -> None:
        """Apply ``event`` to ``run``, then persist its facts and carry out its commands
        once they are committed."""
        facts = m.apply(run.state, event)
        if not facts:
            return
        mutations = mutations_for(run, facts, self._now())
        commands: list[m.Command | _HoldersDone] = list(facts)
        if run.state.spec.flow_controlled:
            done = tuple(
                ("task", run.task_ids[c.task])
                for c in commands
                if isinstance(c, m.TaskChanged)
                and c.to_status.is_terminal
                and not c.from_status.is_terminal
                and run.state.task_spec(c.task).concurrency
            )
            if done:
                commands = [*commands, _HoldersDone(done)]
        self._submit(run, mutations, commands)

    def _assignment(self, run: ActiveRun, task_name: str, attempt: int) -> dict[str, Any]:
        state = run.state
        spec = state.task_spec(task_name)
        task = state.tasks[task_name]
        parents = {p: state.tasks[p].output for p in _upstream(state, spec)}
        failed = [
            [t.name, run.task_ids[t.name], t.error.type, t.error.message, t.error.traceback]
            for t in state.tasks.values()
            if t.status is m.TaskStatus.FAILED and t.error is not None
        ]
        return {
            "run_id": state.run_id,
            "task_id": run.task_ids[task_name],
            "workflow": run.workflow.name,
            "version": run.version,
            "task": task_name,
            "attempt": attempt,
            "retry_count": task.retry_count,
            "input": run.input,
            "parents": parents,
            "metadata": run.metadata,
            "failed": failed if spec.kind.value == "on_failure" else [],
            "timeout": spec.execution_timeout,
            "filter_payload": run.filter_payload,
        }

    def _flow_needs(self, run: ActiveRun, name: str) -> Any:
        """The flow-control needs of the task's next attempt (None without flow control).

        Raises:
            FlowKeyError: an expression failed for this run.
        """
        state = run.state
        if not (state.spec.flow_controlled or run.desired_worker_labels):
            return None
        if run.flow is None:
            run.flow = RunFlow(state.spec, run.input, run.metadata, run.desired_worker_labels)
        return run.flow.needs(name, state.run_id, run.task_ids[name])

    def _execute(self, run: ActiveRun, commands: Sequence[Any]) -> None:
        queued: list[QueuedTask] = []
        cancelled: list[tuple[str, int]] = []
        refused: list[tuple[str, int, str]] = []
        done: list[tuple[str, str]] = []
        for c in commands:
            if isinstance(c, m.QueueTask):
                try:
                    needs = self._flow_needs(run, c.task)
                except FlowKeyError as exc:
                    refused.append((c.task, c.attempt, str(exc)))
                    continue
                queued.append(
                    QueuedTask(
                        key=(run.task_ids[c.task], c.attempt),
                        action=action_name(run.tenant_id, run.workflow.name, c.task),
                        priority=run.state.priority,
                        retry=c.retry,
                        payload=self._assignment(run, c.task, c.attempt),
                        durable=run.state.task_spec(c.task).kind is TaskKind.DURABLE,
                        flow=needs,
                        workflow=run.workflow.name,
                    )
                )
            elif isinstance(c, m.StartTimer):
                task_id = run.task_ids[c.task]
                deadline = self.context.clock.monotonic() + max(0.0, c.delay)
                if c.kind is m.TimerKind.EXECUTION_TIMEOUT:
                    deadline = max(deadline, self._refreshed.pop((task_id, c.attempt), deadline))
                self._timers.schedule_at.tell(
                    task_id, deadline, self.context.ref, "timer_fired", task_id, c.attempt, c.kind.value
                )
            elif isinstance(c, m.CancelAttempt):
                # Drop the attempt's timer now, in command order: the same transition
                # may start a new timer for this task right after (a retry's backoff
                # after an execution timeout), and timers are keyed by task, so
                # cancelling after the loop would kill the new timer and strand the task.
                task_id = run.task_ids[c.task]
                self._timers.cancel.tell(task_id)
                cancelled.append((task_id, c.attempt))
            elif isinstance(c, m.WatchGate):
                self._durable().watch_gate.tell(run.task_ids[c.task], c.attempt, c.request)
            elif isinstance(c, m.WatchEvicted):
                self._durable().watch_evicted.tell(run.task_ids[c.task], c.seq)
            elif isinstance(c, _HoldersDone):
                done.extend(c.holders)
            elif isinstance(c, m.RunFinished):
                self.finished += 1
                self._timers.cancel_many.tell(list(run.task_ids.values()))
                if any(t.kind is TaskKind.DURABLE or t.gated for t in run.state.spec.tasks):
                    # the durable tasks' logs and waits are no longer needed in memory
                    self._durable().forget.tell(list(run.task_ids.values()))
                if run.state.spec.flow_controlled:
                    done.append(("run", run.run_id))
                self._drop(run)
        if cancelled:
            self._scheduler.cancel.tell(cancelled)
        if queued:
            self._scheduler.enqueue.tell(queued)
        if done:
            self._scheduler.flow_done.tell(done)
        for name, attempt, reason in refused:
            error = m.ErrorInfo(FLOW_ERROR, reason)
            self._transition(run, m.TaskFailed(name, attempt, error, retryable=False))

    # -- recovery --------------------------------------------------------------------------------

    def _activate(self, run: ActiveRun) -> None:
        self.runs[run.state.run_id] = run
        for name, task_id in run.task_ids.items():
            self._task_index[task_id] = (run.state.run_id, name)

    async def _rebuild(self, row: Run) -> ActiveRun | None:
        """A stored run as an :class:`ActiveRun` (None if it cannot be driven)."""
        rebuilt = await rebuild_run(self.store, self.registry, self.tenant_id, row)
        if rebuilt is None:
            return None
        return ActiveRun(
            self.tenant_id,
            rebuilt.workflow,
            row.workflow_version,
            rebuilt.state,
            row.input,
            dict(row.additional_metadata or {}),
            rebuilt.task_ids,
            row.created_at,
            ready_at=rebuilt.ready_at,
            filter_payload=rebuilt.filter_payload,
            desired_worker_labels=rebuilt.desired_worker_labels,
        )

    async def _recover(self) -> None:
        """Rebuild every run that had not finished, and re-issue its pending work
        (see :mod:`ratchet.actors.runs._recovery`)."""
        rows = await self.store.list_runs(
            self.tenant_id, statuses=[m.RunStatus.QUEUED, m.RunStatus.RUNNING], limit=None
        )
        now_wall = self._now()
        recovered = []
        for row in reversed(rows):  # oldest first
            run = await self._rebuild(row)
            if run is not None:
                recovered.append(run)
        self._sync_flow(recovered)
        for run in recovered:
            state = run.state
            self._activate(run)
            commands = pending_work(state, run.ready_at, now_wall)
            if commands:
                self._execute(run, commands)
            for name, ts in list(state.tasks.items()):
                if ts.status is m.TaskStatus.RUNNING:
                    self._transition(run, m.WorkerLost(name, ts.attempt))
            rearm_gates(state)

    def _sync_flow(self, runs: list[ActiveRun]) -> None:
        """Tell the scheduler which concurrency holders are unfinished, which held places
        before the restart, and sticky runs' workers (:func:`~._recovery.flow_sync`)."""
        sync = flow_sync(runs)
        self._scheduler.flow_sync.tell(sync.active, sync.reclaim)
        if sync.sticky:
            self._scheduler.flow_stick.tell(sync.sticky)


def _upstream(state: m.RunState, spec: Any) -> list[str]:
    """The completed tasks whose outputs a task may read: all its ancestors (every
    completed task of the run for on-failure and on-success tasks)."""
    handler = spec.kind in (TaskKind.ON_FAILURE, TaskKind.ON_SUCCESS)
    names = state.tasks if handler else state.spec.ancestors(spec.name)
    return [name for name in names if state.tasks[name].status is m.TaskStatus.COMPLETED]
