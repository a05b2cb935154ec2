"""The run state machine, one test per rule of its module docstring (no Trio, no I/O)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ratchet._contract.spec import RetryPolicy, TaskKind, TaskSpec, WorkflowSpec
from ratchet.actors.runs._machine import (
    MAX_INTERNAL_RETRIES,
    AttemptCancelled,
    CancelAttempt,
    CancelRun,
    Command,
    ErrorInfo,
    Event,
    QueueTask,
    RetryDue,
    RunFinished,
    RunState,
    RunStatus,
    ScheduleTimedOut,
    StartRun,
    StartTimer,
    TaskAssigned,
    TaskCompleted,
    TaskFailed,
    TaskStatus,
    TimedOut,
    TimerKind,
    WorkerLost,
    apply,
)

BOOM = ErrorInfo("ValueError", "boom")


def t(name: str, *parents: str, **options: Any) -> TaskSpec:
    return TaskSpec(name, parents=parents, **options)


def retrying(retries: int, factor: float | None = None, cap: float | None = None) -> RetryPolicy:
    return RetryPolicy(retries=retries, backoff_factor=factor, backoff_max_seconds=cap)


def started(*tasks: TaskSpec) -> RunState:
    run = RunState("run-1", WorkflowSpec("wf", tasks))
    apply(run, StartRun())
    return run


def of(kind: type, commands: list[Command]) -> list[Any]:
    return [c for c in commands if isinstance(c, kind)]


def queued(commands: list[Command]) -> list[tuple[str, int, bool]]:
    return [(c.task, c.attempt, c.retry) for c in of(QueueTask, commands)]


def status(run: RunState, name: str) -> TaskStatus:
    return run.tasks[name].status


def attempt(run: RunState, name: str) -> int:
    return run.tasks[name].attempt


def assign(run: RunState, name: str, worker: str = "w1") -> list[Command]:
    return apply(run, TaskAssigned(name, attempt(run, name), worker))


def complete(run: RunState, name: str, output: Any = None) -> list[Command]:
    """Assign (if still queued) and complete the task's current attempt."""
    out = assign(run, name) if status(run, name) is TaskStatus.QUEUED else []
    return out + apply(run, TaskCompleted(name, attempt(run, name), output))


def fail(run: RunState, name: str, *, retryable: bool = True) -> list[Command]:
    out = assign(run, name) if status(run, name) is TaskStatus.QUEUED else []
    return out + apply(run, TaskFailed(name, attempt(run, name), BOOM, retryable))


def finished(commands: list[Command]) -> list[RunStatus]:
    return [c.status for c in of(RunFinished, commands)]


def assert_ignored(run: RunState, event: Event) -> None:
    """The event is stale or a duplicate: no commands, no change."""
    before = copy.deepcopy(run)
    assert apply(run, event) == []
    assert run == before


# -- starting --------------------------------------------------------------------------------


def test_start_run_queues_only_root_tasks() -> None:
    run = RunState("run-1", WorkflowSpec("wf", (t("a", schedule_timeout=7), t("b", "a"), t("c"))))
    out = apply(run, StartRun())
    assert queued(out) == [("a", 1, False), ("c", 1, False)]
    assert StartTimer(TimerKind.SCHEDULE_TIMEOUT, "a", 1, 7.0) in out
    assert (status(run, "b"), attempt(run, "b")) == (TaskStatus.PENDING, 0)
    assert run.status is RunStatus.QUEUED
    assert finished(out) == []


def test_second_start_run_does_nothing() -> None:
    run = started(t("a"), t("b", "a"))
    assert_ignored(run, StartRun())
    complete(run, "a")
    assert_ignored(run, StartRun())


def test_start_run_does_not_queue_handlers() -> None:
    run = RunState("run-1", WorkflowSpec("wf", (t("a"), TaskSpec("h", kind=TaskKind.ON_FAILURE))))
    assert queued(apply(run, StartRun())) == [("a", 1, False)]
    assert status(run, "h") is TaskStatus.PENDING


