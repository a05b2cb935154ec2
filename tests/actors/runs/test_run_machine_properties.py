"""The run state machine under random DAGs and random (often stale) event streams.

A Hypothesis ``RuleBasedStateMachine`` builds a random workflow (1-8 tasks, parents among
earlier tasks, random retry policies, optional handlers) and feeds ``apply`` a random
stream of events whose attempt numbers are mostly current but often stale or from the
future. After every step it checks the invariants the engine relies on, and that a
cooperative worker could still drive the run to its end from where it stands.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ratchet._contract.spec import RetryPolicy, TaskKind, TaskSpec, WorkflowSpec
from ratchet.actors.runs._machine import (
    MAX_INTERNAL_RETRIES,
    AttemptCancelled,
    CancelRun,
    Command,
    ErrorInfo,
    Event,
    GateDecided,
    QueueTask,
    Resume,
    RetryDue,
    RunFinished,
    RunState,
    RunStatus,
    ScheduleTimedOut,
    StartRun,
    StartTimer,
    TaskAssigned,
    TaskCompleted,
    TaskEvicted,
    TaskFailed,
    TaskStatus,
    TimedOut,
    TimerKind,
    WorkerLost,
    apply,
)

RANK = {TaskStatus.PENDING: 0, TaskStatus.QUEUED: 1, TaskStatus.RUNNING: 2, TaskStatus.EVICTED: 3}
BOOM = ErrorInfo("ValueError", "boom")


def rank(status: TaskStatus) -> int:
    return 4 if status.is_terminal else RANK[status]


@st.composite
def run_specs(draw: st.DrawFn) -> WorkflowSpec:
    """A small random workflow: 1-8 DAG tasks with parents among earlier tasks, random
    retry policies, and an optional on-failure and on-success handler."""
    policies = st.builds(
        RetryPolicy,
        retries=st.integers(0, 3),
        backoff_factor=st.none() | st.sampled_from([0.5, 1.0, 2.0, 10.0]),
        backoff_max_seconds=st.none() | st.sampled_from([1.0, 30.0]),
    )
    n = draw(st.integers(1, 8))
    tasks = []
    for i in range(n):
        parents = tuple(
            f"t{p}" for p in sorted(draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else ())
        )
        tasks.append(TaskSpec(f"t{i}", parents=parents, retry=draw(policies), **draw(gates(parents))))
    if draw(st.booleans()):
        tasks.append(TaskSpec("on_failure", kind=TaskKind.ON_FAILURE, retry=draw(policies)))
    if draw(st.booleans()):
        tasks.append(TaskSpec("on_success", kind=TaskKind.ON_SUCCESS, retry=draw(policies)))
    return WorkflowSpec("wf", tuple(draw(st.permutations(tasks))))


SLEEP = ({"kind": "sleep", "seconds": 5},)


@st.composite
def gates(draw: st.DrawFn, parents: tuple[str, ...]) -> dict[str, Any]:
    """No conditions, or a sleep to wait for / skip on / cancel on (settled by GateDecided),
    or a parent condition that holds at once (the task is skipped when its parents complete)."""
    options: list[dict[str, Any]] = [
        {},
        {"wait_for": (SLEEP,)},
        {"skip_if": (SLEEP,)},
        {"cancel_if": (SLEEP,)},
    ]
    if parents:
        options.append({"skip_if": (({"kind": "parent", "parent": parents[0], "expression": "true"},),)})
    return draw(st.sampled_from(options))


def expected_run_status(run: RunState) -> RunStatus:
    """The rule: any FAILED → FAILED, else any CANCELLED → CANCELLED, else COMPLETED.

    Over the DAG tasks and the handlers that actually ran; a handler that was never
    needed is cancelled at attempt 0 and does not count.
    """
    counted = [t for t in run.tasks.values() if t.attempt > 0 or run.task_spec(t.name).kind in _DAG]
    statuses = {t.status for t in counted}
    if TaskStatus.FAILED in statuses:
        return RunStatus.FAILED
    if TaskStatus.CANCELLED in statuses:
        return RunStatus.CANCELLED
    return RunStatus.COMPLETED


_DAG = (TaskKind.TASK, TaskKind.DURABLE)


def copy_run(run: RunState) -> RunState:
    return RunState(
        run.run_id,
        run.spec,
        run.priority,
        run.status,
        {name: replace(task) for name, task in run.tasks.items()},
    )


def drive_cooperatively(
    run: RunState, queued: set[tuple[str, int]], retry_timers: set[tuple[str, int]]
) -> int:
    """Play a worker that completes everything: returns the steps taken to finish the run.

    A QUEUED task whose attempt was never queued is waiting for its retry timer, which
    this driver fires; otherwise it is assigned, and a RUNNING task is completed.
    """
    queued, retry_timers = set(queued), set(retry_timers)
    bound = 5 * len(run.tasks) + 4
    steps = 0

    def step(event: Event) -> None:
        nonlocal steps
        steps += 1
        for command in apply(run, event):
            if isinstance(command, QueueTask):
                queued.add((command.task, command.attempt))
            elif isinstance(command, StartTimer) and command.kind is TimerKind.RETRY:
                retry_timers.add((command.task, command.attempt))

    step(StartRun())
    while not run.status.is_terminal:
        assert steps <= bound, f"run not finished after {steps} cooperative steps: {run}"
        live = [
            t
            for t in run.tasks.values()
            if t.status in (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.EVICTED) or t.gated
        ]
        assert live, f"run is stuck: nothing queued or running but not finished: {run}"
        task = live[0]
        key = (task.name, task.attempt)
        if task.gated and task.status is TaskStatus.PENDING:
            step(GateDecided(task.name, "run"))  # its conditions hold
        elif task.status is TaskStatus.EVICTED:
            step(Resume(task.name))  # its wait ends
        elif task.status is TaskStatus.RUNNING:
            step(TaskCompleted(task.name, task.attempt, f"out-{task.name}"))
        elif key not in queued:
            assert key in retry_timers, f"{key} is QUEUED but was neither queued nor given a retry timer"
            step(RetryDue(*key))
        else:
            step(TaskAssigned(task.name, task.attempt, "cooperative"))
    return steps


class RunMachine(RuleBasedStateMachine):
    """Random events against one run; invariants checked after every step."""

    @initialize(spec=run_specs())
    def setup(self, spec: WorkflowSpec) -> None:
        self.run = RunState("run-1", spec)
        self.names = [t.name for t in spec.tasks]
        self.max_rank: dict[tuple[str, int], int] = {}
        self.last_attempt: dict[str, int] = {}
        self.terminal_record: dict[str, tuple[Any, ...]] = {}
        self.finished: list[RunStatus] = []
        self.frozen_run: RunState | None = None
        self.queue_counts: Counter[tuple[str, int]] = Counter()
        self.retry_timers: set[tuple[str, int]] = set()
        self.outputs = 0

    # -- driving -----------------------------------------------------------------------

    def _apply(self, event: Event) -> list[Command]:
        before = copy_run(self.run)
        task = self.run.tasks.get(getattr(event, "task", ""))
        fenced = hasattr(event, "attempt")  # Resume is not fenced by attempt
        stale = task is not None and fenced and (task.attempt != event.attempt or task.status.is_terminal)  # type: ignore[union-attr]
        commands = apply(self.run, event)
        if before.status.is_terminal or stale:
            assert commands == [], f"{event} after a terminal run / for a stale attempt gave {commands}"
            assert self.run == before, f"{event} changed a terminal run or a fenced task"
        for command in commands:
            if isinstance(command, QueueTask):
                now = self.run.tasks[command.task]
                assert command.attempt == now.attempt, f"{command} but the task is at attempt {now.attempt}"
                assert now.status is TaskStatus.QUEUED, f"{command} but the task is {now.status}"
                self.queue_counts[(command.task, command.attempt)] += 1
            elif isinstance(command, StartTimer):
                assert command.attempt == self.run.tasks[command.task].attempt
                assert command.delay >= 0
                if command.kind is TimerKind.RETRY:
                    self.retry_timers.add((command.task, command.attempt))
            elif isinstance(command, RunFinished):
                self.finished.append(command.status)
                assert command.status is self.run.status
        return commands

    def _target(self, data: st.DataObject) -> tuple[str, int]:
        name = data.draw(st.sampled_from(self.names), label="task")
        current = self.run.tasks[name].attempt
        attempt = data.draw(
            st.sampled_from([current, current, current, current - 1, current + 1, 0, 1]), label="attempt"
        )
        return name, attempt

    @rule()
    def start(self) -> None:
        self._apply(StartRun())

    @rule(data=st.data())
    def assign(self, data: st.DataObject) -> None:
        worker = data.draw(st.sampled_from(["w1", "w2"]), label="worker")
        self._apply(TaskAssigned(*self._target(data), worker))

    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        self.outputs += 1
        self._apply(TaskCompleted(*self._target(data), f"output-{self.outputs}"))

    @rule(data=st.data(), retryable=st.booleans())
    def fail(self, data: st.DataObject, retryable: bool) -> None:
        self._apply(TaskFailed(*self._target(data), BOOM, retryable))

    @rule(data=st.data())
    def time_out(self, data: st.DataObject) -> None:
        self._apply(TimedOut(*self._target(data)))

    @rule(data=st.data())
    def schedule_time_out(self, data: st.DataObject) -> None:
        self._apply(ScheduleTimedOut(*self._target(data)))

    @rule(data=st.data())
    def lose_worker(self, data: st.DataObject) -> None:
        self._apply(WorkerLost(*self._target(data)))

    @rule(data=st.data())
    def retry_due(self, data: st.DataObject) -> None:
        self._apply(RetryDue(*self._target(data)))

    @rule(data=st.data())
    def attempt_cancelled(self, data: st.DataObject) -> None:
        self._apply(AttemptCancelled(*self._target(data)))

    @rule(data=st.data())
    def evict(self, data: st.DataObject) -> None:
        self._apply(TaskEvicted(*self._target(data)))

    @rule(data=st.data())
    def resume(self, data: st.DataObject) -> None:
        self._apply(Resume(data.draw(st.sampled_from(self.names), label="task")))

    @rule(data=st.data(), decision=st.sampled_from(["run", "skip", "cancel"]))
    def gate(self, data: st.DataObject, decision: str) -> None:
        self._apply(GateDecided(data.draw(st.sampled_from(self.names), label="task"), decision))

    @rule(really=st.integers(0, 5))
    def cancel(self, really: int) -> None:
        if really == 0:  # rarely, or every run would end here
            self._apply(CancelRun())

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def status_never_moves_backwards_within_an_attempt(self) -> None:
        for task in self.run.tasks.values():
            assert task.attempt >= self.last_attempt.get(task.name, 0), f"{task.name}'s attempt went down"
            self.last_attempt[task.name] = task.attempt
            key = (task.name, task.attempt)
            assert rank(task.status) >= self.max_rank.get(key, 0), f"{task} moved backwards"
            self.max_rank[key] = rank(task.status)

    @invariant()
    def terminal_tasks_never_change(self) -> None:
        for task in self.run.tasks.values():
            record = (task.status, task.output, task.attempt, task.retry_count, task.error)
            if task.name in self.terminal_record:
                assert record == self.terminal_record[task.name], f"terminal {task.name} changed"
            elif task.status.is_terminal:
                self.terminal_record[task.name] = record

    @invariant()
    def retries_are_bounded(self) -> None:
        for task in self.run.tasks.values():
            assert task.retry_count <= self.run.task_spec(task.name).retry.retries
            assert task.internal_retries <= MAX_INTERNAL_RETRIES

    @invariant()
    def tasks_run_only_after_all_parents_completed(self) -> None:
        for task in self.run.tasks.values():
            if task.status in (
                TaskStatus.QUEUED,
                TaskStatus.RUNNING,
                TaskStatus.EVICTED,
                TaskStatus.COMPLETED,
            ):
                for parent in self.run.task_spec(task.name).parents:
                    assert self.run.tasks[parent].status is TaskStatus.COMPLETED, (
                        f"{task.name} is {task.status} but its parent {parent} is "
                        f"{self.run.tasks[parent].status}"
                    )

    @invariant()
    def queued_tasks_are_queued_or_awaiting_a_retry_timer(self) -> None:
        for task in self.run.tasks.values():
            if task.status is TaskStatus.QUEUED:
                key = (task.name, task.attempt)
                assert self.queue_counts[key] or key in self.retry_timers, f"{task} was never queued"

    @invariant()
    def a_finished_run_never_changes(self) -> None:
        if self.frozen_run is not None:
            assert self.run == self.frozen_run
        elif self.run.status.is_terminal:
            self.frozen_run = copy.deepcopy(self.run)

    @invariant()
    def run_finishes_exactly_once_by_the_rule(self) -> None:
        if self.run.status.is_terminal:
            assert self.finished == [self.run.status]
            assert self.run.status is expected_run_status(self.run)
            assert all(t.status.is_terminal for t in self.run.tasks.values()), "a finished run has live tasks"
        else:
            assert self.finished == []

    @invariant()
    def a_cooperative_worker_can_finish_the_run(self) -> None:
        run = copy_run(self.run)
        queued = {key for key, count in self.queue_counts.items() if count}
        drive_cooperatively(run, queued, self.retry_timers)
        assert run.status.is_terminal


class RunMachineQueuesEachAttemptOnce(RunMachine):
    """Also: a (task, attempt) is put on a queue at most once, whatever timers fire twice."""

    @invariant()
    def each_attempt_is_queued_at_most_once(self) -> None:
        twice = {key: n for key, n in self.queue_counts.items() if n > 1}
        assert not twice, f"attempts queued more than once: {twice}"


_SETTINGS = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRunMachine = RunMachine.TestCase
TestRunMachine.settings = _SETTINGS
TestRunMachineQueuesEachAttemptOnce = RunMachineQueuesEachAttemptOnce.TestCase
TestRunMachineQueuesEachAttemptOnce.settings = _SETTINGS
