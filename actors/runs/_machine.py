"""The workflow-run state machine: events in, commands out, no I/O.

Theory of operation. A run is a set of tasks (its workflow's DAG plus optional
on-failure / on-success handlers). Each task moves

    PENDING ──(parents done)──> QUEUED ──(assigned)──> RUNNING ──> COMPLETED | FAILED | CANCELLED
                                   ▲                      │
                                   └──(retry: attempt+1)──┘

and never backwards within one attempt. An attempt number fences every event: an event
for an attempt other than the task's current one is stale (a late result from a worker
that was presumed dead, a timer for an old attempt) and is ignored, which is what makes
a task's terminal state and output recorded exactly once.

A durable task may also leave RUNNING for EVICTED: it waits (a sleep, an event,
children) without a worker slot, and :class:`Resume` queues it as a new attempt that
replays its durable log (an eviction consumes no retry).

A retry with a backoff is QUEUED at its new attempt before it is on any queue: it waits
for its retry timer, and only :class:`RetryDue` puts it on the queue. The attempt number
alone cannot fence that event (the timer and the queued attempt share it), so
:attr:`TaskState.enqueued` records whether the current attempt was queued already; a
second ``RetryDue`` (timers fire at least once) or one for an attempt that was queued
without a timer is a duplicate, and queueing the attempt twice would hand one attempt
to two workers.

:func:`apply` takes a :class:`RunState` and one event, updates the state in place and
returns the commands the owning actor must carry out: queue a task, start a timer, cancel
an attempt on its worker, watch a task's conditions, and announce the run's end. Before
them come the typed facts of what changed: one :class:`TaskChanged` per task whose status
or attempt moved (its :class:`TaskEventKind`, old and new status, attempt, and the values
the store keeps) and a :class:`RunChanged` when the run's status moved. The owning actor
persists exactly those facts (:func:`ratchet.actors.runs._changes.mutations_for`) together
with the commands; nothing downstream reads meaning back out of a message. The same
function runs in the engine, in the simulation and in Hypothesis state-machine tests.

Rules (Hatchet's semantics, which runs follow):
- all parents COMPLETED → the child is queued; a parent FAILED or CANCELLED → the child
  is CANCELLED, and so are its descendants;
- a failure with retries left re-queues the task as a new attempt after
  ``RetryPolicy.delay(n)``; a non-retryable failure or the last retry fails it;
- an execution timeout is a retryable failure, and its attempt is cancelled on the worker;
- a schedule timeout cancels a task that waited too long in the queue;
- losing the worker is an internal retry that consumes no user retry, up to
  :data:`MAX_INTERNAL_RETRIES`;
- when every DAG task is terminal: any FAILED runs the on-failure handler (the run still
  ends FAILED); all COMPLETED runs the on-success handler; then the run ends with
  FAILED if any task failed, else CANCELLED if any was cancelled, else COMPLETED.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from ratchet._contract.codes import EXECUTION_TIMEOUT_MESSAGE
from ratchet._contract.conditions import parent_holds
from ratchet._contract.spec import TaskKind, TaskSpec, WorkflowSpec
from ratchet._contract.status import RunStatus, TaskEventKind, TaskStatus

__all__ = [
    "MAX_INTERNAL_RETRIES",
    "AttemptCancelled",
    "CancelAttempt",
    "CancelRun",
    "CancelTask",
    "Command",
    "ErrorInfo",
    "Event",
    "GateDecided",
    "QueueTask",
    "Replay",
    "Resume",
    "RetryDue",
    "RunChanged",
    "RunFinished",
    "RunState",
    "RunStatus",
    "ScheduleTimedOut",
    "StartRun",
    "StartTimer",
    "TaskAssigned",
    "TaskChanged",
    "TaskCompleted",
    "TaskEvicted",
    "TaskFailed",
    "TaskState",
    "TaskStatus",
    "TimedOut",
    "TimerKind",
    "WatchEvicted",
    "WatchGate",
    "WorkerLost",
    "apply",
    "cancel_reason",
    "recorded_attempt",
    "replay",
]

# Planted bugs for the simulation's own tests (tests/simulation), each proving the
# simulation finds a real class of bug: retries that skip their backoff, and results of
# an old attempt taken for the current one. Never set outside those tests.
_PLANTED_IGNORE_BACKOFF = False
_PLANTED_UNFENCED_RESULTS = False

MAX_INTERNAL_RETRIES = 5
"""Worker losses one task may survive before it fails."""

# The sentences the machine writes into errors and timelines. Only people read them: the
# facts it emits carry their meaning as types, so rewording one changes no recorded kind.
SCHEDULE_TIMEOUT_MESSAGE = (
    "task {task!r} waited in the queue longer than its schedule_timeout of {timeout:g}s"
)
WORKER_LOST_MESSAGE = "the task's worker was lost {times} times; giving up"
CANCEL_IF_MESSAGE = "task {task!r} met its cancel_if conditions"
PARENT_ENDED_MESSAGE = "parent {parent!r} {status}"


class TimerKind(enum.Enum):
    RETRY = "retry"
    SCHEDULE_TIMEOUT = "schedule_timeout"
    EXECUTION_TIMEOUT = "execution_timeout"


@dataclass(frozen=True)
class ErrorInfo:
    """A task failure as recorded: exception type, message, traceback text."""

    type: str
    message: str
    traceback: str = ""


# -- state ----------------------------------------------------------------------------------


@dataclass
class TaskState:
    """One task of a run. ``attempt`` is 0 until first queued, then 1, 2, ...

    ``enqueued`` says whether the current attempt has been put on its queue (a
    :class:`QueueTask` was issued for it); it is False while a retry waits for its
    backoff timer, and a :class:`RetryDue` is honoured only then.
    """

    name: str
    status: TaskStatus = TaskStatus.PENDING
    attempt: int = 0
    retry_count: int = 0
    internal_retries: int = 0
    worker: str | None = None
    output: Any = None
    error: ErrorInfo | None = None
    enqueued: bool = False
    wake_pending: bool = False  # a durable task's wait ended while it was still running
    wake_seq: int | None = None  # the latest log position such a wake was for (None: any)
    gated: bool = False  # ready, but its conditions (wait_for/skip_if/cancel_if) are not settled
    cancel_reason: str | None = None  # why it was CANCELLED (its CANCELLED timeline entry says so too)


@dataclass
class RunState:
    """A run and its tasks; owned by exactly one actor at a time."""

    run_id: str
    spec: WorkflowSpec
    priority: int = 1
    status: RunStatus = RunStatus.QUEUED
    tasks: dict[str, TaskState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.tasks:
            self.tasks = {t.name: TaskState(t.name) for t in self.spec.tasks}

    def task_spec(self, name: str) -> TaskSpec:
        return self.spec.task(name)


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartRun:
    """The run was committed: queue its root tasks."""


@dataclass(frozen=True)
class TaskAssigned:
    task: str
    attempt: int
    worker: str


@dataclass(frozen=True)
class TaskCompleted:
    task: str
    attempt: int
    output: Any


@dataclass(frozen=True)
class TaskFailed:
    """The attempt failed; ``timed_out``: its worker stopped it at its execution timeout."""

    task: str
    attempt: int
    error: ErrorInfo
    retryable: bool = True
    timed_out: bool = False


@dataclass(frozen=True)
class TimedOut:
    """The attempt ran past its execution timeout."""

    task: str
    attempt: int


@dataclass(frozen=True)
class ScheduleTimedOut:
    """The attempt waited in the queue past its schedule timeout."""

    task: str
    attempt: int


@dataclass(frozen=True)
class WorkerLost:
    """The attempt's worker stopped heartbeating; run the task elsewhere."""

    task: str
    attempt: int


