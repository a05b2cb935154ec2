"""What a run's details and errors tell the user, end to end in embedded mode.

When each task started, which worker (by the name it was given) ran it, why a run or task
was cancelled (kept across engine restarts), which run a failure came from, exceptions
printed under their public module.
"""

from __future__ import annotations

import pickle
import threading
import traceback
from typing import Any

import pytest
import trio
from e2e_helpers import (
    block_until_cancelled,
    eventually,
    start,
    tasks_by_name,
    wait_set,
)

import ratchet
from ratchet import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    DefinitionError,
    DurableContext,
    EngineUnreachableError,
    FailedTaskRunExceptionGroup,
    InputValidationError,
    NonDeterminismError,
    NonRetryableException,
    ParentCondition,
    RunCancelledError,
    TaskCancelledError,
    TaskRunError,
)
from ratchet._clients.runs import WorkflowRunRef

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


# -- which worker ran a task -----------------------------------------------------------------


def test_task_details_name_the_worker_that_ran_them_and_keep_its_id(new_client):
    r = new_client()

    @r.task(input_validator=dict)
    def named(inp, ctx: Context):
        return "done"

    start(r, worker="invoice-worker-1")
    ref = named.run_no_wait({})
    ref.result()

    (task,) = r.runs.get(ref.run_id).tasks
    (worker,) = r.connection.call("list_workers")
    assert worker["name"] == "invoice-worker-1"
    assert task.worker_id == worker["id"] != "invoice-worker-1"
    assert task.worker_name == "invoice-worker-1"
    (assigned,) = [e for e in task.events if e.kind == "ASSIGNED"]
    assert (assigned.worker_id, assigned.worker_name) == (worker["id"], "invoice-worker-1")
    # events no worker took part in name none
    assert all(e.worker_name is None for e in task.events if e.worker_id is None)


# -- why a run was cancelled -----------------------------------------------------------------


def _cancelled(ref: WorkflowRunRef) -> RunCancelledError:
    with pytest.raises(RunCancelledError) as info:
        ref.result()
    return info.value


def test_a_manual_cancel_says_it_was_requested(new_client):
    r = new_client()
    running = threading.Event()

    @r.task(input_validator=dict)
    def long_job(inp, ctx: Context):
        running.set()
        block_until_cancelled(ctx)

    start(r)
    ref = long_job.run_no_wait({})
    wait_set(running, "the job to start")
    r.runs.cancel(ref.run_id)

    exc = _cancelled(ref)
    assert exc.run_id == ref.run_id
    assert exc.reason == "cancelled by request"
    assert str(exc) == f"run {ref.run_id} was cancelled: cancelled by request"
    details = r.runs.get(ref.run_id)
    assert details.error == "cancelled by request"
    assert details.tasks[0].cancel_reason == "cancelled by request"


def test_a_schedule_timeout_names_the_task_and_its_timeout(new_client):
    r = new_client()
    busy = threading.Event()

    @r.task(input_validator=dict)
    def hog(inp, ctx: Context):
        busy.set()
        block_until_cancelled(ctx)

    @r.task(input_validator=dict, schedule_timeout="0.2s")
    def impatient(inp, ctx: Context):
        return "never"

    start(r, slots=1)
    hog_ref = hog.run_no_wait({})
    wait_set(busy, "the hog to take the only slot")
    ref = impatient.run_no_wait({})

    reason = "task 'impatient' waited in the queue longer than its schedule_timeout of 0.2s"
    assert _cancelled(ref).reason == reason
    (task,) = r.runs.get(ref.run_id).tasks
    assert task.cancel_reason == reason
    assert task.started_at is None
    r.runs.cancel(hog_ref.run_id)


def _guarded(r, *, hang: bool = False, started: threading.Event | None = None):
    """A run whose ``guarded`` task is cancelled by its cancel_if while ``hold`` still runs."""
    wf = r.workflow("guarded", input_validator=dict)

    @wf.task()
    async def hold(inp, ctx: Context):
        if hang:
            assert started is not None
            started.set()
            await trio.sleep_forever()  # until the client closes under it
        return "held"

    @wf.task()
    def check(inp, ctx: Context):
        return {"abort": True}

    @wf.task(parents=[check], cancel_if=[ParentCondition(check, "output.abort == true")])
    def guarded(inp, ctx: Context):
        return "never"

    return wf


GUARDED_REASON = "task 'guarded' met its cancel_if conditions"


def test_a_cancel_if_names_the_task_it_cancelled(new_client):
    r = new_client()
    wf = _guarded(r)
    start(r)
    ref = wf.run_no_wait({})

    assert _cancelled(ref).reason == GUARDED_REASON
    tasks = tasks_by_name(r.runs.get(ref.run_id))
    assert tasks["guarded"].cancel_reason == GUARDED_REASON
    assert tasks["hold"].cancel_reason is None and tasks["hold"].status == "COMPLETED"


