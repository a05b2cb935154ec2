"""Runs that fail, end to end in embedded mode: the error group, cancelled descendants,
on-failure and on-success handlers, retries with backoff, non-retryable errors."""

from __future__ import annotations

import pytest
from e2e_helpers import event_kinds, start, tasks_by_name, terminal_events

from ratchet import Context, FailedTaskRunExceptionGroup, NonRetryableException, TaskRunError


def test_failed_run_raises_one_task_run_error_per_failed_task(new_client):
    r = new_client()
    wf = r.workflow("two-bad", input_validator=dict)

    @wf.task()
    def good(inp, ctx):
        return "fine"

    @wf.task()
    def bad_value(inp, ctx):
        raise ValueError("value is wrong")

    @wf.task()
    async def bad_lookup(inp, ctx):
        {}["missing"]

    start(r)
    ref = wf.run_no_wait({})
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        ref.result()

    group = info.value
    assert ref.run_id in str(group)
    errors = {e.task_name: e for e in group.exceptions}
    assert set(errors) == {"bad_value", "bad_lookup"}
    assert all(isinstance(e, TaskRunError) for e in errors.values())
    assert errors["bad_value"].exc_type == "ValueError"
    assert errors["bad_value"].message == "value is wrong"
    assert "Traceback (most recent call last)" in errors["bad_value"].traceback_text
    assert 'raise ValueError("value is wrong")' in errors["bad_value"].traceback_text
    assert errors["bad_lookup"].exc_type == "KeyError"
    assert "'missing'" in errors["bad_lookup"].message
    assert "bad_lookup" in errors["bad_lookup"].traceback_text
    tasks = tasks_by_name(r.runs.get(ref.run_id))
    assert errors["bad_value"].task_run_id == tasks["bad_value"].task_id
    assert tasks["good"].status == "COMPLETED" and tasks["good"].output == "fine"
    assert r.runs.get(ref.run_id).status == "FAILED"


def test_descendants_of_a_failed_task_are_cancelled_and_never_run(new_client):
    r = new_client()
    wf = r.workflow("cascade", input_validator=dict)
    ran: list[str] = []

    @wf.task()
    def root(inp, ctx):
        return 1

    @wf.task(parents=[root])
    def explode(inp, ctx):
        raise RuntimeError("kaboom")

    @wf.task(parents=[explode])
    def child(inp, ctx):
        ran.append("child")

    @wf.task(parents=[child, root])
    def grandchild(inp, ctx):
        ran.append("grandchild")

    @wf.task(parents=[root])
    def sibling(inp, ctx):
        return "unaffected"

    start(r)
    ref = wf.run_no_wait({})
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        ref.result()

    assert [e.task_name for e in info.value.exceptions] == ["explode"]
    details = r.runs.get(ref.run_id)
    tasks = tasks_by_name(details)
    assert details.status == "FAILED"
    assert {n: t.status for n, t in tasks.items()} == {
        "root": "COMPLETED",
        "explode": "FAILED",
        "child": "CANCELLED",
        "grandchild": "CANCELLED",
        "sibling": "COMPLETED",
    }
    assert ran == []
    for name in ("child", "grandchild"):
        assert "ASSIGNED" not in event_kinds(tasks[name])
        assert terminal_events(tasks[name]) == ["CANCELLED"]
    assert "explode" in (tasks["child"].events[-1].message or "")


def test_on_failure_task_sees_the_errors_and_the_run_still_fails(new_client):
    r = new_client()
    wf = r.workflow("handled", input_validator=dict)
    handled: list[dict] = []

    @wf.task()
    def ok(inp, ctx):
        return "ok"

    @wf.task(parents=[ok])
    def fails(inp, ctx):
        raise ValueError("broken step")

    @wf.on_failure_task()
    def on_failure(inp, ctx: Context):
        handled.append({name: (e.exc_type, e.message) for name, e in ctx.task_run_errors.items()})
        return {"alerted": sorted(ctx.task_run_errors)}

    @wf.on_success_task()
    def on_success(inp, ctx):
        raise AssertionError("on_success must not run when a task failed")

    start(r)
    ref = wf.run_no_wait({})
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        ref.result()

    assert [e.task_name for e in info.value.exceptions] == ["fails"]
    assert handled == [{"fails": ("ValueError", "broken step")}]
    tasks = tasks_by_name(r.runs.get(ref.run_id))
    assert r.runs.get(ref.run_id).status == "FAILED"
    assert tasks["on_failure"].status == "COMPLETED"
    assert tasks["on_failure"].output == {"alerted": ["fails"]}
    assert tasks["on_success"].status == "CANCELLED"
    assert "ASSIGNED" not in event_kinds(tasks["on_success"])


