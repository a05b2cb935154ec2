"""Gates of DAG tasks: the ``wait_for``, ``skip_if`` and ``cancel_if`` conditions of a ready task.

Theory of operation. When a gated task's parents complete, the coordinator asks the
DurableTasks actor to watch its gate (``watch_gate``); the actor hands it to the
:class:`Gates` it owns. The gate's start time and, once settled, its decision (run,
skip or cancel) are entries of the task's durable log at :func:`~._log.gate_seq` of the
attempt, so sleeps count from the first watch, and a crash neither restarts a sleep nor
settles a gate twice: a gate found decided in the log is answered at once.

Its sleep and event conditions are armed by :class:`ConditionArming`, the one helper
that arms and disarms a condition set's timers and event waits (durable ``aio_wait_for``
calls use it too). Each armed condition is named by a :class:`WaitId`, which comes back
with the timer or the event, so no id is ever parsed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from ratchet._contract.conditions import ConditionSet
from ratchet.runtime import ActorRef

from ..store import AppendDurableLog, MutationRejected, ResolveDurableLog, Store
from . import _log as dl

__all__ = ["ConditionArming", "Gate", "Gates", "WaitId"]


class WaitId(NamedTuple):
    """One armed condition (or a durable call's single wait): whose, where, which.

    Attributes:
        task_id: the task that waits.
        seq: the log position of the entry that waits (negative for a gate).
        option: a gate's option (``wait_for``, ``skip_if``, ``cancel_if``); None for a
            durable call.
        group: the condition's group (conditions are OR of ANDed groups).
        condition: the condition's index within its group.
    """

    task_id: str
    seq: int
    option: str | None = None
    group: int = 0
    condition: int = 0

    def timer_key(self) -> tuple[Any, ...]:
        """The key of this condition's timer in the Timers actor."""
        return ("condition", *self)


class ConditionArming:
    """Arms and disarms the sleeps and event waits of condition sets, for one actor.

    Args:
        timers: the Timers actor.
        triggers: the Triggers actor (it holds event waits).
        target: the actor told when a condition is met.
        timer_at: arms a timer at a wall time: ``(key, wall, method, *args)``.
    """

    def __init__(
        self, *, timers: ActorRef, triggers: ActorRef, target: ActorRef, timer_at: Callable[..., None]
    ) -> None:
        self._timers = timers
        self._triggers = triggers
        self._target = target
        self._timer_at = timer_at

    @staticmethod
    def _conditions(
        task_id: str, seq: int, sets: Mapping[str | None, ConditionSet]
    ) -> list[tuple[WaitId, Mapping[str, Any]]]:
        return [
            (WaitId(task_id, seq, option, g, c), cond)
            for option, conditions in sets.items()
            for g, group in enumerate(conditions.groups)
            for c, cond in enumerate(group)
        ]

    def arm(
        self,
        task_id: str,
        seq: int,
        sets: Mapping[str | None, ConditionSet],
        since: float,
        *,
        sleep_method: str,
        event_method: str,
    ) -> None:
        """Arm every sleep (counted from ``since``) and event wait (looking back to ``since``).

        A sleep tells ``target.sleep_method(wait_id, seconds)`` when due; an event tells
        ``target.event_method(wait_id, event)``.
        """
        for wait, cond in self._conditions(task_id, seq, sets):
            if cond["kind"] == "sleep":
                due = since + float(cond["seconds"])
                self._timer_at(wait.timer_key(), due, sleep_method, wait, cond["seconds"])
            elif cond["kind"] == "event":
                self._triggers.add_wait.tell(
                    wait,
                    cond["event_key"],
                    cond.get("expression"),
                    cond.get("scope"),
                    since,
                    self._target,
                    event_method,
                )

    def disarm(self, task_id: str, seq: int, sets: Mapping[str | None, ConditionSet]) -> None:
        """Cancel every timer and event wait :meth:`arm` armed for these sets."""
        timers, waits = [], []
        for wait, cond in self._conditions(task_id, seq, sets):
            if cond["kind"] == "sleep":
                timers.append(wait.timer_key())
            elif cond["kind"] == "event":
                waits.append(wait)
        if timers:
            self._timers.cancel_many.tell(timers)
        if waits:
            self._triggers.cancel_waits.tell(waits)


@dataclass
class Gate:
    """A gated task's condition sets, by option (``wait_for``, ``skip_if``, ``cancel_if``)."""

    sets: dict[str, ConditionSet]

    def options(self) -> dict[str | None, ConditionSet]:
        """The sets keyed as :class:`ConditionArming` takes them (None is a durable call's)."""
        return dict(self.sets.items())

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> Gate:
        """A gate from the coordinator's request: per option, its groups and those its parents satisfied."""
        return cls(
            {
                option: ConditionSet(r["groups"], {g: {"parent": True} for g in r["satisfied"]})
                for option, r in request.items()
            }
        )

    def decision(self) -> str | None:
        """``cancel``, ``skip`` or ``run`` once their conditions hold (that precedence), else None."""
        for option, decision in (("cancel_if", "cancel"), ("skip_if", "skip"), ("wait_for", "run")):
            if option in self.sets and self.sets[option].done:
                return decision
        return None


class Gates:
    """The gates a DurableTasks actor watches; see the module docstring.

    Args:
        store: the store (gate entries are read from the task's log).
        tenant_id: the tenant served.
        commit: commits one mutation and returns its results.
        arming: arms the gates' conditions.
        decided: tells the coordinator a gate's decision: ``(task_id, decision)``.
        start_soon: runs a coroutine function in the actor's nursery.
        now: the wall clock.
    """

    SLEEP_METHOD = "gate_due"
    EVENT_METHOD = "gate_event"

    def __init__(
        self,
        *,
        store: Store,
        tenant_id: str,
        commit: Callable[[Any], Awaitable[list[Any]]],
        arming: ConditionArming,
        decided: Callable[[str, str], None],
        start_soon: Callable[..., None],
        now: Callable[[], float],
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self._commit = commit
        self._arming = arming
        self._decided = decided
        self._start_soon = start_soon
        self._now = now
        self.armed: dict[tuple[str, int], Gate | None] = {}  # None: claimed, the log being read
        self._seqs: dict[str, set[int]] = {}  # task -> positions of its gates

    async def watch(self, task_id: str, attempt: int, request: dict[str, Any]) -> None:
        """Watch a ready task's gate for ``attempt``; its decision is told once."""
        seq = dl.gate_seq(attempt)
        where = (task_id, seq)
        if where in self.armed:
            return
        self.armed[where] = None
        self._seqs.setdefault(task_id, set()).add(seq)
        rows = [r for r in await self.store.read_durable_log(self.tenant_id, task_id) if r.seq == seq]
        now = self._now()
        if rows:
            data = rows[0].data or {}
            created_at, request = rows[0].created_at, data.get("request") or request
            if data.get("resolved"):
                self.armed.pop(where, None)
                self._decided(task_id, data["result"]["decision"])
                return
        else:
            created_at = now
            entry = {"request": request, "resolved": False, "result": None}
            try:
                await self._commit(
                    AppendDurableLog(
                        tenant_id=self.tenant_id,
                        task_id=task_id,
                        seq=seq,
                        kind=dl.GATE_KIND,
                        key=dl.GATE_KIND,
                        at=now,
                        data=entry,
                    )
                )
            except MutationRejected:
                self.armed.pop(where, None)
                return await self.watch(task_id, attempt, request)
        gate = Gate.from_request(request)
        self.armed[where] = gate
        self._arming.arm(
            task_id,
            seq,
            gate.options(),
            created_at,
            sleep_method=self.SLEEP_METHOD,
            event_method=self.EVENT_METHOD,
        )
        self.met(WaitId(task_id, seq), None)  # settled already (a sleep of 0)?

    def met(self, wait: WaitId, result: Any) -> None:
        """A condition of a gate is met (``wait.option`` None: only look whether it settled)."""
        where = (wait.task_id, wait.seq)
        gate = self.armed.get(where)
        if gate is None:
            return
        if wait.option is not None and wait.option in gate.sets:
            gate.sets[wait.option].satisfy(wait.group, result)
        decision = gate.decision()
        if decision is None:
            return
        del self.armed[where]
        self._arming.disarm(wait.task_id, wait.seq, gate.options())
        self._start_soon(self._decide, wait.task_id, wait.seq, decision)

    async def _decide(self, task_id: str, seq: int, decision: str) -> None:
        rows = [r for r in await self.store.read_durable_log(self.tenant_id, task_id) if r.seq == seq]
        request = (rows[0].data or {}).get("request") if rows else None
        data = {"request": request, "resolved": True, "result": {"decision": decision}}
        await self._commit(ResolveDurableLog(tenant_id=self.tenant_id, task_id=task_id, seq=seq, data=data))
        self._decided(task_id, decision)

    def forget(self, task_id: str) -> None:
        """The task's run finished: disarm its gates."""
        for seq in self._seqs.pop(task_id, ()):
            gate = self.armed.pop((task_id, seq), None)
            if gate is not None:
                self._arming.disarm(task_id, seq, gate.options())