def test_the_cancel_reason_survives_an_engine_restart(new_client, tmp_path):
    database = f"sqlite:///{tmp_path / 'ratchet.db'}"
    started = threading.Event()
    before = new_client()
    wf = _guarded(before, hang=True, started=started)
    start(before, database)
    ref = wf.run_no_wait({})
    wait_set(started, "the holding task to start")
    eventually(
        lambda: tasks_by_name(before.runs.get(ref.run_id))["guarded"].status == "CANCELLED",
        "the guarded task to be cancelled",
    )
    before.close()  # the run is still RUNNING: `hold` has not finished

    after = new_client()
    _guarded(after)
    start(after, database)
    exc = _cancelled(WorkflowRunRef(after, ref.run_id))
    assert exc.reason == GUARDED_REASON
    assert after.runs.get(ref.run_id).error == GUARDED_REASON


def _keyed(r, strategy: ConcurrencyLimitStrategy, running: threading.Event):
    wf = r.workflow(
        f"keyed-{strategy.value.lower()}",
        input_validator=dict,
        concurrency=ConcurrencyExpression("input.user", 1, strategy),
    )

    @wf.task()
    def work(inp, ctx: Context):
        running.set()
        block_until_cancelled(ctx)
        return "done"

    return wf


def test_cancel_in_progress_says_a_newer_run_took_the_place(new_client):
    r = new_client()
    running = threading.Event()
    wf = _keyed(r, ConcurrencyLimitStrategy.CANCEL_IN_PROGRESS, running)
    start(r)
    old = wf.run_no_wait({"user": "alice"})
    wait_set(running, "the first run")
    new = wf.run_no_wait({"user": "alice"})

    reason = (
        "concurrency group keyed-cancel_in_progress[input.user='alice'] (CANCEL_IN_PROGRESS, max_runs=1): "
        "a newer run arrived"
    )
    assert _cancelled(old).reason == reason
    r.runs.cancel(new.run_id)


def test_cancel_newest_says_the_key_was_full(new_client):
    r = new_client()
    running = threading.Event()
    wf = _keyed(r, ConcurrencyLimitStrategy.CANCEL_NEWEST, running)
    start(r)
    first = wf.run_no_wait({"user": "alice"})
    wait_set(running, "the first run")
    second = wf.run_no_wait({"user": "alice"})

    reason = (
        "concurrency group keyed-cancel_newest[input.user='alice'] is full (1 running) "
        "and its strategy is CANCEL_NEWEST"
    )
    assert _cancelled(second).reason == reason
    r.runs.cancel(first.run_id)


def test_a_task_cancelled_for_its_parent_says_which_parent_and_why(new_client):
    r = new_client()
    wf = r.workflow("cascade", input_validator=dict)

    @wf.task()
    def broken(inp, ctx: Context):
        raise NonRetryableException("no way")

    @wf.task(parents=[broken])
    def downstream(inp, ctx: Context):
        return "never"

    @wf.task(parents=[downstream])
    def further(inp, ctx: Context):
        return "never"

    start(r)
    ref = wf.run_no_wait({})
    with pytest.raises(FailedTaskRunExceptionGroup):
        ref.result()
    tasks = tasks_by_name(r.runs.get(ref.run_id))
    assert tasks["downstream"].cancel_reason == "parent 'broken' failed"
    assert tasks["further"].cancel_reason == "parent 'broken' failed"
    assert tasks["broken"].cancel_reason is None


def test_a_run_cancelled_through_a_cascade_gives_the_first_cause(new_client):
    r = new_client()
    wf = r.workflow("cascade-cancel", input_validator=dict)
    busy = threading.Event()

    @r.task(input_validator=dict)
    def hog(inp, ctx: Context):
        busy.set()
        block_until_cancelled(ctx)

    @wf.task(schedule_timeout="0.2s")
    def first(inp, ctx: Context):
        return "never"

    @wf.task(parents=[first])
    def second(inp, ctx: Context):
        return "never"

    start(r, slots=1)
    hog_ref = hog.run_no_wait({})
    wait_set(busy, "the hog to take the only slot")
    ref = wf.run_no_wait({})

    reason = "task 'first' waited in the queue longer than its schedule_timeout of 0.2s"
    assert _cancelled(ref).reason == reason
    assert tasks_by_name(r.runs.get(ref.run_id))["second"].cancel_reason == "parent 'first' cancelled"
    r.runs.cancel(hog_ref.run_id)


def test_a_durable_parent_sees_why_its_child_run_was_cancelled(new_client):
    r = new_client()

    @r.task(input_validator=dict)
    async def gives_up(inp, ctx: Context):
        await ctx.aio_cancel()
        await trio.sleep_forever()  # until the cancel reaches this attempt

    @r.durable_task(input_validator=dict)
    async def parent(inp, ctx: DurableContext):
        try:
            await gives_up.aio_run({})
        except RunCancelledError as exc:
            return {"reason": exc.reason}
        return {"reason": None}

    start(r)
    assert parent.run({}) == {"reason": "cancelled by request"}