@dataclass(frozen=True)
class AttemptCancelled:
    """A worker confirmed that it stopped a cancelled attempt (informational)."""

    task: str
    attempt: int


@dataclass(frozen=True)
class RetryDue:
    """The backoff of a retry has elapsed."""

    task: str
    attempt: int


@dataclass(frozen=True)
class TaskEvicted:
    """A durable task's attempt gave its slot back to wait (see :class:`Resume`).

    ``seq`` is the position in its log of the call it was waiting on (None: unknown).
    """

    task: str
    attempt: int
    seq: int | None = None


@dataclass(frozen=True)
class Resume:
    """What an evicted durable task waited for happened: queue it to replay its log.

    Not fenced by attempt: a resume that arrives while the task still runs is remembered,
    with ``seq``, the position of the call that ended, and applied if the attempt is then
    evicted at that call or before it (the wake reached an execution that was not the one
    to carry on: its worker had already given up the wait, or was a stale one). An
    attempt evicted at a later call has moved past it, and the resume is spent.
    """

    task: str
    seq: int | None = None


@dataclass(frozen=True)
class GateDecided:
    """A gated task's conditions settled: ``"run"``, ``"skip"`` or ``"cancel"``."""

    task: str
    decision: str


@dataclass(frozen=True)
class CancelRun:
    reason: str = "cancelled by request"


