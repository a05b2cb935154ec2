"""Cancelling runs, end to end in embedded mode: from the client and from inside a task."""

from __future__ import annotations

import threading
import time

import pytest
import trio
from e2e_helpers import (
    GATE_TIMEOUT,
    block_until_cancelled,
    event_kinds,
    eventually,
    sleep_until_cancelled,
    start,
    tasks_by_name,
    terminal_events,
    wait_set,
)

from ratchet import Context
from ratchet._clients.runs import RunCancelledError


def test_cancel_stops_running_tasks_and_cancels_queued_ones_and_descendants(new_client):
    r = new_client()
    wf = r.workflow("cancel-me", input_validator=dict)
    running = threading.Event()
    async_cancelled = threading.Event()
    sync_cancelled = threading.Event()
    started: list[str] = []

    @wf.task()
    async def trio_root(inp, ctx: Context):
        started.append("trio_root")
        running.set()
        await sleep_until_cancelled(async_cancelled)

    @wf.task()
    def sync_root(inp, ctx: Context):
        started.append("sync_root")
        running.set()
        if block_until_cancelled(ctx):
            sync_cancelled.set()

    @wf.task(parents=[trio_root, sync_root])
    def child(inp, ctx):
        started.append("child")

    @wf.task(parents=[child])
    def grandchild(inp, ctx):
        started.append("grandchild")

    # one slot: one root runs, the other waits in the queue
    start(r, slots=1)
    ref = wf.run_no_wait({})
    wait_set(running, "a root task to start")

    assert r.runs.cancel(ref.run_id) is True
    with pytest.raises(RunCancelledError):
        ref.result()

    (first,) = started
    if first == "trio_root":
        wait_set(async_cancelled, "the Trio task's cancel scope to be cancelled")
    else:
        wait_set(sync_cancelled, "the sync task to see ctx.is_cancelled")
    details = r.runs.get(ref.run_id)
    tasks = tasks_by_name(details)
    assert details.status == "CANCELLED"
    assert all(t.status == "CANCELLED" for t in tasks.values())
    assert all(terminal_events(t) == ["CANCELLED"] for t in tasks.values())
    queued = "sync_root" if first == "trio_root" else "trio_root"
    assert event_kinds(tasks[first]) == ["QUEUED", "ASSIGNED", "CANCELLED"]
    assert event_kinds(tasks[queued]) == ["QUEUED", "CANCELLED"]
    for name in ("child", "grandchild"):
        assert event_kinds(tasks[name]) == ["CREATED", "CANCELLED"]
    assert started == [first]  # nothing ran after the cancel
    assert r.runs.cancel(ref.run_id) is False  # already finished


def test_bulk_cancel_cancels_every_unfinished_run(new_client):
    r = new_client()
    running = threading.Semaphore(0)
    saw = threading.Semaphore(0)

    @r.task(input_validator=dict)
    def waits(inp, ctx: Context):
        running.release()
        if block_until_cancelled(ctx):
            saw.release()

    @r.task(input_validator=dict)
    def quick(inp, ctx):
        return "done"

    start(r, slots=2)
    done = quick.run_no_wait({})
    done.result()
    refs = waits.run_many_no_wait([waits.create_bulk_run_item({"i": i}) for i in range(4)])
    for _ in range(2):
        assert running.acquire(timeout=GATE_TIMEOUT)

    assert r.runs.bulk_cancel([done.run_id, *(ref.run_id for ref in refs)]) == 4
    for ref in refs:
        with pytest.raises(RunCancelledError):
            ref.result()
    for _ in range(2):
        assert saw.acquire(timeout=GATE_TIMEOUT)  # both running attempts saw the flag
    assert r.runs.get(done.run_id).status == "COMPLETED"
    cancelled = r.runs.list(workflow=waits, statuses=["CANCELLED"])
    assert {d.run_id for d in cancelled} == {ref.run_id for ref in refs}