def test_run_cancelled_error_pickles_with_its_reason():
    exc = RunCancelledError("run-1", "cancelled by request")
    copy = pickle.loads(pickle.dumps(exc))
    assert (type(copy), copy.run_id, copy.reason, str(copy)) == (
        RunCancelledError,
        "run-1",
        "cancelled by request",
        "run run-1 was cancelled: cancelled by request",
    )


# -- which run a failure came from ----------------------------------------------------------


def test_a_failed_run_error_carries_its_run_id_through_pickling_and_splitting(new_client):
    r = new_client()
    wf = r.workflow("fails", input_validator=dict)

    @wf.task()
    def bad(inp, ctx: Context):
        raise NonRetryableException("boom")

    @wf.task()
    def worse(inp, ctx: Context):
        raise NonRetryableException("bang")

    start(r)
    ref = wf.run_no_wait({})
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        ref.result()
    group = info.value
    assert group.run_id == ref.run_id
    assert sorted(e.task_name for e in group.exceptions) == ["bad", "worse"]

    copy = pickle.loads(pickle.dumps(group))
    assert (type(copy), copy.run_id, str(copy)) == (FailedTaskRunExceptionGroup, ref.run_id, str(group))
    assert [str(e) for e in copy.exceptions] == [str(e) for e in group.exceptions]
    part = group.subgroup(lambda e: isinstance(e, TaskRunError) and e.task_name == "bad")
    assert part is not None and part.run_id == ref.run_id and len(part.exceptions) == 1


# -- exceptions under their public module ----------------------------------------------------


def _public_exceptions() -> dict[str, type[BaseException]]:
    return {
        name: obj
        for name in ratchet.__all__
        if isinstance(obj := getattr(ratchet, name), type) and issubclass(obj, BaseException)
    }


PUBLIC_EXCEPTIONS = (
    "AuthenticationError",
    "DefinitionError",
    "EngineUnreachableError",
    "FailedTaskRunExceptionGroup",
    "InputValidationError",
    "NonDeterminismError",
    "NonRetryableException",
    "PermissionDeniedError",
    "RunCancelledError",
    "TaskCancelledError",
    "TaskRunError",
    "TenantLimitError",
)


def _sample(name: str) -> BaseException:
    """An instance of the public exception ``name``, as the SDK would raise it."""
    samples: dict[str, BaseException] = {
        "AuthenticationError": ratchet.AuthenticationError("the API token was revoked"),
        "DefinitionError": DefinitionError("workflow 'w': bad option"),
        "EngineUnreachableError": EngineUnreachableError("tcp://127.0.0.1:7077", 120.0, "wait_run"),
        "FailedTaskRunExceptionGroup": FailedTaskRunExceptionGroup(
            "run r of 'w' failed", [TaskRunError("t", "tid", "ValueError", "boom", "tb")], run_id="r"
        ),
        "InputValidationError": InputValidationError("input of workflow 'w' is invalid"),
        "NonDeterminismError": NonDeterminismError("entry 3 differs"),
        "NonRetryableException": NonRetryableException("give up"),
        "PermissionDeniedError": ratchet.PermissionDeniedError("a viewer token may not", "viewer", "member"),
        "RunCancelledError": RunCancelledError("r", "cancelled by request"),
        "TaskCancelledError": TaskCancelledError("attempt cancelled"),
        "TaskRunError": TaskRunError("t", "tid", "ValueError", "boom", "tb"),
        "TenantLimitError": ratchet.TenantLimitError(
            "tenant 'acme' is over its limit of 1000 runs a second", "runs_per_second", 1000.0, 0.25
        ),
    }
    return samples[name]


def _attributes(exc: BaseException) -> dict[str, Any]:
    return {k: v for k, v in vars(exc).items() if not k.startswith("__")}


def test_every_public_exception_is_checked_below():
    assert set(PUBLIC_EXCEPTIONS) == set(_public_exceptions())


@pytest.mark.parametrize("name", PUBLIC_EXCEPTIONS)
def test_public_exceptions_print_under_ratchet_and_pickle(name):
    exc = _sample(name)
    assert type(exc) is getattr(ratchet, name)
    assert type(exc).__module__ == "ratchet"
    assert traceback.format_exception_only(exc)[0].startswith(f"ratchet.{name}: ")
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc)
    assert str(copy) == str(exc)
    assert _attributes(copy) == _attributes(exc)


def test_errors_from_a_real_run_print_under_ratchet(new_client):
    r = new_client()

    @r.task(input_validator=dict)
    def fails(inp, ctx: Context):
        raise NonRetryableException("boom")

    start(r)
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        fails.run({})
    text = "".join(traceback.format_exception(info.value))
    assert "ratchet.FailedTaskRunExceptionGroup: run " in text
    assert "ratchet.TaskRunError: task 'fails' failed with ratchet.NonRetryableException: boom" in text
    assert "ratchet._errors" not in text