@dataclass(frozen=True)
class CancelTask:
    """Cancel one task's current attempt (a task-level concurrency group chose it).

    The task ends CANCELLED, and so do its descendants, as when a queued task times out.
    """

    task: str
    attempt: int
    reason: str


@dataclass(frozen=True)
class Replay:
    """Run a FAILED or CANCELLED run again from where it broke (see :func:`replay`)."""


Event = (
    StartRun
    | TaskAssigned
    | TaskCompleted
    | TaskFailed
    | TimedOut
    | ScheduleTimedOut
    | WorkerLost
    | AttemptCancelled
    | RetryDue
    | CancelRun
    | CancelTask
    | Replay
    | TaskEvicted
    | Resume
    | GateDecided
)


# -- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueTask:
    task: str
    attempt: int
    retry: bool


@dataclass(frozen=True)
class StartTimer:
    kind: TimerKind
    task: str
    attempt: int
    delay: float


@dataclass(frozen=True)
class CancelAttempt:
    """Drop the attempt from its queue or stop it on its worker."""

    task: str
    attempt: int
    worker: str | None
    reason: str


@dataclass(frozen=True)
class TaskChanged:
    """What one event did to one task, as its timeline records it: one entry per event.

    Attempts are the machine's (0 until first queued). ``new_attempt`` says the change
    moved the task past the attempt it was in (a retry, a reassignment, a resume, or a
    replay putting it back to PENDING); entering the first attempt from PENDING is not one.
    One event may take a task through several steps (an attempt failed, so a retry is
    scheduled, so it is queued again): ``kind`` is the event kind of the whole change and
    ``detail`` joins the steps' notes (``"ValueError: boom; retry 1 in 0.5s"``).

    Fields:
        outcome: how the attempt it left ended, when it left one (``new_attempt``).
        retry_delay: the backoff the new attempt waits before it is queued (None: none).
        output, error, worker, retry_count, internal_retries: the task's values after
            the change.
    """

    task: str
    from_status: TaskStatus
    from_attempt: int
    to_status: TaskStatus
    attempt: int
    kind: TaskEventKind
    new_attempt: bool = False
    detail: str = ""
    outcome: TaskStatus = TaskStatus.FAILED
    retry_delay: float | None = None
    output: Any = None
    error: ErrorInfo | None = None
    worker: str | None = None
    retry_count: int = 0
    internal_retries: int = 0


@dataclass(frozen=True)
class RunChanged:
    """The run's status moved; ``error`` says why it FAILED or was CANCELLED."""

    from_status: RunStatus
    to_status: RunStatus
    error: str | None = None


@dataclass(frozen=True)
class WatchGate:
    """Watch a ready task's sleep and event conditions until :class:`GateDecided`.

    ``request`` gives, per option (``wait_for``, ``skip_if``, ``cancel_if``), its
    groups and the indexes of the groups its parents' outputs already satisfy.
    """

    task: str
    attempt: int
    request: dict[str, Any]


@dataclass(frozen=True)
class WatchEvicted:
    """An evicted durable task waits without a slot: watch what its log waits for.

    ``seq`` is the position of the call it was evicted at (None: unknown). The
    Durable actor armed that wait when the task made the call, but it may have
    restarted since (and read which tasks were evicted before this one was).
    """

    task: str
    attempt: int
    seq: int | None


@dataclass(frozen=True)
class RunFinished:
    status: RunStatus


@dataclass(frozen=True)
class _Step:
    """One step of a task within an event; the steps of an event become one :class:`TaskChanged`."""

    task: str
    kind: TaskEventKind
    detail: str = ""


Command = (
    QueueTask | StartTimer | CancelAttempt | TaskChanged | RunChanged | WatchGate | WatchEvicted | RunFinished
)


# -- the transition function ----------------------------------------------------------------


def apply(run: RunState, event: Event) -> list[Command]:
    """Apply ``event`` to ``run`` (in place) and return the commands to carry out.

    The commands open with the facts of what changed (:class:`TaskChanged`, then
    :class:`RunChanged`). Stale and duplicate events return no commands and change nothing.
    """
    before = _Snapshot.of(run)
    out = _apply(run, event)
    return _with_facts(run, before, out) if out else []


