"""The Dispatcher actor: worker sessions, heartbeats, and delivery of assignments.

A worker registers (its id, name, slots and the actions it runs) and from then on
heartbeats every ``heartbeat_interval`` seconds of runtime clock. The dispatcher checks
its sessions on the same beat: a worker silent for ``heartbeat_misses`` intervals, or
whose connection the transport reports down, is removed, and the scheduler reports its
running attempts lost so they run elsewhere. A draining worker keeps heartbeating and
finishing what it has, and is given nothing new.

Delivery to a worker is acknowledged and ordered. Assignments and cancellations for one
worker go into that worker's outbox; one sender task per worker takes everything queued
and hands it over as a single ``deliver`` ask, and only then sends the next batch. The
ask is the transport's reliable call (resent under the same correlation id until
answered, run once on the worker), so a lost frame delays an assignment instead of
stranding it on a worker that never heard of it, and a cancellation never overtakes the
assignment it cancels. Under load a batch carries everything that queued during the
previous round trip; an idle link sends a lone assignment at once. A worker that cannot
be reached is removed, and its attempts are reported lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from ratchet.runtime import Actor, ActorDeadError, ActorError, ActorRef, AskTimeout

from .. import _names as names
from ..store import CommitTicket, SetWorkerStatus, UpsertWorker, WorkerStatus
from ._queues import Assignment

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
    epoch: tuple[str, int] = ("", 0)
    workflows: dict[str, int] = field(default_factory=dict)  # the version of each it registered


@dataclass
class _Outbox:
    """What waits to be delivered to one worker, in order, and the sender's wakeup."""

    assign: list[dict[str, Any]] = field(default_factory=list)
    cancel: list[tuple[str, int, str]] = field(default_factory=list)
    wake: trio.Event = field(default_factory=trio.Event)
    sending: bool = False


