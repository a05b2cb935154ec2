"""Ready queues and worker slots: the pure core of the QueueScheduler.

Theory of operation. Each *action* (a workflow's task, the unit a worker registers for)
has a :class:`ReadyQueue` ordered by priority (3 first), then retries ahead of new work,
then arrival. Each worker has a number of slots and the set of actions it can run. The
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
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Assignment", "QueuedTask", "ReadyQueue", "SchedulingCore", "WorkerSlots"]


@dataclass(frozen=True, slots=True)
class QueuedTask:
    """A task attempt waiting for a worker.

    Attributes:
        key: identifies the attempt (unique while it is queued or running).
        action: the queue it waits in.
        priority: 1 (low) to 3 (high).
        retry: retries go ahead of new work of the same priority.
        payload: what the assignment carries to the worker.
    """

    key: Hashable
    action: str
    priority: int = 1
    retry: bool = False
    payload: Any = None


@dataclass(frozen=True, slots=True)
class Assignment:
    worker: str
    task: QueuedTask


class ReadyQueue:
    """Tasks of one action in priority, retry-first, FIFO order."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, int, QueuedTask]] = []
        self._live: dict[Hashable, tuple[int, int, int, QueuedTask]] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._live)

    def push(self, task: QueuedTask) -> None:
        if task.key in self._live:
            raise ValueError(f"task {task.key!r} is already queued")
        self._seq += 1
        entry = (-task.priority, 0 if task.retry else 1, self._seq, task)
        self._live[task.key] = entry
        heapq.heappush(self._heap, entry)

    def _clean_top(self) -> None:
        heap = self._heap
        while heap and self._live.get(heap[0][3].key) is not heap[0]:
            heapq.heappop(heap)

    def peek_order(self) -> tuple[int, int, int] | None:
        """The ordering key of the head (smaller is served first), or None when empty."""
        self._clean_top()
        if not self._heap:
            return None
        head = self._heap[0]
        return head[0], head[1], head[2]

    def pop(self) -> QueuedTask:
        self._clean_top()
        entry = heapq.heappop(self._heap)
        del self._live[entry[3].key]
        return entry[3]

    def remove(self, key: Hashable) -> bool:
        removed = self._live.pop(key, None) is not None
        if removed and len(self._heap) > 64 and len(self._heap) > 4 * len(self._live):
            self._heap = [e for e in self._heap if self._live.get(e[3].key) is e]
            heapq.heapify(self._heap)
        return removed


@dataclass
class WorkerSlots:
    """One worker as the scheduler sees it."""

    worker: str
    actions: tuple[str, ...]
    slots: int
    running: set[Hashable] = field(default_factory=set)
    draining: bool = False

    @property
    def free(self) -> int:
        return 0 if self.draining else max(0, self.slots - len(self.running))