def test_run_goes_running_on_first_assignment() -> None:
    run = started(t("a"), t("b"))
    assert run.status is RunStatus.QUEUED
    out = apply(run, TaskAssigned("a", 1, "w1"))
    assert run.status is RunStatus.RUNNING
    assert status(run, "a") is TaskStatus.RUNNING and run.tasks["a"].worker == "w1"
    assert StartTimer(TimerKind.EXECUTION_TIMEOUT, "a", 1, 60.0) in out
    assign(run, "b", "w2")
    assert run.status is RunStatus.RUNNING


# -- the DAG ---------------------------------------------------------------------------------


def test_child_is_queued_only_when_all_parents_completed() -> None:
    run = started(t("a"), t("b"), t("c", "a", "b"))
    out = complete(run, "a", {"x": 1})
    assert queued(out) == []
    assert status(run, "c") is TaskStatus.PENDING
    out = complete(run, "b")
    assert queued(out) == [("c", 1, False)]
    assert run.tasks["a"].output == {"x": 1}


def test_chain_completes_the_run() -> None:
    run = started(t("a"), t("b", "a"), t("c", "b"))
    complete(run, "a", 1)
    complete(run, "b", 2)
    out = complete(run, "c", 3)
    assert finished(out) == [RunStatus.COMPLETED]
    assert run.status is RunStatus.COMPLETED
    assert [run.tasks[n].output for n in "abc"] == [1, 2, 3]


def test_failed_root_cancels_all_descendants_of_a_diamond() -> None:
    run = started(t("a"), t("b", "a"), t("c", "a"), t("d", "b", "c"), t("e"))
    out = fail(run, "a")
    assert status(run, "a") is TaskStatus.FAILED
    assert [status(run, n) for n in "bcd"] == [TaskStatus.CANCELLED] * 3
    assert queued(out) == []
    assert of(CancelAttempt, out) == []  # the descendants were never queued
    assert status(run, "e") is TaskStatus.QUEUED  # an independent branch carries on
    assert finished(out) == []
    assert finished(complete(run, "e")) == [RunStatus.FAILED]


def test_failed_arm_of_a_diamond_cancels_the_join_but_not_the_other_arm() -> None:
    run = started(t("a"), t("b", "a"), t("c", "a"), t("d", "b", "c"))
    complete(run, "a")
    fail(run, "b")
    assert status(run, "d") is TaskStatus.CANCELLED
    assert status(run, "c") is TaskStatus.QUEUED
    out = complete(run, "c")
    assert queued(out) == []
    assert status(run, "d") is TaskStatus.CANCELLED
    assert finished(out) == [RunStatus.FAILED]


# -- retries ---------------------------------------------------------------------------------


def test_retries_wait_for_the_backoff_then_requeue() -> None:
    run = started(t("a", retry=retrying(3, factor=2, cap=5)))
    for n, delay in enumerate([2.0, 4.0, 5.0], start=1):
        out = fail(run, "a")
        assert of(StartTimer, out)[-1] == StartTimer(TimerKind.RETRY, "a", n + 1, delay)
        assert queued(out) == []
        assert (status(run, "a"), attempt(run, "a"), run.tasks["a"].retry_count) == (
            TaskStatus.QUEUED,
            n + 1,
            n,
        )
        assert queued(apply(run, RetryDue("a", n + 1))) == [("a", n + 1, True)]
    out = fail(run, "a")
    assert status(run, "a") is TaskStatus.FAILED
    assert run.tasks["a"].error == BOOM
    assert finished(out) == [RunStatus.FAILED]


@pytest.mark.parametrize(
    ("factor", "cap", "delays"),
    [(1.5, None, [1.5, 2.25, 3.375]), (10, 60, [10, 60, 60]), (0.5, 100, [0.5, 0.25, 0.125])],
)
def test_retry_delay_is_min_of_cap_and_factor_to_the_n(
    factor: float, cap: float | None, delays: list[float]
) -> None:
    run = started(t("a", retry=retrying(3, factor, cap)))
    seen = []
    for _ in delays:
        seen.append(of(StartTimer, fail(run, "a"))[-1].delay)
        apply(run, RetryDue("a", attempt(run, "a")))
    assert seen == pytest.approx(delays)


