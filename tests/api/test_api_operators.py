"""Operators over HTTP: workers, workflows, metrics, task runs and run timings."""

from __future__ import annotations

from typing import Any

import trio
from api_harness import TENANT_A, Api


async def _get(api: Api, path: str, expect: int = 200, **params: Any) -> Any:
    response = await api.client.get(path, params=params, headers=api.viewer_a)
    assert response.status_code == expect, response.text
    return response.json()


async def _patch(api: Api, path: str, body: Any, expect: int = 200) -> Any:
    response = await api.client.patch(path, json=body, headers=api.member_a)
    assert response.status_code == expect, response.text
    return response.json()


async def _trigger(api: Api, workflow: str, **fields: Any) -> str:
    body = {"workflow": workflow, **fields}
    response = await api.client.post("/api/v1/workflow-runs/trigger", json=body, headers=api.member_a)
    assert response.status_code == 201, response.text
    return str(response.json()["run_id"])


async def test_workers_are_listed_got_paused_and_resumed(api: Api) -> None:
    page = await _get(api, "/api/v1/workers")
    (worker,) = page["rows"]
    assert (worker["name"], worker["status"], worker["slots"], worker["paused"]) == (
        "worker-tenant-a",
        "ACTIVE",
        20,
        False,
    )
    assert set(worker["workflows"]) == {"fails", "greet", "waits"} and page["pagination"]["total"] == 1
    path = f"/api/v1/workers/{worker['id']}"
    assert (await _get(api, path))["id"] == worker["id"]
    paused = await _patch(api, path, {"paused": True})
    assert (paused["status"], paused["paused"]) == ("PAUSED", True)
    run_id = await _trigger(api, "greet")
    assert (await api.call(TENANT_A, "get_run", run_id, False))["status"] == "QUEUED"
    resumed = await _patch(api, path, {"paused": False})
    assert resumed["status"] == "ACTIVE"
    assert (await api.finished(TENANT_A, run_id))["status"] == "COMPLETED"
    assert (await _get(api, "/api/v1/workers/nope", 404))["message"] == "no worker with id 'nope'"
    assert (await _patch(api, "/api/v1/workers/nope", {"paused": True}, 404))["code"] == "not_found"


async def test_workflows_are_listed_in_pages_and_got_with_their_versions(api: Api) -> None:
    page = await _get(api, "/api/v1/workflows")
    assert [w["name"] for w in page["rows"]] == ["fails", "greet", "waits"]
    assert page["pagination"] == {"offset": 0, "limit": 50, "total": None, "next_offset": None}
    second = await _get(api, "/api/v1/workflows", offset=1, limit=1)
    assert [w["name"] for w in second["rows"]] == ["greet"] and second["pagination"]["next_offset"] == 2
    assert [w["name"] for w in (await _get(api, "/api/v1/workflows", name_contains="ai"))["rows"]] == [
        "fails",
        "waits",
    ]
    greet = await _get(api, "/api/v1/workflows/greet")
    assert greet["name"] == "greet" and greet["current_version"] == 1 and greet["paused"] is False
    assert [v["version"] for v in greet["versions"]] == [1] and greet["versions"][0]["tasks"] == ["hello"]
    by_id = await _get(api, f"/api/v1/workflows/{greet['id']}")
    assert by_id["name"] == "greet"
    versions = await _get(api, "/api/v1/workflows/greet/versions")
    assert [v["version"] for v in versions["rows"]] == [1] and versions["rows"][0]["definition"]
    assert (await _get(api, "/api/v1/workflows/nope", 404))["code"] == "not_found"
    assert (await _get(api, "/api/v1/workflows/nope/versions", 404))["code"] == "not_found"


