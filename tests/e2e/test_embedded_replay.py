"""``ratchet.runs.replay``: a failed or cancelled run runs again from where it broke."""

from __future__ import annotations

import threading
import time

import pytest
from e2e_helpers import start, wait_set

from ratchet import Context, FailedTaskRunExceptionGroup, RunCancelledError


def _flaky_pipeline(r, broken: threading.Event, calls: dict[str, int]):
    wf = r.workflow("replayable", input_validator=dict)

    def count(name: str) -> None:
        calls[name] = calls.get(name, 0) + 1

    @wf.task()
    def fetch(inp, ctx: Context):
        count("fetch")
        return {"doc": "abc"}

    @wf.task(parents=[fetch])
    def parse(inp, ctx: Context):
        count("parse")
        if broken.is_set():
            raise ConnectionError("parser down")
        return {"n": len(ctx.task_output(fetch)["doc"])}

    @wf.task(parents=[parse])
    def save(inp, ctx: Context):
        count("save")
        return {"saved": ctx.task_output(parse)["n"]}

    return wf


def test_replay_reruns_failed_tasks_and_descendants_only(new_client):
    r = new_client()
    broken = threading.Event()
    broken.set()
    calls: dict[str, int] = {}
    wf = _flaky_pipeline(r, broken, calls)
    start(r)

    ref = wf.run_no_wait({})
    with pytest.raises(FailedTaskRunExceptionGroup):
        ref.result()
    before = r.runs.get(ref.workflow_run_id)
    assert [before.task(n).status for n in ("fetch", "parse", "save")] == ["COMPLETED", "FAILED", "CANCELLED"]

    broken.clear()
    assert r.runs.replay(ref.workflow_run_id) is True
    assert ref.result() == {"fetch": {"doc": "abc"}, "parse": {"n": 3}, "save": {"saved": 3}}
    assert calls == {"fetch": 1, "parse": 2, "save": 1}  # the completed step did not run again

    after = r.runs.get(ref.workflow_run_id)
    assert after.status == "COMPLETED"
    assert after.error is None  # the failure it recovered from no longer describes it
    assert after.task("parse").attempt == 2  # a new attempt: the old one stays fenced
    assert after.task("fetch").attempt == 1


def test_replay_of_a_completed_or_unknown_run_does_nothing(new_client):
    r = new_client()
    broken = threading.Event()
    calls: dict[str, int] = {}
    wf = _flaky_pipeline(r, broken, calls)
    start(r)

    ref = wf.run_no_wait({})
    ref.result()
    assert r.runs.replay(ref.workflow_run_id) is False
    assert r.runs.bulk_replay(["no-such-run"]) == []
    assert calls == {"fetch": 1, "parse": 1, "save": 1}


def test_replay_of_a_cancelled_run(new_client):
    r = new_client()
    gate = threading.Event()
    wf = r.workflow("gated", input_validator=dict)

    @wf.task()
    def wait(inp, ctx: Context):
        while not gate.is_set() and not ctx.is_cancelled:
            gate.wait(0.01)
        return "ok"

    @wf.task(parents=[wait])
    def after(inp, ctx: Context):
        return ctx.task_output(wait) + "!"

    start(r)
    ref = wf.run_no_wait({})
    r.runs.cancel(ref.workflow_run_id)
    with pytest.raises(RunCancelledError):
        ref.result()

    gate.set()
    assert r.runs.bulk_replay([ref.workflow_run_id]) == [ref.workflow_run_id]
    assert ref.result() == {"wait": "ok", "after": "ok!"}
    assert r.runs.get(ref.workflow_run_id).error is None  # no longer "cancelled by request"


@pytest.mark.parametrize("repeat", range(5))
@pytest.mark.parametrize("database", ["memory", "sqlite"])
def test_replay_right_after_cancel_replays_the_run(new_client, tmp_path, database, repeat):
    r = new_client()
    running = threading.Event()
    wf = r.workflow("cancel-then-replay", input_validator=dict)

    @wf.task()
    def step(inp, ctx: Context):
        if ctx.attempt_number == 1:
            running.set()
            while not ctx.is_cancelled:
                time.sleep(0.002)
        return "ok"

    start(r, "memory://" if database == "memory" else f"sqlite:///{tmp_path / 'runs.db'}")
    ref = wf.run_no_wait({})
    wait_set(running, "the first attempt to start")
    assert r.runs.cancel(ref.workflow_run_id) is True
    # no wait for the cancellation to be stored: the replay must see the run as cancelled
    assert r.runs.replay(ref.workflow_run_id) is True
    assert ref.result() == {"step": "ok"}
    replayed = r.runs.get(ref.workflow_run_id)
    assert (replayed.status, replayed.error) == ("COMPLETED", None)
