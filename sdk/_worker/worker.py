"""Workers: processes (or in-process actors) that run task functions for the engine.

A :class:`WorkerActor` registers its workflows with the engine's gateway, heartbeats,
receives assignments in batches, runs each attempt (:mod:`ratchet._worker.executor`), and
reports results in batches. It reaches the gateway through an
:class:`~ratchet.runtime.ActorRef`, so the same actor works inside the engine's process
(embedded mode, the simulation) and across nng (``worker.start()``).

Losing the engine is routine: results wait in the worker until the gateway takes them,
heartbeats that the engine does not recognise (it restarted) make the worker register
again, and nothing a task computed is dropped. A draining worker (SIGTERM) tells the
engine, finishes what it runs while heartbeating, then leaves.

Being lost by the engine is routine too. A worker the engine has not heard from for its
session's timeout (a frozen process, a cut-off network) has its session ended and its
attempts run elsewhere. Such a worker may still find deliveries the engine sent before
giving it up, waiting in its socket; so a worker that has not heard from the engine for
half that timeout holds what it is sent until a heartbeat tells it whether its session
lives. If it ended, the worker registers again, drops those assignments, and tells the
attempts it was running that they were superseded (they are cancelled, and the engine
fences off their results by attempt number).

Nothing an attempt returns or raises may crash the worker: a fault while starting,
running or reporting one attempt fails that attempt, and is logged on ``ratchet.worker``.
"""

from __future__ import annotations

import logging
import math
import signal
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from ratchet.runtime import Actor, ActorDeadError, ActorError, ActorRef, AskTimeout, concurrent

from .._contract.calls import GATEWAY_ACTOR, ErrorCode, Method, error_code
from .._contract.flow import check_worker_labels
from .._contract.spec import TaskKind
from .._contract.wire_values import bounded_text, safe_str
from .._declare.workflow import Task, Workflow
from .._errors import AuthenticationError, DefinitionError, PermissionDeniedError, TaskRunError
from .._hop import HostClosedError, TrioHost
from .context import AttemptInfo, Context
from .durable_context import DurableContext
from .executor import AttemptControl, TaskOutcome, execute_attempt, holds_cancellation
from .reachability import Reachability
from .task_loops import BLOCKED_AFTER, TaskLoop, task_loop

if TYPE_CHECKING:
    from .._client import Ratchet

__all__ = ["Worker", "WorkerActor", "WorkerConfig"]

log = logging.getLogger("ratchet.worker")

_RETRYABLE_CALL = (ActorDeadError, AskTimeout, OSError)
# The engine's default, for a gateway that does not say how long sessions last.
_DEFAULT_HEARTBEAT_MISSES = 5
# Seconds between the worker's pings of its task loop (see ratchet._worker.task_loops).
_PING_INTERVAL = 0.25
# Cancellations of attempts not yet started that a worker remembers (oldest forgotten first).
_MAX_EARLY_CANCELS = 10_000
# The longest a stopping worker drains: waits for its running attempts and reports them.
_DRAIN_LIMIT = 600.0
# A stopping worker that cannot reach its engine for this long leaves without telling it.
_DRAIN_UNREACHABLE = 10.0


@dataclass
class WorkerConfig:
    """What a worker runs and how.

    Attributes:
        name: shown with the worker in the engine.
        workflows: the workflows (and standalone tasks) it runs.
        slots: ordinary attempts it runs at once.
        durable_slots: durable attempts it runs at once.
        labels: key-value labels (for affinity); a dict or a list of ``WorkerLabel``.
        threads: run task functions on threads: sync ones in worker threads, async ones
            on a task loop (False only in a simulation, where both run inline).
        async_backend: ``"trio"`` or ``"asyncio"``: what ``async def`` tasks are written for.
    """

    name: str
    workflows: Sequence[Workflow]
    slots: int = 10
    durable_slots: int = 1000
    labels: dict[str, str | int] = field(default_factory=dict)
    threads: bool = True
    async_backend: str = "trio"

    def __post_init__(self) -> None:
        if isinstance(self.slots, bool) or not isinstance(self.slots, int) or self.slots < 1:
            raise ValueError(f"worker {self.name!r}: slots must be a whole number >= 1, got {self.slots!r}")
        durable = self.durable_slots
        if isinstance(durable, bool) or not isinstance(durable, int) or durable < 0:
            raise ValueError(
                f"worker {self.name!r}: durable_slots must be a whole number >= 0, got {durable!r}"
            )
        self.labels = check_worker_labels(self.labels, f"worker {self.name!r}")
        if self.async_backend not in ("trio", "asyncio"):
            raise ValueError(f"worker {self.name!r}: async_backend must be 'trio' or 'asyncio'")
        if self.async_backend == "asyncio" and not self.threads:
            raise ValueError(
                f"worker {self.name!r}: asyncio task functions run on an asyncio loop in a thread of "
                "their own, and this worker runs without threads (threads=False, as in a simulation); "
                "write its tasks for Trio, or give it threads"
            )
        if not self.workflows:
            raise ValueError(f"worker {self.name!r} has no workflows to run")
        names = [wf.name for wf in self.workflows]
        if len(set(names)) != len(names):
            raise ValueError(f"worker {self.name!r} lists a workflow twice: {names}")
        for wf in self.workflows:
            try:
                wf.spec  # noqa: B018 - the definition the worker will register, checked now
            except DefinitionError as exc:
                # refused here, not by the engine: a registration that can never succeed
                # would only make the worker fail over and over
                raise DefinitionError(f"worker {self.name!r}: {exc}") from None