class Dispatcher(Actor):
    """Keeps track of workers and delivers their work.

    Messages (refs are untyped: this is the route in):
        from the Gateway: ``register``, ``knows``, ``heartbeat``, ``drain``,
            ``deregister``, ``serving``, ``workers``, ``worker``.
        from the QueueScheduler: ``deliver``, ``cancel_on_worker``.
        from the transport (a monitor the Gateway set up): ``peer_down``.
        from itself: ``check_heartbeats`` (every heartbeat interval).

    Args:
        tenant_id: the tenant.
        heartbeat_interval: seconds between a worker's heartbeats (told to workers).
        heartbeat_misses: intervals of silence after which a worker is presumed dead.
        delivery_timeout: seconds a worker may take to acknowledge a delivery before it
            is presumed unreachable (the transport resends meanwhile).
    """

    def __init__(
        self,
        *,
        tenant_id: str,
        heartbeat_interval: float = 1.0,
        heartbeat_misses: int = 5,
        delivery_timeout: float = 30.0,
    ) -> None:
        self.tenant_id = tenant_id
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_misses = heartbeat_misses
        self.delivery_timeout = delivery_timeout
        self.sessions: dict[str, WorkerSession] = {}
        self._outboxes: dict[str, _Outbox] = {}
        # Sessions are numbered within this dispatcher's incarnation (see register).
        self._incarnation = self.context.random.token_hex(8)
        self._sessions_made = 0
        self.delivered = 0
        self.lost = 0

    async def on_start(self) -> None:
        self._scheduler: ActorRef = self.context.system.lookup(names.scoped(names.SCHEDULER, self.tenant_id))
        self._writer: ActorRef = self.context.system.lookup(names.STORE_WRITER)
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
        *,
        workflows: dict[str, int] | None = None,
        durable_running: Sequence[tuple[str, int]] = (),
    ) -> tuple[float, tuple[str, int], float]:
        """Add (or refresh) a worker session.

        Returns the heartbeat interval, the session's epoch, and how long the session lasts
        without a heartbeat (the worker holds what it is sent after that long a silence
        until a heartbeat shows the session still lives).

        ``running`` are attempts the worker still runs from before (the engine restarted,
        or gave the worker up for dead): they hold slots until the worker reports them
        ended (those among them in ``durable_running`` hold durable slots, the others
        ordinary ones). ``labels`` are matched by tasks' desired worker labels; ``durable_slots``
        bound its durable tasks; ``workflows`` is the version of each workflow it registered.

        The epoch fences deliveries: every ``deliver`` carries the epoch of the session it
        was sent for, and a worker ignores assignments from an epoch older than the one
        it registered with. A worker given up for dead had its attempts reported lost;
        an assignment still in flight to it then must not start when it comes back (the
        engine no longer counts it against the worker's slots). It may start if it lands
        before the worker registers again: the registration then lists it as running.
        A refreshed session that was never given up keeps its epoch.
        """
        now = self.context.clock.monotonic()
        old = self.sessions.get(worker_id)
        if old is not None and old.ref is not ref and old.peer != peer:
            self._scheduler.remove_worker.tell(worker_id)
            outbox = self._outboxes.pop(worker_id, None)
            if outbox is not None:
                outbox.wake.set()  # what it held was for the old incarnation's lost attempts
            old = None
        if old is None:
            self._sessions_made += 1
            epoch = (self._incarnation, self._sessions_made)
        else:
            epoch = old.epoch
        self.sessions[worker_id] = WorkerSession(
            worker_id,
            name,
            ref,
            peer,
            tuple(actions),
            slots,
            dict(labels),
            now,
            durable_slots=durable_slots,
            epoch=epoch,
            workflows=dict(workflows or {}),
        )
        self._scheduler.add_worker.tell(
            worker_id,
            list(actions),
            slots,
            [tuple(k) for k in running],
            durable_slots=durable_slots,
            labels=dict(labels),
            durable_busy=[tuple(k) for k in durable_running],
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
        return self.heartbeat_interval, epoch, self.heartbeat_interval * self.heartbeat_misses

    def knows(self, worker_id: str) -> bool:
        """Whether ``worker_id`` has a session now."""
        return worker_id in self.sessions

    def serving(self, workflow: str) -> tuple[list[str], list[int]]:
        """What live workers serve of ``workflow``: the actions that a worker not draining
        takes, and the versions of it live workers registered (for "no worker serves it")."""
        actions: set[str] = set()
        versions: set[int] = set()
        for session in self.sessions.values():
            version = session.workflows.get(workflow)
            if version is None:
                continue
            versions.add(version)
            if not session.draining:
                actions.update(session.actions)
        return sorted(actions), sorted(versions)

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
        """Queue assignments for their workers (see the module docstring)."""
        for a in assignments:
            outbox = self._outbox(a.worker)
            if outbox is not None:
                outbox.assign.append(a.task.payload)
                self.delivered += 1

    def cancel_on_worker(self, worker_id: str, task_id: str, attempt: int, reason: str) -> None:
        """Queue a cancellation for an attempt running on ``worker_id``."""
        outbox = self._outbox(worker_id)
        if outbox is not None:
            outbox.cancel.append((task_id, attempt, reason))

    def _outbox(self, worker_id: str) -> _Outbox | None:
        if worker_id not in self.sessions:
            return None  # removed meanwhile: the scheduler already reported its tasks lost
        outbox = self._outboxes.get(worker_id)
        if outbox is None:
            outbox = self._outboxes[worker_id] = _Outbox()
        if not outbox.sending:
            outbox.sending = True
            self.context.start_soon(self._send_loop, worker_id, outbox)
        outbox.wake.set()
        return outbox

    async def _send_loop(self, worker_id: str, outbox: _Outbox) -> None:
        while self._outboxes.get(worker_id) is outbox:
            if not (outbox.assign or outbox.cancel):
                outbox.wake = trio.Event()
                await outbox.wake.wait()
                continue
            session = self.sessions.get(worker_id)
            if session is None:
                return
            assign, cancel = outbox.assign, outbox.cancel
            outbox.assign, outbox.cancel = [], []
            try:
                await session.ref.deliver.options(timeout=self.delivery_timeout).ask(
                    assign, cancel, list(session.epoch)
                )
            except (ActorDeadError, AskTimeout) as exc:
                if self.sessions.get(worker_id) is session:
                    self._remove(worker_id, f"delivery failed: {exc}", WorkerStatus.STOPPED)
                    return
                # The worker registered again meanwhile (same process): deliver to it.
                outbox.assign[:0], outbox.cancel[:0] = assign, cancel
            except ActorError as exc:
                # The worker refused the batch (a bug on one side). Its attempts stay
                # assigned; their execution timeouts will retry them.
                self.context.runtime.record("delivery-refused", worker_id, exc.error_message)

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
        outbox = self._outboxes.pop(worker_id, None)
        if outbox is not None:
            outbox.wake.set()  # its sender sees it is gone and ends
        self.lost += 1
        self.context.runtime.record("worker-removed", worker_id, reason)
        self._scheduler.remove_worker.tell(worker_id)
        self._persist(SetWorkerStatus(tenant_id=self.tenant_id, worker_id=worker_id, status=status))

    def workers(self) -> list[dict[str, Any]]:
        """The connected workers (see :meth:`worker`)."""
        return [self._view(s) for s in self.sessions.values()]

    def worker(self, worker_id: str) -> dict[str, Any] | None:
        """A connected worker's session: its registration, whether it drains, and how long
        ago it was last heard from; None if it is not connected."""
        session = self.sessions.get(worker_id)
        return None if session is None else self._view(session)

    def _view(self, s: WorkerSession) -> dict[str, Any]:
        return {
            "id": s.worker_id,
            "name": s.name,
            "slots": s.slots,
            "durable_slots": s.durable_slots,
            "actions": list(s.actions),
            "workflows": dict(s.workflows),  # the version of each workflow it registered
            "labels": s.labels,
            "draining": s.draining,
            "last_seen_seconds_ago": round(self.context.clock.monotonic() - s.last_seen, 3),
        }
