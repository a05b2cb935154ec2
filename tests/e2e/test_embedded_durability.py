"""Durability in embedded mode on SQLite: a client closed mid-run (engine and worker
stopping with it) loses nothing it acknowledged; a new client on the same file finishes
every run, and each task has exactly one recorded outcome."""

from __future__ import annotations

import threading

import pytest
import trio
from e2e_helpers import GATE_TIMEOUT, TERMINAL_EVENTS, start, tasks_by_name

from ratchet import Context, FailedTaskRunExceptionGroup
from ratchet._clients.runs import WorkflowRunRef


def _declare(r, *, hang: bool, started: threading.Semaphore | None = None, calls: list | None = None):
    """The same workflows on every incarnation; ``hang``: the second step never finishes."""
    wf = r.workflow("durable-pipe", input_validator=dict)

    @wf.task()
    def first(inp, ctx: Context):
        if calls is not None:
            calls.append(("first", inp["i"]))
        return {"i": inp["i"]}

    @wf.task(parents=[first])
    async def second(inp, ctx: Context):
        if calls is not None:
            calls.append(("second", inp["i"]))
        if hang:
            assert started is not None
            started.release()
            await trio.sleep_forever()  # until the client closes under it
        return {"double": ctx.task_output(first)["i"] * 2}

    @wf.task(parents=[second])
    def third(inp, ctx: Context):
        return ctx.task_output(second)["double"] + 1

    @r.task(input_validator=dict, retries=1)
    def fails_once_then_for_good(inp, ctx: Context):
        raise ValueError(f"attempt {ctx.attempt_number}")

    return wf, fails_once_then_for_good


def _assert_one_outcome_per_task(details) -> None:
    for task in details.tasks:
        outcomes = [e for e in task.events if e.kind in TERMINAL_EVENTS]
        assert len(outcomes) == 1, f"task {task.name} of run {details.run_id}: {task.events}"
        assert outcomes[0].attempt == task.attempt


def test_runs_acknowledged_before_close_complete_after_reopening(new_client, tmp_path):
    database = f"sqlite:///{tmp_path / 'ratchet.db'}"
    started = threading.Semaphore(0)
    calls_before: list[tuple[str, int]] = []
    before = new_client()
    wf, _ = _declare(before, hang=True, started=started, calls=calls_before)
    start(before, database, slots=2)

    refs = wf.run_many_no_wait([wf.create_bulk_run_item({"i": i}) for i in range(6)])
    for _ in range(2):  # both slots busy in `second`; the rest wait in the queue
        assert started.acquire(timeout=GATE_TIMEOUT)
    before.close()

    calls: list[tuple[str, int]] = []
    after = new_client()
    wf_after, _ = _declare(after, hang=False, calls=calls)
    start(after, database, slots=2)

    for i, ref in enumerate(refs):
        result = WorkflowRunRef(after, ref.run_id).result()
        assert result == {"first": {"i": i}, "second": {"double": 2 * i}, "third": 2 * i + 1}
    # a `second` that started proves its `first` had completed (and was committed): not run again
    committed_firsts = [("first", i) for step, i in calls_before if step == "second"]
    assert len(committed_firsts) == 2
    assert not set(committed_firsts) & set(calls)

    for ref in refs:
        details = after.runs.get(ref.run_id)
        assert details.status == "COMPLETED"
        _assert_one_outcome_per_task(details)
        assert tasks_by_name(details)["first"].attempt == 1
    statuses = {d.status for d in after.runs.list(workflow=wf_after)}
    assert statuses == {"COMPLETED"}
    # attempts that were running were handed out again: a new attempt, no user retry spent
    tasks = [t for ref in refs for t in after.runs.get(ref.run_id).tasks]
    assert all(t.retry_count == 0 for t in tasks)
    reassigned = [t for t in tasks if any(e.kind == "REASSIGNED" for e in t.events)]
    assert len(reassigned) <= 2
    assert all(t.name == "second" and t.attempt == 2 for t in reassigned)


def test_finished_runs_and_their_outcomes_survive_reopening(new_client, tmp_path):
    database = f"sqlite:///{tmp_path / 'ratchet.db'}"
    before = new_client()
    _, failing = _declare(before, hang=False)
    wf = before.workflows["durable-pipe"]
    start(before, database)
    done = wf.run_no_wait({"i": 4})
    assert done.result()["third"] == 9
    failed = failing.run_no_wait({})
    with pytest.raises(FailedTaskRunExceptionGroup):
        failed.result()
    before.close()

    after = new_client()
    _declare(after, hang=False)
    start(after, database)

    assert WorkflowRunRef(after, done.run_id).result()["third"] == 9
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        WorkflowRunRef(after, failed.run_id, "fails_once_then_for_good").result()
    assert info.value.exceptions[0].message == "attempt 2"
    for run_id in (done.run_id, failed.run_id):
        _assert_one_outcome_per_task(after.runs.get(run_id))


def test_every_run_acknowledged_up_to_the_close_completes_after_reopening(new_client, tmp_path):
    database = f"sqlite:///{tmp_path / 'ratchet.db'}"

    def declare(r):
        @r.task(input_validator=dict)
        def echo(inp, ctx):
            return inp["i"]

        return echo

    before = new_client()
    echo = declare(before)
    start(before, database, slots=2)
    acknowledged: list[tuple[int, str]] = []
    refused: list[BaseException] = []
    plenty = threading.Event()

    def trigger_until_refused() -> None:
        i = 0
        while True:
            try:
                ref = echo.run_no_wait({"i": i})
            except Exception as exc:  # the client closed under us
                refused.append(exc)
                return
            acknowledged.append((i, ref.run_id))
            i += 1
            if i == 40:
                plenty.set()

    thread = threading.Thread(target=trigger_until_refused)
    thread.start()
    assert plenty.wait(GATE_TIMEOUT)
    before.close()  # while triggers are in flight
    thread.join(GATE_TIMEOUT)
    assert not thread.is_alive() and len(refused) == 1

    after = new_client()
    declare(after)
    start(after, database, slots=2)
    for i, run_id in acknowledged:
        assert WorkflowRunRef(after, run_id, "echo").result() == i
    stored = after.runs.list(limit=1_000)
    assert {run_id for _, run_id in acknowledged} <= {d.run_id for d in stored}
    for d in stored:  # an unacknowledged trigger may have been stored too: it completes as well
        details = after.connection.call("wait_run", d.run_id, 5.0)
        assert details["status"] == "COMPLETED"
        _assert_one_outcome_per_task(after.runs.get(d.run_id))