class WorkerActor(Actor):
    """The actor that runs tasks for the engine.

    Args:
        config: the worker's configuration.
        gateway: a ref to the engine's gateway.
        peer: this worker's peer name as the engine's endpoint knows it (None in-process).
        worker_id: the worker's id (drawn from the runtime's random source if not given).
        engine: the engine's address, for the log (None: the engine in this process).
        signer: signs the worker's line in to a remote engine before it registers
            (see :mod:`ratchet._session`); None in-process.
    """

    def __init__(
        self,
        config: WorkerConfig,
        gateway: ActorRef,
        *,
        peer: str | None = None,
        worker_id: str | None = None,
        engine: str | None = None,
        signer: Any = None,
    ) -> None:
        self.config = config
        self._signer = signer
        self._signed_in = False
        self.reachability = Reachability(config.name, engine or "(in this process)", self.context.clock, log)
        self.gateway = gateway
        self.peer = peer
        self.worker_id = worker_id or self.context.random.new_id()
        self.tasks: dict[tuple[str, str], Task] = {
            (wf.name, t.name): t for wf in config.workflows for t in wf.tasks.values()
        }
        self.running: dict[tuple[str, int], AttemptControl] = {}
        self._cancelled_early: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._results: list[dict[str, Any]] = []
        # outcomes not yet acknowledged by the engine (queued or on their way), by attempt
        self._unreported: dict[tuple[str, int], dict[str, Any]] = {}
        self._results_ready = trio.Event()
        self._idle = trio.Event()
        self.heartbeat_interval = 1.0
        # How long the engine keeps this worker's session without a heartbeat (it says so
        # when the worker registers), and when the last heartbeat it acknowledged was sent.
        self.session_timeout = _DEFAULT_HEARTBEAT_MISSES * self.heartbeat_interval
        self._heard_at = -math.inf
        self.epoch: tuple[str, int] | None = None  # of the session the engine gave us
        self._registering = False
        # Deliveries that arrived while the session was in doubt, waiting for the engine's word.
        self._held: list[tuple[tuple[str, int], list[dict[str, Any]]]] = []
        self._confirm = trio.Event()  # wakes the heartbeat loop to ask the engine now
        self.dropped = 0
        self.registered = trio.Event()
        self.refusal: str | None = None  # why the engine refused this worker's registration
        # workflows the engine knows for sure: those this worker registers, and those its
        # tasks spawned and registered (see _Link.make_known)
        self.known_workflows: set[Any] = {wf.name for wf in config.workflows}
        self.draining = False
        self.completed = 0
        self.host: TrioHost | None = None  # this worker's loop, for calls from its tasks
        self.task_loop: TaskLoop | None = None

    async def on_start(self) -> None:
        token = trio.lowlevel.current_trio_token()
        self.host = TrioHost(f"worker {self.config.name!r}", token, self.context.start_soon)
        if self.config.threads and any(t.is_async for t in self.tasks.values()):
            self.task_loop = task_loop(self.config.async_backend, self.config.name, self.host)
            await self.task_loop.start()
            self.context.start_soon(self._watch_task_loop, self.task_loop)
        self.context.start_soon(self._lifecycle)

    # -- engine -> worker ------------------------------------------------------------------------

    def assign(self, payloads: list[dict[str, Any]]) -> None:
        """Start the attempts the engine assigned.

        An assignment the worker cannot make sense of fails its own attempt (or, without
        even an attempt to name, is logged and skipped); the others still start.
        """
        for payload in payloads:
            try:
                self._start(payload)
            except Exception as exc:
                self._refuse(payload, exc)

    def _refuse(self, payload: Any, exc: Exception) -> None:
        key = _attempt_key(payload)
        log.error(
            "worker %r could not start assignment %s: %s",
            self.config.name,
            key or "(no task id and attempt)",
            safe_str(exc),
            exc_info=exc,
        )
        if key is not None and key not in self.running and key not in self._unreported:
            self._report(key, TaskOutcome.failure(exc, retryable=True))

    def _start(self, payload: dict[str, Any]) -> None:
        """Start one assigned attempt, or answer it at once (duplicate, cancelled, unknown)."""
        key = (payload["task_id"], payload["attempt"])
        if key in self.running:
            return  # a duplicate delivery
        if key in self._unreported:
            # It ran here already and its outcome is on its way (an engine that
            # restarted before storing it assigned it again): that report answers
            # this assignment too, and frees its slot.
            return
        if self._cancelled_early.pop(key, None) is not None:
            self._report(key, TaskOutcome("cancelled", error_message="cancelled before it started"))
            return
        task = self.tasks.get((payload["workflow"], payload["task"]))
        if task is None:
            self._report(
                key,
                TaskOutcome(
                    "failed",
                    error_type="UnknownTask",
                    error_message=f"worker {self.config.name!r} does not run "
                    f"{payload['workflow']}.{payload['task']}",
                    retryable=True,
                ),
            )
            return
        info = AttemptInfo(
            run_id=payload["run_id"],
            task_run_id=payload["task_id"],
            workflow=payload["workflow"],
            task=payload["task"],
            attempt=payload["attempt"],
            retry_count=payload.get("retry_count", 0),
            parent_outputs=payload.get("parents") or {},
            additional_metadata=payload.get("metadata") or {},
            failed_tasks=tuple(
                TaskRunError(name, tid, etype, msg, tb)
                for name, tid, etype, msg, tb in payload.get("failed", [])
            ),
            filter_payload=payload.get("filter_payload"),
        )
        if task.spec.kind is TaskKind.DURABLE:
            ctx: Context = DurableContext(info, _Link(self), task.eviction_delay)
        else:
            ctx = Context(info, _Link(self))
        control = AttemptControl(ctx, float(payload.get("timeout", 60.0)))
        self.running[key] = control
        self._idle = trio.Event()
        self.context.start_soon(self._run_attempt, task, payload, key, control)

    def cancel(self, task_id: str, attempt: int, reason: str = "cancelled") -> None:
        """Cancel a running attempt (the engine cancelled its run, or it timed out).

        A cancellation for an attempt this worker has not started is remembered, so an
        assignment that arrives after it (the two crossed on the network) never starts.
        """
        key = (task_id, attempt)
        control = self.running.get(key)
        if control is not None:
            control.cancel(reason)
            return
        self._cancelled_early[key] = reason
        while len(self._cancelled_early) > _MAX_EARLY_CANCELS:
            self._cancelled_early.popitem(last=False)

    def deliver(
        self,
        assign: list[dict[str, Any]],
        cancel: list[tuple[str, int, str]],
        epoch: list[Any] | tuple[str, int] | None = None,
    ) -> bool:
        """The engine's batch for this worker: attempts to start, then attempts to stop.

        Returns False, starting nothing, when the batch was sent for a session older than
        the one this worker registered since (the engine gave it up for dead meanwhile and
        runs those attempts elsewhere); cancellations are applied either way.

        A batch that arrives when the worker has not heard from the engine for half its
        session's timeout (the process was frozen, or cut off) may come from a session
        the engine has ended since: its assignments wait until a heartbeat settles it.
        If the session lives, they start; if it ended, the worker registers again and
        drops them (the engine reassigned them), and the attempts it was running learn
        that they were superseded.
        """
        fenced = None if epoch is None else (str(epoch[0]), int(epoch[1]))
        stale = fenced is not None and self._stale(fenced)
        if stale:
            self._drop(assign)
        elif fenced is not None and assign and self._in_doubt():
            self._held.append((fenced, list(assign)))
            self._confirm.set()
        else:
            self.assign(assign)
        for entry in cancel:
            try:
                task_id, attempt, reason = entry
                self.cancel(task_id, attempt, reason)
            except Exception as exc:
                log.error("worker %r could not apply cancellation %r: %s", self.config.name, entry, exc)
        return not stale

    def _stale(self, epoch: tuple[Any, ...]) -> bool:
        mine = self.epoch
        # Epochs are counted per engine incarnation; one from another incarnation is never
        # older (a dead engine's deliveries die with its connections). While this worker
        # registers again, its session so far is over (the engine forgot it), so its
        # deliveries are stale already: the registration lists only what runs now.
        if mine is None or epoch[0] != mine[0]:
            return False
        return epoch[1] < mine[1] or (self._registering and epoch[1] <= mine[1])

    def _in_doubt(self) -> bool:
        """Whether the engine may have ended this worker's session unbeknownst to it.

        The engine ends a session after ``session_timeout`` without a heartbeat, counted
        from the last one it received, which was sent no earlier than ``_heard_at``. Half
        that timeout leaves room for heartbeats slowed by load and for clock rates.
        """
        return self.context.clock.monotonic() - self._heard_at > self.session_timeout / 2

    def _release_held(self) -> None:
        """Start or drop the deliveries held while the session was in doubt."""
        held, self._held = self._held, []
        for epoch, assign in held:
            if self._in_doubt():
                self._held.append((epoch, assign))  # still no word from the engine
            elif self.epoch is None or epoch == self.epoch:
                self.assign(assign)  # the session they were sent for lives
            else:
                self._drop(assign)  # sent for a session that ended; the engine reassigned them

    def _drop(self, assign: list[dict[str, Any]]) -> None:
        if not assign:
            return
        self.dropped += len(assign)
        log.warning(
            "worker %r dropped %d assignment(s) sent for a session of it that ended (the engine "
            "gave the worker up and assigned them elsewhere): %s",
            self.config.name,
            len(assign),
            ", ".join(str(_attempt_key(p)) for p in assign[:10]),
        )

    def _supersede(self, keys: Sequence[tuple[str, int]]) -> None:
        """Tell attempts the engine gave to other workers that they were superseded."""
        superseded = [key for key in keys if key in self.running]
        for key in superseded:
            self.running[key].supersede()
        if superseded:
            log.warning(
                "worker %r: the engine ended its session while it was unreachable and gave its "
                "%d running attempt(s) to other workers; they are cancelled and their results "
                "will not count: %s",
                self.config.name,
                len(superseded),
                ", ".join(map(str, superseded[:10])),
            )

    # -- running ------------------------------------------------------------------------------------

    async def _run_attempt(
        self, task: Task, payload: dict[str, Any], key: tuple[str, int], control: AttemptControl
    ) -> None:
        try:
            outcome = await execute_attempt(
                task.fn,
                payload.get("input"),
                task.workflow.input,
                control,
                is_async=task.is_async,
                threads=self.config.threads,
                task_loop=self.task_loop,
            )
        except BaseException as exc:
            if holds_cancellation(exc):
                raise  # the worker is stopping
            # A fault of the worker's own, not of the task: the attempt fails (another
            # attempt may do better) and the worker carries on with the others.
            log.error(
                "worker %r failed running attempt %s of task %r",
                self.config.name,
                key,
                task.name,
                exc_info=exc,
            )
            outcome = TaskOutcome.failure(exc, retryable=True)
        finally:
            self.running.pop(key, None)
            if not self.running:
                self._idle.set()
        self._report(key, outcome)

    def _report(self, key: tuple[str, int], outcome: TaskOutcome) -> None:
        self.completed += 1
        result = {
            "task_id": key[0],
            "attempt": key[1],
            "status": outcome.status,
            "output": outcome.output,
            "error_type": outcome.error_type,
            "error_message": outcome.error_message,
            "traceback": outcome.traceback,
            "retryable": outcome.retryable,
            "worker_id": self.worker_id,
        }
        if outcome.evicted_at is not None:
            result["evicted_at"] = outcome.evicted_at
        if outcome.error_code is not None:
            result["error_code"] = str(outcome.error_code)
        self._results.append(result)
        self._unreported[key] = result
        self._results_ready.set()

    async def _watch_task_loop(self, loop: TaskLoop) -> None:
        """Ping the task loop; log when it stops answering, naming the task that holds it.

        Lives as long as this incarnation, and stops the loop when it ends.
        """
        try:
            while True:
                answered = trio.Event()
                sent = self.context.clock.monotonic()
                loop.call_soon(self._answer_soon, answered.set)
                with trio.move_on_after(BLOCKED_AFTER):
                    await answered.wait()
                if not answered.is_set():
                    log.warning(
                        "worker %r: its %s task loop has been blocked for over %gs by %s; "
                        "async task code must not block (await, or run blocking calls in a thread, "
                        "or make the task a plain def); heartbeats and other reports carry on meanwhile",
                        self.config.name,
                        loop.backend,
                        BLOCKED_AFTER,
                        loop.blocker(),
                    )
                    await answered.wait()
                    log.warning(
                        "worker %r: its %s task loop answers again after %.1fs",
                        self.config.name,
                        loop.backend,
                        self.context.clock.monotonic() - sent,
                    )
                await self.context.clock.sleep(_PING_INTERVAL)
        finally:
            loop.stop()

    def _answer_soon(self, fn: Callable[[], None]) -> None:
        """On a task loop's thread: call ``fn`` on the worker's loop (if it still runs)."""
        assert self.host is not None
        try:
            self.host.run_sync_soon(fn)
        except HostClosedError:
            pass

    # -- worker -> engine ---------------------------------------------------------------------------

    async def _call(self, method: str, *args: Any) -> Any:
        """Ask the gateway, retrying while the engine is unreachable."""
        delay = 0.05
        while True:
            try:
                answer = await getattr(self.gateway, str(method)).options(timeout=30.0).ask(*args)
            except _RETRYABLE_CALL as exc:
                self.reachability.failed(exc)
                await self.context.clock.sleep(delay)
                delay = min(2.0, delay * 2)
            else:
                self.reachability.reached()
                return answer

    def _send_reliably(self, method: str, *args: Any) -> None:
        """Ask the gateway ``method(*args)`` in the background until it is answered.

        For requests a task makes through its context: a lost frame or an engine restart
        delays them, never drops them. A refusal (the engine found the request invalid)
        is recorded in the trace and not retried.
        """

        async def send() -> None:
            try:
                await self._call(method, *args)
            except ActorError as exc:
                log.warning("the engine refused %s from worker %r: %s", method, self.config.name, exc)
                self.context.runtime.record("request-refused", method, exc.error_message)
            except Exception as exc:  # the request cannot be sent at all (it cannot be encoded)
                log.error("worker %r could not send %s: %s", self.config.name, method, safe_str(exc))
                self.context.runtime.record("request-refused", method, safe_str(exc))

        self.context.start_soon(send)

    async def register(self) -> None:
        previous = self.epoch
        self._registering = True
        try:
            delay = 0.05
            signed_again = limited_said = False
            while True:
                running = list(self.running)
                sent = self.context.clock.monotonic()
                try:
                    answer = await self._register(running)
                    self.reachability.reached()
                    break
                except _RETRYABLE_CALL as exc:
                    # unreachable, or restarted under the call: try again with what runs
                    # by then (see _register)
                    self.reachability.failed(exc)
                    await self.context.clock.sleep(delay)
                    delay = min(2.0, delay * 2)
                except (AuthenticationError, PermissionDeniedError) as exc:
                    # no token, or one the engine does not take: nothing to retry
                    self._registration_refused(str(exc))
                    return
                except ActorError as exc:
                    self.reachability.reached()
                    code = error_code(exc.error_type)
                    if code is ErrorCode.UNAUTHENTICATED and not signed_again:
                        # the engine's key changed since this worker signed in: sign in again
                        self._signed_in, signed_again = False, True
                        continue
                    if code in (ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN):
                        self._registration_refused(exc.error_message)
                        return
                    if "RequestError" in exc.error_type:
                        # The registration itself is invalid: nothing to retry, and
                        # nothing to crash over either (a worker failing over and over
                        # would take down whatever supervises it, an embedded engine
                        # too). The worker stays idle and says why.
                        self.refusal = f"the engine refused worker {self.config.name!r}: {exc.error_message}"
                        self.context.runtime.record("worker-refused", self.worker_id, exc.error_message)
                        self.registered.set()
                        return
                    if code is ErrorCode.LIMITED and not limited_said:
                        # the tenant runs as many workers as it may: wait for room, and say so once
                        log.warning("worker %r waits for room: %s", self.config.name, exc.error_message)
                        limited_said = True
                    # the engine could not store it (its store failed), or the tenant is
                    # at its worker limit: try again
                    await self.context.clock.sleep(delay)
                    delay = min(2.0, delay * 2)
        finally:
            self._registering = False
        self.heartbeat_interval = float(answer["heartbeat_interval"])
        self.session_timeout = float(
            answer.get("session_timeout", _DEFAULT_HEARTBEAT_MISSES * self.heartbeat_interval)
        )
        self._heard_at = sent
        epoch = answer.get("epoch")
        self.epoch = (str(epoch[0]), int(epoch[1])) if epoch else None
        if previous is not None and self.epoch is not None and self.epoch[0] == previous[0]:
            if self.epoch[1] > previous[1]:
                # The same engine gave this worker a new session: it ended the old one and
                # reported every attempt running in it lost, so they run elsewhere now.
                self._supersede(running)
        self.registered.set()

    def _registration_refused(self, reason: str) -> None:
        """The engine will not take this worker (its token): it stays idle and says why."""
        self.reachability.reached()
        self.refusal = f"the engine refused worker {self.config.name!r}: {reason}"
        log.error("%s", self.refusal)
        self.context.runtime.record("worker-refused", self.worker_id, reason)
        self.registered.set()

    def _is_durable(self, key: tuple[str, int]) -> bool:
        """Whether a running attempt is one of a durable task (it holds a durable slot)."""
        control = self.running.get(key)
        return control is not None and isinstance(control.ctx, DurableContext)

    async def _register(self, running: list[tuple[str, int]]) -> Any:
        """One try at registering this worker, with ``running`` as its running attempts.

        :meth:`register` tries again while the engine is unreachable, each time with what
        runs by then: an engine may have taken an earlier try and delivered attempts for
        the session it made, its answer being what got lost, and the engine that takes
        the next try (perhaps a restarted one) must count them against the worker's slots.
        """
        if self._signer is not None and not self._signed_in:
            await self._signer(self.gateway)
            self._signed_in = True
        return await self.gateway.register_worker.options(timeout=30.0).ask(
            {
                "worker_id": self.worker_id,
                "name": self.config.name,
                "actor": self.context.name,
                "peer": self.peer,
                "slots": self.config.slots,
                "durable_slots": self.config.durable_slots,
                "labels": dict(self.config.labels),
                "workflows": [wf.spec.to_dict() for wf in self.config.workflows],
                "running": [list(key) for key in running],
                "durable_running": [list(key) for key in running if self._is_durable(key)],
            },
        )

    async def _lifecycle(self) -> None:
        await self.register()
        if self.refusal is not None:
            return
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._heartbeat_loop)
            nursery.start_soon(self._flush_loop)

    async def _heartbeat_loop(self) -> None:
        while True:
            # A delivery held in doubt asks for a heartbeat now rather than at the next beat.
            with trio.move_on_at(self.context.clock.monotonic() + self.heartbeat_interval):
                await self._confirm.wait()
            self._confirm = trio.Event()
            await self._heartbeat()
            self._release_held()

    async def _heartbeat(self) -> None:
        sent = self.context.clock.monotonic()
        if await self._call(Method.HEARTBEAT, self.worker_id):
            self._heard_at = sent
        else:
            await self.register()  # the engine restarted, or gave us up for dead

    async def _flush_loop(self) -> None:
        while True:
            await self._results_ready.wait()
            batch, self._results = self._results, []
            self._results_ready = trio.Event()
            await self._send_results(batch)
            self._acknowledged(batch)

    async def _send_results(self, batch: list[dict[str, Any]]) -> None:
        """Hand ``batch`` to the gateway; what cannot go as a whole goes in halves.

        The gateway may refuse a batch (a malformed result: a bug on one side), or the
        transport cannot carry it (too large for one frame, or holding a value it cannot
        encode). Halving isolates the culprit in a few round trips while every other
        result goes through. A single result that still cannot go is replaced by a
        failure of its attempt that says why, so the engine learns how the attempt ended.
        """
        try:
            await self._call(Method.TASK_RESULTS, batch)
            return
        except Exception as exc:  # unreachable engines are retried inside _call
            problem = exc
        if len(batch) > 1:
            middle = len(batch) // 2
            await self._send_results(batch[:middle])
            await self._send_results(batch[middle:])
            return
        (result,) = batch
        key = (result.get("task_id"), result.get("attempt"))
        reason = bounded_text(safe_str(problem), 2000)
        log.error(
            "worker %r could not report how attempt %s ended (%s): %s; reporting it failed instead",
            self.config.name,
            key,
            result.get("status"),
            reason,
        )
        replacement = {
            **result,
            "status": "failed",
            "output": None,
            "error_type": "UndeliverableResult",
            "error_message": f"the attempt ended {result.get('status')} but its result could not be "
            f"delivered to the engine: {reason}",
            "traceback": None,
            "retryable": False,  # the same result would meet the same refusal
        }
        replacement.pop("evicted_at", None)
        try:
            await self._call(Method.TASK_RESULTS, [replacement])
        except Exception as exc:
            log.error("worker %r dropped the result of attempt %s: %s", self.config.name, key, safe_str(exc))

    def _acknowledged(self, batch: list[dict[str, Any]]) -> None:
        for result in batch:
            key = (result["task_id"], result["attempt"])
            if self._unreported.get(key) is result:
                del self._unreported[key]

    async def drain(self) -> None:
        """Tell the engine to send nothing new, wait for running attempts, then leave."""
        self.draining = True
        await self._call(Method.DRAIN_WORKER, self.worker_id)
        while self.running:
            await self._idle.wait()
        while self._results:
            await self.context.clock.sleep(0.01)
        await self._call(Method.DEREGISTER_WORKER, self.worker_id)

    @concurrent
    async def wait_registered(self) -> None:
        """Return once the engine has accepted this worker's registration.

        Raises:
            RuntimeError: the engine refused it (the message says why).
        """
        await self.registered.wait()
        if self.refusal is not None:
            raise RuntimeError(self.refusal)

    def status(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "running": len(self.running),
            "completed": self.completed,
            "pending_results": len(self._results),
            "held": sum(len(assign) for _, assign in self._held),
            "dropped": self.dropped,
            "draining": self.draining,
        }


