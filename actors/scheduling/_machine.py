"""The QueueScheduler's pure heart: flow control in front of the scheduling core.

:class:`FlowScheduler` joins :class:`~ratchet.actors.scheduling._admission.FlowControl` (concurrency
admission, rate gates, affinity) and :class:`~ratchet.actors.scheduling._queues.SchedulingCore`
(ready queues, worker slots). Every method takes one event and returns the
:class:`Effects` the actor must carry out: assignments to deliver, attempts to stop on
their workers, attempts lost with a worker, holders to cancel and attempts to fail. No
Trio and no I/O, so the same object runs in the engine and in Hypothesis tests.

An attempt's life here: :meth:`enqueue` → held back by a concurrency group, or queued →
started on a worker (when its rate limits allow) → :meth:`release` when its worker says
it ended (or :meth:`cancel` while queued, or :meth:`remove_worker`). Each way out tells
flow control the attempt is gone, which is what lets a finished holder leave its groups.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._admission import FlowControl, FlowStep, Holder, as_holder
from ._queues import Assignment, QueuedTask, SchedulingCore

__all__ = ["Effects", "FlowScheduler"]


@dataclass
class Effects:
    """What the scheduler actor must do after one event.

    Attributes:
        assignments: attempts to deliver to their workers.
        stop: ``(key, worker)`` of running attempts to stop.
        lost: attempts that were running on a removed worker.
        cancel: runs or tasks a concurrency group decided to cancel, with the reason.
        refuse: attempts that can never start as declared, with the reason (fail them).
        placed: ``(key, worker)`` of attempts found running on a worker while the engine
            thought them queued: record them as assigned there.
    """

    assignments: list[Assignment] = field(default_factory=list)
    placed: list[tuple[Hashable, str]] = field(default_factory=list)
    stop: list[tuple[Hashable, str]] = field(default_factory=list)
    lost: list[Hashable] = field(default_factory=list)
    cancel: list[tuple[Holder, str]] = field(default_factory=list)
    refuse: list[tuple[Hashable, str]] = field(default_factory=list)


class FlowScheduler:
    """Flow control plus ready queues and worker slots; see the module docstring.

    Args:
        clock: wall-clock seconds, for rate-limit windows.
        on_fact: receives admission facts (see :class:`~ratchet.actors.scheduling._admission.FlowControl`).
    """

    def __init__(
        self, *, clock: Callable[[], float] = lambda: 0.0, on_fact: Callable[[list[Any]], None] | None = None
    ) -> None:
        self.flow = FlowControl(clock=clock, on_fact=on_fact)
        self.core = SchedulingCore(gate=self.flow.try_start, prefer=self.flow.prefer, fits=self.flow.fits)
        # Until the coordinator's first sync, attempts that need a concurrency place wait
        # here: places held before an engine restart must be taken back before any new
        # holder is admitted (see :meth:`wait_for_sync`).
        self._unsynced: dict[Hashable, QueuedTask] | None = None

    def wait_for_sync(self) -> None:
        """Admit nothing to a concurrency group before the first :meth:`sync`.

        A fresh scheduler in a restarted engine calls this: the coordinator's sync tells
        it which holders held places before, and an attempt that reaches it first (one
        the previous coordinator sent just before it stopped) must not take their place.
        """
        self._unsynced = {}

    # -- helpers ------------------------------------------------------------------------------

    def _started(self, assignments: list[Assignment], out: Effects) -> None:
        while True:
            for a in assignments:
                self.flow.assigned(a.task, a.worker)
            out.assignments.extend(assignments)
            misrouted = self.flow.take_misrouted()
            if not misrouted:
                return
            assignments = []
            for key, constraint in misrouted:
                assignments.extend(self.core.relane(key, constraint))

    def _step(self, step: FlowStep, out: Effects) -> None:
        out.cancel.extend(step.cancel)
        out.refuse.extend(step.refuse)
        for task in step.ready:
            self._started(self.core.enqueue(task), out)

    def _gone(self, keys: Iterable[Hashable], out: Effects) -> None:
        for key in keys:
            self._step(self.flow.attempt_ended(key), out)

    # -- attempts -----------------------------------------------------------------------------

    def known(self, key: Hashable) -> bool:
        return (
            self.core.location(key) is not None
            or self.flow.tracks(key)
            or (self._unsynced is not None and key in self._unsynced)
        )

    def enqueue(self, tasks: Sequence[QueuedTask]) -> Effects:
        """Attempts the coordinator queued (already committed as QUEUED)."""
        out = Effects()
        for task in tasks:
            where = self.core.location(task.key)
            if where is not None:
                if where[1] is not None:
                    self.flow.adopt(task)  # already running on a worker that came back
                    out.placed.append((task.key, where[1]))
                continue
            if self.flow.tracks(task.key):
                continue  # a duplicate
            if self._unsynced is not None and task.flow is not None:
                if task.flow.run_groups or task.flow.task_groups:
                    self._unsynced.setdefault(task.key, task)
                    continue
            self._step(self.flow.admit(task), out)
        return out

    def cancel(self, keys: Iterable[Hashable]) -> Effects:
        """Drop attempts from wherever they wait, or tell their workers to stop them."""
        out = Effects()
        for key in keys:
            if self._unsynced is not None and self._unsynced.pop(key, None) is not None:
                continue  # waited for the sync: never reached flow control
            if self.flow.withdraw(key):
                self._gone([key], out)
                continue
            where = self.core.location(key)
            stopped, refill = self.core.cancel_many([key])
            out.stop.extend(stopped)
            self._started(refill, out)
            if where is not None and where[1] is None:
                self._gone([key], out)  # it was queued: gone now; a running one goes at release
        return out

    def release(self, keys: Iterable[Hashable], worker: str | None = None) -> Effects:
        """Attempts that ended on ``worker`` (default: where each is placed): free their slots."""
        out = Effects()
        for key in keys:
            where = self.core.location(key)
            if where is None or where[1] is None:
                if worker is None:
                    continue  # unknown, already released, or still queued (a stale report)
            self._started(self.core.release(key, worker), out)
            if where is not None and where[1] is not None and self.core.location(key) is None:
                self._gone([key], out)  # it left its last worker
        return out

    def release_slot(self, key: Hashable) -> Effects:
        """A running attempt gave its worker slot back early (``ctx.release_slot()``)."""
        out = Effects()
        self._started(self.core.release_slot(key), out)
        return out

    # -- workers ------------------------------------------------------------------------------

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
    ) -> Effects:
        out = Effects()
        for key in busy:
            if self.core.location(key) is None and self.flow.tracks(key):
                # held back for a concurrency place, yet running (its assignment never got
                # recorded): its holders take their places at once
                self._step(self.flow.place(key), out)
                out.placed.append((key, worker))
        assignments = self.core.add_worker(
            worker,
            actions,
            slots,
            busy,
            durable_slots=durable_slots,
            labels=labels,
            durable_busy=durable_busy,
        )
        adopted, self.core.adopted = self.core.adopted, []
        out.placed.extend(adopted)
        self._started(assignments, out)
        return out

    def drain_worker(self, worker: str) -> None:
        self.core.drain_worker(worker)

    def pause_worker(self, worker: str) -> None:
        """Give the worker nothing new until :meth:`resume_worker` (see ``SchedulingCore``)."""
        self.core.pause_worker(worker)

    def resume_worker(self, worker: str) -> Effects:
        """Lift a worker's pause: it takes what waits for it."""
        out = Effects()
        self._started(self.core.resume_worker(worker), out)
        return out

    def pause_workflow(self, workflow: str) -> None:
        """Hold ``workflow``'s queued tasks until :meth:`resume_workflow`."""
        self.core.pause_workflow(workflow)

    def resume_workflow(self, workflow: str) -> Effects:
        """Unpause ``workflow``: its queued tasks start as workers have room."""
        out = Effects()
        self._started(self.core.resume_workflow(workflow), out)
        return out

    def remove_worker(self, worker: str) -> Effects:
        """Forget a worker; its attempts are lost (the coordinator retries them)."""
        out = Effects()
        out.lost = self.core.remove_worker(worker)
        self._gone(out.lost, out)
        return out

    # -- flow control -------------------------------------------------------------------------

    def done(self, holders: Iterable[Holder]) -> Effects:
        """Runs or tasks that finished: they leave their groups once their attempts have."""
        out = Effects()
        self._step(self.flow.done([as_holder(h) for h in holders]), out)
        return out

    def sync(self, active: Iterable[Holder], reclaim: Iterable[Any] = ()) -> Effects:
        """After the coordinator (re)started: every holder not in ``active`` has finished,
        and the holders of ``reclaim`` (flow needs) take back the places they held."""
        out = Effects()
        self._step(self.flow.sync([as_holder(h) for h in active]), out)
        for needs in reclaim:
            self.flow.reclaim(needs)
        if self._unsynced is not None:
            waiting, self._unsynced = self._unsynced, None
            enqueued = self.enqueue(list(waiting.values()))
            for name in ("assignments", "placed", "cancel", "refuse"):
                getattr(out, name).extend(getattr(enqueued, name))
        return out

    def put_rate_limit(self, key: str, limit: int, duration: float) -> Effects:
        out = Effects()
        self._started(self.core.wake(self.flow.put_rate_limit(key, limit, duration)), out)
        return out

    def delete_rate_limit(self, key: str) -> Effects:
        """A static key was deleted: the attempts parked on it leave the queue, refused."""
        out = Effects()
        reason = (
            f"rate limit key {key!r} was deleted while the task waited for it; declare it again "
            f"with ratchet.rate_limits.put({key!r}, limit, duration)"
        )
        for parked in self.flow.delete_rate_limit(key):
            stopped, refill = self.core.cancel_many([parked])
            out.stop.extend(stopped)
            self._started(refill, out)
            self._gone([parked], out)
            out.refuse.append((parked, reason))
        return out

    def wake_due(self) -> Effects:
        """Start the parked attempts whose rate windows have room now."""
        out = Effects()
        self._started(self.core.wake(self.flow.due()), out)
        return out

    def next_wake(self) -> float | None:
        """Wall time at which :meth:`wake_due` has work, or None."""
        return self.flow.next_wake()
