"""The Dispatcher actor: worker sessions, heartbeats, and delivery of assignments.

A worker registers (its id, name, slots and the actions it runs) and from then on
heartbeats every ``heartbeat_interval`` seconds of runtime clock. The dispatcher checks
its sessions on the same beat: a worker silent for ``heartbeat_misses`` intervals, or
whose connection the transport reports down, is removed, and the scheduler reports its
running attempts lost so they run elsewhere. A draining worker keeps heartbeating and
finishing what it has, and is given nothing new. Assignments arrive from the scheduler
in batches and go out as one ``assign`` message per worker per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ratchet.runtime import Actor, ActorDeadError, ActorRef

from ._scheduling import Assignment
from .store import CommitTicket, SetWorkerStatus, UpsertWorker, WorkerStatus

__all__ = ["Dispatcher", "WorkerSession"]


@dataclass
class WorkerSession:
    """One connected worker."""

    worker_id: str
    name: str
    ref: ActorRef
    peer: str | None
    actions: tuple[str, ...]
    slots: int
    labels: dict[str, Any] = field(default_factory=dict)
    last_seen: float = 0.0
    draining: bool = False
    durable_slots: int = 0


class Dispatcher(Actor):
    """Keeps track of workers and delivers their work.

    Args:
        tenant_id: the tenant.
        heartbeat_interval: seconds between a worker's heartbeats (told to workers).
        heartbeat_misses: intervals of silence after which a worker is presumed dead.
        scheduler: name of the QueueScheduler actor.
        writer: name of the StoreWriter actor.
    """

    def __init__(
        self,
        *,
        tenant_id: str,
        heartbeat_interval: float = 1.0,
        heartbeat_misses: int = 5,
        scheduler: str = "scheduler",
        writer: str = "store-writer",
    ) -> None:
        self.tenant_id = tenant_id
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_misses = heartbeat_misses
        self._names = (scheduler, writer)
        self.sessions: dict[str, WorkerSession] = {}
        self.delivered = 0
        self.lost = 0

    async def on_start(self) -> None:
        self._scheduler: ActorRef = self.context.system.lookup(self._names[0])
        self._writer: ActorRef = self.context.system.lookup(self._names[1])
        self.context.send_after(self.heartbeat_interval, "check_heartbeats")

    def _persist(self, mutation: Any) -> None:
        self._writer.enqueue.tell(CommitTicket([mutation]))

    def register(
        self,
        worker_id: str,
        name: str,
        ref: ActorRef,
        peer: str | None,
        actions: Sequence[str],
        slots: int,
        labels: dict[str, Any],
        running: Sequence[tuple[str, int]] = (),
        durable_slots: int = 0,
    ) -> float:
        """Add (or refresh) a worker session; returns the heartbeat interval to keep.

        ``running`` are attempts the worker still runs from before (the engine restarted):
        they hold slots until the worker reports them ended. ``labels`` are matched by
        tasks' desired worker labels; ``durable_slots`` bound its durable tasks.
        """
        now = self.context.clock.monotonic()
        old = self.sessions.get(worker_id)
        if old is not None and old.ref is not ref and old.peer != peer:
            self._scheduler.remove_worker.tell(worker_id)
        self.sessions[worker_id] = WorkerSession(
            worker_id, name, ref, peer, tuple(actions), slots, dict(labels), now, durable_slots=durable_slots
        )
        self._scheduler.add_worker.tell(
            worker_id,
            list(actions),
            slots,
            [tuple(k) for k in running],
            durable_slots=durable_slots,
            labels=dict(labels),
        )
        self._persist(
            UpsertWorker(
                tenant_id=self.tenant_id,
                id=worker_id,
                name=name,
                at=self.context.clock.time(),
                slots=slots,
                durable_slots=durable_slots,
                labels=labels,
                actions=tuple(actions),
            )
        )
        return self.heartbeat_interval

    def heartbeat(self, worker_id: str) -> bool:
        """Note that the worker is alive; False if it is unknown (it must register again)."""
        session = self.sessions.get(worker_id)
        if session is None:
            return False
        session.last_seen = self.context.clock.monotonic()
        return True

    def drain(self, worker_id: str) -> bool:
        """Stop giving the worker new tasks; it keeps its running ones."""
        session = self.sessions.get(worker_id)
        if session is None:
            return False
        session.draining = True
        self._scheduler.drain_worker.tell(worker_id)
        self._persist(
            SetWorkerStatus(tenant_id=self.tenant_id, worker_id=worker_id, status=WorkerStatus.DRAINING)
        )
        return True

    def deregister(self, worker_id: str) -> None:
        """The worker is leaving cleanly."""
        self._remove(worker_id, "deregistered", WorkerStatus.STOPPED)

    def deliver(self, assignments: Sequence[Assignment]) -> None:
        """Send assignments to their workers, one message per worker."""
        by_worker: dict[str, list[dict[str, Any]]] = {}
        for a in assignments:
            by_worker.setdefault(a.worker, []).append(a.task.payload)
        for worker_id, payloads in by_worker.items():
            session = self.sessions.get(worker_id)
            if session is None:
                continue  # removed meanwhile: the scheduler already reported its tasks lost
            try:
                session.ref.assign.tell(payloads)
                self.delivered += len(payloads)
            except ActorDeadError:
                self._remove(worker_id, "its actor is gone", WorkerStatus.STOPPED)

    def cancel_on_worker(self, worker_id: str, task_id: str, attempt: int, reason: str) -> None:
        session = self.sessions.get(worker_id)
        if session is None:
            return
        try:
            session.ref.cancel.tell(task_id, attempt, reason)
        except ActorDeadError:
            self._remove(worker_id, "its actor is gone", WorkerStatus.STOPPED)

    def peer_down(self, peer: str, reason: str) -> None:
        """The transport lost a worker's connection (monitor callback)."""
        for worker_id, session in list(self.sessions.items()):
            if session.peer == peer:
                self._remove(worker_id, f"connection lost: {reason}", WorkerStatus.STOPPED)

    def check_heartbeats(self) -> None:
        now = self.context.clock.monotonic()
        limit = self.heartbeat_interval * self.heartbeat_misses
        for worker_id, session in list(self.sessions.items()):
            if now - session.last_seen > limit:
                self._remove(
                    worker_id, f"no heartbeat for {now - session.last_seen:.1f}s", WorkerStatus.STOPPED
                )
        self.context.send_after(self.heartbeat_interval, "check_heartbeats")

    def _remove(self, worker_id: str, reason: str, status: WorkerStatus) -> None:
        session = self.sessions.pop(worker_id, None)
        if session is None:
            return
        self.lost += 1
        self.context.runtime.record("worker-removed", worker_id, reason)
        self._scheduler.remove_worker.tell(worker_id)
        self._persist(SetWorkerStatus(tenant_id=self.tenant_id, worker_id=worker_id, status=status))

    def workers(self) -> list[dict[str, Any]]:
        now = self.context.clock.monotonic()
        return [
            {
                "id": s.worker_id,
                "name": s.name,
                "slots": s.slots,
                "durable_slots": s.durable_slots,
                "actions": list(s.actions),
                "labels": s.labels,
                "draining": s.draining,
                "last_seen_seconds_ago": round(now - s.last_seen, 3),
            }
            for s in self.sessions.values()
        ]