def test_on_success_task_runs_once_every_task_completed(new_client):
    r = new_client()
    wf = r.workflow("celebrate", input_validator=dict)

    @wf.task()
    def a(inp, ctx):
        return 1

    @wf.task(parents=[a])
    def b(inp, ctx):
        return 2

    @wf.on_success_task()
    def on_success(inp, ctx):
        return "all done"

    @wf.on_failure_task()
    def on_failure(inp, ctx):
        raise AssertionError("on_failure must not run when every task completed")

    start(r)
    ref = wf.run_no_wait({})
    result = ref.result()

    assert result["a"] == 1 and result["b"] == 2
    assert result["on_success"] == "all done"
    tasks = tasks_by_name(r.runs.get(ref.run_id))
    success_started = next(e.at for e in tasks["on_success"].events if e.kind == "ASSIGNED")
    assert success_started >= next(e.at for e in tasks["b"].events if e.kind == "COMPLETED")
    assert tasks["on_failure"].status == "CANCELLED"
    assert r.runs.get(ref.run_id).status == "COMPLETED"


def test_retries_wait_the_capped_exponential_backoff(new_client):
    # delay of the n-th retry = min(backoff_max_seconds, backoff_factor ** n):
    # factor 0.5, cap 0.4 -> retry 1 waits min(0.4, 0.5) = 0.4 s, retry 2 waits 0.25 s
    r = new_client()
    attempts: list[tuple[int, int]] = []

    @r.task(input_validator=dict, retries=2, backoff_factor=0.5, backoff_max_seconds=0.4)
    def flaky(inp, ctx: Context):
        attempts.append((ctx.attempt_number, ctx.retry_count))
        if ctx.retry_count < 2:
            raise ConnectionError(f"attempt {ctx.attempt_number} lost the connection")
        return "third time lucky"

    start(r)
    ref = flaky.run_no_wait({})
    assert ref.result() == "third time lucky"

    assert attempts == [(1, 0), (2, 1), (3, 2)]
    (task,) = r.runs.get(ref.run_id).tasks
    assert (task.status, task.attempt, task.retry_count) == ("COMPLETED", 3, 2)
    retrying = [e for e in task.events if e.kind == "RETRYING"]
    assigned = [e for e in task.events if e.kind == "ASSIGNED"]
    assert [e.attempt for e in retrying] == [2, 3]
    assert [e.attempt for e in assigned] == [1, 2, 3]
    # the timeline says why each attempt failed and when the next one was due
    assert [e.message for e in retrying] == [
        "ConnectionError: attempt 1 lost the connection; retry 1 in 0.4s",
        "ConnectionError: attempt 2 lost the connection; retry 2 in 0.25s",
    ]
    # each retry started no earlier than its backoff after the failure that caused it
    for retry, delay in zip(retrying, (0.4, 0.25), strict=True):
        started = next(e.at for e in assigned if e.attempt == retry.attempt)
        assert started - retry.at >= delay - 0.005


def test_retries_without_backoff_factor_are_immediate(new_client):
    r = new_client()

    @r.task(input_validator=dict, retries=3)
    def flaky(inp, ctx: Context):
        if ctx.attempt_number < 3:
            raise OSError("try again")
        return ctx.attempt_number

    start(r)
    ref = flaky.run_no_wait({})
    assert ref.result() == 3
    (task,) = r.runs.get(ref.run_id).tasks
    assert task.retry_count == 2
    assert terminal_events(task) == ["COMPLETED"]


def test_last_retry_failing_fails_the_run_with_its_error(new_client):
    r = new_client()
    attempts: list[int] = []

    @r.task(input_validator=dict, retries=2)
    def hopeless(inp, ctx: Context):
        attempts.append(ctx.attempt_number)
        raise ValueError(f"attempt {ctx.attempt_number}")

    start(r)
    ref = hopeless.run_no_wait({})
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        ref.result()

    assert attempts == [1, 2, 3]
    (error,) = info.value.exceptions
    assert error.message == "attempt 3"
    (task,) = r.runs.get(ref.run_id).tasks
    assert (task.status, task.attempt, task.retry_count) == ("FAILED", 3, 2)
    assert terminal_events(task) == ["FAILED"]


def test_non_retryable_exception_skips_the_remaining_retries(new_client):
    r = new_client()
    attempts: list[int] = []

    @r.task(input_validator=dict, retries=5, backoff_factor=0.01)
    def refuse(inp, ctx: Context):
        attempts.append(ctx.attempt_number)
        raise NonRetryableException("the card was declined")

    start(r)
    ref = refuse.run_no_wait({})
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        ref.result()

    assert attempts == [1]
    (error,) = info.value.exceptions
    assert error.exc_type == "ratchet.NonRetryableException"
    assert error.message == "the card was declined"
    (task,) = r.runs.get(ref.run_id).tasks
    assert (task.status, task.attempt, task.retry_count) == ("FAILED", 1, 0)
    assert "RETRYING" not in event_kinds(task)


def test_failed_task_in_a_dag_retries_before_its_children_run(new_client):
    r = new_client()
    wf = r.workflow("retry-dag", input_validator=dict)

    @wf.task(retries=1)
    def wobbly(inp, ctx: Context):
        if ctx.retry_count == 0:
            raise TimeoutError("first call timed out")
        return {"attempt": ctx.attempt_number}

    @wf.task(parents=[wobbly])
    def after(inp, ctx: Context):
        return ctx.task_output(wobbly)["attempt"]

    start(r)
    assert wf.run({}) == {"wobbly": {"attempt": 2}, "after": 2}
