"""How runs read: the pure views the gateway and durable parents share."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ratchet._contract.status import RunStatus, TaskEventKind, TaskStatus
from ratchet.actors.runs import _views as views
from ratchet.actors.store import Run, Task, TaskEvent


def _run(status: RunStatus = RunStatus.COMPLETED, **changes: Any) -> Run:
    fields: dict[str, Any] = dict(
        tenant_id="t",
        id="r1",
        workflow_id="w1",
        workflow_version=2,
        status=status,
        input={"x": 1},
        additional_metadata=None,
        priority=1,
        parent_task_id=None,
        idempotency_key=None,
        error=None,
        created_at=1.0,
        started_at=2.0,
        finished_at=3.0,
    )
    return Run(**{**fields, **changes})


def _task(
    name: str, status: TaskStatus = TaskStatus.COMPLETED, parents: tuple[str, ...] = (), **changes: Any
) -> Task:
    fields: dict[str, Any] = dict(
        tenant_id="t",
        id=f"id-{name}",
        run_id="r1",
        name=name,
        queue=f"wf:{name}",
        status=status,
        attempt=1,
        retry_count=0,
        internal_retry_count=0,
        max_retries=0,
        priority=1,
        durable=0,
        parents=list(parents),
        input=None,
        output={"from": name},
        error=None,
        worker_id="w-1",
        concurrency_key=None,
        created_at=1.0,
        queued_at=1.0,
        started_at=2.0,
        finished_at=3.0,
        timeout_at=None,
    )
    return Task(**{**fields, **changes})


def _event(seq: int, task: str, kind: TaskEventKind, message: str | None = None) -> TaskEvent:
    return TaskEvent(seq, "t", f"id-{task}", "r1", 1, kind, "w-1", message, float(seq))


@given(st.permutations(["a", "b", "c", "d"]))
def test_dag_order_puts_every_task_after_its_parents(order: list[str]) -> None:
    parents = {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")}
    ordered = [t.name for t in views.dag_order([_task(n, parents=parents[n]) for n in order])]
    assert sorted(ordered) == ["a", "b", "c", "d"]
    for name, before in parents.items():
        assert all(ordered.index(p) < ordered.index(name) for p in before)


def test_an_error_reads_as_its_stored_json_or_as_plain_text() -> None:
    stored = json.dumps({"type": "ValueError", "message": "bad", "traceback": "tb"})
    assert views.error_view(stored) == {"type": "ValueError", "message": "bad", "traceback": "tb"}
    assert views.error_view("disk full") == {"type": "Error", "message": "disk full", "traceback": ""}
    assert views.error_view('["not", "a", "mapping"]')["message"] == '["not", "a", "mapping"]'
    assert views.error_view(None) is None and views.error_view("") is None


def test_a_run_view_is_done_only_once_its_run_ended_and_shows_completed_outputs() -> None:
    tasks = [_task("a"), _task("b", TaskStatus.RUNNING)]
    view = views.run_view(_run(RunStatus.RUNNING), "pipeline", tasks)
    assert view["done"] is False and view["status"] == "RUNNING"
    assert view["output"] == {"a": {"from": "a"}}
    assert views.run_view(_run(RunStatus.FAILED), "pipeline", tasks)["done"] is True
    assert view["workflow"] == "pipeline" and view["additional_metadata"] == {}


def test_a_cancelled_task_carries_its_latest_cancel_reason_and_others_none() -> None:
    tasks = [_task("a", TaskStatus.CANCELLED), _task("b", TaskStatus.COMPLETED)]
    events = [
        _event(1, "a", TaskEventKind.SCHEDULE_TIMED_OUT, "waited 5s for a worker"),
        _event(2, "a", TaskEventKind.CANCELLED, "cancel requested"),
        _event(3, "b", TaskEventKind.CANCELLED, "an older attempt"),
    ]
    a, b = views.task_views(tasks, events, {"w-1": "box-1"}, {})
    assert a["cancel_reason"] == "cancel requested"
    assert b["cancel_reason"] is None  # it completed in the end
    assert a["worker_name"] == "box-1" and [e["kind"] for e in a["events"]] == [
        "SCHEDULE_TIMED_OUT",
        "CANCELLED",
    ]


def test_a_queued_task_says_why_it_waits() -> None:
    (view,) = views.task_views([_task("a", TaskStatus.QUEUED)], [], {}, {"id-a": "no live worker serves it"})
    assert view["queued_reason"] == "no live worker serves it" and view["worker_name"] is None


def test_a_run_summary_lists_only_the_failed_tasks_with_their_errors() -> None:
    error = json.dumps({"type": "KeyError", "message": "k", "traceback": ""})
    tasks = [_task("a"), _task("b", TaskStatus.FAILED, error=error), _task("c", TaskStatus.CANCELLED)]
    summary = views.run_summary(_run(RunStatus.FAILED), "pipeline", tasks)
    assert summary["status"] == "FAILED" and summary["output"] == {"a": {"from": "a"}}
    assert [(t["name"], t["error"]["type"]) for t in summary["tasks"]] == [("b", "KeyError")]
    assert views.unknown_run_summary("r9") == {"run_id": "r9", "status": "UNKNOWN"}