class _Link:
    """A context's way back to the engine, through its worker.

    Task code calls it from wherever it runs (a task loop, a worker thread, or inline in
    a simulation); every call hops to the worker's loop, without waiting for it.
    """

    def __init__(self, worker: WorkerActor) -> None:
        self._worker = worker

    def _in_worker(self, fn: Callable[[], None]) -> None:
        host = self._worker.host
        assert host is not None
        host.run_sync_soon(fn)

    def log(self, info: AttemptInfo, line: str, level: str) -> None:
        record = self._worker.context.runtime.record
        self._in_worker(lambda: record("task-log", info.task_run_id, f"{level}: {line}"))

    def cancel_run(self, run_id: str) -> None:
        self._in_worker(lambda: self._worker._send_reliably(Method.CANCEL_RUNS, [run_id]))

    def refresh_timeout(self, info: AttemptInfo, seconds: float) -> None:
        self._in_worker(
            lambda: self._worker._send_reliably(
                Method.REFRESH_TIMEOUT, info.task_run_id, info.attempt, seconds
            )
        )

    def release_slot(self, info: AttemptInfo) -> None:
        self._in_worker(
            lambda: self._worker._send_reliably(Method.RELEASE_SLOT, info.task_run_id, info.attempt)
        )

    async def make_known(self, definition: dict[str, Any]) -> None:
        """Have the engine know a workflow a task spawns (a client's registration: once).

        Awaited from the task's own loop, like :meth:`durable_step`; runs on the worker's.
        """
        host = self._worker.host
        assert host is not None
        await host.call(self._make_known, definition)

    async def _make_known(self, definition: dict[str, Any]) -> None:
        worker = self._worker
        name = definition.get("name")
        if name not in worker.known_workflows:
            await worker._call(Method.REGISTER_WORKFLOWS, [definition])
            worker.known_workflows.add(name)

    async def durable_step(
        self, info: AttemptInfo, seq: int, kind: str, key: str, request: Any, wait: float
    ) -> dict[str, Any]:
        """One durable call, recorded or replayed by the engine (awaited from any loop)."""
        host = self._worker.host
        assert host is not None
        return await host.call(self._durable_step, info, seq, kind, key, request, wait)

    async def _durable_step(
        self, info: AttemptInfo, seq: int, kind: str, key: str, request: Any, wait: float
    ) -> dict[str, Any]:
        """:meth:`durable_step` on the worker's loop (retried across engine restarts)."""
        worker = self._worker
        delay = 0.05
        while True:
            try:
                return await worker.gateway.durable_step.options(timeout=wait + 60.0).ask(
                    info.task_run_id, seq, kind, key, request, wait
                )
            except ActorError as exc:
                code = error_code(exc.error_type)
                if code is ErrorCode.NON_DETERMINISM:
                    return {"nondeterminism": exc.error_message}
                if code is ErrorCode.REQUEST:
                    raise ValueError(exc.error_message) from None
                raise
            except _RETRYABLE_CALL as exc:
                worker.reachability.failed(exc)
                await worker.context.clock.sleep(delay)
                delay = min(2.0, delay * 2)


