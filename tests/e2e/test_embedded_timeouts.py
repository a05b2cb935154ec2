"""Execution and schedule timeouts, end to end in embedded mode."""

from __future__ import annotations

import threading
import time

import pytest
from e2e_helpers import (
    GATE_TIMEOUT,
    block_until_cancelled,
    event_kinds,
    sleep_until_cancelled,
    start,
    terminal_events,
    wait_set,
)

from ratchet import Context, FailedTaskRunExceptionGroup
from ratchet._clients.runs import RunCancelledError


def test_execution_timeout_cancels_an_async_task_and_the_retry_runs(new_client):
    r = new_client()
    cancelled = threading.Event()

    @r.task(input_validator=dict, execution_timeout="0.25s", retries=1)
    async def slow_then_fast(inp, ctx: Context):
        if ctx.attempt_number == 1:
            await sleep_until_cancelled(cancelled)
        return f"attempt {ctx.attempt_number}"

    start(r)
    ref = slow_then_fast.run_no_wait({})
    assert ref.result() == "attempt 2"

    assert cancelled.is_set()  # the first attempt's Trio cancel scope was cancelled
    (task,) = r.runs.get(ref.run_id).tasks
    assert (task.status, task.attempt, task.retry_count) == ("COMPLETED", 2, 1)
    (retrying,) = [e for e in task.events if e.kind == "RETRYING"]
    assert retrying.message is not None
    assert "TimeoutError: task exceeded its execution timeout of 0.25s" in retrying.message
    first_start = next(e.at for e in task.events if e.kind == "ASSIGNED" and e.attempt == 1)
    assert retrying.at - first_start >= 0.25 - 0.005


def test_execution_timeout_turns_is_cancelled_on_for_a_sync_task(new_client):
    r = new_client()
    saw_flag = threading.Event()

    @r.task(input_validator=dict, execution_timeout="0.2s")
    def polls_the_flag(inp, ctx: Context):
        if block_until_cancelled(ctx):
            saw_flag.set()
        return "stopped"

    start(r)
    ref = polls_the_flag.run_no_wait({})
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        ref.result()

    wait_set(saw_flag, "the sync task to see ctx.is_cancelled")
    (error,) = info.value.exceptions
    assert error.exc_type == "TimeoutError"
    assert "execution timeout of 0.2s" in error.message
    (task,) = r.runs.get(ref.run_id).tasks
    assert task.status == "FAILED"
    assert terminal_events(task) == ["TIMED_OUT"]


def test_engine_timeout_of_a_task_ignoring_cancellation_still_retries_after_backoff(new_client):
    # The first attempt ignores its cancellation, so the worker cannot report it: the
    # engine's own timer must fail the attempt and schedule the retry's backoff.
    r = new_client()
    release = threading.Event()

    @r.task(input_validator=dict, execution_timeout="0.2s", retries=1, backoff_factor=0.1)
    def stubborn(inp, ctx: Context):
        if ctx.attempt_number == 1:
            release.wait(GATE_TIMEOUT)  # deaf to ctx.is_cancelled
        return ctx.attempt_number

    start(r, slots=2)
    try:
        ref = stubborn.run_no_wait({})
        assert r.connection.call("wait_run", ref.run_id, 5.0)["status"] == "COMPLETED"
        assert ref.result() == 2
        (task,) = r.runs.get(ref.run_id).tasks
        assert (task.attempt, task.retry_count) == (2, 1)
        (retrying,) = [e for e in task.events if e.kind == "RETRYING"]
        assert retrying.message is not None and retrying.message.endswith("retry 1 in 0.1s")
        second_start = next(e.at for e in task.events if e.kind == "ASSIGNED" and e.attempt == 2)
        assert second_start - retrying.at >= 0.1 - 0.005
    finally:
        release.set()


def test_schedule_timeout_cancels_a_task_that_waited_too_long_for_a_slot(new_client):
    r = new_client()
    busy = threading.Event()
    ran: list[str] = []

    @r.task(input_validator=dict)
    def hog(inp, ctx: Context):
        busy.set()
        block_until_cancelled(ctx)

    @r.task(input_validator=dict, schedule_timeout="0.3s")
    def impatient(inp, ctx: Context):
        ran.append("impatient")

    start(r, slots=1)
    hog_ref = hog.run_no_wait({})
    wait_set(busy, "the hog to take the only slot")
    ref = impatient.run_no_wait({})
    with pytest.raises(RunCancelledError):
        ref.result()

    details = r.runs.get(ref.run_id)
    (task,) = details.tasks
    assert details.status == "CANCELLED"
    assert task.status == "CANCELLED"
    assert event_kinds(task) == ["QUEUED", "SCHEDULE_TIMED_OUT"]
    queued, timed_out = task.events
    assert timed_out.at - queued.at >= 0.3 - 0.005
    assert "0.3s" in (timed_out.message or "")
    assert ran == []

    r.runs.cancel(hog_ref.run_id)
    with pytest.raises(RunCancelledError):
        hog_ref.result()


def test_schedule_timeout_does_not_apply_once_the_task_is_running(new_client):
    r = new_client()

    @r.task(input_validator=dict, schedule_timeout="0.1s")
    def longer_than_schedule_timeout(inp, ctx: Context):
        time.sleep(0.3)  # the work itself: runs past the schedule timeout
        return "done"

    start(r)
    assert longer_than_schedule_timeout.run({}) == "done"


def test_a_timed_out_attempt_keeps_its_slot_until_it_has_stopped(new_client):
    r = new_client()
    inside = threading.Event()
    overlapped: list[bool] = []

    @r.task(input_validator=dict, execution_timeout="0.1s", retries=1)
    def overruns_once(inp, ctx: Context):
        if ctx.attempt_number == 1:
            inside.set()
            time.sleep(0.3)  # the work itself, deaf to ctx.is_cancelled
            inside.clear()
            return "too late"
        overlapped.append(inside.is_set())
        return "retried"

    start(r, slots=1)
    assert overruns_once.run({}) == "retried"
    assert overlapped == [False]  # the retry waited for the one slot to be given back


def test_a_timeout_error_raised_by_task_code_is_recorded_as_a_failure_not_a_timeout(new_client):
    r = new_client()

    @r.task(input_validator=dict)
    def calls_a_slow_api(inp, ctx):
        raise TimeoutError("upstream API timed out")

    start(r)
    ref = calls_a_slow_api.run_no_wait({})
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        ref.result()

    assert info.value.exceptions[0].exc_type == "TimeoutError"
    (task,) = r.runs.get(ref.run_id).tasks
    assert terminal_events(task) == ["FAILED"]


def test_refresh_timeout_extends_the_execution_timeout(new_client):
    r = new_client()

    @r.task(input_validator=dict, execution_timeout="0.2s")
    def needs_more_time(inp, ctx: Context):
        ctx.refresh_timeout("2s")
        time.sleep(0.4)  # the work itself: longer than the original timeout
        return "finished"

    start(r)
    assert needs_more_time.run({}) == "finished"
