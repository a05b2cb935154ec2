"""Crons and one-time schedules: what fires when, decided without I/O.

The :class:`Calendar` is owned by the :class:`~ratchet.actors.triggers._triggers.Triggers`
actor, the way :class:`~ratchet.actors.scheduling._machine.FlowScheduler` is owned by the
scheduler actor: each method takes one event (rows read, a timer due, a firing
committed) and returns what the actor must do, as :class:`Effects` (timers to arm or
cancel, cron ticks to fire) or as the request and record to commit. The actor commits,
arms timers and asks the coordinator; the calendar keeps the rows it fires from.

The rules (see the Triggers module docstring): one timer per cron at its next tick;
the run of a tick keyed by the cron's workflow, name and tick, so that several engines
fire it once; of the ticks missed while the engine was down, only the latest fires,
once, on return; a schedule's run and its FIRED mark commit together.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ratchet._contract.cron import next_tick, parse_cron, previous_tick
from ratchet._contract.keys import cron_key

from ..runs._intake import RunRequest
from ..store import (
    CreateCron,
    CreateSchedule,
    DeleteCron,
    FireSchedule,
    RecordCronFire,
)
from ..store import Cron as CronRow
from ..store import Schedule as ScheduleRow

__all__ = [
    "DECLARED_CRON_PREFIX",
    "ArmTimer",
    "Calendar",
    "Effects",
    "TriggerError",
    "mirror_declared_crons",
]

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


class DeclaredWorkflow(Protocol):
    """What the calendar reads of a registered workflow."""

    id: str
    spec: Any


@dataclass(frozen=True)
class ArmTimer:
    """A timer to arm: at wall time ``wall``, tell the Triggers actor ``method(*args)``."""

    key: tuple[str, str]
    wall: float
    method: str
    args: tuple[Any, ...]


@dataclass
class Effects:
    """What the Triggers actor must do after one calendar event.

    Attributes:
        cancel: keys of timers to cancel (first).
        arm: timers to arm.
        fire: ``(cron id, tick)`` of cron ticks to fire now.
    """

    cancel: list[tuple[str, str]] = field(default_factory=list)
    arm: list[ArmTimer] = field(default_factory=list)
    fire: list[tuple[str, int]] = field(default_factory=list)


def mirror_declared_crons(
    tenant_id: str,
    workflows: Iterable[DeclaredWorkflow],
    rows: Iterable[CronRow],
    now: float,
    new_id: Callable[[], str],
) -> list[CreateCron | DeleteCron]:
    """The mutations that make the stored cron rows mirror every workflow's ``on_crons``.

    A declared cron whose input or priority changed with a new version is replaced (the
    tick's key names the workflow and the cron's name, so no tick fires twice); a row of
    a cron no workflow declares any more is deleted.
    """
    rows = list(rows)
    mutations: list[CreateCron | DeleteCron] = []
    wanted: set[tuple[str, str]] = set()
    for wf in workflows:
        cron_input = getattr(wf.spec, "cron_input", None)
        for expression in wf.spec.on_crons:
            name = DECLARED_CRON_PREFIX + expression
            wanted.add((wf.id, name))
            existing = [r for r in rows if r.workflow_id == wf.id and r.name == name]
            stale = [r for r in existing if (r.input, r.priority) != (cron_input, wf.spec.default_priority)]
            mutations.extend(DeleteCron(tenant_id=tenant_id, id=r.id) for r in stale)
            if not existing or stale:
                mutations.append(
                    CreateCron(
                        tenant_id=tenant_id,
                        id=new_id(),
                        workflow_id=wf.id,
                        name=name,
                        expression=parse_cron(expression),
                        at=now,
                        input=cron_input,
                        priority=wf.spec.default_priority,
                    )
                )
    for row in rows:
        if row.name.startswith(DECLARED_CRON_PREFIX) and (row.workflow_id, row.name) not in wanted:
            mutations.append(DeleteCron(tenant_id=tenant_id, id=row.id))
    return mutations


class Calendar:
    """The crons and pending schedules of one tenant; see the module docstring.

    Args:
        tenant_id: the tenant served.

    Attributes:
        crons: cron rows by id.
        schedules: pending schedule rows by id.
        disabled: ids of the crons that fire no ticks (paused; the actor reads them at start).
        workflow_names: workflow names by id (the actor sets them when workflows change).
    """

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.crons: dict[str, CronRow] = {}
        self.schedules: dict[str, ScheduleRow] = {}
        self.workflow_names: dict[str, str] = {}
        self.disabled: set[str] = set()
        self.cron_fires = 0
        self.schedules_fired = 0

    # -- crons -----------------------------------------------------------------------------------

    def adopt_crons(self, rows: Iterable[CronRow], now: float) -> Effects:
        """The stored cron rows after a sync: arm the new ones (firing a missed tick), drop the gone."""
        by_id = {r.id: r for r in rows}
        out = Effects()
        for cron_id in set(self.crons) - set(by_id):
            out.cancel.append(("cron", cron_id))
        for row in by_id.values():
            if row.id not in self.crons:
                self.crons[row.id] = row
                self._arm_cron(row, now, out, catch_up=not _PLANTED_NO_CATCH_UP)
        self.crons = {cid: self.crons[cid] for cid in by_id}
        return out

    def _arm_cron(self, row: CronRow, now: float, out: Effects, *, catch_up: bool) -> None:
        if row.id in self.disabled:
            return  # a disabled cron has no timer: it is armed when enabled again
        if catch_up:
            missed = previous_tick(row.expression, now)
            last = max(row.created_at, row.last_fired_at or -math.inf)
            if missed is not None and (missed >= last if _PLANTED_CRON_REFIRE else missed > last):
                out.fire.append((row.id, missed))
        tick = next_tick(row.expression, now)
        out.arm.append(ArmTimer(("cron", row.id), tick, "cron_due", (row.id, tick)))

    def cron_due(self, cron_id: str, tick: int, now: float) -> Effects:
        """A cron's timer fired: fire ``tick`` (or a later missed one) and arm the next tick.

        A timer that fires late (it came due while the actor was down, or the machine
        stalled) may find newer ticks passed since: of missed ticks only the latest
        fires, as after a restart, so it fires that one (if a restart's catch-up fired
        it too, its key makes the second try change nothing).
        """
        out = Effects()
        row = self.crons.get(cron_id)
        if row is None or cron_id in self.disabled:
            return out
        latest = previous_tick(row.expression, now)
        if latest is not None and latest > tick:
            tick = latest
        out.fire.append((cron_id, tick))
        nxt = next_tick(row.expression, max(tick, now))
        out.arm.append(ArmTimer(("cron", cron_id), nxt, "cron_due", (cron_id, nxt)))
        return out

    def cron_firing(self, cron_id: str, tick: int) -> tuple[RunRequest, RecordCronFire] | None:
        """The run of a cron's tick and the record of the tick, to commit together (None: gone)."""
        row = self.crons.get(cron_id)
        workflow = None if row is None else self.workflow_names.get(row.workflow_id)
        if row is None or workflow is None or cron_id in self.disabled:
            return None
        request = RunRequest(
            workflow,
            row.input,
            {**(row.additional_metadata or {})},
            row.priority,
            idempotency_key=None if _PLANTED_CRON_REFIRE else cron_key(row.workflow_id, row.name, tick),
        )
        record = RecordCronFire(
            tenant_id=self.tenant_id, id=cron_id, fired_at=tick, previous=row.last_fired_at
        )
        return request, record

    def cron_fired(self, cron_id: str, tick: int, run_ids: list[str]) -> None:
        """A tick's firing committed, starting ``run_ids``."""
        if run_ids and not run_ids[0].startswith("unknown workflow"):
            self.cron_fires += 1
        current = self.crons.get(cron_id)
        if current is not None:
            self.crons[cron_id] = dataclasses.replace(current, last_fired_at=tick)

    def cron_to_create(
        self,
        workflow: DeclaredWorkflow,
        workflow_name: str,
        name: str,
        expression: str,
        input: Any,
        metadata: Mapping[str, Any],
        priority: int | None,
        now: float,
        new_id: Callable[[], str],
    ) -> CreateCron:
        """The mutation that adds a cron to a workflow.

        Raises:
            CronError: the expression is not a cron.
            TriggerError: the workflow has a cron of that name.
        """
        canonical = parse_cron(expression)
        if any(r.workflow_id == workflow.id and r.name == name for r in self.crons.values()):
            raise TriggerError(
                f"workflow {workflow_name!r} already has a cron named {name!r}; delete it first"
            )
        return CreateCron(
            tenant_id=self.tenant_id,
            id=new_id(),
            workflow_id=workflow.id,
            name=name,
            expression=canonical,
            at=now,
            input=input,
            additional_metadata=metadata,
            priority=priority or workflow.spec.default_priority,
        )

    def cron_added(self, row: CronRow, now: float) -> Effects:
        """A cron created through the API was committed: arm its next tick."""
        out = Effects()
        self.crons[row.id] = row
        self._arm_cron(row, now, out, catch_up=False)
        return out

    def cron_deleted(self, cron_id: str) -> Effects:
        """A cron was deleted: forget it and cancel its timer."""
        self.crons.pop(cron_id, None)
        self.disabled.discard(cron_id)
        return Effects(cancel=[("cron", cron_id)])

    def cron_disabled(self, cron_id: str) -> Effects:
        """A cron was disabled (its pause committed): cancel its timer; no tick fires."""
        self.disabled.add(cron_id)
        return Effects(cancel=[("cron", cron_id)])

    def ticks_skipped(self, cron_id: str, now: float) -> RecordCronFire | None:
        """The record that marks the latest tick passed while a cron was disabled as handled.

        Committed before the cron is enabled, so the catch-up of a later restart (which
        fires the latest tick after ``last_fired_at``) never fires a tick that passed while
        the cron was disabled. None when no tick passed since the last one handled.
        """
        row = self.crons.get(cron_id)
        if row is None:
            return None
        latest = previous_tick(row.expression, now)
        if latest is None or latest <= max(row.created_at, row.last_fired_at or -math.inf):
            return None
        return RecordCronFire(
            tenant_id=self.tenant_id, id=cron_id, fired_at=latest, previous=row.last_fired_at
        )

    def ticks_skipped_recorded(self, record: RecordCronFire) -> None:
        """The record of :meth:`ticks_skipped` was committed."""
        current = self.crons.get(record.id)
        if current is not None:
            self.crons[record.id] = dataclasses.replace(current, last_fired_at=record.fired_at)

    def cron_enabled(self, cron_id: str, now: float) -> Effects:
        """A cron was enabled again: arm its next tick (ticks passed while disabled never fire)."""
        out = Effects()
        self.disabled.discard(cron_id)
        row = self.crons.get(cron_id)
        if row is not None:
            out.cancel.append(("cron", cron_id))
            self._arm_cron(row, now, out, catch_up=False)
        return out

    def run_now(self, cron_id: str) -> RunRequest | None:
        """One run of a cron's workflow with its input, now, outside its ticks (None: no such cron).

        The run has no key: each call starts one more run.
        """
        row = self.crons.get(cron_id)
        workflow = None if row is None else self.workflow_names.get(row.workflow_id)
        if row is None or workflow is None:
            return None
        return RunRequest(workflow, row.input, {**(row.additional_metadata or {})}, row.priority)

    def describe_cron(self, row: CronRow, now: float) -> dict[str, Any]:
        """A cron as the API shows it, with its next tick."""
        return {
            "id": row.id,
            "workflow": self.workflow_names.get(row.workflow_id, row.workflow_id),
            "name": row.name,
            "expression": row.expression,
            "input": row.input,
            "additional_metadata": row.additional_metadata or {},
            "priority": row.priority,
            "created_at": row.created_at,
            "last_fired_at": row.last_fired_at,
            "enabled": row.id not in self.disabled,
            "next_fire_at": None if row.id in self.disabled else next_tick(row.expression, now),
        }

    def list_crons(self, workflow: str | None, now: float) -> list[dict[str, Any]]:
        """Crons (declared ones too), oldest first, of one workflow or all."""
        rows = sorted(self.crons.values(), key=lambda r: (r.created_at, r.id))
        out = [self.describe_cron(r, now) for r in rows]
        return [c for c in out if workflow is None or c["workflow"] == workflow]

    # -- schedules -------------------------------------------------------------------------------

    def schedule_to_create(
        self,
        workflow: DeclaredWorkflow,
        trigger_at: float,
        input: Any,
        metadata: Mapping[str, Any],
        priority: int | None,
        now: float,
        schedule_id: str,
    ) -> CreateSchedule:
        """The mutation that schedules one run of a workflow at ``trigger_at``."""
        return CreateSchedule(
            tenant_id=self.tenant_id,
            id=schedule_id,
            workflow_id=workflow.id,
            trigger_at=trigger_at,
            at=now,
            input=input,
            additional_metadata=metadata,
            priority=priority or workflow.spec.default_priority,
        )

    def schedule_added(self, row: ScheduleRow) -> Effects:
        """A pending schedule (created, moved or read at start): arm its timer."""
        self.schedules[row.id] = row
        timer = ArmTimer(("schedule", row.id), row.trigger_at, "schedule_due", (row.id, row.trigger_at))
        return Effects(arm=[timer])

    def schedule_due(self, schedule_id: str, trigger_at: float) -> ScheduleRow | None:
        """A schedule's timer fired: the schedule to fire, unless it moved or went meanwhile."""
        row = self.schedules.get(schedule_id)
        return row if row is not None and row.trigger_at == trigger_at else None

    def schedule_firing(
        self, row: ScheduleRow, new_id: Callable[[], str]
    ) -> tuple[RunRequest, FireSchedule] | None:
        """The run of a schedule and its FIRED mark, to commit together (None: workflow unknown).

        The key on the run makes a second engine's attempt fail whole.
        """
        workflow = self.workflow_names.get(row.workflow_id)
        if workflow is None:
            return None
        run_id = new_id()
        request = RunRequest(
            workflow,
            row.input,
            dict(row.additional_metadata or {}),
            row.priority,
            idempotency_key=f"schedule:{row.id}",
            run_id=run_id,
        )
        return request, FireSchedule(tenant_id=self.tenant_id, id=row.id, run_id=run_id)

    def schedule_fired(self, schedule_id: str) -> None:
        """A schedule's run and FIRED mark were committed."""
        self.schedules.pop(schedule_id, None)
        self.schedules_fired += 1

    def schedule_moved(self, schedule_id: str, trigger_at: float, moved: bool) -> Effects:
        """A schedule was moved to ``trigger_at`` (``moved``: the store changed it): re-arm it."""
        row = self.schedules.get(schedule_id)
        if moved and row is not None:
            return self.schedule_added(dataclasses.replace(row, trigger_at=trigger_at))
        return Effects()

    def schedule_deleted(self, schedule_id: str) -> Effects:
        """A schedule was cancelled: forget it and cancel its timer."""
        self.schedules.pop(schedule_id, None)
        return Effects(cancel=[("schedule", schedule_id)])

    def describe_schedule(self, row: ScheduleRow) -> dict[str, Any]:
        """A schedule as the API shows it."""
        return {
            "id": row.id,
            "workflow": self.workflow_names.get(row.workflow_id, row.workflow_id),
            "trigger_at": row.trigger_at,
            "input": row.input,
            "additional_metadata": row.additional_metadata or {},
            "priority": row.priority,
            "status": str(getattr(row.status, "value", row.status)),
            "run_id": row.run_id,
            "created_at": row.created_at,
        }
