"""``CancelTask``: a concurrency group cancels one task; its descendants follow, others run on."""

from __future__ import annotations

from ratchet._contract.spec import TaskSpec, WorkflowSpec
from ratchet.actors.runs._machine import (
    CancelAttempt,
    CancelTask,
    RunFinished,
    RunState,
    RunStatus,
    StartRun,
    TaskAssigned,
    TaskCompleted,
    TaskStatus,
    apply,
)


def started() -> RunState:
    spec = WorkflowSpec("wf", (TaskSpec("a"), TaskSpec("b", parents=("a",)), TaskSpec("c")))
    run = RunState("run-1", spec)
    apply(run, StartRun())
    return run


def test_cancel_task_cancels_a_running_task_and_its_descendants() -> None:
    run = started()
    apply(run, TaskAssigned("a", 1, "w1"))
    commands = apply(run, CancelTask("a", 1, "a newer run arrived"))
    assert CancelAttempt("a", 1, "w1", "a newer run arrived") in commands
    assert run.tasks["a"].status is TaskStatus.CANCELLED
    assert run.tasks["b"].status is TaskStatus.CANCELLED  # downstream of a cancelled task
    assert run.tasks["c"].status is TaskStatus.QUEUED  # another branch runs on
    commands = apply(run, TaskAssigned("c", 1, "w1")) + apply(run, TaskCompleted("c", 1, None))
    assert run.status is RunStatus.CANCELLED and RunFinished(RunStatus.CANCELLED) in commands


def test_cancel_task_of_an_old_attempt_or_a_finished_task_changes_nothing() -> None:
    run = started()
    assert apply(run, CancelTask("a", 2, "stale")) == []
    apply(run, TaskAssigned("a", 1, "w1"))
    apply(run, TaskCompleted("a", 1, {"ok": True}))
    assert apply(run, CancelTask("a", 1, "too late")) == []
    assert run.tasks["a"].status is TaskStatus.COMPLETED