def test_retry_without_factor_is_immediate() -> None:
    run = started(t("a", retry=retrying(1)))
    out = fail(run, "a")
    assert queued(out) == [("a", 2, True)]
    assert [s for s in of(StartTimer, out) if s.kind is TimerKind.RETRY] == []
    assert run.tasks["a"].retry_count == 1
    out = complete(run, "a", "ok")
    assert finished(out) == [RunStatus.COMPLETED]


def test_huge_backoff_without_cap_does_not_crash() -> None:
    run = started(t("a", retry=retrying(400, factor=10)))
    for _ in range(400):
        fail(run, "a")
        apply(run, RetryDue("a", attempt(run, "a")))
    assert run.tasks["a"].retry_count == 400
    fail(run, "a")
    assert run.status is RunStatus.FAILED


def test_non_retryable_failure_fails_at_once() -> None:
    run = started(t("a", retry=retrying(5)), t("b", "a"))
    out = fail(run, "a", retryable=False)
    assert status(run, "a") is TaskStatus.FAILED
    assert run.tasks["a"].retry_count == 0
    assert status(run, "b") is TaskStatus.CANCELLED
    assert finished(out) == [RunStatus.FAILED]


# -- timeouts --------------------------------------------------------------------------------


def test_execution_timeout_cancels_the_attempt_and_retries() -> None:
    run = started(t("a", retry=retrying(1), execution_timeout=30))
    assign(run, "a", "w7")
    out = apply(run, TimedOut("a", 1))
    assert of(CancelAttempt, out) == [CancelAttempt("a", 1, "w7", "execution timeout")]
    assert queued(out) == [("a", 2, True)]
    assert run.tasks["a"].retry_count == 1
    assert run.tasks["a"].error is not None and run.tasks["a"].error.type == "TimeoutError"


def test_execution_timeout_without_retries_fails() -> None:
    run = started(t("a"))
    assign(run, "a")
    out = apply(run, TimedOut("a", 1))
    assert status(run, "a") is TaskStatus.FAILED
    assert run.tasks["a"].error is not None and run.tasks["a"].error.type == "TimeoutError"
    assert finished(out) == [RunStatus.FAILED]


def test_execution_timeout_of_a_queued_task_is_ignored() -> None:
    assert_ignored(started(t("a")), TimedOut("a", 1))


def test_schedule_timeout_cancels_a_queued_task_and_its_descendants() -> None:
    run = started(t("a"), t("b", "a"), t("c", "b"))
    out = apply(run, ScheduleTimedOut("a", 1))
    assert of(CancelAttempt, out) == [CancelAttempt("a", 1, None, "schedule timeout")]
    assert [status(run, n) for n in "abc"] == [TaskStatus.CANCELLED] * 3
    assert finished(out) == [RunStatus.CANCELLED]


def test_schedule_timeout_of_a_running_task_is_ignored() -> None:
    run = started(t("a"))
    assign(run, "a")
    assert_ignored(run, ScheduleTimedOut("a", 1))


# -- losing workers --------------------------------------------------------------------------


def test_worker_lost_requeues_without_consuming_a_retry() -> None:
    run = started(t("a"))
    assign(run, "a", "w1")
    out = apply(run, WorkerLost("a", 1))
    assert of(CancelAttempt, out) == [CancelAttempt("a", 1, "w1", "worker lost")]
    assert queued(out) == [("a", 2, True)]
    assert (run.tasks["a"].retry_count, run.tasks["a"].internal_retries) == (0, 1)
    assert finished(complete(run, "a")) == [RunStatus.COMPLETED]


def test_worker_lost_too_often_fails_with_worker_lost_error() -> None:
    run = started(t("a", retry=retrying(2)))
    for n in range(1, MAX_INTERNAL_RETRIES + 1):
        assign(run, "a", f"w{n}")
        assert queued(apply(run, WorkerLost("a", n))) == [("a", n + 1, True)]
    assign(run, "a", "last")
    out = apply(run, WorkerLost("a", MAX_INTERNAL_RETRIES + 1))
    assert status(run, "a") is TaskStatus.FAILED
    assert run.tasks["a"].error is not None and run.tasks["a"].error.type == "WorkerLostError"
    assert run.tasks["a"].retry_count == 0
    assert finished(out) == [RunStatus.FAILED]


