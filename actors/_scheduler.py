"""The QueueScheduler actor: ready queues, worker slots, and assignments.

Wraps :class:`~ratchet.actors._scheduling.SchedulingCore` in an actor. Tasks arrive
from the RunCoordinator (already committed as QUEUED); workers arrive and leave through
the Dispatcher; results free slots. Every assignment is sent, in batches, to the
Dispatcher (which delivers it to the worker) and reported to the RunCoordinator (which
records the task as RUNNING on that worker). Cancelling a running attempt tells its
worker to stop it; its slot stays taken until the worker reports that it ended.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from ratchet.runtime import Actor, ActorRef

from ._scheduling import Assignment, QueuedTask, SchedulingCore

__all__ = ["QueueScheduler", "SchedulerStatistics"]


@dataclass(frozen=True)
class SchedulerStatistics:
    """Queue depths (per action and in all) and worker capacity."""

    queued: int
    depths: dict[str, int]
    workers: int
    free_slots: int
    assigned: int


class QueueScheduler(Actor):
    """Pairs queued tasks with free worker slots.

    Args:
        dispatcher: name of the Dispatcher actor.
        coordinator: name of the RunCoordinator actor.
    """

    def __init__(self, *, dispatcher: str = "dispatcher", coordinator: str = "coordinator") -> None:
        self.core = SchedulingCore()
        self._names = (dispatcher, coordinator)
        self.assigned = 0

    async def on_start(self) -> None:
        self._dispatcher: ActorRef = self.context.system.lookup(self._names[0])
        self._coordinator: ActorRef = self.context.system.lookup(self._names[1])

    def _emit(self, assignments: list[Assignment]) -> None:
        if not assignments:
            return
        self.assigned += len(assignments)
        self._dispatcher.deliver.tell(assignments)
        self._coordinator.tasks_assigned.tell([(a.task.key[0], a.task.key[1], a.worker) for a in assignments])

    def enqueue(self, tasks: Sequence[QueuedTask]) -> None:
        """Queue task attempts (or assign them at once).

        An attempt already placed is not queued twice. One already *running* on a worker
        is reported to the coordinator as assigned there: a coordinator that restarted
        and rebuilt its runs from the store may not know (the commit that recorded the
        assignment can be what it crashed on), and an attempt it believes queued would
        never be noticed lost if its worker died.
        """
        out: list[Assignment] = []
        placed: list[tuple[str, int, str]] = []
        for task in tasks:
            where = self.core.location(task.key)
            if where is None:
                out.extend(self.core.enqueue(task))
            elif where[1] is not None:
                task_id, attempt = task.key  # type: ignore[misc]
                placed.append((task_id, attempt, where[1]))
        if placed:
            self._coordinator.tasks_assigned.tell(placed)
        self._emit(out)

    def cancel(self, keys: Sequence[Hashable], reason: str = "cancelled") -> None:
        """Drop attempts from their queues, or stop them on their workers."""
        stopped, refill = self.core.cancel_many(keys)
        for key, worker in stopped:
            task_id, attempt = key  # type: ignore[misc]
            self._dispatcher.cancel_on_worker.tell(worker, task_id, attempt, reason)
        self._emit(refill)

    def release(self, keys: Sequence[Hashable], worker: str | None = None) -> None:
        """Attempts that ended on ``worker`` (default: where each is placed): free their slots."""
        out: list[Assignment] = []
        for key in keys:
            out.extend(self.core.release(tuple(key), worker))  # type: ignore[arg-type]
        self._emit(out)

    def add_worker(
        self, worker: str, actions: Sequence[str], slots: int, busy: Sequence[Hashable] = ()
    ) -> None:
        """Register a worker with the attempts it runs already (see ``SchedulingCore.add_worker``)."""
        assignments = self.core.add_worker(worker, actions, slots, busy)
        adopted, self.core.adopted = self.core.adopted, []
        if adopted:
            self._coordinator.tasks_assigned.tell([(k[0], k[1], w) for k, w in adopted])  # type: ignore[index]
        self._emit(assignments)

    def drain_worker(self, worker: str) -> None:
        self.core.drain_worker(worker)

    def remove_worker(self, worker: str) -> None:
        """Forget a worker; its running attempts are reported lost to the coordinator."""
        lost = self.core.remove_worker(worker)
        if lost:
            self._coordinator.workers_lost.tell(lost)

    def scheduler_statistics(self) -> SchedulerStatistics:
        workers = [w for w in (self.core.worker(n) for n in self._worker_names()) if w is not None]
        return SchedulerStatistics(
            queued=self.core.depth(),
            depths=self.core.depths(),
            workers=len(workers),
            free_slots=sum(w.free for w in workers),
            assigned=self.assigned,
        )

    def _worker_names(self) -> list[str]:
        return list(self.core._workers)