def test_ctx_cancel_from_a_sync_task_cancels_its_own_run(new_client):
    r = new_client()
    wf = r.workflow("self-cancel", input_validator=dict)
    saw_flag = threading.Event()

    @wf.task()
    def decides(inp, ctx: Context):
        ctx.cancel()
        if block_until_cancelled(ctx):
            saw_flag.set()
        return "ignored"

    @wf.task(parents=[decides])
    def never(inp, ctx):
        raise AssertionError("a child of a cancelled task must not run")

    start(r)
    ref = wf.run_no_wait({})
    with pytest.raises(RunCancelledError):
        ref.result()

    wait_set(saw_flag, "the task to see its own cancellation")
    tasks = tasks_by_name(r.runs.get(ref.run_id))
    assert tasks["decides"].status == "CANCELLED"
    assert tasks["decides"].output is None
    assert tasks["never"].status == "CANCELLED"


def test_ctx_aio_cancel_from_a_trio_task_cancels_its_scope(new_client):
    r = new_client()
    cancelled = threading.Event()
    after_cancel: list[str] = []

    @r.task(input_validator=dict)
    async def decides(inp, ctx: Context):
        await ctx.aio_cancel()
        try:
            await trio.sleep(GATE_TIMEOUT)
        except trio.Cancelled:
            cancelled.set()
            raise
        after_cancel.append("kept running")

    start(r)
    ref = decides.run_no_wait({})
    with pytest.raises(RunCancelledError):
        ref.result()
    wait_set(cancelled, "the task's cancel scope to be cancelled")
    assert after_cancel == []
    assert r.runs.get(ref.run_id).status == "CANCELLED"


def test_cancelling_an_unknown_or_finished_run_changes_nothing(new_client):
    r = new_client()

    @r.task(input_validator=dict)
    def quick(inp, ctx):
        return 1

    start(r)
    ref = quick.run_no_wait({})
    assert ref.result() == 1
    assert r.runs.cancel(ref.run_id) is False
    assert r.runs.cancel("no-such-run") is False
    assert r.runs.get(ref.run_id).status == "COMPLETED"
    assert ref.result() == 1


def test_a_cancelled_task_keeps_its_worker_slot_until_it_has_stopped(new_client):
    # Python cannot interrupt a sync task: until it returns, it still occupies its slot,
    # so a one-slot worker must not start anything else meanwhile.
    r = new_client()
    inside = threading.Event()
    overlapped: list[bool] = []

    @r.task(input_validator=dict)
    def uninterruptible(inp, ctx):
        inside.set()
        time.sleep(0.3)  # the work itself, deaf to ctx.is_cancelled
        inside.clear()

    @r.task(input_validator=dict)
    def next_one(inp, ctx):
        overlapped.append(inside.is_set())
        return "ran"

    start(r, slots=1)
    ref = uninterruptible.run_no_wait({})
    wait_set(inside, "the first task to start")
    r.runs.cancel(ref.run_id)
    with pytest.raises(RunCancelledError):
        ref.result()

    assert next_one.run({}) == "ran"
    assert overlapped == [False]


def test_cancel_during_a_retry_backoff_ends_the_run_without_another_attempt(new_client):
    r = new_client()
    attempts: list[int] = []

    @r.task(input_validator=dict, retries=1, backoff_factor=30.0)
    def fails_then_waits(inp, ctx: Context):
        attempts.append(ctx.attempt_number)
        raise ConnectionError("down")

    start(r)
    ref = fails_then_waits.run_no_wait({})
    eventually(lambda: r.runs.get(ref.run_id).tasks[0].retry_count == 1, "the retry's backoff to start")

    assert r.runs.cancel(ref.run_id) is True
    with pytest.raises(RunCancelledError):
        ref.result()
    (task,) = r.runs.get(ref.run_id).tasks
    assert (task.status, task.attempt) == ("CANCELLED", 2)
    assert event_kinds(task) == ["QUEUED", "ASSIGNED", "RETRYING", "CANCELLED"]
    assert attempts == [1]