def test_worker_lost_for_an_unassigned_task_is_ignored() -> None:
    assert_ignored(started(t("a")), WorkerLost("a", 1))


# -- stale and duplicate events --------------------------------------------------------------


def _on_second_attempt() -> RunState:
    run = started(t("a", retry=retrying(2)), t("b", "a"))
    fail(run, "a")
    assign(run, "a", "w2")
    assert attempt(run, "a") == 2
    return run


@pytest.mark.parametrize(
    "event",
    [
        TaskAssigned("a", 1, "w9"),
        TaskCompleted("a", 1, "late"),
        TaskFailed("a", 1, BOOM),
        TaskFailed("a", 1, BOOM, retryable=False),
        TimedOut("a", 1),
        ScheduleTimedOut("a", 1),
        WorkerLost("a", 1),
        RetryDue("a", 1),
        AttemptCancelled("a", 1),
        TaskCompleted("a", 3, "future"),
        TaskFailed("a", 0, BOOM),
        TaskCompleted("nope", 2, "unknown task"),
        TaskAssigned("a", 2, "w3"),  # a duplicate assignment
        AttemptCancelled("a", 2),  # informational only
    ],
    ids=repr,
)
def test_stale_events_change_nothing(event: Event) -> None:
    assert_ignored(_on_second_attempt(), event)


def test_duplicate_completion_keeps_the_first_output() -> None:
    run = started(t("a"), t("b"))
    complete(run, "a", "first")
    assert_ignored(run, TaskCompleted("a", 1, "second"))
    assert_ignored(run, TaskFailed("a", 1, BOOM))
    assert run.tasks["a"].output == "first"


def test_events_for_a_pending_task_are_ignored() -> None:
    run = started(t("a"), t("b", "a"))
    for event in (TaskAssigned("b", 0, "w"), TaskCompleted("b", 0, 1), WorkerLost("b", 0), RetryDue("b", 0)):
        assert_ignored(run, event)


def test_duplicate_retry_due_does_not_queue_twice() -> None:
    # Timers fire at least once; a second RetryDue for the same attempt is a duplicate.
    run = started(t("a", retry=retrying(2, factor=2)))
    fail(run, "a")
    assert queued(apply(run, RetryDue("a", 2))) == [("a", 2, True)]
    assert_ignored(run, RetryDue("a", 2))


def test_retry_due_for_a_task_that_was_queued_without_a_timer_is_ignored() -> None:
    run = started(t("a", retry=retrying(2)))
    fail(run, "a")  # immediate retry: attempt 2 is queued, no retry timer exists
    assert_ignored(run, RetryDue("a", 2))


def test_retry_due_queues_a_rebuilt_task_that_awaits_its_timer() -> None:
    # The coordinator rebuilds runs from the store with default TaskStates and re-arms
    # the retry timers of QUEUED tasks whose backoff has not elapsed: that RetryDue
    # must queue the attempt (once).
    spec = WorkflowSpec("wf", (t("a", retry=retrying(2, factor=2)),))
    run = RunState("run-1", spec, status=RunStatus.RUNNING)
    run.tasks["a"].status, run.tasks["a"].attempt, run.tasks["a"].retry_count = TaskStatus.QUEUED, 2, 1
    assert queued(apply(run, RetryDue("a", 2))) == [("a", 2, True)]
    assert_ignored(run, RetryDue("a", 2))


def test_events_after_the_run_finished_are_ignored() -> None:
    run = started(t("a", retry=retrying(3)))
    complete(run, "a", "done")
    assert run.status is RunStatus.COMPLETED
    for event in (
        StartRun(),
        CancelRun(),
        TaskCompleted("a", 1, "again"),
        TaskFailed("a", 1, BOOM),
        TaskAssigned("a", 1, "w"),
        WorkerLost("a", 1),
        RetryDue("a", 2),
    ):
        assert_ignored(run, event)