def _apply(run: RunState, event: Event) -> list[Command | _Step]:
    if isinstance(event, Replay):
        return _replay(run)
    if run.status.is_terminal:
        return []
    out: list[Command | _Step] = []
    if isinstance(event, StartRun):
        _start(run, out)
    elif isinstance(event, CancelRun):
        _cancel_run(run, event.reason, out)
    elif isinstance(event, Resume):
        _resume(run, event.task, event.seq, out)
    elif isinstance(event, GateDecided):
        _gate_decided(run, event.task, event.decision, out)
    else:
        task = run.tasks.get(event.task)
        stale = task is not None and task.attempt != event.attempt
        if _PLANTED_UNFENCED_RESULTS and isinstance(event, TaskCompleted | TaskFailed):
            stale = False
        if task is None or stale or task.status.is_terminal:
            return []  # fenced: unknown task, an old attempt, or an outcome already recorded
        if isinstance(event, TaskAssigned):
            _assigned(run, task, event, out)
        elif isinstance(event, TaskCompleted):
            if task.status in (TaskStatus.QUEUED, TaskStatus.RUNNING):
                _completed(run, task, event.output, out)
        elif isinstance(event, TaskFailed):
            if task.status in (TaskStatus.QUEUED, TaskStatus.RUNNING):
                _failed(run, task, event.error, event.retryable, out, timed_out=event.timed_out)
        elif isinstance(event, TimedOut):
            if task.status is TaskStatus.RUNNING:
                timeout = run.task_spec(task.name).execution_timeout
                out.append(CancelAttempt(task.name, task.attempt, task.worker, "execution timeout"))
                error = ErrorInfo("TimeoutError", EXECUTION_TIMEOUT_MESSAGE.format(timeout=timeout))
                _failed(run, task, error, True, out, timed_out=True)
        elif isinstance(event, ScheduleTimedOut):
            if task.status is TaskStatus.QUEUED:
                out.append(CancelAttempt(task.name, task.attempt, None, "schedule timeout"))
                timeout = run.task_spec(task.name).schedule_timeout
                reason = SCHEDULE_TIMEOUT_MESSAGE.format(task=task.name, timeout=timeout)
                _finish_task(run, task, TaskStatus.CANCELLED, out, reason, TaskEventKind.SCHEDULE_TIMED_OUT)
        elif isinstance(event, WorkerLost):
            if task.status in (TaskStatus.QUEUED, TaskStatus.RUNNING):
                _worker_lost(run, task, out)
        elif isinstance(event, RetryDue):
            if task.status is TaskStatus.QUEUED and not task.enqueued:
                _queue(run, task, out, retry=True)
        elif isinstance(event, TaskEvicted):
            if task.status is TaskStatus.RUNNING:
                _evicted(run, task, event.seq, out)
        elif isinstance(event, CancelTask):
            if task.status in (TaskStatus.QUEUED, TaskStatus.RUNNING):
                out.append(CancelAttempt(task.name, task.attempt, task.worker, event.reason))
                _finish_task(run, task, TaskStatus.CANCELLED, out, event.reason)
        elif isinstance(event, AttemptCancelled):
            pass
    _settle(run, out)
    return out


def replay(run: RunState) -> list[Command]:
    """Run a FAILED or CANCELLED run again from where it broke (``ratchet.runs.replay``).

    Its failed and cancelled tasks, their descendants and its handlers go back to
    PENDING keeping their attempt numbers (their next attempt gets the next number, so
    late messages for the old attempts stay fenced) with a fresh retry budget; completed
    tasks keep their outputs; the tasks whose parents all completed are queued. Returns
    no commands for a run that is not FAILED or CANCELLED.
    """
    return apply(run, Replay())