class SchedulingCore:
    """Pairs queued tasks with free worker slots; see the module docstring."""

    def __init__(self) -> None:
        self._queues: dict[str, ReadyQueue] = {}
        self._workers: dict[str, WorkerSlots] = {}
        self._by_action: dict[str, dict[str, None]] = {}
        self._where: dict[Hashable, tuple[str, str | None]] = {}  # key -> (action, worker or None)
        self._stopping: set[Hashable] = set()  # running, told to stop, slot held until released
        # (key, worker) of queued attempts found running on a worker that registered; the
        # caller drains this and records them as assigned there
        self.adopted: list[tuple[Hashable, str]] = []

    # -- queries ----------------------------------------------------------------------------

    def depth(self, action: str | None = None) -> int:
        """Tasks waiting (in one action's queue, or in all)."""
        if action is not None:
            queue = self._queues.get(action)
            return 0 if queue is None else len(queue)
        return sum(len(q) for q in self._queues.values())

    def depths(self) -> dict[str, int]:
        return {action: len(q) for action, q in self._queues.items() if len(q)}

    def worker(self, worker: str) -> WorkerSlots | None:
        return self._workers.get(worker)

    def running_on(self, worker: str) -> list[Hashable]:
        slots = self._workers.get(worker)
        return [] if slots is None else sorted(slots.running, key=repr)

    def location(self, key: Hashable) -> tuple[str, str | None] | None:
        """``(action, worker)`` of a queued (worker None) or running task."""
        return self._where.get(key)

    # -- workers ----------------------------------------------------------------------------

    def add_worker(
        self, worker: str, actions: Iterable[str], slots: int, busy: Iterable[Hashable] = ()
    ) -> list[Assignment]:
        """Register (or re-register) a worker and fill its free slots.

        ``busy`` are attempts the worker says it runs. The worker is the authority on
        that: each holds one of its slots until released. One this core does not know
        (the worker ran it for an engine that restarted, or for a session given up for
        dead) is placed on the worker; one still *queued* here (its assignment never got
        recorded) is taken off its queue and placed on the worker, and reported among
        :attr:`adopted`; one placed on another worker (both run it) holds a slot on each.
        """
        if slots < 0:
            raise ValueError(f"worker {worker!r}: slots must be >= 0, got {slots}")
        old = self._workers.get(worker)
        running = old.running if old is not None else set()
        for key in busy:
            where = self._where.get(key)
            if where is None:
                self._where[key] = ("", worker)
            elif where[1] is None:
                self._queues[where[0]].remove(key)
                self._where[key] = (where[0], worker)
                self.adopted.append((key, worker))
            running.add(key)
        if old is not None:
            for action in old.actions:
                self._by_action.get(action, {}).pop(worker, None)
        actions = tuple(dict.fromkeys(actions))
        self._workers[worker] = WorkerSlots(worker, actions, slots, running)
        for action in actions:
            self._by_action.setdefault(action, {})[worker] = None
        return self._fill(worker)

    def drain_worker(self, worker: str) -> None:
        """Give the worker no new tasks; its running tasks finish normally."""
        slots = self._workers.get(worker)
        if slots is not None:
            slots.draining = True

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
        lost = sorted((k for k in slots.running if self._where.get(k, ("", worker))[1] == worker), key=repr)
        for key in lost:
            self._where.pop(key, None)
            self._stopping.discard(key)
        return lost

    # -- tasks ------------------------------------------------------------------------------

    def enqueue(self, task: QueuedTask) -> list[Assignment]:
        """Queue a task; returns its assignment if a worker can take it now."""
        if task.key in self._where:
            raise ValueError(f"task {task.key!r} is already queued or running")
        best: WorkerSlots | None = None
        for name in self._by_action.get(task.action, ()):
            slots = self._workers[name]
            if slots.free and (best is None or slots.free > best.free):
                best = slots
        if best is not None and not self.depth(task.action):
            best.running.add(task.key)
            self._where[task.key] = (task.action, best.worker)
            return [Assignment(best.worker, task)]
        queue = self._queues.get(task.action)
        if queue is None:
            queue = self._queues[task.action] = ReadyQueue()
        queue.push(task)
        self._where[task.key] = (task.action, None)
        if best is not None:
            return self._fill(best.worker)
        return []

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
            action, worker = where
            if worker is None:
                del self._where[key]
                self._queues[action].remove(key)
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
        if slots is None or key not in slots.running:
            return []
        slots.running.discard(key)
        return self._fill(worker)

    def _fill(self, worker: str) -> list[Assignment]:
        slots = self._workers.get(worker)
        if slots is None:
            return []
        out: list[Assignment] = []
        while slots.free:
            best_queue: ReadyQueue | None = None
            best_order: tuple[int, int, int] | None = None
            for action in slots.actions:
                queue = self._queues.get(action)
                if queue is None:
                    continue
                order = queue.peek_order()
                if order is not None and (best_order is None or order < best_order):
                    best_queue, best_order = queue, order
            if best_queue is None:
                break
            task = best_queue.pop()
            slots.running.add(task.key)
            self._where[task.key] = (task.action, worker)
            out.append(Assignment(worker, task))
        return out
