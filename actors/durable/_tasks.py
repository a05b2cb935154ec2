"""The DurableTasks actor: durable logs, and the waits of durable tasks.

Theory of operation. A durable task's worker sends each durable call here as a step
``(task, seq, kind, key, request)``. The pure :mod:`ratchet.actors.durable._log`
decides: replay a resolved entry (answer at once), append a new one (commit it first:
acknowledged means durable), wait on a pending one, or refuse a call that diverges
from the log. A step then waits up to the worker's eviction delay for the entry to
resolve; if it does not, the worker evicts the task (it holds no slot while it waits)
and the coordinator marks it EVICTED.

What an entry waits for is *armed* here: a sleep is a timer (Timers actor); an event
is a wait in the Triggers actor, looking back to the entry's start (so an event pushed
while the task was being evicted, or while the engine was down, is found); conditions
are both, grouped (:mod:`ratchet._contract.conditions`); children are watched until
their runs finish. When an entry resolves, its result is committed (a sleep needs
none: it is over when its time has come), a worker still waiting on it gets it, and
otherwise the coordinator is told to resume the task, which replays its log.

At start, once the commits on their way to the store have landed, every EVICTED task's
log is read back and its pending entries re-armed (or the task resumed, if none is
left), so a crash of the engine, or of this actor, mid-wait loses nothing and
duplicates nothing.

DAG tasks with conditions (``wait_for``, ``skip_if``, ``cancel_if``) are *gates*,
watched the same way by the :class:`~ratchet.actors.durable._gates.Gates` this actor
owns (see :mod:`ratchet.actors.durable._gates`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import trio

from ratchet._contract.conditions import ConditionSet
from ratchet._contract.keys import child_key, durable_spawn_key
from ratchet._contract.protocol import RequestError, TriggerRequest, parse, run_labels
from ratchet._contract.status import TaskStatus
from ratchet.runtime import Actor, ActorRef, concurrent

from .. import _names as names
from ..runs import _views as views
from ..runs._intake import RunIntake, RunRequest, Unsettled, to_wire
from ..store import (
    AppendDurableLog,
    CommitTicket,
    MutationRejected,
    ResolveDurableLog,
    Store,
    wait_settled,
)
from . import _log as dl
from ._gates import ConditionArming, Gates, WaitId

__all__ = ["DurableStatistics", "DurableTasks", "NonDeterminismError"]

# Planted bugs for the simulation's own tests (tests/simulation), each proving the
# simulation finds a real class of bug: a replay that spawns its children again (keyed
# anew), a replayed sleep whose deadline counts from the replay, event waits that
# ignore their look-back, and a resolved wait that never resumes its evicted task.
# Never set outside those tests.
_PLANTED_RESPAWN_ON_REPLAY = False
_PLANTED_SLEEP_AGAIN = False
_PLANTED_NO_LOOKBACK = False
_PLANTED_LOST_WAKE = False


class NonDeterminismError(RuntimeError):
    """A durable task's replay made a call its log does not have at that position."""


@dataclass(frozen=True)
class DurableStatistics:
    """Counters: logs in memory, armed waits, entries appended and resolved, resumes."""

    logs: int
    armed: int
    appended: int
    resolved: int
    resumed: int


def _data(entry: dl.Entry) -> dict[str, Any]:
    return {"request": entry.request, "resolved": entry.resolved, "result": entry.result}