def _replay(run: RunState) -> list[Command | _Step]:
    if run.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
        return []
    again: set[str] = set()
    for spec in run.spec.dag_tasks:
        if run.tasks[spec.name].status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
            again.add(spec.name)
            again.update(run.spec.descendants(spec.name))
    for hook in (run.spec.on_failure, run.spec.on_success):
        if hook is not None:
            again.add(hook.name)
    for name in again:
        task = run.tasks[name]
        task.status = TaskStatus.PENDING
        task.retry_count = 0
        task.internal_retries = 0
        task.worker = None
        task.output = None
        task.error = None
        task.cancel_reason = None
        task.enqueued = False
    run.status = RunStatus.RUNNING
    out: list[Command | _Step] = []
    for spec in run.spec.dag_tasks:
        task = run.tasks[spec.name]
        if task.status is TaskStatus.PENDING and all(
            run.tasks[p].status is TaskStatus.COMPLETED for p in spec.parents
        ):
            _ready(run, task, out, detail="replay")
    _settle(run, out)
    return out


def _start(run: RunState, out: list[Command | _Step]) -> None:
    if any(t.status is not TaskStatus.PENDING for t in run.tasks.values()):
        return  # started already
    for spec in run.spec.dag_tasks:
        if not spec.parents:
            _ready(run, run.tasks[spec.name], out)


def _queue(
    run: RunState,
    task: TaskState,
    out: list[Command | _Step],
    *,
    retry: bool,
    detail: str = "",
    resumed: bool = False,
) -> None:
    task.status = TaskStatus.QUEUED
    task.worker = None
    task.enqueued = True
    task.wake_pending = False
    task.wake_seq = None
    spec = run.task_spec(task.name)
    if resumed:
        out.append(_Step(task.name, TaskEventKind.RESUMED, "resumed"))
    else:
        out.append(_Step(task.name, TaskEventKind.QUEUED, detail or ("retry" if retry else "")))
    out.append(QueueTask(task.name, task.attempt, retry))
    out.append(StartTimer(TimerKind.SCHEDULE_TIMEOUT, task.name, task.attempt, spec.schedule_timeout))


def _assigned(run: RunState, task: TaskState, event: TaskAssigned, out: list[Command | _Step]) -> None:
    if task.status is not TaskStatus.QUEUED:
        return  # a duplicate assignment
    task.status = TaskStatus.RUNNING
    task.worker = event.worker
    if run.status is RunStatus.QUEUED:
        run.status = RunStatus.RUNNING
    spec = run.task_spec(task.name)
    out.append(_Step(task.name, TaskEventKind.ASSIGNED, event.worker))
    out.append(StartTimer(TimerKind.EXECUTION_TIMEOUT, task.name, task.attempt, spec.execution_timeout))


def _completed(
    run: RunState,
    task: TaskState,
    output: Any,
    out: list[Command | _Step],
    kind: TaskEventKind = TaskEventKind.COMPLETED,
    detail: str = "",
) -> None:
    task.output = output
    _finish_task(run, task, TaskStatus.COMPLETED, out, detail, kind)
    if run.task_spec(task.name).kind in (TaskKind.TASK, TaskKind.DURABLE):
        for child_name in run.spec.children(task.name):
            child = run.tasks[child_name]
            if child.status is not TaskStatus.PENDING:
                continue
            parents = run.task_spec(child_name).parents
            if all(run.tasks[p].status is TaskStatus.COMPLETED for p in parents):
                _ready(run, child, out)  # attempt 1, or the next attempt of a replayed task


def _failed(
    run: RunState,
    task: TaskState,
    error: ErrorInfo,
    retryable: bool,
    out: list[Command | _Step],
    *,
    timed_out: bool = False,
) -> None:
    """The attempt failed (``timed_out``: at its execution timeout): retry it or fail the task."""
    policy = run.task_spec(task.name).retry
    kind = TaskEventKind.TIMED_OUT if timed_out else TaskEventKind.FAILED
    if retryable and task.retry_count < policy.retries:
        task.retry_count += 1
        task.error = error
        out.append(_Step(task.name, kind, f"{error.type}: {error.message}"))
        delay = 0.0 if _PLANTED_IGNORE_BACKOFF else policy.delay(task.retry_count)
        task.attempt += 1
        task.status = TaskStatus.QUEUED
        task.worker = None
        task.enqueued = False  # until its RetryDue, or _queue below for an immediate retry
        out.append(_Step(task.name, TaskEventKind.RETRYING, f"retry {task.retry_count} in {delay:g}s"))
        if delay > 0:
            out.append(StartTimer(TimerKind.RETRY, task.name, task.attempt, delay))
        else:
            _queue(run, task, out, retry=True)
        return
    task.error = error
    _finish_task(run, task, TaskStatus.FAILED, out, f"{error.type}: {error.message}", kind)