class Worker:
    """A worker process: ``ratchet.worker(name, slots=..., workflows=[...]).start()``.

    Args:
        client: the client whose settings (engine address) the worker uses.
        config: what to run.
    """

    def __init__(self, client: Ratchet, config: WorkerConfig) -> None:
        self.client = client
        self.config = config

    def start(self) -> None:
        """Connect to the engine and run tasks until SIGTERM/SIGINT (then drain and exit).

        A worker keeps trying to reach an engine out of reach, and logs that it does (a
        WARNING naming the address, then reminders at a backoff). A signal stops it
        whether or not it ever connected; a second signal cuts its drain short.

        Unless the application configured logging, the worker's log (its connection,
        attempts it could not run or report, assignments it dropped) goes to stderr.
        """
        _log_to_stderr_unless_configured()
        trio.run(self.async_start)

    async def async_start(
        self, *, task_status: trio.TaskStatus[WorkerActor] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """:meth:`start` for a caller already running Trio."""
        from ratchet.runtime import open_runtime
        from ratchet.transport import open_actor_node, open_nng_network

        from .._connection import signer_for

        engine = self.client.settings.engine
        tls = self.client.settings.dialer_tls()  # checked before anything opens
        # Listening from the start: a worker still trying to reach its engine stops too.
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with open_runtime() as system:
                async with open_nng_network(
                    clock=system.runtime.clock, random=system.runtime.random
                ) as network:
                    peer = f"worker-{system.runtime.random.token_hex(6)}"
                    endpoint = await network.dial(engine, name=peer, tls=tls)
                    async with open_actor_node(system, endpoint) as node:
                        gateway = node.ref(engine, GATEWAY_ACTOR)
                        actor_name = f"worker:{peer}"
                        settings = self.client.settings
                        signer = signer_for(engine, settings.token, settings.tenant)
                        ref = await system.spawn(
                            WorkerActor,
                            self.config,
                            gateway,
                            peer=peer,
                            name=actor_name,
                            engine=engine,
                            signer=signer,
                        )
                        instance = ref._cell.instance
                        assert isinstance(instance, WorkerActor)
                        task_status.started(instance)
                        async for signum in signals:
                            log.info(
                                "worker %r got %s: stopping", self.config.name, signal.Signals(signum).name
                            )
                            break
                        await _stop(instance, signals)


async def _stop(worker: WorkerActor, signals: Any) -> None:
    """Drain ``worker`` if the engine knows it; a second signal, or an engine out of reach, cuts it short."""
    name = worker.config.name
    if not worker.registered.is_set() or worker.refusal is not None:
        log.info("worker %r stops; the engine never took it, so there is nothing to drain", name)
        return

    async def on_second_signal(cancel: trio.CancelScope) -> None:
        async for signum in signals:
            log.warning(
                "worker %r got %s again: stopping without draining", name, signal.Signals(signum).name
            )
            cancel.cancel()
            return

    async def on_engine_out_of_reach(cancel: trio.CancelScope) -> None:
        await worker.reachability.wait_out_of_reach(_DRAIN_UNREACHABLE)
        log.warning(
            "worker %r stops without draining: the engine at %s has been out of reach for %gs; "
            "it gives this worker's attempts to other workers once its session times out",
            name,
            worker.reachability.engine,
            _DRAIN_UNREACHABLE,
        )
        cancel.cancel()

    with trio.move_on_after(_DRAIN_LIMIT) as limit:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(on_second_signal, nursery.cancel_scope)
            nursery.start_soon(on_engine_out_of_reach, nursery.cancel_scope)
            log.info("worker %r draining: finishing %d running attempts", name, len(worker.running))
            await worker.drain()
            nursery.cancel_scope.cancel()
            log.info("worker %r drained", name)
    if limit.cancelled_caught:
        log.warning("worker %r stops with its drain unfinished after %gs", name, _DRAIN_LIMIT)


def _attempt_key(payload: Any) -> tuple[str, int] | None:
    """The (task id, attempt) an assignment names, if it names one readably."""
    try:
        key = (payload["task_id"], payload["attempt"])
    except Exception:
        return None
    if type(key[0]) is not str or type(key[1]) is not int:
        return None
    return key


def _log_to_stderr_unless_configured() -> None:
    """Give the ``ratchet`` loggers a stderr handler when nothing else would show them."""
    package = logging.getLogger("ratchet")
    if package.handlers or logging.getLogger().handlers:
        return  # the application decides where logs go
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package.addHandler(handler)
    if package.level == logging.NOTSET:
        package.setLevel(logging.INFO)
