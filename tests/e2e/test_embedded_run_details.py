"""What a run's details and errors tell the user, end to end in embedded mode.

When each task started, which worker (by the name it was given) ran it, why a run or task
was cancelled (kept across engine restarts), which run a failure came from, exceptions
printed under their public module.
"""

from __future__ import annotations

import threading

import pytest
from e2e_helpers import (
    block_until_cancelled,
    start,
    tasks_by_name,
    wait_set,
)

from ratchet import (
    Context,
    RunCancelledError,
)

# -- when a task started ------------------------------------------------------------------------


def test_a_finished_task_records_when_its_attempt_started(new_client):
    r = new_client()

    @r.task(input_validator=dict, retries=1)
    def flaky(inp, ctx: Context):
        if ctx.attempt_number == 1:
            raise ValueError("first attempt fails")
        return "ok"

    start(r)
    ref = flaky.run_no_wait({})
    assert ref.result() == "ok"

    details = r.runs.get(ref.run_id)
    (task,) = details.tasks
    assigned = [e.at for e in task.events if e.kind == "ASSIGNED"]
    assert len(assigned) == 2
    # the task's times are its current (last) attempt's: it started when it was assigned
    assert task.started_at == assigned[-1]
    assert task.finished_at is not None
    assert details.created_at <= task.started_at <= task.finished_at
    # the run started with its first assignment
    assert details.started_at == assigned[0]


def test_a_task_that_never_ran_has_no_start_time(new_client):
    r = new_client()
    wf = r.workflow("never-runs", input_validator=dict)
    gate = threading.Event()

    @wf.task()
    def blocker(inp, ctx: Context):
        gate.set()
        block_until_cancelled(ctx)

    @wf.task(parents=[blocker])
    def after(inp, ctx: Context):
        return "never"

    start(r)
    ref = wf.run_no_wait({})
    wait_set(gate, "the blocker to start")
    r.runs.cancel(ref.run_id)
    with pytest.raises(RunCancelledError):
        ref.result()
    tasks = tasks_by_name(r.runs.get(ref.run_id))
    assert tasks["blocker"].started_at is not None
    assert tasks["after"].started_at is None
