"""Crons and one-time schedules: the part of the Triggers actor that runs on the clock.

A mixin of :class:`~ratchet.actors.triggers._triggers.Triggers` (one actor, as DESIGN.md draws
it; two modules, so each stays readable). See the Triggers module docstring for the
rules: one timer per cron at its next tick, the run of a tick keyed by the cron's
workflow, name and tick
so that several engines fire it once, the latest missed tick fired once on return; a
schedule's run and its FIRED mark committed together.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Awaitable, Callable
from typing import Any

from ratchet._contract.cron import next_tick, parse_cron, previous_tick
from ratchet._contract.keys import cron_key
from ratchet.runtime import concurrent

from ..runs._intake import RunIntake, RunRequest, Together, run_ids
from ..store import (
    CancelSchedule,
    CreateCron,
    CreateSchedule,
    DeleteCron,
    FireSchedule,
    MutationRejected,
    RecordCronFire,
    RescheduleSchedule,
    StoreError,
)
from ..store import Cron as CronRow
from ..store import Schedule as ScheduleRow

__all__ = ["DECLARED_CRON_PREFIX", "ScheduleTriggers", "TriggerError"]

# Planted bugs for the simulation's own tests (tests/simulation), each proving the
# simulation finds a real class of bug: a restart that does not fire the latest missed
# tick, and one that fires it again although it fired (its run keyed by nothing that
# would refuse the second). Never set outside those tests.
_PLANTED_NO_CATCH_UP = False
_PLANTED_CRON_REFIRE = False

DECLARED_CRON_PREFIX = "on_crons:"
"""Names of the cron rows that mirror a workflow's ``on_crons``."""


class TriggerError(ValueError):
    """A trigger request names something unknown or invalid; nothing was changed."""


