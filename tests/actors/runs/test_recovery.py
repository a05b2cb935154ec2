"""Rebuilding a run after a restart: the pure steps of runs/_recovery.py (no Trio, no I/O)."""

from __future__ import annotations

from ratchet._contract.spec import TaskSpec, WorkflowSpec
from ratchet._contract.status import TaskEventKind, TaskStatus
from ratchet.actors.runs import _machine as m
from ratchet.actors.runs._changes import error_json
from ratchet.actors.runs._recovery import cancel_reasons, pending_work, rearm_gates, restore_task
from ratchet.actors.store import Task, TaskEvent

SLEEP = ({"kind": "sleep", "seconds": 5},)


def stored_task(status: TaskStatus, attempt: int, error: str | None = None) -> Task:
    return Task(
        tenant_id="default",
        id="id-a",
        run_id="run-1",
        name="a",
        queue="default/wf:a",
        status=status,
        attempt=attempt,
        retry_count=1,
        internal_retry_count=2,
        max_retries=3,
        priority=1,
        durable=0,
        parents=[],
        input=None,
        output=None,
        error=error,
        worker_id=None,
        concurrency_key=None,
        created_at=0.0,
        queued_at=None,
        started_at=None,
        finished_at=None,
        timeout_at=None,
    )


def test_a_pending_task_comes_back_one_attempt_before_the_one_the_store_keeps_for_it():
    task = m.TaskState("a")
    restore_task(task, stored_task(TaskStatus.PENDING, 3))
    assert (task.status, task.attempt) == (TaskStatus.PENDING, 2)
    restore_task(task, stored_task(TaskStatus.QUEUED, 3, error=error_json(m.ErrorInfo("E", "x"))))
    assert (task.status, task.attempt, task.retry_count, task.internal_retries) == (
        TaskStatus.QUEUED,
        3,
        1,
        2,
    )
    assert task.error == m.ErrorInfo("E", "x")


def test_a_queued_task_is_queued_again_or_waits_out_the_rest_of_its_backoff():
    state = m.RunState(
        "run-1", WorkflowSpec("wf", (TaskSpec("a"), TaskSpec("b"), TaskSpec("c", parents=("a",))))
    )
    for name in ("a", "b"):
        state.tasks[name].status, state.tasks[name].attempt = TaskStatus.QUEUED, 2
    commands = pending_work(state, {"a": 130.0, "b": 90.0}, now=100.0)
    assert commands == [
        m.StartTimer(m.TimerKind.RETRY, "a", 2, 30.0),
        m.QueueTask("b", 2, False),
        m.StartTimer(m.TimerKind.SCHEDULE_TIMEOUT, "b", 2, state.task_spec("b").schedule_timeout),
    ]
    assert (state.tasks["a"].enqueued, state.tasks["b"].enqueued) == (False, True)


def test_the_latest_cancel_entry_of_a_task_gives_its_reason():
    def event(seq: int, task_id: str, kind: TaskEventKind, message: str) -> TaskEvent:
        return TaskEvent(seq, "default", task_id, "run-1", 1, kind, None, message, float(seq))

    events = [
        event(1, "a", TaskEventKind.CANCELLED, "first"),
        event(2, "a", TaskEventKind.SCHEDULE_TIMED_OUT, "waited too long"),
        event(3, "b", TaskEventKind.CANCELLED, "not asked for"),
        event(4, "c", TaskEventKind.FAILED, "not a cancel"),
    ]
    assert cancel_reasons(events, {"a", "c"}) == {"a": "waited too long"}


def test_a_ready_task_still_settling_its_conditions_is_gated_again():
    spec = WorkflowSpec("wf", (TaskSpec("a"), TaskSpec("b", parents=("a",), wait_for=(SLEEP,))))
    state = m.RunState("run-1", spec)
    state.tasks["a"].status = TaskStatus.COMPLETED
    rearm_gates(state)
    assert state.tasks["b"].gated
