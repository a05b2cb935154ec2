"""Ready queues and worker slots: the pure core of the QueueScheduler.

Theory of operation. Each *action* (a workflow's task, the unit a worker registers for)
has a :class:`ReadyQueue` ordered by priority (3 first), then retries ahead of new work,
then fair rounds across concurrency keys, then arrival. Each worker has a number of
slots (and durable slots, for durable tasks) and the set of actions it can run. The
core pairs them, event by event, never by scanning:

- a task arrives → the worker with the most free slots among those registered for its
  action takes it at once, or it waits in its queue;
- a slot frees up (a task finished, a worker joined) → that worker takes the best head
  among the queues of the actions it runs.

Each step costs O(log n) in the queue plus O(workers of one action) or O(actions of one
worker), both small. A draining worker keeps its running tasks but gets no new ones; a
removed worker's running tasks are handed back to the caller, who decides (the run state
machine treats them as lost). Cancelled tasks are deleted lazily from their queue; a
cancelled *running* task keeps its slot until its worker reports the attempt ended, so a
worker never holds more attempts than it has slots, even while one winds down.

Operators may *pause* a worker (it gets no new tasks, as if draining, until resumed) or
a workflow (the tasks of its actions stay queued, keeping their places, until it is
unpaused): a paused worker has no free slots, and a worker looking for work skips the
actions of paused workflows, so a pause costs a set lookup per action and no scan.

Flow control plugs in through three optional hooks (see :mod:`ratchet.actors.scheduling._admission`):

- *lanes*: a task with a :attr:`QueuedTask.constraint` (required worker labels, a HARD
  sticky worker) waits in its own lane of the action, and a worker looks only at the
  lanes whose constraint it ``fits`` (cached), so affinity costs no scan;
- ``prefer`` scores free workers when a task arrives (soft label weights, SOFT sticky);
- ``gate`` may refuse to start a task the moment it would be assigned (a rate limit
  that is full): the task is then *parked* in its queue, keeping its place, until
  :meth:`SchedulingCore.wake` puts it back.

Round-robin fairness across concurrency keys: each queued task gets a *round*, one more
than the later of the queue's current round and its key's last round, and the queue
serves lower rounds first within a priority. A key with 10,000 queued tasks therefore
takes one turn per round like a key with one (start-time fair queueing, O(log n)).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "Assignment",
    "AttemptKey",
    "QueuedTask",
    "ReadyQueue",
    "SchedulingCore",
    "WorkerSlots",
    "attempt_key",
]


class AttemptKey(NamedTuple):
    """The key the engine queues a task attempt under; equal to the plain ``(task_id, attempt)``.

    The queues here take any hashable key (the tests use small ones); the engine's are these.
    """

    task_id: str
    attempt: int


def attempt_key(key: object) -> AttemptKey:
    """The attempt a queue key, or a ``[task_id, attempt]`` pair from a message, names.

    Raises:
        TypeError: ``key`` is not a pair.
    """
    if isinstance(key, AttemptKey):
        return key
    if not isinstance(key, tuple | list) or len(key) != 2:
        raise TypeError(f"{key!r} is not a task attempt key: expected (task_id, attempt)")
    task_id, attempt = key
    return AttemptKey(task_id, attempt)


@dataclass(frozen=True, slots=True)
class QueuedTask:
    """A task attempt waiting for a worker.

    Attributes:
        key: identifies the attempt (unique while it is queued or running).
        action: the queue it waits in.
        priority: 1 (low) to 3 (high).
        retry: retries go ahead of new work of the same priority.
        payload: what the assignment carries to the worker.
        durable: the task takes a durable slot instead of an ordinary one.
        constraint: which workers may take it (an affinity
            :class:`~ratchet.actors.scheduling._affinity.Constraint`); None: any worker of its action.
        fair_key: the concurrency key it takes turns with (round robin); None: FIFO lane.
        flow: the flow-control needs the QueueScheduler checks before queueing (opaque here).
        workflow: the workflow the action belongs to (what pausing a workflow holds back);
            None: the action belongs to no workflow that can be paused.
    """

    key: Hashable
    action: str
    priority: int = 1
    retry: bool = False
    payload: Any = None
    durable: bool = False
    constraint: Hashable = None
    fair_key: Hashable = None
    flow: Any = None
    workflow: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    worker: str
    task: QueuedTask


Entry = tuple[int, int, int, int, QueuedTask]  # (-priority, retry first, round, arrival, task)


class ReadyQueue:
    """Tasks of one lane in priority, retry-first, fair-round, FIFO order.

    Args:
        durable: its tasks take durable slots.
        arrivals: numbers the tasks in arrival order; lanes of one core share one, so
            arrival numbers are unique across lanes and compare between them.
    """

    def __init__(self, durable: bool = False, arrivals: Iterator[int] | None = None) -> None:
        self.durable = durable
        self._heap: list[Entry] = []
        self._live: dict[Hashable, Entry] = {}
        self._parked: dict[Hashable, Entry] = {}
        self._arrivals = arrivals if arrivals is not None else itertools.count(1)
        self._round = 0  # the round of the last task served
        self._last_round: dict[Hashable, int] = {}  # fair key -> round of its last queued task

    def __len__(self) -> int:
        return len(self._live) + len(self._parked)

    def entry_for(self, task: QueuedTask) -> Entry:
        """Give ``task`` its place: its arrival number and its fair round."""
        arrival = next(self._arrivals)
        last = self._last_round
        turn = max(self._round, last.get(task.fair_key, 0)) + 1
        last[task.fair_key] = turn
        if len(last) > 64 and len(last) > 2 * len(self):
            self._last_round = {k: r for k, r in last.items() if r > self._round}
        return (-task.priority, 0 if task.retry else 1, turn, arrival, task)

    def push(self, task: QueuedTask) -> None:
        self.push_entry(self.entry_for(task))

    def push_entry(self, entry: Entry) -> None:
        key = entry[4].key
        if key in self._live or key in self._parked:
            raise ValueError(f"task {key!r} is already queued")
        self._live[key] = entry
        heapq.heappush(self._heap, entry)

    def _clean_top(self) -> None:
        heap = self._heap
        while heap and self._live.get(heap[0][4].key) is not heap[0]:
            heapq.heappop(heap)

    def peek_order(self) -> tuple[int, int, int, int] | None:
        """The ordering key of the head (smaller is served first), or None when empty."""
        self._clean_top()
        if not self._heap:
            return None
        head = self._heap[0]
        return head[0], head[1], head[2], head[3]

    def pop_entry(self) -> Entry:
        self._clean_top()
        entry = heapq.heappop(self._heap)
        del self._live[entry[4].key]
        self._round = max(self._round, entry[2])
        return entry

    def pop(self) -> QueuedTask:
        return self.pop_entry()[4]

    def park(self, entry: Entry) -> None:
        """Hold a task that may not start yet; it keeps its place for :meth:`unpark`."""
        self._parked[entry[4].key] = entry

    def unpark(self, key: Hashable) -> bool:
        """Put a parked task back in line; False if it is not parked here."""
        entry = self._parked.pop(key, None)
        if entry is None:
            return False
        self.push_entry(entry)
        return True

    def take(self, key: Hashable) -> Entry | None:
        """Remove a queued or parked task and return its entry (its place in line)."""
        entry = self._parked.pop(key, None)
        if entry is None:
            entry = self._live.get(key)
            if entry is not None:
                self.remove(key)
        return entry

    def remove(self, key: Hashable) -> bool:
        if self._parked.pop(key, None) is not None:
            return True
        removed = self._live.pop(key, None) is not None
        if removed and len(self._heap) > 64 and len(self._heap) > 4 * len(self._live):
            self._heap = [e for e in self._heap if self._live.get(e[4].key) is e]
            heapq.heapify(self._heap)
        return removed


@dataclass
class WorkerSlots:
    """One worker as the scheduler sees it.

    ``running`` and ``durable_running`` hold slots; ``released`` are attempts still
    running that gave their slot back early (``ctx.release_slot()``). A draining or
    paused worker has no free slots: it finishes what it runs and takes nothing new.
    """

    worker: str
    actions: tuple[str, ...]
    slots: int
    running: set[Hashable] = field(default_factory=set)
    draining: bool = False
    durable_slots: int = 0
    durable_running: set[Hashable] = field(default_factory=set)
    released: set[Hashable] = field(default_factory=set)
    labels: dict[str, Any] = field(default_factory=dict)
    paused: bool = False

    @property
    def free(self) -> int:
        return 0 if self.draining or self.paused else max(0, self.slots - len(self.running))

    @property
    def free_durable(self) -> int:
        if self.draining or self.paused:
            return 0
        return max(0, self.durable_slots - len(self.durable_running))

    def room(self, durable: bool) -> int:
        return self.free_durable if durable else self.free

    def holding(self) -> set[Hashable]:
        """Every attempt on this worker, with a slot or without."""
        return self.running | self.durable_running | self.released


Lane = tuple[str, Hashable]  # (action, constraint)

Gate = Callable[[QueuedTask, str], bool]
Prefer = Callable[[QueuedTask, WorkerSlots], float]
Fits = Callable[[Hashable, WorkerSlots], bool]


class SchedulingCore:
    """Pairs queued tasks with free worker slots; see the module docstring.

    Args:
        gate: ``gate(task, worker)`` may refuse to start a task now (it is parked until
            :meth:`wake`); None starts everything.
        prefer: ``prefer(task, worker)`` scores a free worker for an arriving task
            (higher wins, then more free slots); None: most free slots.
        fits: ``fits(constraint, worker)`` says whether a worker may take tasks of a
            constrained lane; None: only unconstrained lanes exist.
    """

    def __init__(
        self, *, gate: Gate | None = None, prefer: Prefer | None = None, fits: Fits | None = None
    ) -> None:
        self._queues: dict[Lane, ReadyQueue] = {}
        self._lanes: dict[str, dict[Lane, None]] = {}  # action -> its lanes
        self._workers: dict[str, WorkerSlots] = {}
        self._by_action: dict[str, dict[str, None]] = {}
        self._where: dict[Hashable, tuple[str, str | None]] = {}  # key -> (action, worker or None)
        self._lane_of: dict[Hashable, Lane] = {}  # queued key -> its lane
        self._stopping: set[Hashable] = set()  # running, told to stop, slot held until released
        self._gate = gate
        self._prefer = prefer
        self._fits = fits
        self._fit_cache: dict[tuple[str, Hashable], bool] = {}
        self._arrivals = itertools.count(1)
        # (key, worker) of queued attempts found running on a worker that registered; the
        # caller drains this and records them as assigned there
        self.adopted: list[tuple[Hashable, str]] = []
        # pauses: workers by id (kept while a paused worker is away), workflows by name;
        # which workflow each action belongs to, as its tasks said
        self._paused_workers: set[str] = set()
        self._paused_workflows: set[str] = set()
        self._workflow_of: dict[str, str] = {}
        self._actions_of: dict[str, dict[str, None]] = {}

    # -- queries ----------------------------------------------------------------------------

    def depth(self, action: str | None = None) -> int:
        """Tasks waiting (in one action's queue, or in all)."""
        if action is not None:
            return sum(len(self._queues[lane]) for lane in self._lanes.get(action, ()))
        return sum(len(q) for q in self._queues.values())

    def depths(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (action, _), queue in self._queues.items():
            if len(queue):
                out[action] = out.get(action, 0) + len(queue)
        return out

    def worker(self, worker: str) -> WorkerSlots | None:
        return self._workers.get(worker)

    def running_on(self, worker: str) -> list[Hashable]:
        slots = self._workers.get(worker)
        return [] if slots is None else sorted(slots.holding(), key=repr)

    def workers(self) -> list[WorkerSlots]:
        return list(self._workers.values())

    def paused_workers(self) -> set[str]:
        """The workers paused (connected or not)."""
        return set(self._paused_workers)

    def paused_workflows(self) -> set[str]:
        """The workflows paused."""
        return set(self._paused_workflows)

    def is_stopping(self, key: Hashable) -> bool:
        """Whether a running attempt was told to stop (its slot is held until released)."""
        return key in self._stopping

    def location(self, key: Hashable) -> tuple[str, str | None] | None:
        """``(action, worker)`` of a queued (worker None) or running task."""
        return self._where.get(key)

    # -- workers ----------------------------------------------------------------------------

    def add_worker(
        self,
        worker: str,
        actions: Iterable[str],
        slots: int,
        busy: Iterable[Hashable] = (),
        *,
        durable_slots: int = 0,
        labels: dict[str, Any] | None = None,
        durable_busy: Iterable[Hashable] = (),
    ) -> list[Assignment]:
        """Register (or re-register) a worker and fill its free slots.

        ``busy`` are attempts the worker says it runs. The worker is the authority on
        that: each holds one of its slots until released. One this core does not know
        (the worker ran it for an engine that restarted, or for a session given up for
        dead) is placed on the worker; one still *queued* here (its assignment never got
        recorded) is taken off its queue and placed on the worker, and reported among
        :attr:`adopted`; one placed on another worker (both run it) holds a slot on each.

        ``durable_busy`` are those of ``busy`` that are attempts of durable tasks: they
        hold durable slots, the others ordinary ones (an attempt queued in a durable lane
        is durable too, whether the worker says so or not).
        """
        if slots < 0 or durable_slots < 0:
            raise ValueError(f"worker {worker!r}: slots must be >= 0, got {slots} and {durable_slots}")
        old = self._workers.get(worker)
        new = WorkerSlots(
            worker,
            (),
            slots,
            durable_slots=durable_slots,
            labels=dict(labels or {}),
            paused=worker in self._paused_workers,
        )
        if old is not None:
            new.running, new.durable_running, new.released = old.running, old.durable_running, old.released
        durable = set(durable_busy)
        for key in busy:
            where = self._where.get(key)
            if where is None:
                self._where[key] = ("", worker)
            elif where[1] is None:
                queue = self._queues[self._lane_of.pop(key)]
                queue.remove(key)
                if queue.durable:
                    durable.add(key)
                self._where[key] = (where[0], worker)
                self.adopted.append((key, worker))
            else:
                other = self._workers.get(where[1])
                if other is not None and key in other.durable_running:
                    durable.add(key)
            if key in new.running or key in new.durable_running or key in new.released:
                continue  # it holds its slot already
            # A durable attempt counted against the ordinary slots would keep an ordinary
            # task off the worker for as long as it runs, and leave a durable slot free
            # that it takes: the worker would run more durable attempts than it has room for.
            (new.durable_running if key in durable else new.running).add(key)
        if old is not None:
            for action in old.actions:
                self._by_action.get(action, {}).pop(worker, None)
        new.actions = tuple(dict.fromkeys(actions))
        self._workers[worker] = new
        for action in new.actions:
            self._by_action.setdefault(action, {})[worker] = None
        self._fit_cache.clear()
        return self._fill(worker)

    def drain_worker(self, worker: str) -> None:
        """Give the worker no new tasks; its running tasks finish normally."""
        slots = self._workers.get(worker)
        if slots is not None:
            slots.draining = True

    def pause_worker(self, worker: str) -> None:
        """Give the worker no new tasks until :meth:`resume_worker`; its running tasks
        finish. The pause holds while the worker is away and when it registers again."""
        self._paused_workers.add(worker)
        slots = self._workers.get(worker)
        if slots is not None:
            slots.paused = True

    def resume_worker(self, worker: str) -> list[Assignment]:
        """Lift a worker's pause; returns what it starts now."""
        self._paused_workers.discard(worker)
        slots = self._workers.get(worker)
        if slots is None or not slots.paused:
            return []
        slots.paused = False
        return self._fill(worker)

    def remove_worker(self, worker: str) -> list[Hashable]:
        """Forget a worker; returns the keys of the tasks that were placed on it.

        An attempt it ran that is placed on another worker too is not lost: only this
        worker's slot for it goes.
        """
        slots = self._workers.pop(worker, None)
        if slots is None:
            return []
        for action in slots.actions:
            self._by_action.get(action, {}).pop(worker, None)
        self._fit_cache.clear()
        lost = sorted((k for k in slots.holding() if self._where.get(k, ("", worker))[1] == worker), key=repr)
        for key in lost:
            self._where.pop(key, None)
            self._stopping.discard(key)
        return lost

    # -- workflows ----------------------------------------------------------------------------

    def pause_workflow(self, workflow: str) -> None:
        """Hold the tasks of ``workflow``'s actions in their queues until it is unpaused;
        tasks already running finish, and new ones queue in their places."""
        self._paused_workflows.add(workflow)

    def resume_workflow(self, workflow: str) -> list[Assignment]:
        """Unpause ``workflow``; returns what the workers of its actions start now."""
        if workflow not in self._paused_workflows:
            return []
        self._paused_workflows.discard(workflow)
        workers: dict[str, None] = {}
        for action in self._actions_of.get(workflow, ()):
            workers.update(self._by_action.get(action, {}))
        out: list[Assignment] = []
        for name in workers:
            out.extend(self._fill(name))
        return out

    def _held(self, action: str) -> bool:
        """Whether ``action``'s tasks are held back (its workflow is paused)."""
        return bool(self._paused_workflows) and self._workflow_of.get(action) in self._paused_workflows

    # -- tasks ------------------------------------------------------------------------------

    def _lane(self, task: QueuedTask) -> tuple[Lane, ReadyQueue]:
        lane = (task.action, task.constraint)
        queue = self._queues.get(lane)
        if queue is None:
            queue = self._queues[lane] = ReadyQueue(durable=task.durable, arrivals=self._arrivals)
            self._lanes.setdefault(task.action, {})[lane] = None
        return lane, queue

    def _fit(self, constraint: Hashable, slots: WorkerSlots) -> bool:
        if constraint is None:
            return True
        if self._fits is None:
            return False
        cached = self._fit_cache.get((slots.worker, constraint))
        if cached is None:
            cached = self._fit_cache[(slots.worker, constraint)] = self._fits(constraint, slots)
        return cached

    def _start(self, task: QueuedTask, slots: WorkerSlots) -> Assignment:
        (slots.durable_running if task.durable else slots.running).add(task.key)
        self._where[task.key] = (task.action, slots.worker)
        return Assignment(slots.worker, task)

    def enqueue(self, task: QueuedTask) -> list[Assignment]:
        """Queue a task; returns its assignment if a worker can take it now."""
        if task.key in self._where:
            raise ValueError(f"task {task.key!r} is already queued or running")
        if task.workflow is not None and task.action not in self._workflow_of:
            self._workflow_of[task.action] = task.workflow
            self._actions_of.setdefault(task.workflow, {})[task.action] = None
        best: WorkerSlots | None = None
        best_score = 0.0
        prefer = self._prefer
        for name in self._by_action.get(task.action, ()):
            slots = self._workers[name]
            room = slots.room(task.durable)
            if not room or not self._fit(task.constraint, slots):
                continue
            score = prefer(task, slots) if prefer is not None else 0.0
            if best is None or (score, room) > (best_score, best.room(task.durable)):
                best, best_score = slots, score
        lane, queue = self._lane(task)
        if best is not None and not self.depth(task.action) and not self._held(task.action):
            if self._gate is None or self._gate(task, best.worker):
                return [self._start(task, best)]
            queue.park(queue.entry_for(task))  # may not start yet: keeps its place, parked
        else:
            queue.push(task)
        self._where[task.key] = (task.action, None)
        self._lane_of[task.key] = lane
        if best is not None:
            return self._fill(best.worker)
        return []

    def wake(self, keys: Iterable[Hashable]) -> list[Assignment]:
        """Put parked tasks back in line and start what free workers can take."""
        actions: dict[str, None] = {}
        for key in keys:
            lane = self._lane_of.get(key)
            if lane is not None and self._queues[lane].unpark(key):
                actions[lane[0]] = None
        out: list[Assignment] = []
        for action in actions:
            for name in list(self._by_action.get(action, ())):
                out.extend(self._fill(name))
        return out

    def relane(self, key: Hashable, constraint: Hashable) -> list[Assignment]:
        """Move a waiting task to the lane of a new constraint, keeping its place in line.

        (A HARD sticky run learns its worker when its first task starts; its tasks that
        were already waiting must then wait for that worker.) Returns what the workers
        that fit the new lane start.
        """
        lane = self._lane_of.get(key)
        if lane is None:
            return []
        entry = self._queues[lane].take(key)
        if entry is None:
            return []
        task = dataclasses.replace(entry[4], constraint=constraint)
        new_lane, queue = self._lane(task)
        queue.push_entry((entry[0], entry[1], entry[2], entry[3], task))
        self._lane_of[key] = new_lane
        out: list[Assignment] = []
        for name in list(self._by_action.get(task.action, ())):
            if self._fit(constraint, self._workers[name]):
                out.extend(self._fill(name))
        return out

    def release_slot(self, key: Hashable) -> list[Assignment]:
        """A running attempt gave its slot back early; it stays known until released."""
        where = self._where.get(key)
        if where is None or where[1] is None:
            return []
        slots = self._workers.get(where[1])
        if slots is None or key in slots.released:
            return []
        if key in slots.running or key in slots.durable_running:
            slots.running.discard(key)
            slots.durable_running.discard(key)
            slots.released.add(key)
        return self._fill(slots.worker)

    def cancel(self, key: Hashable) -> tuple[str | None, list[Assignment]]:
        """Drop a queued task, or mark a running one as stopping.

        Returns:
            The worker to tell to stop the task (None if it was queued, unknown, or
            already told), and the assignments made (always none: a queued task held
            no slot, and a running one keeps its slot until it is released).
        """
        stopped, refill = self.cancel_many([key])
        return (stopped[0][1] if stopped else None), refill

    def cancel_many(self, keys: Iterable[Hashable]) -> tuple[list[tuple[Hashable, str]], list[Assignment]]:
        """Drop queued tasks and mark running ones as stopping.

        A running task keeps its slot until the worker reports that the attempt ended
        (:meth:`release`) or the worker is removed: Python cannot interrupt a sync task
        in its thread, so it may run on for a while after its cancellation, and giving
        its slot away at once would put more tasks on the worker than it has slots.

        Returns:
            ``(key, worker)`` of each running task the worker must now be told to stop
            (once per task), and the assignments made (none; see :meth:`cancel`).
        """
        stopped: list[tuple[Hashable, str]] = []
        for key in keys:
            where = self._where.get(key)
            if where is None:
                continue
            worker = where[1]
            if worker is None:
                del self._where[key]
                self._queues[self._lane_of.pop(key)].remove(key)
            elif key not in self._stopping:
                self._stopping.add(key)
                stopped.append((key, worker))
        return stopped, []

    def release(self, key: Hashable, worker: str | None = None) -> list[Assignment]:
        """A running task ended on ``worker`` (default: where it is placed): free that
        worker's slot and refill it."""
        where = self._where.get(key)
        if worker is None:
            if where is None or where[1] is None:
                return []  # unknown, already released, or still queued (a stale report)
            worker = where[1]
        if where is not None and where[1] == worker:
            del self._where[key]
            self._stopping.discard(key)
        slots = self._workers.get(worker)
        if slots is None or key not in slots.holding():
            return []
        slots.running.discard(key)
        slots.durable_running.discard(key)
        slots.released.discard(key)
        return self._fill(worker)

    def _fill(self, worker: str) -> list[Assignment]:
        slots = self._workers.get(worker)
        if slots is None:
            return []
        out: list[Assignment] = []
        while slots.free or slots.free_durable:
            best_queue: ReadyQueue | None = None
            best_order: tuple[int, int, int, int] | None = None
            for action in slots.actions:
                if self._held(action):
                    continue
                for lane in self._lanes.get(action, ()):
                    queue = self._queues[lane]
                    if not slots.room(queue.durable) or not self._fit(lane[1], slots):
                        continue
                    order = queue.peek_order()
                    if order is not None and (best_order is None or order < best_order):
                        best_queue, best_order = queue, order
            if best_queue is None:
                break
            entry = best_queue.pop_entry()
            task = entry[4]
            if self._gate is not None and not self._gate(task, worker):
                best_queue.park(entry)  # may not start yet; the gate wakes it
                continue
            self._lane_of.pop(task.key, None)
            out.append(self._start(task, slots))
        return out