def _ready(run: RunState, task: TaskState, out: list[Command | _Step], *, detail: str = "") -> None:
    """A task's parents completed: queue it, or settle its conditions first."""
    spec = run.task_spec(task.name)
    if not spec.gated:
        task.attempt += 1
        _queue(run, task, out, retry=False, detail=detail)
        return
    request = gate_request(run, spec)
    decision = gate_decision(request)
    if decision is not None:
        task.gated = True
        _gate_decided(run, task.name, decision, out)
        return
    task.gated = True
    out.append(WatchGate(task.name, task.attempt + 1, request))


def gate_request(run: RunState, spec: TaskSpec) -> dict[str, Any]:
    """Each condition option's groups, and which of them the parents' outputs satisfy."""
    request = {}
    for option in ("wait_for", "skip_if", "cancel_if"):
        groups = getattr(spec, option)
        if not groups:
            continue
        satisfied = [
            g
            for g, group in enumerate(groups)
            if any(c["kind"] == "parent" and parent_holds(c, run.tasks[c["parent"]].output) for c in group)
        ]
        request[option] = {"groups": [[dict(c) for c in group] for group in groups], "satisfied": satisfied}
    return request


def gate_decision(request: dict[str, Any]) -> str | None:
    """``cancel``, ``skip`` or ``run`` if settled (in that precedence), else None (watch on)."""
    done = {o: len(r["satisfied"]) == len(r["groups"]) for o, r in request.items()}
    if done.get("cancel_if"):
        return "cancel"
    if done.get("skip_if"):
        return "skip"
    if done.get("wait_for", "wait_for" not in request):
        return "run"
    return None


def _gate_decided(run: RunState, name: str, decision: str, out: list[Command | _Step]) -> None:
    task = run.tasks.get(name)
    if task is None or not task.gated or task.status is not TaskStatus.PENDING:
        return  # not waiting on its conditions (a duplicate, or cancelled meanwhile)
    task.gated = False
    task.attempt += 1
    if decision == "skip":
        _completed(run, task, {"skipped": True}, out, TaskEventKind.SKIPPED, "skip_if condition")
    elif decision == "cancel":
        _finish_task(run, task, TaskStatus.CANCELLED, out, CANCEL_IF_MESSAGE.format(task=task.name))
    else:
        _queue(run, task, out, retry=False, detail="conditions met")


def _evicted(run: RunState, task: TaskState, seq: int | None, out: list[Command | _Step]) -> None:
    # the worker ended the attempt: its timers go, its slot is already free
    out.append(CancelAttempt(task.name, task.attempt, None, "evicted"))
    woken = task.wake_pending and (seq is None or task.wake_seq is None or task.wake_seq >= seq)
    if woken:
        task.attempt += 1
        _queue(run, task, out, retry=False, resumed=True)
        return
    task.status = TaskStatus.EVICTED
    task.worker = None
    out.append(_Step(task.name, TaskEventKind.EVICTED, "waiting without a slot"))
    out.append(WatchEvicted(task.name, task.attempt, seq))


def _resume(run: RunState, name: str, seq: int | None, out: list[Command | _Step]) -> None:
    task = run.tasks.get(name)
    if task is None:
        return
    if task.status is TaskStatus.EVICTED:
        task.attempt += 1
        _queue(run, task, out, retry=False, resumed=True)
    elif task.status is TaskStatus.RUNNING:
        if not task.wake_pending:
            task.wake_seq = seq
        elif seq is None or task.wake_seq is None:
            task.wake_seq = None  # a wake for any position: it applies whatever the eviction
        else:
            task.wake_seq = max(task.wake_seq, seq)
        task.wake_pending = True


def _worker_lost(run: RunState, task: TaskState, out: list[Command | _Step]) -> None:
    if task.status is TaskStatus.QUEUED and task.worker is None:
        return  # not on any worker
    lost = task.worker
    out.append(CancelAttempt(task.name, task.attempt, lost, "worker lost"))
    if task.internal_retries >= MAX_INTERNAL_RETRIES:
        error = ErrorInfo("WorkerLostError", WORKER_LOST_MESSAGE.format(times=task.internal_retries + 1))
        task.error = error
        _finish_task(run, task, TaskStatus.FAILED, out, error.message)
        return
    task.internal_retries += 1
    out.append(_Step(task.name, TaskEventKind.REASSIGNED, f"worker {lost} lost"))
    task.attempt += 1
    _queue(run, task, out, retry=True)