async def test_a_paused_workflow_keeps_its_runs_queued_until_unpaused(api: Api) -> None:
    assert (await _patch(api, "/api/v1/workflows/greet", {"paused": True}))["paused"] is True
    run_id = await _trigger(api, "greet")
    metrics = await _get(api, "/api/v1/metrics")
    assert metrics["workflows"] == {"greet": 1} and metrics["queued"] == 1
    assert (await api.call(TENANT_A, "get_run", run_id, False))["status"] == "QUEUED"
    assert (await _patch(api, "/api/v1/workflows/greet", {"paused": False}))["paused"] is False
    assert (await api.finished(TENANT_A, run_id))["status"] == "COMPLETED"
    assert (await _patch(api, "/api/v1/workflows/nope", {"paused": True}, 404))["code"] == "not_found"


async def test_metrics_count_slots_and_tasks_by_status(api: Api) -> None:
    done = await _trigger(api, "greet")
    details = await api.finished(TENANT_A, done)
    metrics = await _get(api, "/api/v1/metrics")
    assert metrics["slots"]["workers"] == 1 and metrics["slots"]["total"] == 20
    assert metrics["tasks"] is None and metrics["queued"] == 0
    counted = await _get(api, "/api/v1/metrics", since="2000-01-01T00:00:00Z")
    assert counted["tasks"] == {"COMPLETED": 1}
    assert counted["since"] == "2000-01-01T00:00:00Z"
    assert details["status"] == "COMPLETED"


async def test_a_task_run_reads_with_each_attempt_and_its_timeline(api: Api) -> None:
    run_id = await _trigger(api, "fails")
    await api.finished(TENANT_A, run_id)
    replay = {"run_ids": [run_id]}
    response = await api.client.post("/api/v1/workflow-runs/replay", json=replay, headers=api.member_a)
    assert response.json() == {"replayed": [run_id]}
    with trio.fail_after(10):
        while (details := await api.finished(TENANT_A, run_id))["tasks"][0]["attempt"] < 2:
            await trio.sleep(0.01)
    task_id = details["tasks"][0]["task_id"]
    task = await _get(api, f"/api/v1/tasks/{task_id}")
    assert (task["name"], task["workflow"], task["run_id"], task["attempts"]) == (
        "boom",
        "fails",
        run_id,
        [1, 2],
    )
    assert task["attempt_details"]["attempt"] == 2 and task["error"]["message"] == "boom"
    first = await _get(api, f"/api/v1/tasks/{task_id}", attempt=1)
    assert first["attempt_details"]["attempt"] == 1 and first["attempt_details"]["status"] == "FAILED"
    missing = await _get(api, f"/api/v1/tasks/{task_id}", 400, attempt=7)
    assert "has no attempt 7; its attempts are [1, 2]" in missing["message"]
    events = await _get(api, f"/api/v1/tasks/{task_id}/task-events")
    assert {e["attempt"] for e in events["rows"]} == {1, 2}
    assert [e["seq"] for e in events["rows"]] == sorted(e["seq"] for e in events["rows"])
    assert events["pagination"]["total"] == len(events["rows"])
    assert (await _get(api, "/api/v1/tasks/nope", 404))["message"] == "no task run with id 'nope'"
    assert (await _get(api, "/api/v1/tasks/nope/task-events", 404))["code"] == "not_found"


async def test_run_timings_follow_child_runs_to_the_depth_asked(api: Api) -> None:
    parent = await _trigger(api, "greet")
    details = await api.finished(TENANT_A, parent)
    child = await _trigger(api, "greet", parent_task_id=details["tasks"][0]["task_id"])
    await api.finished(TENANT_A, child)
    timings = await _get(api, f"/api/v1/workflow-runs/{parent}/timings")
    assert [(t["run_id"], t["depth"]) for t in timings["tasks"]] == [(parent, 0), (child, 1)]
    assert timings["truncated"] is False and timings["status"] == "COMPLETED"
    alone = await _get(api, f"/api/v1/workflow-runs/{parent}/timings", depth=0)
    assert [t["run_id"] for t in alone["tasks"]] == [parent]
    assert (await _get(api, "/api/v1/workflow-runs/nope/timings", 404))["code"] == "not_found"
