"""The QueueScheduler actor: flow control, ready queues, worker slots, and assignments.

Wraps :class:`~ratchet.actors.scheduling._machine.FlowScheduler` (flow control in front of
:class:`~ratchet.actors.scheduling._queues.SchedulingCore`) in an actor. Tasks arrive from the
RunCoordinator (already committed as QUEUED) and pass concurrency admission first;
workers arrive and leave through the Dispatcher; results free slots. Every assignment is
sent, in batches, to the Dispatcher (which delivers it to the worker) and reported to
the RunCoordinator (which records the task as RUNNING on that worker). Cancelling a
running attempt tells its worker to stop it; its slot stays taken until the worker
reports that it ended.

Flow control's own decisions go to the coordinator too: the holders a concurrency group
cancels (CANCEL_NEWEST, CANCEL_IN_PROGRESS) and attempts that can never start as
declared (an undeclared rate-limit key). A task that takes rate-limit units is delivered
only once the key's new window is committed, so an engine restart never forgets units
a started task took; the scheduler loads the windows back when it starts. Tasks parked
on a full rate limit are woken by one timer at the moment the earliest window has room.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from ratchet.runtime import Actor, ActorRef

from .. import _names as names
from ..store import CommitTicket, PauseKind, SaveRateLimitWindow, Store
from ._admission import FlowStatistics, Holder, as_holder
from ._machine import Effects, FlowScheduler
from ._queues import Assignment, QueuedTask, WorkerSlots, attempt_key

__all__ = ["QueueScheduler", "SchedulerStatistics"]


@dataclass(frozen=True)
class SchedulerStatistics:
    """Queue depths (per action and in all), worker capacity and flow control."""

    queued: int
    depths: dict[str, int]
    workers: int
    free_slots: int
    assigned: int
    flow: FlowStatistics | None = None


class QueueScheduler(Actor):
    """Pairs queued tasks with free worker slots, within flow control.

    Messages (refs are untyped: this is the route in):
        from the RunCoordinator: ``enqueue``, ``cancel``, ``flow_done``, ``flow_sync``,
            ``flow_stick``.
        from the Dispatcher: ``add_worker``, ``drain_worker``, ``remove_worker``.
        from the Gateway: ``release``, ``release_slot`` (a worker's attempt ended),
            ``put_rate_limit``, ``delete_rate_limit``, ``pause_worker``, ``resume_worker``,
            ``pause_workflow``,
            ``resume_workflow`` (already committed), and the reads ``worker_slots``,
            ``all_worker_slots``, ``slot_usage``, ``paused``.
        from itself: ``rate_limits_due`` (the earliest full window has room).
        from tests and statistics: ``scheduler_statistics``.

    Pauses of workers and workflows are committed by the gateway before they reach the
    scheduler, and loaded back from the store when it starts, so a restarted engine
    keeps them.

    Args:
        store: the store to load rate-limit windows and pauses from at start (None: start empty).
        tenant_id: the tenant whose rate limits to load and save.
    """

    def __init__(
        self,
        *,
        store: Store | None = None,
        tenant_id: str = names.DEFAULT_TENANT,
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.assigned = 0
        self._wake_armed: float | None = None

    async def on_start(self) -> None:
        system = self.context.system
        self._dispatcher: ActorRef = system.lookup(names.scoped(names.DISPATCHER, self.tenant_id))
        self._coordinator: ActorRef = system.lookup(names.scoped(names.COORDINATOR, self.tenant_id))
        self._writer: ActorRef | None = None
        runtime = self.context.runtime
        on_fact = None
        if runtime.trace is not None:
            name = self.context.name

            def on_fact(record: list[Any]) -> None:
                runtime.record("flow", name, json.dumps(record))

        self._on_fact = on_fact
        self.scheduler = FlowScheduler(clock=self.context.clock.time, on_fact=on_fact)
        self.core = self.scheduler.core
        if on_fact is not None:
            on_fact(["restart", self.context.clock.time()])  # this scheduler starts from nothing
        if self.store is not None:
            self._writer = system.lookup(names.STORE_WRITER)
            self.scheduler.flow.defer_rate_facts = True  # reported once the windows are saved
            self.scheduler.wait_for_sync()  # the coordinator's recovery comes first
            await self._load_rate_limits(self.store, self.tenant_id)
            await self._load_pauses(self.store, self.tenant_id)

    async def _load_pauses(self, store: Store, tenant_id: str) -> None:
        for pause in await store.list_pauses(tenant_id):
            if pause.kind == PauseKind.WORKER:
                self.scheduler.pause_worker(pause.target)
            elif pause.kind == PauseKind.WORKFLOW:
                self.scheduler.pause_workflow(pause.target)

    async def _load_rate_limits(self, store: Store, tenant_id: str) -> None:
        flow = self.scheduler.flow
        for limit in await store.list_rate_limits(tenant_id):
            flow.limiter.put(limit.key, limit.limit_units, limit.duration_seconds)
        for window in await store.list_rate_limit_windows(tenant_id):
            if window.log:
                flow.limiter.restore(window.key, window.limit_units, window.duration_seconds, window.log)

    # -- carrying out effects -----------------------------------------------------------------

    def _apply(self, effects: Effects) -> None:
        if effects.placed:
            self._coordinator.tasks_assigned.tell([(*attempt_key(k), w) for k, w in effects.placed])
        assignments = effects.assignments
        if assignments:
            self.assigned += len(assignments)
            self._coordinator.tasks_assigned.tell([(*attempt_key(a.task.key), a.worker) for a in assignments])
            dirty = self.scheduler.flow.take_dirty_rates()
            limited = [a for a in assignments if a.task.flow is not None and a.task.flow.rates]
            if limited and dirty and self._writer is not None and self.tenant_id is not None:
                at = self.context.clock.time()
                ticket = CommitTicket(
                    [
                        SaveRateLimitWindow(
                            tenant_id=self.tenant_id,
                            key=key,
                            limit_units=limit,
                            duration_seconds=duration,
                            log=log,
                            at=at,
                        )
                        for key, limit, duration, log in dirty
                    ]
                )
                self._writer.enqueue.tell(ticket)
                facts = self.scheduler.flow.take_grant_facts()
                self.context.start_soon(self._deliver_when_saved, ticket, limited, facts)
                assignments = [a for a in assignments if not (a.task.flow is not None and a.task.flow.rates)]
            if assignments:
                self._dispatcher.deliver.tell(assignments)
        for key, worker in effects.stop:
            task_id, attempt = attempt_key(key)
            self._dispatcher.cancel_on_worker.tell(worker, task_id, attempt, "cancelled")
        if effects.lost:
            self._coordinator.workers_lost.tell(effects.lost)
        if effects.cancel:
            self._coordinator.flow_cancel.tell([(list(holder), reason) for holder, reason in effects.cancel])
        if effects.refuse:
            self._coordinator.flow_refused.tell([(key, reason) for key, reason in effects.refuse])
        self._arm_wake()

    async def _deliver_when_saved(
        self, ticket: CommitTicket, assignments: list[Assignment], facts: list[list[Any]]
    ) -> None:
        """Deliver rate-limited assignments once the units they took are durable.

        A failed commit raises here, which crashes the scheduler: its supervisor restarts
        it and the engine rebuilds from the store, where the units were never taken (and
        the trace never reported them).
        """
        await ticket.wait()
        if self._on_fact is not None:
            for record in facts:
                self._on_fact(record)
        deliver = []
        gone: list[Hashable] = []
        for a in assignments:
            where = self.core.location(a.task.key)
            if where != (a.task.action, a.worker):
                continue  # the worker was removed meanwhile; its attempts were reported lost
            if self.core.is_stopping(a.task.key):
                gone.append(a.task.key)  # cancelled before it could leave: it never will
            else:
                deliver.append(a)
        if deliver:
            self._dispatcher.deliver.tell(deliver)
        if gone:
            self._apply(self.scheduler.release(gone))

    def _arm_wake(self) -> None:
        at = self.scheduler.next_wake()
        if at is None or (self._wake_armed is not None and self._wake_armed <= at):
            return
        self._wake_armed = at
        self.context.send_after(max(0.0, at - self.context.clock.time()), "rate_limits_due")

    def rate_limits_due(self) -> None:
        """The timer for parked tasks: start those whose windows have room now."""
        self._wake_armed = None
        self._apply(self.scheduler.wake_due())

    # -- tasks ----------------------------------------------------------------------------------

    def enqueue(self, tasks: Sequence[QueuedTask]) -> None:
        """Queue task attempts (or assign them at once), through flow control.

        An attempt already placed is not queued twice. One already *running* on a worker
        is reported to the coordinator as assigned there: a coordinator that restarted
        and rebuilt its runs from the store may not know (the commit that recorded the
        assignment can be what it crashed on), and an attempt it believes queued would
        never be noticed lost if its worker died.
        """
        self._apply(self.scheduler.enqueue(tasks))

    def cancel(self, keys: Sequence[Hashable], reason: str = "cancelled") -> None:
        """Drop attempts from wherever they wait, or stop them on their workers."""
        effects = self.scheduler.cancel([attempt_key(k) for k in keys])
        for key, worker in effects.stop:
            task_id, attempt = attempt_key(key)
            self._dispatcher.cancel_on_worker.tell(worker, task_id, attempt, reason)
        effects.stop = []
        self._apply(effects)

    def release(self, keys: Sequence[Hashable], worker: str | None = None) -> None:
        """Attempts that ended on ``worker`` (default: where each is placed): free their slots."""
        self._apply(self.scheduler.release([attempt_key(k) for k in keys], worker))

    def release_slot(self, key: Hashable) -> None:
        """A running attempt gave its slot back early (``ctx.release_slot()``)."""
        self._apply(self.scheduler.release_slot(attempt_key(key)))

    # -- workers --------------------------------------------------------------------------------

    def add_worker(
        self,
        worker: str,
        actions: Sequence[str],
        slots: int,
        busy: Sequence[Hashable] = (),
        *,
        durable_slots: int = 0,
        labels: dict[str, Any] | None = None,
        durable_busy: Sequence[Hashable] = (),
    ) -> None:
        """Register a worker with the attempts it runs already (see ``SchedulingCore.add_worker``).

        Attempts it runs that the engine does not know are reported to the coordinator,
        which stops those its runs have moved past (superseded while the engine restarted).
        """
        busy_keys = [attempt_key(k) for k in busy]
        unknown = [k for k in busy_keys if not self.scheduler.known(k)]
        self._apply(
            self.scheduler.add_worker(
                worker,
                actions,
                slots,
                busy_keys,
                durable_slots=durable_slots,
                labels=labels,
                durable_busy=[attempt_key(k) for k in durable_busy],
            )
        )
        if unknown:
            self._coordinator.attempts_adopted.tell(unknown)

    def drain_worker(self, worker: str) -> None:
        self.scheduler.drain_worker(worker)

    def remove_worker(self, worker: str) -> None:
        """Forget a worker; its running attempts are reported lost to the coordinator."""
        self._apply(self.scheduler.remove_worker(worker))

    # -- pauses (committed by the gateway first) ------------------------------------------------

    def pause_worker(self, worker: str) -> None:
        """Give ``worker`` no new tasks until resumed; its running tasks finish."""
        self.scheduler.pause_worker(worker)

    def resume_worker(self, worker: str) -> None:
        """Lift ``worker``'s pause: it takes what waits for it."""
        self._apply(self.scheduler.resume_worker(worker))

    def pause_workflow(self, workflow: str) -> None:
        """Hold ``workflow``'s queued tasks until it is unpaused."""
        self.scheduler.pause_workflow(workflow)

    def resume_workflow(self, workflow: str) -> None:
        """Unpause ``workflow``: its queued tasks start as workers have room."""
        self._apply(self.scheduler.resume_workflow(workflow))

    def paused(self) -> dict[str, list[str]]:
        """``{"workers": [...], "workflows": [...]}``: what is paused, sorted."""
        return {
            "workers": sorted(self.core.paused_workers()),
            "workflows": sorted(self.core.paused_workflows()),
        }

    def worker_slots(self, worker: str) -> dict[str, Any] | None:
        """A connected worker's slots as the scheduler counts them, or None if it has none.

        ``used`` counts the attempts holding ordinary slots (one that gave its slot back
        early holds none); ``free`` is 0 while the worker drains or is paused.
        """
        slots = self.core.worker(worker)
        return None if slots is None else _slots_view(slots)

    def all_worker_slots(self) -> dict[str, dict[str, Any]]:
        """:meth:`worker_slots` of every connected worker, by id."""
        return {slots.worker: _slots_view(slots) for slots in self.core.workers()}

    def slot_usage(self) -> dict[str, int]:
        """Slots across the connected workers: total, used and free, ordinary and durable."""
        workers = self.core.workers()
        return {
            "workers": len(workers),
            "total": sum(w.slots for w in workers),
            "used": sum(len(w.running) for w in workers),
            "free": sum(w.free for w in workers),
            "durable_total": sum(w.durable_slots for w in workers),
            "durable_used": sum(len(w.durable_running) for w in workers),
            "durable_free": sum(w.free_durable for w in workers),
        }

    # -- flow control ---------------------------------------------------------------------------

    def flow_done(self, holders: Sequence[Holder]) -> None:
        """Runs or tasks that finished (the coordinator committed it)."""
        self._apply(self.scheduler.done([as_holder(h) for h in holders]))

    def flow_sync(self, active: Sequence[Holder], reclaim: Sequence[Any] = ()) -> None:
        """The coordinator (re)started: only ``active`` holders are unfinished, and the
        holders of ``reclaim`` (:class:`~ratchet.actors.scheduling._admission.FlowNeeds`) held places
        before the restart: they take them back before anything new is admitted."""
        self._apply(self.scheduler.sync([as_holder(h) for h in active], reclaim))

    def flow_stick(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Sticky runs' workers, as the coordinator found them in the store."""
        for run_id, worker in pairs:
            self.scheduler.flow.stick(run_id, worker)

    def put_rate_limit(self, key: str, limit: int, duration: float) -> None:
        """A static rate limit was declared or changed (already committed)."""
        self._apply(self.scheduler.put_rate_limit(key, limit, duration))

    def delete_rate_limit(self, key: str) -> None:
        """A static rate limit was deleted (already committed): tasks that need it are refused."""
        self._apply(self.scheduler.delete_rate_limit(key))

    # -- statistics -----------------------------------------------------------------------------

    def scheduler_statistics(self) -> SchedulerStatistics:
        workers = self.core.workers()
        return SchedulerStatistics(
            queued=self.core.depth(),
            depths=self.core.depths(),
            workers=len(workers),
            free_slots=sum(w.free for w in workers),
            assigned=self.assigned,
            flow=self.scheduler.flow.statistics(),
        )


def _slots_view(slots: WorkerSlots) -> dict[str, Any]:
    return {
        "slots": slots.slots,
        "used": len(slots.running),
        "free": slots.free,
        "durable_slots": slots.durable_slots,
        "durable_used": len(slots.durable_running),
        "durable_free": slots.free_durable,
        "paused": slots.paused,
        "draining": slots.draining,
    }