def _finish_task(
    run: RunState,
    task: TaskState,
    status: TaskStatus,
    out: list[Command | _Step],
    detail: str = "",
    kind: TaskEventKind | None = None,
) -> None:
    task.status = status
    if status is TaskStatus.CANCELLED:
        task.cancel_reason = detail or None
    out.append(_Step(task.name, kind or TaskEventKind(status.value), detail))
    if status is TaskStatus.COMPLETED:
        return
    for name in run.spec.descendants(task.name):
        child = run.tasks[name]
        if not child.status.is_terminal:
            reason = PARENT_ENDED_MESSAGE.format(parent=task.name, status=status.value.lower())
            _cancel_task(child, out, reason)


def _cancel_task(task: TaskState, out: list[Command | _Step], reason: str) -> None:
    if task.status in (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.EVICTED):
        out.append(CancelAttempt(task.name, task.attempt, task.worker, reason))
    task.status = TaskStatus.CANCELLED
    task.cancel_reason = reason
    out.append(_Step(task.name, TaskEventKind.CANCELLED, reason))


def _cancel_run(run: RunState, reason: str, out: list[Command | _Step]) -> None:
    for task in run.tasks.values():
        if not task.status.is_terminal:
            _cancel_task(task, out, reason)


def cancel_reason(run: RunState) -> str | None:
    """Why ``run`` was cancelled: the reason of its first task (in the workflow's order)
    that was cancelled for a cause of its own, not because a parent failed or was cancelled.

    None if no task was cancelled with a reason (a handler that was never needed is
    cancelled without one).
    """
    for spec in run.spec.tasks:
        task = run.tasks[spec.name]
        if task.status is not TaskStatus.CANCELLED or task.cancel_reason is None:
            continue
        if any(run.tasks[p].status in (TaskStatus.CANCELLED, TaskStatus.FAILED) for p in spec.parents):
            continue  # cancelled with its parent: the parent holds the cause
        return task.cancel_reason
    return None


def _settle(run: RunState, out: list[Command | _Step]) -> None:
    """Start the handlers or finish the run once every DAG task is terminal."""
    dag = [run.tasks[t.name] for t in run.spec.dag_tasks]
    if not all(t.status.is_terminal for t in dag):
        return
    failed = any(t.status is TaskStatus.FAILED for t in dag)
    cancelled = any(t.status is TaskStatus.CANCELLED for t in dag)
    handler_spec = run.spec.on_failure if failed else (None if cancelled else run.spec.on_success)
    for spec in (run.spec.on_failure, run.spec.on_success):
        if spec is not None and spec is not handler_spec:
            handler = run.tasks[spec.name]
            if handler.status is TaskStatus.PENDING:
                handler.status = TaskStatus.CANCELLED  # never needed in this run
    if handler_spec is not None:
        handler = run.tasks[handler_spec.name]
        if handler.status is TaskStatus.PENDING:
            handler.attempt += 1
            _queue(run, handler, out, retry=False)
            return
        if not handler.status.is_terminal:
            return
        if handler.status is TaskStatus.FAILED:
            failed = True
        elif handler.status is TaskStatus.CANCELLED and not failed:
            cancelled = True
    if failed:
        run.status = RunStatus.FAILED
    elif cancelled:
        run.status = RunStatus.CANCELLED
    else:
        run.status = RunStatus.COMPLETED
    out.append(RunFinished(run.status))


# -- facts: what one event changed --------------------------------------------------------


def recorded_attempt(status: TaskStatus, attempt: int) -> int:
    """The attempt the store records for a task the machine has at ``status``/``attempt``.

    The machine counts attempts from 0 (never queued); the store keeps a PENDING task's
    next attempt, and every other task's current one (at least 1).
    """
    return attempt + 1 if status is TaskStatus.PENDING else max(1, attempt)


_STATUS_KIND = {
    TaskStatus.QUEUED: TaskEventKind.QUEUED,
    TaskStatus.RUNNING: TaskEventKind.ASSIGNED,
    TaskStatus.COMPLETED: TaskEventKind.COMPLETED,
    TaskStatus.FAILED: TaskEventKind.FAILED,
    TaskStatus.CANCELLED: TaskEventKind.CANCELLED,
    TaskStatus.EVICTED: TaskEventKind.EVICTED,
}


