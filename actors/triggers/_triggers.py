"""The Triggers actor: events and their filters, event waits, crons and one-time schedules.

Theory of operation. Everything that starts a run without a client asking for it by
name comes through here.

* **Events.** A pushed event is committed together with the runs it starts (one unit,
  all or nothing; see :mod:`ratchet.actors.triggers._rules` for which runs), and only then
  acknowledged. Each such run's idempotency key names the event and the filter, so the
  same event can never start the same run twice. After the commit, the event is offered
  to the waits on its key (durable tasks' ``aio_wait_for_event``, task conditions).
* **Waits** are registered with a look-back time: the store's events of the key since
  then are checked first, so an event pushed a moment before the wait (or while the
  engine was down) is not missed. A wait is registered in memory before that query
  runs, so an event committed meanwhile is offered to it too; it resolves once.
* **Crons** (declared with ``on_crons`` or created through the API) are rows in the
  store. Each has one timer at its next tick (Timers actor, wall time mapped to the
  monotonic clock). A tick's run has the idempotency key ``cron:<workflow>:<name>:<tick>``, so
  several engines racing on one cron fire it once per tick: the store refuses the
  second. A tick missed while the engine was down fires once when it comes back (only
  the latest missed tick; older ones are skipped).
* **Schedules** fire at their time through a timer; the run and the schedule's FIRED
  mark commit together, fenced on the schedule still being PENDING. A schedule whose
  time passed while the engine was down fires when it comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ratchet._contract.keys import event_key
from ratchet._contract.spec import WorkflowSpec
from ratchet._contract.status import ScheduleStatus
from ratchet.runtime import Actor, ActorRef, concurrent

from .. import _names as names
from ..runs._intake import RunIntake, RunRequest, Together, run_ids, to_wire
from ..store import (
    AddPause,
    CancelSchedule,
    CommitTicket,
    CreateEventFilter,
    DeleteCron,
    DeleteEventFilter,
    MutationRejected,
    PauseKind,
    PushEvent,
    RemovePause,
    RescheduleSchedule,
    Store,
    StoreError,
)
from ..store import Cron as CronRow
from ..store import Schedule as ScheduleRow
from ._crons import DECLARED_CRON_PREFIX, Calendar, Effects, TriggerError, mirror_declared_crons
from ._rules import FilterRule, Subscription, matches_wait, runs_for_event

__all__ = [
    "DECLARED_CRON_PREFIX",
    "DECLARED_FILTER_PREFIX",
    "EventWait",
    "TriggerError",
    "Triggers",
    "TriggersStatistics",
]

log = logging.getLogger("ratchet.triggers")

DECLARED_FILTER_PREFIX = "default_filters:"
"""Ids of the filters a workflow declares with ``default_filters`` (``<prefix><workflow>:<n>``)."""


@dataclass(frozen=True)
class TriggersStatistics:
    """Counters of the Triggers actor."""

    events: int
    event_runs: int
    waits: int
    crons: int
    cron_fires: int
    schedules_pending: int
    schedules_fired: int


@dataclass
class EventWait:
    """A wait for an event on ``key``: whoever registered it is told ``method(wait_id, event)``."""

    wait_id: Hashable
    key: str
    expression: str | None
    scope: str | None
    target: ActorRef
    method: str
    done: bool = False


@dataclass
class _Workflow:
    id: str
    name: str
    spec: WorkflowSpec
    stored_filters: list[FilterRule] = field(default_factory=list)


def event_dict(row: Any) -> dict[str, Any]:
    """An event as waits and the API see it."""
    return {
        "id": row.id,
        "key": row.key,
        "payload": row.payload,
        "additional_metadata": row.additional_metadata or {},
        "scope": row.scope,
        "created_at": row.created_at,
    }


class Triggers(Actor):
    """Events, filters, waits, crons and schedules; see the module docstring.

    Crons and schedules are decided by the :class:`~ratchet.actors.triggers._crons.Calendar`
    it owns; this actor commits what the calendar decides and arms its timers.

    Messages (refs are untyped: this is the route in):
        from the Gateway: ``push``, ``create_filter``, ``list_filters``,
            ``delete_filter``, ``create_cron``, ``list_crons``, ``get_cron``,
            ``delete_cron``, ``pause_cron``, ``resume_cron``, ``run_cron_now``,
            ``create_schedule``, ``describe_schedule``,
            ``update_schedule``, ``delete_schedule``, ``workflows_changed`` (new
            versions registered).
        from DurableTasks: ``add_wait``, ``cancel_waits`` (durable waits, gates).
        from the Timers actor: ``cron_due``, ``schedule_due``.
        from tests and statistics: ``trigger_statistics``.

    Args:
        store: the store (read at start, and for look-backs).
        tenant_id: the tenant served.
    """

    def __init__(
        self,
        store: Store,
        *,
        tenant_id: str,
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.workflows: dict[str, _Workflow] = {}
        self.filters_by_workflow: dict[str, list[FilterRule]] = {}
        self.waits: dict[str, dict[Hashable, EventWait]] = {}  # key -> wait id -> wait
        self._wait_by_id: dict[Hashable, EventWait] = {}
        self.calendar = Calendar(tenant_id)
        self._counts = {"events": 0, "event_runs": 0}

    async def on_start(self) -> None:
        """Load the filters, mirror and arm the crons, arm the pending schedules."""
        lookup = self.context.system.lookup
        self._writer: ActorRef = lookup(names.STORE_WRITER)
        self._timers: ActorRef = lookup(names.TIMERS)
        self._coordinator: ActorRef = lookup(names.scoped(names.COORDINATOR, self.tenant_id))
        self._intake = RunIntake(self.store, self.tenant_id, self._coordinator)
        for f in await self.store.list_event_filters(self.tenant_id):
            self.filters_by_workflow.setdefault(f.workflow_id, []).append(
                FilterRule(f.id, f.scope, f.expression, f.payload)
            )
        for pause in await self.store.list_pauses(self.tenant_id, kind=PauseKind.CRON):
            self.calendar.disabled.add(pause.target)
        await self.workflows_changed()
        for s in await self.store.list_schedules(self.tenant_id, status=ScheduleStatus.PENDING):
            self._carry_out(self.calendar.schedule_added(s))

    def _now(self) -> float:
        return self.context.clock.time()

    def _timer_at(self, key: Any, wall: float, method: str, *args: Any) -> None:
        clock = self.context.clock
        deadline = clock.monotonic() + max(0.0, wall - clock.time())
        self._timers.schedule_at.tell(key, deadline, self.context.ref, method, *args)

    # -- workflows -------------------------------------------------------------------------------

    async def workflows_changed(self) -> None:
        """Re-read the registered workflows (a worker registered new versions)."""
        specs = await self._coordinator.workflow_specs.ask()
        self.workflows = {name: _Workflow(wid, name, spec) for wid, name, spec in specs}
        self.calendar.workflow_names = {wf.id: wf.name for wf in self.workflows.values()}
        await self._sync_declared_crons()

    def _subscriptions(self) -> list[Subscription]:
        subs = []
        for wf in self.workflows.values():
            if not wf.spec.on_events:
                continue
            stored = tuple(self.filters_by_workflow.get(wf.id, ()))
            subs.append(Subscription(wf.name, tuple(wf.spec.on_events), _declared_filters(wf) + stored))
        return subs

    def _workflow(self, name: str) -> _Workflow:
        wf = self.workflows.get(name)
        if wf is None:
            known = ", ".join(sorted(self.workflows)) or "none yet"
            raise TriggerError(
                f"unknown workflow {name!r}: neither a worker nor a client registered it "
                f"(registered: {known})"
            )
        return wf

    # -- events ----------------------------------------------------------------------------------

    @concurrent
    async def push(self, events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Commit events (each with the runs it starts) and answer once they are durable.

        Each event is ``{key, payload, additional_metadata, scope, priority}``, already
        validated. Answers ``{"id", "runs"}`` per event, or ``{"error"}``.
        """
        subs = self._subscriptions()
        pending = []
        for ev in events:
            event_id = self.context.random.new_id()
            at = self._now()
            matches = runs_for_event(subs, ev["key"], ev["payload"], ev["additional_metadata"], ev["scope"])
            requests = [
                RunRequest(
                    match.workflow,
                    ev["payload"],
                    ev["additional_metadata"],
                    ev.get("priority"),
                    idempotency_key=event_key(
                        event_id, match.filter.id if match.filter else None, match.workflow
                    ),
                    filter_payload=None if match.filter is None else match.filter.payload,
                )
                for match in matches
            ]
            mutation = PushEvent(
                tenant_id=self.tenant_id,
                id=event_id,
                key=ev["key"],
                payload=ev["payload"],
                at=at,
                additional_metadata=ev["additional_metadata"],
                scope=ev["scope"],
            )
            pending.append((event_id, at, ev, await self._intake.submit_with(requests, [mutation])))
        answers: list[dict[str, Any]] = []
        for event_id, at, ev, together in pending:
            try:
                started = run_ids(await together.wait())
            except Exception as exc:
                answers.append({"error": f"the event could not be stored: {exc}"})
                continue
            self._counts["events"] += 1
            self._counts["event_runs"] += len(started)
            answers.append({"id": event_id, "runs": started})
            self._offer({"id": event_id, "created_at": at, **ev})
        return answers

    def _offer(self, event: dict[str, Any]) -> None:
        waits = self.waits.get(event["key"])
        if not waits:
            return
        for wait in list(waits.values()):
            if self._accepts(wait, event):
                self._resolve(wait, event)

    @staticmethod
    def _accepts(wait: EventWait, event: dict[str, Any]) -> bool:
        return matches_wait(
            wait.expression,
            wait.scope,
            event["key"],
            event["payload"],
            event.get("additional_metadata") or {},
            event.get("scope"),
        )

    def _resolve(self, wait: EventWait, event: dict[str, Any]) -> None:
        if wait.done:
            return
        wait.done = True
        self._drop_wait(wait)
        plain = {
            k: event.get(k) for k in ("id", "key", "payload", "additional_metadata", "scope", "created_at")
        }
        wait.target._tell(wait.method, (wait.wait_id, plain), {})

    def _drop_wait(self, wait: EventWait) -> None:
        if self._wait_by_id.get(wait.wait_id) is wait:
            del self._wait_by_id[wait.wait_id]
        waits = self.waits.get(wait.key)
        if waits is not None and waits.get(wait.wait_id) is wait:
            del waits[wait.wait_id]
            if not waits:
                del self.waits[wait.key]

    @concurrent
    async def add_wait(
        self,
        wait_id: Hashable,
        key: str,
        expression: str | None,
        scope: str | None,
        since: float | None,
        target: ActorRef,
        method: str,
    ) -> None:
        """Wait for an event on ``key`` (pushed at or after ``since``, if given).

        Tells ``target.method(wait_id, event)`` once, when a matching event is committed
        (at once if one already was since ``since``).
        """
        wait = EventWait(wait_id, key, expression, scope, target, method)
        old = self._wait_by_id.get(wait_id)
        if old is not None:  # registered again (the engine re-armed it): the new one counts
            old.done = True
            self._drop_wait(old)
        self.waits.setdefault(key, {})[wait_id] = wait
        self._wait_by_id[wait_id] = wait
        if since is None:
            return
        after_seq = None
        while not wait.done:
            rows = await self.store.list_events(
                self.tenant_id, key=key, since=since, after_seq=after_seq, limit=500
            )
            for row in rows:
                event = event_dict(row)
                if self._accepts(wait, event):
                    self._resolve(wait, event)
                    return
            if len(rows) < 500:
                return
            after_seq = rows[-1].seq

    def cancel_waits(self, wait_ids: Sequence[Hashable]) -> None:
        """Forget waits (their task finished or was cancelled)."""
        for wait_id in wait_ids:
            wait = self._wait_by_id.get(wait_id)
            if wait is not None:
                wait.done = True
                self._drop_wait(wait)

    # -- filters ---------------------------------------------------------------------------------

    @concurrent
    async def create_filter(self, workflow: str, expression: str, scope: str, payload: Any) -> dict[str, Any]:
        """Add a filter (expression already compiled by the caller) to a workflow."""
        wf = self._workflow(workflow)
        filter_id = self.context.random.new_id()
        await self._commit(
            CreateEventFilter(
                tenant_id=self.tenant_id,
                id=filter_id,
                workflow_id=wf.id,
                scope=scope,
                expression=expression,
                at=self._now(),
                payload=payload,
            )
        )
        self.filters_by_workflow.setdefault(wf.id, []).append(
            FilterRule(filter_id, scope, expression, payload)
        )
        return {
            "id": filter_id,
            "workflow": wf.name,
            "scope": scope,
            "expression": expression,
            "payload": payload,
        }

    def list_filters(self, workflow: str | None = None) -> list[dict[str, Any]]:
        """The filters that apply to events, of one workflow or all: for each workflow,
        those its code declares (``default_filters``, ``declared`` true), then the stored ones."""
        names = {wf.id: wf.name for wf in self.workflows.values()}
        listed: dict[str, list[tuple[FilterRule, bool]]] = {}
        for wf in self.workflows.values():
            listed[wf.id] = [(r, True) for r in _declared_filters(wf)]
        for wid, stored in self.filters_by_workflow.items():
            listed.setdefault(wid, []).extend((r, False) for r in stored)
        out: list[dict[str, Any]] = []
        for wid, rules in listed.items():
            if workflow is not None and names.get(wid) != workflow:
                continue
            out.extend(
                {
                    "id": r.id,
                    "workflow": names.get(wid, wid),
                    "scope": r.scope,
                    "expression": r.expression,
                    "payload": r.payload,
                    "declared": declared,
                }
                for r, declared in rules
            )
        return out

    @concurrent
    async def delete_filter(self, filter_id: str) -> bool:
        """Remove a stored filter; False if there was none.

        Raises:
            TriggerError: the filter is declared in a workflow's code (``default_filters``);
                it goes away only when a version without it is registered.
        """
        for wf in self.workflows.values():
            if any(r.id == filter_id for r in _declared_filters(wf)):
                raise TriggerError(
                    f"filter {filter_id!r} is declared in the code of workflow {wf.name!r} "
                    "(default_filters): remove it there and register the workflow again"
                )
        (deleted,) = await self._commit(DeleteEventFilter(tenant_id=self.tenant_id, id=filter_id))
        for rules in self.filters_by_workflow.values():
            rules[:] = [r for r in rules if r.id != filter_id]
        return bool(deleted)

    # -- crons -----------------------------------------------------------------------------------

    def _carry_out(self, effects: Effects) -> None:
        """Do what the calendar decided: cancel timers, arm timers, fire cron ticks."""
        for key in effects.cancel:
            self._timers.cancel.tell(key)
        for timer in effects.arm:
            self._timer_at(timer.key, timer.wall, timer.method, *timer.args)
        for cron_id, tick in effects.fire:
            self.context.start_soon(self._fire_cron, cron_id, tick)

    async def _sync_declared_crons(self) -> None:
        """Mirror every workflow's ``on_crons`` as cron rows, then arm every cron."""
        rows = await self.store.list_crons(self.tenant_id)
        now = self._now()
        new_id = self.context.random.new_id
        for mutation in mirror_declared_crons(self.tenant_id, self.workflows.values(), rows, now, new_id):
            try:
                await self._commit(mutation)
            except MutationRejected:
                pass  # another engine wrote the same row first
            except StoreError as exc:  # the next sync (a registration, a restart) writes it
                log.warning("cron row not synced (%s): %s", type(mutation).__name__, exc)
        rows = await self.store.list_crons(self.tenant_id)
        self._carry_out(self.calendar.adopt_crons(rows, self._now()))

    def cron_due(self, cron_id: str, tick: int) -> None:
        """A cron's timer fired: start its run for ``tick`` and arm the next tick."""
        self._carry_out(self.calendar.cron_due(cron_id, tick, self._now()))

    async def _commit_firing(self, create: Callable[[], Awaitable[Together]]) -> list[str] | None:
        """Create a cron tick's or a schedule's run and its record, all or nothing.

        Returns the run ids, or None when the commit was refused because the run's key
        is taken (another engine fired it). A store that fails is tried again, with a
        growing pause, for as long as this actor lives: a tick or a schedule is not
        dropped because one commit failed.
        """
        delay = 0.05
        while True:
            together = await create()
            try:
                answers = await together.wait()
            except MutationRejected:
                return None
            except StoreError:
                await self.context.clock.sleep(delay)
                delay = min(5.0, delay * 2)
                continue
            return run_ids(answers)

    async def _fire_cron(self, cron_id: str, tick: int) -> None:
        firing = self.calendar.cron_firing(cron_id, tick)
        if firing is None:
            return
        request, record = firing
        started = await self._commit_firing(lambda: self._intake.submit_with([request], [record]))
        if started is not None:  # None: another engine fired this tick (its key is taken)
            self.calendar.cron_fired(cron_id, tick, started)

    @concurrent
    async def create_cron(
        self,
        workflow: str,
        name: str,
        expression: str,
        input: Any,
        metadata: dict[str, Any],
        priority: int | None,
    ) -> dict[str, Any]:
        """Add a cron to a workflow; its name is unique within the workflow."""
        wf = self._workflow(workflow)
        mutation = self.calendar.cron_to_create(
            wf, workflow, name, expression, input, metadata, priority, self._now(), self.context.random.new_id
        )
        await self._commit(mutation)
        row = await self.store.get_cron(self.tenant_id, mutation.id)
        assert row is not None
        self._carry_out(self.calendar.cron_added(row, self._now()))
        return self.calendar.describe_cron(row, self._now())

    def describe_cron(self, row: CronRow) -> dict[str, Any]:
        """A cron as the API shows it, with its next tick."""
        return self.calendar.describe_cron(row, self._now())

    def list_crons(self, workflow: str | None = None) -> list[dict[str, Any]]:
        """Crons (declared ones too), oldest first, of one workflow or all."""
        return self.calendar.list_crons(workflow, self._now())

    def get_cron(self, cron_id: str) -> dict[str, Any] | None:
        """A cron by id, or None."""
        row = self.calendar.crons.get(cron_id)
        return None if row is None else self.calendar.describe_cron(row, self._now())

    @concurrent
    async def delete_cron(self, cron_id: str) -> bool:
        """Delete a cron and its timer (and its pause, if disabled); False if there was none."""
        deleted, _ = await self._commit(
            DeleteCron(tenant_id=self.tenant_id, id=cron_id),
            RemovePause(tenant_id=self.tenant_id, kind=PauseKind.CRON, target=cron_id),
        )
        self._carry_out(self.calendar.cron_deleted(cron_id))
        return bool(deleted)

    @concurrent
    async def pause_cron(self, cron_id: str) -> dict[str, Any] | None:
        """Disable a cron: no tick fires until it is enabled, across restarts too.

        Returns the cron as the API shows it, or None if there is none. Disabling it
        again changes nothing.
        """
        if cron_id not in self.calendar.crons:
            return None
        await self._commit(
            AddPause(tenant_id=self.tenant_id, kind=PauseKind.CRON, target=cron_id, at=self._now())
        )
        self._carry_out(self.calendar.cron_disabled(cron_id))
        return self.get_cron(cron_id)

    @concurrent
    async def resume_cron(self, cron_id: str) -> dict[str, Any] | None:
        """Enable a disabled cron: its next tick fires; ticks passed while it was disabled never do
        (the latest of them is recorded as its ``last_fired_at``, so a restart does not catch it up).

        Returns the cron as the API shows it, or None if there is none. Enabling an
        enabled cron changes nothing.
        """
        if cron_id not in self.calendar.crons:
            return None
        skipped = (
            self.calendar.ticks_skipped(cron_id, self._now()) if cron_id in self.calendar.disabled else None
        )
        if skipped is not None:
            try:
                await self._commit(skipped)
                self.calendar.ticks_skipped_recorded(skipped)
            except MutationRejected:
                pass  # another engine recorded a tick meanwhile: that one is the latest handled
        await self._commit(RemovePause(tenant_id=self.tenant_id, kind=PauseKind.CRON, target=cron_id))
        self._carry_out(self.calendar.cron_enabled(cron_id, self._now()))
        return self.get_cron(cron_id)

    @concurrent
    async def run_cron_now(self, cron_id: str) -> dict[str, Any] | None:
        """Start one run of a cron's workflow with its input and metadata now (disabled or not).

        Returns ``{"run_id"}`` (or ``{"error"}`` if the run was refused), or None if
        there is no such cron.
        """
        request = self.calendar.run_now(cron_id)
        if request is None:
            return None
        (answer,) = await self._intake.create_runs([request])
        return to_wire(answer)

    # -- schedules -------------------------------------------------------------------------------

    @concurrent
    async def create_schedule(
        self, workflow: str, trigger_at: float, input: Any, metadata: dict[str, Any], priority: int | None
    ) -> dict[str, Any]:
        """Schedule one run of a workflow at ``trigger_at`` (epoch seconds)."""
        wf = self._workflow(workflow)
        schedule_id = self.context.random.new_id()
        now = self._now()
        await self._commit(
            self.calendar.schedule_to_create(wf, trigger_at, input, metadata, priority, now, schedule_id)
        )
        row = await self.store.get_schedule(self.tenant_id, schedule_id)
        assert row is not None
        self._carry_out(self.calendar.schedule_added(row))
        return self.calendar.describe_schedule(row)

    def schedule_due(self, schedule_id: str, trigger_at: float) -> None:
        """A schedule's timer fired: start its run (unless it moved meanwhile)."""
        row = self.calendar.schedule_due(schedule_id, trigger_at)
        if row is not None:
            self.context.start_soon(self._fire_schedule, row)

    async def _fire_schedule(self, row: ScheduleRow) -> None:
        firing = self.calendar.schedule_firing(row, self.context.random.new_id)
        if firing is None:
            return
        request, fire = firing
        committed = await self._commit_firing(lambda: self._intake.submit_with([request], [fire]))
        if committed is not None:  # None: another engine fired it
            self.calendar.schedule_fired(row.id)

    def describe_schedule(self, row: ScheduleRow) -> dict[str, Any]:
        """A schedule as the API shows it."""
        return self.calendar.describe_schedule(row)

    @concurrent
    async def update_schedule(self, schedule_id: str, trigger_at: float) -> bool:
        """Move a pending schedule; False once it fired or was deleted."""
        (moved,) = await self._commit(
            RescheduleSchedule(tenant_id=self.tenant_id, id=schedule_id, trigger_at=trigger_at)
        )
        self._carry_out(self.calendar.schedule_moved(schedule_id, trigger_at, bool(moved)))
        return bool(moved)

    @concurrent
    async def delete_schedule(self, schedule_id: str) -> bool:
        """Cancel a pending schedule; False once it fired or was deleted."""
        (cancelled,) = await self._commit(CancelSchedule(tenant_id=self.tenant_id, id=schedule_id))
        self._carry_out(self.calendar.schedule_deleted(schedule_id))
        return bool(cancelled)

    # -- plumbing --------------------------------------------------------------------------------

    async def _commit(self, *mutations: Any) -> list[Any]:
        ticket = CommitTicket(list(mutations))
        self._writer.enqueue.tell(ticket)
        return await ticket.wait()

    def trigger_statistics(self) -> TriggersStatistics:
        """The actor's counters."""
        return TriggersStatistics(
            events=self._counts["events"],
            event_runs=self._counts["event_runs"],
            waits=sum(len(w) for w in self.waits.values()),
            crons=len(self.calendar.crons),
            cron_fires=self.calendar.cron_fires,
            schedules_pending=len(self.calendar.schedules),
            schedules_fired=self.calendar.schedules_fired,
        )


def _declared_filters(wf: _Workflow) -> tuple[FilterRule, ...]:
    """The filters ``wf``'s code declares (``default_filters``), with stable ids."""
    return tuple(
        FilterRule(f"{DECLARED_FILTER_PREFIX}{wf.name}:{i}", f["scope"], f["expression"], f.get("payload"))
        for i, f in enumerate(getattr(wf.spec, "default_filters", ()))
    )
