"""Flow control in front of the ready queues: concurrency admission, rate gates, affinity.

Theory of operation. Every queued task attempt passes :class:`FlowControl` before it may
wait for a worker. Its :class:`FlowNeeds` (computed by the RunCoordinator from the spec
and the run's input) name the concurrency groups it must be admitted to, the rate-limit
units it takes when it starts, its desired worker labels and its run's sticky strategy.

*Concurrency.* The things limited are *holders*: a run, for workflow-level limits, and a
task, for task-level ones. A holder walks its chain of groups in declaration order,
asking each :class:`~ratchet.actors.scheduling._concurrency.ConcurrencyGroup` for a place; while it
waits in one, its attempts wait with it (parked on the holder, not in any ready queue).
Once it holds every place, its attempts go on (a run's tasks then meet their task-level
chains). A holder keeps its places across retries and until the coordinator says it is
*done* (the task or run finished) **and** none of its attempts is still queued or on a
worker; only then does it leave its groups, which admits the next holders. So a group
never counts more than ``max_runs`` holders at any instant, whatever fails in between.
A group that decides to cancel a holder (CANCEL_NEWEST, CANCEL_IN_PROGRESS) does not
cancel anything itself: it reports the holder, and the coordinator cancels the run or
task like any other cancellation, which eventually makes the holder done.

*Rate limits* are taken when a task is about to start (:meth:`FlowControl.try_start`,
the scheduling core's gate), not when it is queued, so a task waiting for a free worker
holds no units and starts never bunch. A task that finds a key full is parked in its
queue and remembered under that key with the time the window will have room; a single
timer for the earliest such time wakes just as many parked tasks as the window can take.

*Affinity.* Required labels and a HARD sticky worker become the task's lane constraint;
label weights and a SOFT sticky worker only rank free workers (:meth:`FlowControl.prefer`).

After an engine restart the coordinator marks the attempts of runs and tasks that had
started as *reclaiming*: their holders take their places back without asking, before
anything new is admitted, so what held a place before the restart still holds it.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ratchet._contract.flow import ConcurrencyLimitStrategy, StickyStrategy

from ._affinity import LabelWish, constraint_for, score
from ._concurrency import Admitted, Cancelled, ConcurrencyGroup, Decision
from ._queues import QueuedTask, WorkerSlots
from ._rate_limits import Blocked, Granted, RateLimiter, RateNeed

__all__ = [
    "FlowControl",
    "FlowNeeds",
    "FlowStatistics",
    "FlowStep",
    "GroupKey",
    "GroupNeed",
    "Holder",
    "as_holder",
]

Holder = tuple[str, str]  # ("run", run_id) or ("task", task_id)


def as_holder(value: Hashable | Sequence[str]) -> Holder:
    """A holder id as a concurrency group or a message gives it back (a list, after the wire).

    Raises:
        TypeError: ``value`` is not a ``(kind, id)`` pair.
    """
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise TypeError(f"{value!r} is not a flow-control holder: expected (kind, id)")
    kind, holder_id = value
    return (kind, holder_id)


STICKY_BONUS = 1e12  # a SOFT sticky worker outranks any label weight


class GroupKey(NamedTuple):
    """The identity of a concurrency group: where it is declared, how, and the key value."""

    scope: str  # "workflow" or "workflow.task"
    expression: str
    strategy: str
    value: str

    def __repr__(self) -> str:
        return f"{self.scope}[{self.expression}={self.value!r}]"


@dataclass(frozen=True, slots=True)
class GroupNeed:
    """One concurrency group a holder must be admitted to."""

    key: GroupKey
    strategy: ConcurrencyLimitStrategy
    max_runs: int


@dataclass(frozen=True, slots=True)
class FlowNeeds:
    """What flow control asks of one task attempt (see the module docstring).

    Attributes:
        run_id: the attempt's run.
        task_id: the attempt's task.
        run_groups: workflow-level groups, in order (the run is their holder).
        task_groups: task-level groups, in order (the task is their holder).
        rates: rate-limit units one start takes.
        wishes: desired worker labels.
        sticky: the run's sticky strategy.
        reclaim_run: the run held its places before an engine restart.
        reclaim_task: the task held its places before an engine restart.
    """

    run_id: str
    task_id: str
    run_groups: tuple[GroupNeed, ...] = ()
    task_groups: tuple[GroupNeed, ...] = ()
    rates: tuple[RateNeed, ...] = ()
    wishes: tuple[LabelWish, ...] = ()
    sticky: StickyStrategy | None = None
    reclaim_run: bool = False
    reclaim_task: bool = False

    @property
    def fair_key(self) -> Hashable:
        """The round-robin key the attempt takes turns with in its ready queue."""
        for need in (*self.run_groups, *self.task_groups):
            if need.strategy is ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN:
                return need.key
        return None


@dataclass
class FlowStep:
    """What one flow-control operation produced.

    Attributes:
        ready: attempts that passed admission: queue them for a worker.
        cancel: holders a group decided to cancel, with the reason.
        refuse: attempts that can never be admitted as declared: fail them.
    """

    ready: list[QueuedTask] = field(default_factory=list)
    cancel: list[tuple[Holder, str]] = field(default_factory=list)
    refuse: list[tuple[Hashable, str]] = field(default_factory=list)

    def extend(self, other: FlowStep) -> None:
        self.ready.extend(other.ready)
        self.cancel.extend(other.cancel)
        self.refuse.extend(other.refuse)


@dataclass(frozen=True)
class FlowStatistics:
    groups: int
    holders: int
    waiting_attempts: int
    rate_keys: int
    rate_parked: int
    granted: int
    blocked: int


@dataclass(eq=False)
class _Holder:
    id: Holder
    chain: tuple[GroupNeed, ...]
    arrival: int
    priority: int
    retry: bool
    held: int = 0  # how many groups of the chain it holds (a prefix)
    waiting: bool = False  # waiting in chain[held]
    cancelled: bool = False
    done: bool = False
    live: set[Hashable] = field(default_factory=set)  # its attempts known to the scheduler
    parked: dict[Hashable, QueuedTask] = field(default_factory=dict)  # attempts waiting for it

    @property
    def admitted(self) -> bool:
        return self.held == len(self.chain)


class FlowControl:
    """Concurrency groups, rate limits and affinity for one scheduler; see the module docstring.

    Args:
        clock: wall-clock seconds (the runtime's clock seam); rate windows use it.
        on_fact: called with each admission fact (``[kind, time, group, holder]`` and
            ``["rate", time, key, units]``), for traces and invariant checks.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = lambda: 0.0,
        on_fact: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self.clock = clock
        self.on_fact = on_fact
        self.limiter = RateLimiter()
        self._groups: dict[GroupKey, ConcurrencyGroup] = {}
        self._holders: dict[Holder, _Holder] = {}
        self._attempts: dict[Hashable, tuple[Holder | None, Holder | None]] = {}
        self._arrivals = 0
        self._sticky: dict[str, str] = {}  # run_id -> the worker of its first task
        self._misrouted: list[QueuedTask] = []  # HARD sticky tasks offered to another worker
        self._rate_waiters: dict[str, deque[tuple[Hashable, int]]] = {}
        self._wake_heap: list[tuple[float, str]] = []
        self._wake_at: dict[str, float] = {}
        self.dirty_rates: set[str] = set()  # keys whose windows changed since taken
        # With ``defer_rate_facts``, rate facts wait in ``_grant_facts`` until the caller
        # has made the grants durable (a grant lost in a crash never started anything).
        self.defer_rate_facts = False
        self._grant_facts: list[list[Any]] = []

    # -- queries ----------------------------------------------------------------------------

    def tracks(self, key: Hashable) -> bool:
        """Whether the attempt is known here (from :meth:`admit` until :meth:`attempt_ended`)."""
        return key in self._attempts

    def group(self, key: GroupKey) -> ConcurrencyGroup | None:
        return self._groups.get(key)

    def statistics(self) -> FlowStatistics:
        return FlowStatistics(
            groups=len(self._groups),
            holders=len(self._holders),
            waiting_attempts=sum(len(h.parked) for h in self._holders.values()),
            rate_keys=len(self.limiter),
            rate_parked=sum(len(w) for w in self._rate_waiters.values()),
            granted=self.limiter.granted,
            blocked=self.limiter.blocked,
        )

    def _fact(self, *record: Any) -> None:
        if self.on_fact is not None:
            self.on_fact(list(record))

    # -- admission ----------------------------------------------------------------------------

    def admit(self, task: QueuedTask) -> FlowStep:
        """An attempt arrives: pass it on, hold it back, or refuse it."""
        out = FlowStep()
        needs: FlowNeeds | None = task.flow
        if needs is None:
            out.ready.append(task)
            return out
        if needs.rates:
            refusal = self.limiter.check(needs.rates)
            if refusal is not None:
                out.refuse.append((task.key, refusal.message))
                return out
        self._register(task, needs, reclaim=(needs.reclaim_run, needs.reclaim_task))
        self._route(task, out)
        return out

    def reclaim(self, needs: FlowNeeds) -> None:
        """Holders that held their places before an engine restart take them back now,
        before any new attempt is admitted (``needs.reclaim_run`` / ``reclaim_task``)."""
        for holder_id, chain, take_back in (
            (("run", needs.run_id), needs.run_groups, needs.reclaim_run),
            (("task", needs.task_id), needs.task_groups, needs.reclaim_task),
        ):
            if not chain or not take_back or holder_id in self._holders:
                continue
            self._arrivals += 1
            holder = self._holders[holder_id] = _Holder(holder_id, chain, self._arrivals, 1, True)
            self._reclaim(holder)

    def adopt(self, task: QueuedTask) -> None:
        """An attempt is already running (a worker said so after an engine restart).

        Its holders take their places back, as reclaiming ones do, and it counts as theirs
        until it ends.
        """
        if task.flow is not None and task.key not in self._attempts:
            self._register(task, task.flow, reclaim=(True, True))

    def _register(self, task: QueuedTask, needs: FlowNeeds, *, reclaim: tuple[bool, bool]) -> None:
        run_h = ("run", needs.run_id) if needs.run_groups else None
        task_h = ("task", needs.task_id) if needs.task_groups else None
        self._attempts[task.key] = (run_h, task_h)
        for holder_id, chain, take_back in (
            (run_h, needs.run_groups, reclaim[0]),
            (task_h, needs.task_groups, reclaim[1]),
        ):
            if holder_id is None:
                continue
            holder = self._holders.get(holder_id)
            if holder is None:
                self._arrivals += 1
                holder = self._holders[holder_id] = _Holder(
                    holder_id, chain, self._arrivals, task.priority, task.retry
                )
                if take_back:
                    self._reclaim(holder)
            holder.done = False  # a replayed run's new attempts keep their run's places
            holder.live.add(task.key)

    def _reclaim(self, holder: _Holder) -> None:
        for need in holder.chain:
            self._group(need).reclaim(holder.id, arrival=holder.arrival)
            self._fact("admit", self.clock(), need.key, holder.id)
        holder.held = len(holder.chain)

    def _group(self, need: GroupNeed) -> ConcurrencyGroup:
        group = self._groups.get(need.key)
        if group is None:
            group = self._groups[need.key] = ConcurrencyGroup(need.key, need.strategy, need.max_runs)
            self._fact("group", self.clock(), need.key, need.max_runs)
        return group

    def _route(self, task: QueuedTask, out: FlowStep) -> None:
        """Send an attempt past every holder that is admitted; park it on the first that is not."""
        for holder_id in self._attempts[task.key]:
            if holder_id is None:
                continue
            holder = self._holders[holder_id]
            if not holder.admitted:
                holder.parked[task.key] = task
                if not holder.waiting and not holder.cancelled:
                    self._advance(holder, out)
                return
        out.ready.append(self._decorate(task))

    def _advance(self, holder: _Holder, out: FlowStep) -> None:
        """Ask the holder's next groups for places; route its attempts once it holds them all."""
        while not holder.admitted:
            need = holder.chain[holder.held]
            group = self._group(need)
            if group.max_runs != need.max_runs:  # a newer workflow version resized the group
                self._fact("group", self.clock(), need.key, need.max_runs)
                self._apply(group.set_max_runs(need.max_runs), need.key, out)
            self._fact("arrive", self.clock(), need.key, holder.id)
            holder.waiting = True
            decisions = group.request(
                holder.id, arrival=holder.arrival, priority=holder.priority, retry=holder.retry
            )
            self._apply(decisions, need.key, out, current=holder)
            if holder.waiting or holder.cancelled:
                return
        parked, holder.parked = holder.parked, {}
        for task in parked.values():
            self._route(task, out)

    def _apply(
        self, decisions: Iterable[Decision], group: GroupKey, out: FlowStep, *, current: _Holder | None = None
    ) -> None:
        now = self.clock()
        for decision in decisions:
            holder = self._holders.get(as_holder(decision.holder))
            if isinstance(decision, Admitted):
                self._fact("admit", now, group, decision.holder)
                if holder is None:
                    continue
                holder.held += 1
                holder.waiting = False
                if holder is not current:
                    self._advance(holder, out)
            elif isinstance(decision, Cancelled):
                self._fact("cancel", now, group, decision.holder)
                if holder is None:
                    continue
                if holder.waiting and not self._group(holder.chain[holder.held]).is_waiting(holder.id):
                    holder.waiting = False
                if not holder.cancelled:
                    holder.cancelled = True
                    out.cancel.append((holder.id, decision.reason))

    # -- leaving ------------------------------------------------------------------------------

    def place(self, key: Hashable) -> FlowStep:
        """An attempt held back here is in fact running (its worker said so after an engine
        restart): its holders take their places at once, as reclaiming ones do."""
        out = FlowStep()
        for holder_id in self._attempts.get(key, (None, None)):
            holder = self._holders.get(holder_id) if holder_id is not None else None
            if holder is None:
                continue
            holder.parked.pop(key, None)
            if holder.admitted:
                continue
            if holder.waiting:
                need = holder.chain[holder.held]
                self._apply(self._group(need).leave(holder.id), need.key, out)
                holder.waiting = False
            for need in holder.chain[holder.held :]:
                self._group(need).reclaim(holder.id, arrival=holder.arrival)
                self._fact("admit", self.clock(), need.key, holder.id)
            holder.held = len(holder.chain)
            parked, holder.parked = holder.parked, {}
            for task in parked.values():
                self._route(task, out)
        return out

    def withdraw(self, key: Hashable) -> bool:
        """Drop an attempt held back here (it was cancelled); False if it is not held back."""
        found = False
        for holder_id in self._attempts.get(key, (None, None)):
            holder = self._holders.get(holder_id) if holder_id is not None else None
            if holder is not None and holder.parked.pop(key, None) is not None:
                found = True
        return found

    def attempt_ended(self, key: Hashable) -> FlowStep:
        """An attempt left the scheduler (finished, lost with its worker, or cancelled)."""
        out = FlowStep()
        holders = self._attempts.pop(key, None)
        if holders is None:
            return out
        for holder_id in holders:
            holder = self._holders.get(holder_id) if holder_id is not None else None
            if holder is not None:
                holder.live.discard(key)
                holder.parked.pop(key, None)
                self._maybe_release(holder, out)
        return out

    def done(self, holder_ids: Iterable[Holder]) -> FlowStep:
        """The coordinator says these runs or tasks finished: they leave once their attempts have."""
        out = FlowStep()
        for holder_id in holder_ids:
            if holder_id[0] == "run":
                self._sticky.pop(holder_id[1], None)
            holder = self._holders.get(holder_id)
            if holder is not None:
                holder.done = True
                self._maybe_release(holder, out)
        return out

    def sync(self, active: Iterable[Holder]) -> FlowStep:
        """Only ``active`` holders (and those yet to come) are unfinished: the rest are done.

        The coordinator calls this after it restarted (a finished run's *done* may have
        been lost with it).
        """
        keep = set(active)
        return self.done([h for h in self._holders if h not in keep])

    def _maybe_release(self, holder: _Holder, out: FlowStep) -> None:
        if not holder.done or holder.live:
            return
        del self._holders[holder.id]
        now = self.clock()
        for index, need in enumerate(holder.chain):
            group = self._groups.get(need.key)
            if group is None or index > holder.held:
                break
            if index == holder.held and not holder.waiting:
                break
            self._fact("release", now, need.key, holder.id)
            self._apply(group.leave(holder.id), need.key, out)
            if group.empty:
                del self._groups[need.key]

    # -- affinity -----------------------------------------------------------------------------

    def _decorate(self, task: QueuedTask) -> QueuedTask:
        needs: FlowNeeds = task.flow
        sticky = self._sticky.get(needs.run_id) if needs.sticky is StickyStrategy.HARD else None
        constraint = constraint_for(needs.wishes, sticky)
        fair = needs.fair_key
        if constraint is None and fair is None:
            return task
        return dataclasses.replace(task, constraint=constraint, fair_key=fair)

    def prefer(self, task: QueuedTask, worker: WorkerSlots) -> float:
        """How much an arriving task would rather have this free worker (higher first)."""
        needs: FlowNeeds | None = task.flow
        if needs is None:
            return 0.0
        value = float(score(needs.wishes, worker.labels) or 0)
        if needs.sticky is StickyStrategy.SOFT and self._sticky.get(needs.run_id) == worker.worker:
            value += STICKY_BONUS
        return value

    def fits(self, constraint: Any, worker: WorkerSlots) -> bool:
        return bool(constraint.fits(worker.worker, worker.labels))

    def assigned(self, task: QueuedTask, worker: str) -> None:
        """Note where an attempt went (a sticky run's first task picks its worker)."""
        needs: FlowNeeds | None = task.flow
        if needs is not None and needs.sticky is not None:
            self._sticky.setdefault(needs.run_id, worker)

    def stick(self, run_id: str, worker: str) -> None:
        """A sticky run's worker, as known from before an engine restart."""
        self._sticky.setdefault(run_id, worker)

    # -- rate limits ----------------------------------------------------------------------------

    def take_misrouted(self) -> list[tuple[Hashable, Any]]:
        """HARD sticky tasks that waited before their run's worker was known, with the
        constraint they must wait under now (the scheduler moves them to that lane)."""
        out = [
            (t.key, constraint_for(t.flow.wishes, self._sticky.get(t.flow.run_id))) for t in self._misrouted
        ]
        self._misrouted.clear()
        return out

    def try_start(self, task: QueuedTask, worker: str) -> bool:
        """The scheduling core's gate: take the task's rate-limit units now, or park it.

        It also turns away a HARD sticky task offered to a worker other than its run's
        (it was queued before the run's first task picked that worker).
        """
        needs: FlowNeeds | None = task.flow
        if needs is None:
            return True
        if needs.sticky is StickyStrategy.HARD and self._sticky.get(needs.run_id, worker) != worker:
            self._misrouted.append(task)
            return False
        if not needs.rates:
            return True
        now = self.clock()
        result = self.limiter.try_acquire(needs.rates, now)
        if isinstance(result, Granted):
            self.dirty_rates.update(result.keys)
            for need in needs.rates:
                if self.on_fact is not None:
                    window = self.limiter.get_window(need.key)
                    assert window is not None
                    record = ["rate", now, need.key, need.units, window.limit, window.duration]
                    if self.defer_rate_facts:
                        self._grant_facts.append(record)
                    else:
                        self.on_fact(record)
            if self.limiter.granted % 4096 == 0 and len(self.limiter) > 1024:
                self.limiter.forget_idle(now)  # dynamic keys (one per user, say) come and go
            return True
        key, at = (result.key, result.at) if isinstance(result, Blocked) else (needs.rates[0].key, math.inf)
        units = next(n.units for n in needs.rates if n.key == key)
        self._rate_waiters.setdefault(key, deque()).append((task.key, units))
        self._arm(key, at)
        return False

    def _arm(self, key: str, at: float) -> None:
        if math.isinf(at):
            return  # woken by a put() that raises the limit, or cancelled by its schedule timeout
        current = self._wake_at.get(key)
        if current is None or at < current:
            self._wake_at[key] = at
            heapq.heappush(self._wake_heap, (at, key))

    def next_wake(self) -> float | None:
        """When the next parked task may start (wall time), or None."""
        heap = self._wake_heap
        while heap and self._wake_at.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def due(self) -> list[Hashable]:
        """The parked attempts to put back in line now (as many as their windows take)."""
        now = self.clock()
        out: list[Hashable] = []
        heap = self._wake_heap
        while heap and heap[0][0] <= now:
            at, key = heapq.heappop(heap)
            if self._wake_at.get(key) != at:
                continue
            del self._wake_at[key]
            out.extend(self._release_waiters(key, now))
        return out

    def _release_waiters(self, key: str, now: float) -> list[Hashable]:
        waiters = self._rate_waiters.get(key)
        if not waiters:
            return []
        room = self.limiter.available(key, now)
        out: list[Hashable] = []
        while waiters and waiters[0][1] <= room:
            attempt, units = waiters.popleft()
            room -= units
            out.append(attempt)
        if waiters:
            window = self.limiter.get_window(key)
            at = window.next_free(waiters[0][1], now) if window is not None else math.inf
            self._arm(key, max(at, now))
        else:
            del self._rate_waiters[key]
        return out

    def put_rate_limit(self, key: str, limit: int, duration: float) -> list[Hashable]:
        """Declare or change a static key; returns parked attempts that may now try again."""
        self.limiter.put(key, limit, duration)
        return self._release_waiters(key, self.clock())

    def delete_rate_limit(self, key: str) -> list[Hashable]:
        """Forget a static key; returns the attempts parked on it (the caller refuses them)."""
        self.limiter.delete(key)
        self.dirty_rates.discard(key)
        self._wake_at.pop(key, None)
        return [attempt for attempt, _ in self._rate_waiters.pop(key, ())]

    def take_grant_facts(self) -> list[list[Any]]:
        """Rate facts held back by ``defer_rate_facts``, to report once the grants are durable."""
        facts, self._grant_facts = self._grant_facts, []
        return facts

    def take_dirty_rates(self) -> list[tuple[str, int, float, list[tuple[float, float, int]]]]:
        """Windows changed since last taken: ``(key, limit, duration, log)``, for persistence."""
        out = []
        for key in sorted(self.dirty_rates):
            window = self.limiter.get_window(key)
            if window is not None:
                out.append((key, window.limit, window.duration, window.entries()))
        self.dirty_rates.clear()
        return out