@dataclass(frozen=True)
class _Snapshot:
    """What the facts of an event are measured against: the run before it."""

    status: RunStatus
    tasks: dict[str, tuple[TaskStatus, int, int]]

    @classmethod
    def of(cls, run: RunState) -> _Snapshot:
        return cls(run.status, {n: (t.status, t.attempt, t.internal_retries) for n, t in run.tasks.items()})


def _with_facts(run: RunState, before: _Snapshot, out: list[Command | _Step]) -> list[Command]:
    """``out``'s commands, after the facts its steps and ``run``'s changes amount to."""
    steps: dict[str, list[_Step]] = {}
    retry_delays: dict[str, float] = {}
    commands: list[Command] = []
    for c in out:
        if isinstance(c, _Step):
            steps.setdefault(c.task, []).append(c)
            continue
        if isinstance(c, StartTimer) and c.kind is TimerKind.RETRY:
            retry_delays[c.task] = c.delay
        commands.append(c)
    facts: list[Command] = []
    for name, task in run.tasks.items():
        if (task.status, task.attempt) != before.tasks[name][:2]:
            facts.append(_task_changed(task, before.tasks[name], steps.get(name, []), retry_delays.get(name)))
    if run.status is not before.status:
        facts.append(RunChanged(before.status, run.status, _run_error(run)))
    return facts + commands


def _task_changed(
    task: TaskState, before: tuple[TaskStatus, int, int], steps: list[_Step], retry_delay: float | None
) -> TaskChanged:
    """The one timeline entry for what an event did to ``task``.

    Precedence: back to PENDING (a replay) is CREATED; a new attempt is RESUMED,
    REASSIGNED (the worker was lost) or RETRYING; otherwise the step that ended the
    attempt names it (SKIPPED, TIMED_OUT, SCHEDULE_TIMED_OUT), else the new status does.
    """
    from_status, from_attempt, from_internal = before
    kinds = {s.kind for s in steps}
    pending = task.status is TaskStatus.PENDING
    new_attempt = pending or task.attempt > recorded_attempt(from_status, from_attempt)
    detail = _detail(steps)
    outcome = TaskStatus.FAILED
    if pending:
        kind, detail = TaskEventKind.CREATED, detail or "replay"
    elif new_attempt and TaskEventKind.RESUMED in kinds:
        kind, outcome = TaskEventKind.RESUMED, TaskStatus.EVICTED
    elif new_attempt:
        reassigned = task.internal_retries != from_internal
        kind = TaskEventKind.REASSIGNED if reassigned else TaskEventKind.RETRYING
    elif TaskEventKind.SKIPPED in kinds:
        kind = TaskEventKind.SKIPPED
    elif task.status is TaskStatus.FAILED and TaskEventKind.TIMED_OUT in kinds:
        kind = TaskEventKind.TIMED_OUT
    elif task.status is TaskStatus.CANCELLED and TaskEventKind.SCHEDULE_TIMED_OUT in kinds:
        kind = TaskEventKind.SCHEDULE_TIMED_OUT
    else:
        kind = _STATUS_KIND[task.status]
    return TaskChanged(
        task=task.name,
        from_status=from_status,
        from_attempt=from_attempt,
        to_status=task.status,
        attempt=task.attempt,
        kind=kind,
        new_attempt=new_attempt,
        detail=detail,
        outcome=outcome,
        retry_delay=retry_delay if new_attempt else None,
        output=task.output,
        error=task.error,
        worker=task.worker,
        retry_count=task.retry_count,
        internal_retries=task.internal_retries,
    )


def _detail(steps: list[_Step]) -> str:
    """The note of the one timeline entry an event leaves for a task: its steps' notes.

    The bare re-queue note adds nothing once a retry was announced, so it is left out
    when there are several steps.
    """
    if len(steps) > 1:
        steps = [s for s in steps if s.kind is not TaskEventKind.QUEUED]
    return "; ".join(s.detail for s in steps if s.detail)


def _run_error(run: RunState) -> str | None:
    """Why the run ended as it did: its failed tasks' errors, or its cancellation's reason."""
    if run.status is RunStatus.FAILED:
        failed = [t for t in run.tasks.values() if t.status is TaskStatus.FAILED and t.error]
        return "; ".join(f"{t.name}: {t.error.type}: {t.error.message}" for t in failed if t.error) or None
    if run.status is RunStatus.CANCELLED:
        return cancel_reason(run) or None
    return None