# -- handlers --------------------------------------------------------------------------------


def with_handlers(*tasks: TaskSpec, on_failure: bool = True, on_success: bool = True) -> RunState:
    handlers = []
    if on_failure:
        handlers.append(TaskSpec("on_fail", kind=TaskKind.ON_FAILURE))
    if on_success:
        handlers.append(TaskSpec("on_ok", kind=TaskKind.ON_SUCCESS))
    return started(*tasks, *handlers)


def test_on_failure_runs_after_a_failure_and_the_run_still_fails() -> None:
    run = with_handlers(t("a"), t("b", "a"))
    out = fail(run, "a")
    assert queued(out) == [("on_fail", 1, False)]
    assert status(run, "on_ok") is TaskStatus.CANCELLED
    assert finished(out) == []
    out = complete(run, "on_fail", "alerted")
    assert finished(out) == [RunStatus.FAILED]
    assert run.status is RunStatus.FAILED


def test_on_failure_waits_for_the_other_branches() -> None:
    run = with_handlers(t("a"), t("b"), on_success=False)
    assert queued(fail(run, "a")) == []
    assert queued(complete(run, "b")) == [("on_fail", 1, False)]


def test_failing_on_failure_handler_still_fails_the_run() -> None:
    run = with_handlers(t("a"))
    fail(run, "a")
    assert finished(fail(run, "on_fail")) == [RunStatus.FAILED]


def test_on_success_runs_only_when_all_completed() -> None:
    run = with_handlers(t("a"), t("b", "a"), t("c"))
    assert queued(complete(run, "a")) == [("b", 1, False)]
    assert queued(complete(run, "c")) == []
    out = complete(run, "b")
    assert queued(out) == [("on_ok", 1, False)]
    assert status(run, "on_fail") is TaskStatus.CANCELLED
    assert finished(out) == []
    assert finished(complete(run, "on_ok")) == [RunStatus.COMPLETED]


def test_on_success_does_not_run_when_a_task_was_cancelled() -> None:
    run = with_handlers(t("a"), t("b"))
    apply(run, ScheduleTimedOut("a", 1))
    out = complete(run, "b")
    assert queued(out) == []
    assert finished(out) == [RunStatus.CANCELLED]
    assert status(run, "on_ok") is TaskStatus.CANCELLED


def test_failing_on_success_handler_fails_the_run() -> None:
    run = with_handlers(t("a"), on_failure=False)
    complete(run, "a")
    assert finished(fail(run, "on_ok")) == [RunStatus.FAILED]


# -- cancelling a run ------------------------------------------------------------------------


def test_cancel_run_cancels_queued_and_running_tasks() -> None:
    run = with_handlers(t("a"), t("b"), t("c", "a"))
    assign(run, "a", "w1")
    out = apply(run, CancelRun("user asked"))
    assert sorted((c.task, c.attempt, c.worker) for c in of(CancelAttempt, out)) == [
        ("a", 1, "w1"),
        ("b", 1, None),
    ]
    assert all(task.status is TaskStatus.CANCELLED for task in run.tasks.values())
    assert finished(out) == [RunStatus.CANCELLED]
    assert run.status is RunStatus.CANCELLED
    assert_ignored(run, TaskCompleted("a", 1, "late"))
    assert_ignored(run, CancelRun())


def test_cancel_before_start() -> None:
    run = RunState("run-1", WorkflowSpec("wf", (t("a"), t("b", "a"))))
    out = apply(run, CancelRun())
    assert of(CancelAttempt, out) == []
    assert finished(out) == [RunStatus.CANCELLED]
    assert_ignored(run, StartRun())


def test_cancel_while_on_failure_runs_keeps_the_run_failed() -> None:
    run = with_handlers(t("a"))
    fail(run, "a")
    assign(run, "on_fail", "w5")
    out = apply(run, CancelRun())
    assert CancelAttempt("on_fail", 1, "w5", "cancelled by request") in out
    assert finished(out) == [RunStatus.FAILED]