class ScheduleTriggers:
    """Crons and schedules of the Triggers actor (its state and helpers come from it)."""

    tenant_id: str
    store: Any
    context: Any
    workflows: dict[str, Any]
    crons: dict[str, CronRow]
    schedules: dict[str, ScheduleRow]
    _counts: dict[str, int]
    _timers: Any
    _intake: RunIntake

    def _now(self) -> float:
        raise NotImplementedError

    def _timer_at(self, key: Any, wall: float, method: str, *args: Any) -> None:
        raise NotImplementedError

    def _workflow(self, name: str) -> Any:
        raise NotImplementedError

    async def _commit(self, *mutations: Any) -> list[Any]:
        raise NotImplementedError

    # -- crons -----------------------------------------------------------------------------------

    async def _sync_declared_crons(self) -> None:
        """Mirror every workflow's ``on_crons`` as cron rows, then arm every cron."""
        rows = {c.id: c for c in await self.store.list_crons(self.tenant_id)}
        now = self._now()
        mutations: list[Any] = []
        wanted: set[tuple[str, str]] = set()
        for wf in self.workflows.values():
            cron_input = getattr(wf.spec, "cron_input", None)
            for expression in wf.spec.on_crons:
                name = DECLARED_CRON_PREFIX + expression
                wanted.add((wf.id, name))
                existing = [r for r in rows.values() if r.workflow_id == wf.id and r.name == name]
                stale = [
                    r for r in existing if (r.input, r.priority) != (cron_input, wf.spec.default_priority)
                ]
                # a new version changed the cron's input or priority: replace the row (the
                # tick's key names the workflow and the cron's name, so no tick fires twice)
                mutations.extend(DeleteCron(tenant_id=self.tenant_id, id=r.id) for r in stale)
                if not existing or stale:
                    mutations.append(
                        CreateCron(
                            tenant_id=self.tenant_id,
                            id=self.context.random.new_id(),
                            workflow_id=wf.id,
                            name=name,
                            expression=parse_cron(expression),
                            at=now,
                            input=cron_input,
                            priority=wf.spec.default_priority,
                        )
                    )
        for row in rows.values():
            if row.name.startswith(DECLARED_CRON_PREFIX) and (row.workflow_id, row.name) not in wanted:
                mutations.append(DeleteCron(tenant_id=self.tenant_id, id=row.id))
        for mutation in mutations:
            try:  # another engine may have written the same row first
                await self._commit(mutation)
            except Exception:
                pass
        rows = {c.id: c for c in await self.store.list_crons(self.tenant_id)}
        for cron_id in set(self.crons) - set(rows):
            self._timers.cancel.tell(("cron", cron_id))
        for row in rows.values():
            if row.id not in self.crons:
                self.crons[row.id] = row
                self._arm_cron(row, catch_up=not _PLANTED_NO_CATCH_UP)
        self.crons = {cid: self.crons[cid] for cid in rows}

    def _workflow_by_id(self, workflow_id: str) -> Any:
        return next((wf for wf in self.workflows.values() if wf.id == workflow_id), None)

    def _arm_cron(self, row: CronRow, *, catch_up: bool = False) -> None:
        now = self._now()
        if catch_up:
            missed = previous_tick(row.expression, now)
            last = max(row.created_at, row.last_fired_at or -math.inf)
            if missed is not None and (missed >= last if _PLANTED_CRON_REFIRE else missed > last):
                self.context.start_soon(self._fire_cron, row.id, missed)
        tick = next_tick(row.expression, now)
        self._timer_at(("cron", row.id), tick, "cron_due", row.id, tick)

    def cron_due(self, cron_id: str, tick: int) -> None:
        """A cron's timer fired: start its run for ``tick`` and arm the next tick.

        A timer that fires late (it came due while this actor was down, or the machine
        stalled) may find newer ticks passed since: of missed ticks only the latest
        fires, as after a restart, so it fires that one (if a restart's catch-up fired
        it too, its key makes the second try change nothing).
        """
        row = self.crons.get(cron_id)
        if row is None:
            return
        latest = previous_tick(row.expression, self._now())
        if latest is not None and latest > tick:
            tick = latest
        self.context.start_soon(self._fire_cron, cron_id, tick)
        nxt = next_tick(row.expression, max(tick, self._now()))
        self._timer_at(("cron", cron_id), nxt, "cron_due", cron_id, nxt)

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
        row = self.crons.get(cron_id)
        wf = None if row is None else self._workflow_by_id(row.workflow_id)
        if row is None or wf is None:
            return
        request = RunRequest(
            wf.name,
            row.input,
            {**(row.additional_metadata or {})},
            row.priority,
            idempotency_key=None if _PLANTED_CRON_REFIRE else cron_key(row.workflow_id, row.name, tick),
        )
        record = RecordCronFire(
            tenant_id=self.tenant_id, id=cron_id, fired_at=tick, previous=row.last_fired_at
        )
        committed = await self._commit_firing(lambda: self._intake.submit_with([request], [record]))
        if committed is None:
            return  # another engine fired this tick (its key is taken)
        run_ids = committed
        if run_ids and not run_ids[0].startswith("unknown workflow"):
            self._counts["cron_fires"] += 1
        current = self.crons.get(cron_id)
        if current is not None:
            self.crons[cron_id] = dataclasses.replace(current, last_fired_at=tick)

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
        canonical = parse_cron(expression)
        if any(r.workflow_id == wf.id and r.name == name for r in self.crons.values()):
            raise TriggerError(f"workflow {workflow!r} already has a cron named {name!r}; delete it first")
        cron_id = self.context.random.new_id()
        mutation = CreateCron(
            tenant_id=self.tenant_id,
            id=cron_id,
            workflow_id=wf.id,
            name=name,
            expression=canonical,
            at=self._now(),
            input=input,
            additional_metadata=metadata,
            priority=priority or wf.spec.default_priority,
        )
        await self._commit(mutation)
        row = await self.store.get_cron(self.tenant_id, cron_id)
        assert row is not None
        self.crons[cron_id] = row
        self._arm_cron(row)
        return self.describe_cron(row)

    def describe_cron(self, row: CronRow) -> dict[str, Any]:
        """A cron as the API shows it, with its next tick."""
        wf = self._workflow_by_id(row.workflow_id)
        return {
            "id": row.id,
            "workflow": wf.name if wf else row.workflow_id,
            "name": row.name,
            "expression": row.expression,
            "input": row.input,
            "additional_metadata": row.additional_metadata or {},
            "priority": row.priority,
            "created_at": row.created_at,
            "last_fired_at": row.last_fired_at,
            "next_fire_at": next_tick(row.expression, self._now()),
        }

    def list_crons(self, workflow: str | None = None) -> list[dict[str, Any]]:
        """Crons (declared ones too), oldest first, of one workflow or all."""
        rows = sorted(self.crons.values(), key=lambda r: (r.created_at, r.id))
        out = [self.describe_cron(r) for r in rows]
        return [c for c in out if workflow is None or c["workflow"] == workflow]

    def get_cron(self, cron_id: str) -> dict[str, Any] | None:
        """A cron by id, or None."""
        row = self.crons.get(cron_id)
        return None if row is None else self.describe_cron(row)

    @concurrent
    async def delete_cron(self, cron_id: str) -> bool:
        """Delete a cron and its timer; False if there was none."""
        (deleted,) = await self._commit(DeleteCron(tenant_id=self.tenant_id, id=cron_id))
        self.crons.pop(cron_id, None)
        self._timers.cancel.tell(("cron", cron_id))
        return bool(deleted)

    # -- schedules -------------------------------------------------------------------------------

    def _arm_schedule(self, row: ScheduleRow) -> None:
        self.schedules[row.id] = row
        self._timer_at(("schedule", row.id), row.trigger_at, "schedule_due", row.id, row.trigger_at)

    @concurrent
    async def create_schedule(
        self, workflow: str, trigger_at: float, input: Any, metadata: dict[str, Any], priority: int | None
    ) -> dict[str, Any]:
        """Schedule one run of a workflow at ``trigger_at`` (epoch seconds)."""
        wf = self._workflow(workflow)
        schedule_id = self.context.random.new_id()
        await self._commit(
            CreateSchedule(
                tenant_id=self.tenant_id,
                id=schedule_id,
                workflow_id=wf.id,
                trigger_at=trigger_at,
                at=self._now(),
                input=input,
                additional_metadata=metadata,
                priority=priority or wf.spec.default_priority,
            )
        )
        row = await self.store.get_schedule(self.tenant_id, schedule_id)
        assert row is not None
        self._arm_schedule(row)
        return self.describe_schedule(row)

    def schedule_due(self, schedule_id: str, trigger_at: float) -> None:
        """A schedule's timer fired: start its run (unless it moved meanwhile)."""
        row = self.schedules.get(schedule_id)
        if row is not None and row.trigger_at == trigger_at:
            self.context.start_soon(self._fire_schedule, row)

    async def _fire_schedule(self, row: ScheduleRow) -> None:
        wf = self._workflow_by_id(row.workflow_id)
        if wf is None:
            return
        run_id = self.context.random.new_id()
        request = RunRequest(
            wf.name,
            row.input,
            dict(row.additional_metadata or {}),
            row.priority,
            idempotency_key=f"schedule:{row.id}",
            run_id=run_id,
        )
        # the key on the run makes a second engine's attempt fail whole
        fire = FireSchedule(tenant_id=self.tenant_id, id=row.id, run_id=run_id)
        if await self._commit_firing(lambda: self._intake.submit_with([request], [fire])) is None:
            return  # another engine fired it
        self.schedules.pop(row.id, None)
        self._counts["schedules_fired"] += 1

    def describe_schedule(self, row: ScheduleRow) -> dict[str, Any]:
        """A schedule as the API shows it."""
        wf = self._workflow_by_id(row.workflow_id)
        return {
            "id": row.id,
            "workflow": wf.name if wf else row.workflow_id,
            "trigger_at": row.trigger_at,
            "input": row.input,
            "additional_metadata": row.additional_metadata or {},
            "priority": row.priority,
            "status": str(getattr(row.status, "value", row.status)),
            "run_id": row.run_id,
            "created_at": row.created_at,
        }

    @concurrent
    async def update_schedule(self, schedule_id: str, trigger_at: float) -> bool:
        """Move a pending schedule; False once it fired or was deleted."""
        (moved,) = await self._commit(
            RescheduleSchedule(tenant_id=self.tenant_id, id=schedule_id, trigger_at=trigger_at)
        )
        row = self.schedules.get(schedule_id)
        if moved and row is not None:
            self._arm_schedule(dataclasses.replace(row, trigger_at=trigger_at))
        return bool(moved)

    @concurrent
    async def delete_schedule(self, schedule_id: str) -> bool:
        """Cancel a pending schedule; False once it fired or was deleted."""
        (cancelled,) = await self._commit(CancelSchedule(tenant_id=self.tenant_id, id=schedule_id))
        self.schedules.pop(schedule_id, None)
        self._timers.cancel.tell(("schedule", schedule_id))
        return bool(cancelled)
