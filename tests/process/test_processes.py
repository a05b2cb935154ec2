"""The engine and its workers as separate processes: runs, crashes, drains.

Each test starts ``ratchet engine`` and worker processes (``apps.py worker``) on a
fresh SQLite file or Postgres database, drives them from this process through a
:class:`ratchet.Ratchet` client, and checks what the engine recorded. "Running" is
observed through marker files the tasks write when they start, never by sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apps import make_client
from process_harness import Cluster

from ratchet import FailedTaskRunExceptionGroup, Ratchet, RunDetails, TaskRunError

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def client(cluster: Cluster) -> Iterator[tuple[Ratchet, dict[str, Any]]]:
    r, workflows = make_client(cluster.address)
    try:
        yield r, workflows
    finally:
        r.close()


def workers_of(r: Ratchet) -> list[dict[str, Any]]:
    return r.connection.call("list_workers")


def assert_one_terminal_outcome(details: RunDetails) -> None:
    for task in details.tasks:
        terminal = [e.kind for e in task.events if e.kind in TERMINAL]
        assert len(terminal) == 1, f"task {task.name} of run {details.run_id} ended {terminal}"


def test_dag_and_many_runs_through_engine_and_worker_processes(cluster: Cluster, client: Any) -> None:
    r, wf = client
    cluster.engine()
    cluster.worker()
    wait_until(lambda: workers_of(r), 30, "the worker to register")

    assert wf["chain"].run({"n": 1}) == {"first": {"n": 2}, "second": {"n": 3}, "third": {"n": 4}}
    results = wf["noop"].run_many([wf["noop"].create_bulk_run_item({}) for _ in range(200)])
    assert results == [1] * 200

    failed = r.connection.call("trigger", [{"workflow": "no-such-workflow", "input": {}}])
    assert "unknown workflow" in failed[0]["error"]
    ref = wf["chain"].run_no_wait({"n": 10}, additional_metadata={"batch": "b1"})
    assert ref.result()["third"] == {"n": 13}
    listed = r.runs.list(additional_metadata={"batch": "b1"})
    assert [d.run_id for d in listed] == [ref.workflow_run_id]


def test_engine_sigkill_mid_run_loses_no_acknowledged_run(
    cluster: Cluster, client: Any, tmp_path: Path
) -> None:
    r, wf = client
    engine = cluster.engine()
    cluster.worker(slots=50)
    wait_until(lambda: workers_of(r), 30, "the worker to register")
    marker = tmp_path / "marks"
    marker.mkdir()

    refs = wf["chain"].run_many_no_wait(
        [wf["chain"].create_bulk_run_item({"n": i, "sleep": 0.3, "marker": str(marker)}) for i in range(30)]
    )
    # Kill the engine once work is in flight: some runs have started their second step.
    wait_until(lambda: any(p.name.endswith(".second.1") for p in marker.iterdir()), 30, "a second step")
    engine.kill()
    cluster.engine()

    for i, ref in enumerate(refs):
        assert ref.result()["third"] == {"n": i + 3}
    for ref in refs:
        details = r.runs.get(ref.workflow_run_id)
        assert details.status == "COMPLETED"
        assert_one_terminal_outcome(details)


def test_worker_sigkill_mid_task_reassigns_it(cluster: Cluster, client: Any, tmp_path: Path) -> None:
    r, wf = client
    cluster.engine()
    doomed = cluster.worker("doomed")
    wait_until(lambda: workers_of(r), 30, "the first worker to register")
    marker = tmp_path / "marks"
    marker.mkdir()

    ref = wf["slow"].run_no_wait({"seconds": 1.0, "marker": str(marker)})
    wait_until(lambda: list(marker.iterdir()), 30, "the task to start")
    doomed.kill()
    survivor = cluster.worker("survivor")

    output = ref.result()
    assert output["pid"] == survivor.proc.pid
    assert output["retry_count"] == 0  # losing a worker does not consume a user retry
    details = r.runs.get(ref.workflow_run_id)
    (task,) = details.tasks
    assert task.status == "COMPLETED"
    assert task.attempt == 2
    assert_one_terminal_outcome(details)


def test_sigterm_drains_a_worker_without_reassigning_its_task(
    cluster: Cluster, client: Any, tmp_path: Path
) -> None:
    r, wf = client
    cluster.engine()
    worker = cluster.worker("draining")
    wait_until(lambda: workers_of(r), 30, "the worker to register")
    marker = tmp_path / "marks"
    marker.mkdir()

    ref = wf["slow"].run_no_wait({"seconds": 1.0, "marker": str(marker)})
    wait_until(lambda: list(marker.iterdir()), 30, "the task to start")
    assert worker.terminate() == 0  # returns once the in-flight task finished and was reported

    output = ref.result()
    assert output["pid"] == worker.proc.pid
    details = r.runs.get(ref.workflow_run_id)
    assert details.tasks[0].attempt == 1
    assert workers_of(r) == []


def test_a_durable_task_survives_engine_and_worker_sigkill_mid_wait(
    cluster: Cluster, client: Any, tmp_path: Path
) -> None:
    r, wf = client
    engine = cluster.engine()
    worker = cluster.worker("first")
    wait_until(lambda: workers_of(r), 30, "the worker to register")
    marker = tmp_path / "marks"
    marker.mkdir()

    ref = wf["approval"].run_no_wait({"request": "r-1", "marker": str(marker)})
    wait_until(
        lambda: r.runs.get(ref.workflow_run_id).tasks[0].status == "EVICTED", 30, "the task to wait evicted"
    )
    engine.kill()
    worker.kill()
    cluster.engine()

    def push() -> bool:
        try:
            r.event.push("approval:decided", {"request": "r-1", "by": "alice"})
        except Exception:
            return False
        return True

    wait_until(push, 30, "the restarted engine to take the event")  # pushed while no worker runs
    cluster.worker("second")

    assert ref.result() == {"pages": [0, 10, 20], "approved_by": "alice"}
    marks = sorted(p.name.split(".", 1)[1] for p in marker.iterdir())
    assert marks.count("page.1") == 3 and not [m for m in marks if m.startswith("page.") and m != "page.1"]
    assert len([m for m in marks if m.startswith("approval.")]) >= 2  # ran, was evicted, replayed
    details = r.runs.get(ref.workflow_run_id)
    assert len(r.runs.list(parent_task_id=details.tasks[0].task_id)) == 3
    assert_one_terminal_outcome(details)


def test_concurrency_keys_hold_across_an_engine_sigkill(
    cluster: Cluster, client: Any, tmp_path: Path
) -> None:
    r, wf = client
    engine = cluster.engine()
    cluster.worker(slots=10)
    wait_until(lambda: workers_of(r), 30, "the worker to register")
    r.rate_limits.put("process-api", 1000, "MINUTE")
    marker = tmp_path / "times"
    marker.mkdir()

    items = [{"key": key, "seconds": 0.3, "marker": str(marker)} for key in ("a", "a", "a", "b", "b")]
    refs = wf["per-key"].run_many_no_wait([wf["per-key"].create_bulk_run_item(i) for i in items])
    wait_until(lambda: len(list(marker.iterdir())) >= 2, 30, "the first run of each key to start")
    engine.kill()  # mid-flight: a run of each key holds its key
    cluster.engine()
    assert [ref.result() for ref in refs] == [{"hold": {"key": i["key"]}} for i in items]

    # what the task functions saw: runs of one key never ran at the same time, restart or not
    spans: list[tuple[str, str, float, float]] = []
    for path in marker.iterdir():
        key, start, *end = path.read_text().split()
        spans.append((key, path.name.split(".")[0], float(start), float(end[0]) if end else float("inf")))
    for key, run, start, end in spans:
        for other_key, other, other_start, other_end in spans:
            if key == other_key and run != other:
                assert end <= other_start or other_end <= start, (
                    f"runs {run} and {other} of key {key} overlapped"
                )


def test_a_client_started_before_any_worker_triggers_runs_that_wait_for_one(
    cluster: Cluster, client: Any
) -> None:
    r, wf = client
    cluster.engine()  # the application is up; its workers are not yet

    ref = wf["chain"].run_no_wait({"n": 1})
    details = r.runs.get(ref.workflow_run_id)
    assert details.status == "QUEUED"
    reason = details.task("first").queued_reason
    assert reason is not None
    assert reason.startswith("no live worker serves task 'first' of workflow 'chain' (version 1)")
    assert workers_of(r) == []  # the client's registration is no worker

    cluster.worker()
    assert ref.result() == {"first": {"n": 2}, "second": {"n": 3}, "third": {"n": 4}}
    assert [t.queued_reason for t in r.runs.get(ref.workflow_run_id).tasks] == [None] * 3


def test_unserializable_output_fails_only_its_attempt(cluster: Cluster, client: Any, tmp_path: Path) -> None:
    r, wf = client
    cluster.engine()
    worker = cluster.worker("shared")
    wait_until(lambda: workers_of(r), 30, "the worker to register")
    marker = tmp_path / "marks"
    marker.mkdir()

    healthy = wf["slow"].run_no_wait({"seconds": 3.0, "marker": str(marker)})
    wait_until(lambda: list(marker.iterdir()), 30, "the healthy task to start")
    bad = wf["unserializable"].run_no_wait({"marker": str(marker)})

    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        bad.result()
    (error,) = info.value.exceptions
    assert isinstance(error, TaskRunError)
    assert error.exc_type == "TypeError"
    assert "'unserializable'" in error.message and "object" in error.message
    (task,) = r.runs.get(bad.workflow_run_id).tasks
    assert (task.status, task.attempt) == ("FAILED", 1)  # not retried: retrying cannot help

    output = healthy.result()
    assert output == {"pid": worker.proc.pid, "retry_count": 0}
    (task,) = r.runs.get(healthy.workflow_run_id).tasks
    assert (task.status, task.attempt) == ("COMPLETED", 1)  # its worker was never lost
    wait_until(
        lambda: any("ratchet.worker" in line and "'unserializable'" in line for line in worker.lines),
        30,
        "the worker to log the failure",
    )


def test_a_frozen_worker_resuming_after_its_session_expired_runs_nothing_twice(
    cluster: Cluster, client: Any, tmp_path: Path
) -> None:
    r, wf = client
    cluster.engine()
    frozen = cluster.worker("frozen")
    wait_until(lambda: workers_of(r), 30, "the worker to register")
    marker = tmp_path / "marks"
    marker.mkdir()

    def mark(ref: Any, name: str) -> Path:
        return marker / f"{ref.workflow_run_id}.{name}"

    running = wf["lingering"].run_no_wait({"first_attempt_seconds": 600, "marker": str(marker)})
    wait_until(lambda: mark(running, "lingering.1").exists(), 30, "the long attempt to start")
    frozen.freeze()
    queued = wf["slow"].run_no_wait({"seconds": 0.1, "marker": str(marker)})
    # the engine sends it to the frozen worker, whose session has not expired yet
    wait_until(lambda: r.runs.get(queued.workflow_run_id).tasks[0].status == "RUNNING", 30, "its assignment")
    wait_until(lambda: not workers_of(r), 60, "the engine to give the frozen worker up")
    rescuer = cluster.worker("rescuer")
    assert queued.result()["pid"] == rescuer.proc.pid
    assert running.result() == {"pid": rescuer.proc.pid, "attempt": 2}

    frozen.resume()
    # The attempt it was running learns that it was superseded, once the resumed worker
    # has asked the engine and registered again ...
    wait_until(
        lambda: mark(running, "lingering-superseded.1").exists(), 60, "the old attempt to be superseded"
    )
    wait_until(lambda: len(workers_of(r)) == 2, 60, "the resumed worker to register again")
    # ... and by then whatever was sent to it while it was frozen has reached it (before its
    # new session) and been dropped, unless the engine gave up sending it first.
    assert not mark(queued, "slow.1").exists(), "the stale assignment ran a second time"
    for ref in (running, queued):
        details = r.runs.get(ref.workflow_run_id)
        assert (details.status, details.tasks[0].attempt) == ("COMPLETED", 2)
        assert_one_terminal_outcome(details)