class DurableTasks(Actor):
    """Durable logs and waits; see the module docstring.

    Messages (refs are untyped: this is the route in):
        from the Gateway: ``step`` (one durable call of a running task).
        from the RunCoordinator: ``watch_gate`` (a gated DAG task's parents completed),
            ``forget`` (a run finished).
        from the Triggers actor: ``event_arrived`` (a durable wait's event),
            ``gate_event`` (a gate's event).
        from the Timers actor: ``sleep_due``, ``condition_due``, ``gate_due``.
        from tests and statistics: ``durable_statistics``.

    Args:
        store: the store (logs are read from it).
        tenant_id: the tenant served.
    """

    def __init__(self, store: Store, *, tenant_id: str) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.logs: dict[str, dl.DurableLog] = {}
        self.armed: dict[tuple[str, int], Any] = {}  # (task, seq) -> what is armed for it
        self._pollers: dict[tuple[str, int], trio.Event] = {}
        self._waiting: dict[tuple[str, int], int] = {}
        self._resolving: set[tuple[str, int]] = set()  # entries whose resolution is committing
        self._counts = {"appended": 0, "resolved": 0, "resumed": 0}

    async def on_start(self) -> None:
        """Re-arm the waits of evicted durable tasks and the gates of ready DAG tasks."""
        lookup = self.context.system.lookup
        self._writer: ActorRef = lookup(names.STORE_WRITER)
        self._timers: ActorRef = lookup(names.TIMERS)
        self._triggers: ActorRef = lookup(names.scoped(names.TRIGGERS, self.tenant_id))
        self._coordinator: ActorRef = lookup(names.scoped(names.COORDINATOR, self.tenant_id))
        self._arming = ConditionArming(
            timers=self._timers, triggers=self._triggers, target=self.context.ref, timer_at=self._timer
        )
        self.gates = Gates(
            store=self.store,
            tenant_id=self.tenant_id,
            commit=self._commit,
            arming=self._arming,
            decided=self._coordinator.gate_decided.tell,
            start_soon=self.context.start_soon,
            now=self._now,
        )
        self._intake = RunIntake(self.store, self.tenant_id, self._coordinator)
        # The coordinator's last transitions may still be on their way to the store (an
        # eviction, say): let them land before reading which tasks are evicted.
        await wait_settled(self._writer)
        for task in await self.store.list_tasks_by_status(self.tenant_id, [TaskStatus.EVICTED]):
            log = await self._log(task.id)
            pending = [e for e in log.entries.values() if not e.resolved]
            if not pending:
                self._resume(task.id)  # its wait ended just before the engine stopped
            for entry in pending:
                self._arm(task.id, entry)
        for task_id, attempt, request in await self._coordinator.gated_tasks.ask():
            await self.gates.watch(task_id, attempt, request)

    def _now(self) -> float:
        return self.context.clock.time()

    async def _log(self, task_id: str) -> dl.DurableLog:
        log = self.logs.get(task_id)
        if log is not None:
            return log
        built = dl.DurableLog(task_id)
        for row in await self.store.read_durable_log(self.tenant_id, task_id):
            if dl.is_gate_seq(row.seq):
                continue  # a gate's entry, not a durable call
            data = row.data or {}
            built.entries[row.seq] = dl.Entry(
                row.seq,
                row.kind,
                row.key,
                data.get("request"),
                row.created_at,
                bool(data.get("resolved")),
                data.get("result"),
            )
        return self.logs.setdefault(task_id, built)

    async def _commit(self, mutation: Any) -> list[Any]:
        ticket = CommitTicket([mutation])
        self._writer.enqueue.tell(ticket)
        return await ticket.wait()

    # -- steps -----------------------------------------------------------------------------------

    @concurrent
    async def step(
        self, task_id: str, seq: int, kind: str, key: str, request: Any, wait: float
    ) -> dict[str, Any]:
        """One durable call of a running task (validated by the gateway).

        Returns ``{"done": True, "result": ...}``, or ``{"done": False}`` if the entry
        still waits after ``wait`` seconds (the worker then evicts the task).

        Raises:
            NonDeterminismError: the call does not match the task's log.
        """
        log = await self._log(task_id)
        now = self._now()
        if kind == "sleep" and "seconds" in request:  # a sleep's deadline counts from its first run
            request = {"until": now + request["seconds"]}
        if _PLANTED_SLEEP_AGAIN and kind == "sleep" and seq in log.entries:
            log.entries[seq] = dl.Entry(seq, kind, key, request, log.entries[seq].created_at)
        decision = dl.step(log, seq, kind, key, request, now)
        if isinstance(decision, dl.Diverged):
            raise NonDeterminismError(f"durable task {task_id}: {decision.message}")
        if isinstance(decision, dl.Replay):
            if _PLANTED_RESPAWN_ON_REPLAY and kind == "spawn":
                items = [{**item, "key": f"again-{now}"} for item in request["items"]]
                await self._spawn(task_id, seq, {**request, "items": items})
            return {"done": True, "result": decision.entry.result}
        entry = decision.entry
        if isinstance(decision, dl.Append):
            if kind == "spawn":
                entry = dl.Entry(
                    seq, kind, key, request, entry.created_at, True, await self._spawn(task_id, seq, request)
                )
            try:
                await self._commit(
                    AppendDurableLog(
                        tenant_id=self.tenant_id,
                        task_id=task_id,
                        seq=seq,
                        kind=kind,
                        key=key,
                        at=entry.created_at,
                        data=_data(entry),
                    )
                )
            except MutationRejected:
                # another attempt of this task appended it first: read the log again
                self.logs.pop(task_id, None)
                return await self.step(task_id, seq, kind, key, request, wait)
            dl.append(log, entry)
            self._counts["appended"] += 1
            if entry.resolved:
                return {"done": True, "result": entry.result}
        self._arm(task_id, entry)
        return await self._poll(task_id, seq, wait)

    async def _poll(self, task_id: str, seq: int, wait: float) -> dict[str, Any]:
        where = (task_id, seq)
        event = self._pollers.setdefault(where, trio.Event())
        self._waiting[where] = self._waiting.get(where, 0) + 1
        try:
            with trio.move_on_after(max(0.0, wait)):
                await event.wait()
        finally:
            self._waiting[where] -= 1
            if not self._waiting[where]:
                del self._waiting[where]
                if self._pollers.get(where) is event:
                    del self._pollers[where]  # nobody waits: a sleeper costs no event
        log = self.logs.get(task_id)
        entry = None if log is None else log.entries.get(seq)
        if entry is not None:
            # (ignored below: entry comes from the durable log and carries its stored kind)
            decision = dl.step(log, seq, entry.kind, entry.key, entry.request, self._now())  # type: ignore[arg-type]
            if isinstance(decision, dl.Replay):
                return {"done": True, "result": decision.entry.result}
        return {"done": False}

    # -- arming what an entry waits for ----------------------------------------------------------

    def _arm(self, task_id: str, entry: dl.Entry) -> None:
        where = (task_id, entry.seq)
        if where in self.armed or entry.resolved:
            return
        if entry.kind == "sleep":
            self.armed[where] = True
            self._timer(
                ("durable", task_id, entry.seq),
                float(entry.request["until"]),
                "sleep_due",
                task_id,
                entry.seq,
            )
        elif entry.kind == "event":
            self.armed[where] = True
            req = entry.request
            since = entry.created_at - (0.0 if _PLANTED_NO_LOOKBACK else float(req.get("lookback") or 0.0))
            self._triggers.add_wait.tell(
                WaitId(task_id, entry.seq),
                entry.key,
                req.get("expression"),
                req.get("scope"),
                since,
                self.context.ref,
                "event_arrived",
            )
        elif entry.kind == "conditions":
            conditions = ConditionSet(entry.request["groups"])
            self.armed[where] = conditions
            self._arming.arm(
                task_id,
                entry.seq,
                {None: conditions},
                entry.created_at,
                sleep_method="condition_due",
                event_method="event_arrived",
            )
        elif entry.kind == "wait_runs":
            self.armed[where] = True
            self.context.start_soon(self._watch_runs, task_id, entry.seq, list(entry.request["run_ids"]))

    def _timer(self, key: Any, wall: float, method: str, *args: Any) -> None:
        clock = self.context.clock
        deadline = clock.monotonic() + max(0.0, wall - clock.time())
        self._timers.schedule_at.tell(key, deadline, self.context.ref, method, *args)

    def sleep_due(self, task_id: str, seq: int) -> None:
        """A durable sleep's time has come (resolved by time alone: nothing to commit)."""
        if self.armed.pop((task_id, seq), None) is not None:
            self._wake(task_id, seq)

    def condition_due(self, wait: WaitId, seconds: float) -> None:
        """A sleep condition of a durable ``aio_wait_for`` came due."""
        self._condition_met(wait.task_id, wait.seq, wait.group, {"sleep": seconds})

    def event_arrived(self, wait: WaitId, event: dict[str, Any]) -> None:
        """The Triggers actor found the event an entry waits for."""
        task_id, seq = wait.task_id, wait.seq
        armed = self.armed.get((task_id, seq))
        if isinstance(armed, ConditionSet):
            self._condition_met(task_id, seq, wait.group, {"event": event})
        elif armed is not None:
            self.armed.pop((task_id, seq), None)
            self.context.start_soon(self._resolve, task_id, seq, event)

    def _condition_met(self, task_id: str, seq: int, group: int, result: Any) -> None:
        armed = self.armed.get((task_id, seq))
        if isinstance(armed, ConditionSet) and armed.satisfy(group, result):
            self.armed.pop((task_id, seq), None)
            self._arming.disarm(task_id, seq, {None: armed})
            self.context.start_soon(self._resolve, task_id, seq, armed.result())

    async def _watch_runs(self, task_id: str, seq: int, run_ids: list[str]) -> None:
        for run_id in run_ids:
            while True:
                event = await self._coordinator.watch.ask(run_id)
                if event is None:
                    break
                await event.wait()
        if (task_id, seq) not in self.armed:
            return
        # the children's outcomes are logged: a replay gets the same results, read once
        names: dict[str, str] = {}
        results = [await self._run_summary(run_id, names) for run_id in run_ids]
        if self.armed.pop((task_id, seq), None) is not None:
            await self._resolve(task_id, seq, results)

    async def _run_summary(self, run_id: str, names: dict[str, str]) -> dict[str, Any]:
        """A finished run as a waiting parent sees it (see :mod:`ratchet.actors.runs._views`)."""
        run = await self.store.get_run(self.tenant_id, run_id)
        if run is None:
            return views.unknown_run_summary(run_id)
        if run.workflow_id not in names:
            workflow = await self.store.get_workflow(self.tenant_id, run.workflow_id)
            names[run.workflow_id] = workflow.name if workflow else run.workflow_id
        tasks = await self.store.list_tasks(self.tenant_id, run_id)
        return views.run_summary(run, names[run.workflow_id], tasks)

    async def _resolve(self, task_id: str, seq: int, result: Any) -> None:
        log = self.logs.get(task_id)
        entry = None if log is None else log.entries.get(seq)
        if entry is None or entry.resolved:
            return
        done = dl.Entry(entry.seq, entry.kind, entry.key, entry.request, entry.created_at, True, result)
        self._resolving.add((task_id, seq))
        try:
            await self._commit(
                ResolveDurableLog(tenant_id=self.tenant_id, task_id=task_id, seq=seq, data=_data(done))
            )
        finally:
            self._resolving.discard((task_id, seq))
        if self.logs.get(task_id) is log:
            # (ignored below: result is the stored resolution of this step)
            dl.resolve(log, seq, result)  # type: ignore[arg-type]
        self._counts["resolved"] += 1
        if not _PLANTED_LOST_WAKE:
            self._wake(task_id, seq)

    async def watch_evicted(self, task_id: str, seq: int | None) -> None:
        """The coordinator recorded ``task_id`` EVICTED at its call ``seq``: arm its waits.

        They are armed already unless this actor restarted after the task made its call:
        its restart armed the waits of the tasks evicted by then, and this one may have
        been evicted only after (its worker reports the eviction when its step fails,
        and the step failed because this actor crashed). Arming is idempotent. A log
        with nothing left to wait for resumes the task (its wait resolved and committed
        just before the crash that lost the wake); the resume names ``seq``, so it does
        not apply to an attempt that already moved past that call.
        """
        log = await self._log(task_id)
        pending = [
            e for e in log.entries.values() if not e.resolved and (task_id, e.seq) not in self._resolving
        ]
        if not pending and not any(key[0] == task_id for key in self._resolving):
            self._resume(task_id, seq)
        for entry in pending:
            self._arm(task_id, entry)

    def _wake(self, task_id: str, seq: int) -> None:
        """An entry resolved: give it to whoever still polls it, and resume the task.

        A poller may not be the execution that carries on (a zombie's, or one the engine
        already gave up for another), so the coordinator is told either way: it queues
        the task if it is evicted, or if its running attempt is evicted at this call
        later, and forgets the wake once the attempt moves past it.
        """
        event = self._pollers.pop((task_id, seq), None)
        if event is not None:
            event.set()
        self._resume(task_id, seq)

    def _resume(self, task_id: str, seq: int | None = None) -> None:
        self._counts["resumed"] += 1
        self._coordinator.resume_tasks.tell([(task_id, seq)])

    # -- gates of DAG tasks (see _gates.py) --------------------------------------------------------

    def watch_gate(self, task_id: str, attempt: int, request: dict[str, Any]) -> None:
        """Watch a ready task's conditions; the coordinator hears ``gate_decided`` once."""
        self.context.start_soon(self.gates.watch, task_id, attempt, request)

    def gate_due(self, wait: WaitId, seconds: float) -> None:
        """A sleep condition of a gated DAG task came due."""
        self.gates.met(wait, {"sleep": seconds})

    def gate_event(self, wait: WaitId, event: dict[str, Any]) -> None:
        """The Triggers actor found an event a gated DAG task's condition waits for."""
        self.gates.met(wait, {"event": event})

    # -- children --------------------------------------------------------------------------------

    async def _spawn(self, task_id: str, seq: int, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Create the child runs of a spawn entry; the same entry always makes the same runs."""
        answers: list[dict[str, Any] | None] = []
        valid: list[tuple[int, RunRequest]] = []
        for i, item in enumerate(request["items"]):
            key = item.get("key") if isinstance(item, dict) else None
            key = child_key(task_id, key) if key is not None else durable_spawn_key(task_id, seq, i)
            try:
                raw = {**item, "workflow": request["workflow"], "parent_task_id": task_id, "key": key}
                req = parse(TriggerRequest, raw, "child run request")
                labels = run_labels(req.desired_worker_labels, req.workflow)
            except (RequestError, TypeError) as exc:
                answers.append({"error": str(exc)})
                continue
            answers.append(None)
            child = RunRequest(
                req.workflow,
                req.input,
                req.additional_metadata,
                req.priority,
                task_id,
                key,
                desired_worker_labels=labels,
            )
            valid.append((i, child))
        # No look-up of the keys first: they are new unless the engine stopped between
        # creating the runs and logging the entry, and then the store refuses the
        # duplicates and the intake answers the runs made the first time.
        started = await self._intake.create_runs([r for _, r in valid], look_up_first=False)
        for (i, _), answer in zip(valid, started, strict=True):
            if isinstance(answer, Unsettled):
                raise answer.cause  # the entry must not record a spawn the store may hold
            answers[i] = to_wire(answer)
        return [a or {"error": "not processed"} for a in answers]

    # -- housekeeping ----------------------------------------------------------------------------

    def forget(self, task_ids: Sequence[str]) -> None:
        """The tasks' runs finished: drop their logs and disarm their waits."""
        for task_id in set(task_ids):
            log = self.logs.pop(task_id, None)
            for seq in () if log is None else log.entries:
                armed = self.armed.pop((task_id, seq), None)
                if isinstance(armed, ConditionSet):
                    self._arming.disarm(task_id, seq, {None: armed})
                elif armed is not None:
                    self._timers.cancel.tell(("durable", task_id, seq))
                    self._triggers.cancel_waits.tell([WaitId(task_id, seq)])
            self.gates.forget(task_id)

    def durable_statistics(self) -> DurableStatistics:
        """The actor's counters."""
        return DurableStatistics(
            logs=len(self.logs),
            armed=len(self.armed) + len(self.gates.armed),
            appended=self._counts["appended"],
            resolved=self._counts["resolved"],
            resumed=self._counts["resumed"],
        )
