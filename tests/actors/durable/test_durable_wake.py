"""A durable task's wake is never lost to an execution that does not carry on.

Found by the simulation: the engine gave a resolved wait to whoever still polled it and
resumed the task only when nobody did; the poller was a stale execution (a zombie's, or
a duplicate after an engine crash), and the evicted task was never resumed. Now every
resolved wait resumes the task; a resume that finds the attempt running is remembered
with the log position it was for, and applies if that attempt is evicted at that call
(or before it), not if it moved on and is evicted at a later call.
"""

from __future__ import annotations

from ratchet._contract.spec import TaskKind, TaskSpec, WorkflowSpec
from ratchet.actors.runs._machine import (
    QueueTask,
    Resume,
    RunState,
    StartRun,
    TaskAssigned,
    TaskEvicted,
    TaskStatus,
    apply,
)


def running_durable_task() -> RunState:
    run = RunState("run-1", WorkflowSpec("wf", (TaskSpec("d", kind=TaskKind.DURABLE),)))
    apply(run, StartRun())
    apply(run, TaskAssigned("d", 1, "worker-a"))
    assert run.tasks["d"].status is TaskStatus.RUNNING
    return run


def requeued(commands: list) -> list[tuple[str, int]]:
    return [(c.task, c.attempt) for c in commands if isinstance(c, QueueTask)]


def test_an_evicted_task_is_queued_when_its_wait_ends() -> None:
    run = running_durable_task()
    assert requeued(apply(run, TaskEvicted("d", 1, seq=2))) == []
    assert run.tasks["d"].status is TaskStatus.EVICTED
    assert requeued(apply(run, Resume("d", seq=2))) == [("d", 2)]


def test_a_wake_while_running_applies_to_an_eviction_at_that_call() -> None:
    # the wait ended just as the worker gave it up: the eviction comes after the wake
    run = running_durable_task()
    assert requeued(apply(run, Resume("d", seq=2))) == []
    assert requeued(apply(run, TaskEvicted("d", 1, seq=2))) == [("d", 2)]


def test_a_wake_for_an_earlier_call_does_not_apply_to_an_eviction_at_a_later_one() -> None:
    # the running execution got the result, went on, and waits at a later call now
    run = running_durable_task()
    apply(run, Resume("d", seq=2))
    assert requeued(apply(run, TaskEvicted("d", 1, seq=3))) == []
    assert run.tasks["d"].status is TaskStatus.EVICTED


def test_a_wake_without_a_position_applies_to_any_eviction() -> None:
    run = running_durable_task()
    apply(run, Resume("d"))
    assert requeued(apply(run, TaskEvicted("d", 1, seq=7))) == [("d", 2)]


def test_a_new_attempt_forgets_the_previous_attempts_wake() -> None:
    run = running_durable_task()
    apply(run, Resume("d", seq=5))
    apply(run, TaskEvicted("d", 1, seq=5))  # woken: queued as attempt 2
    apply(run, TaskAssigned("d", 2, "worker-b"))
    assert requeued(apply(run, TaskEvicted("d", 2, seq=5))) == []
    assert run.tasks["d"].status is TaskStatus.EVICTED
