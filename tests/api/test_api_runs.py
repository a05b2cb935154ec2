"""Workflow runs over HTTP: trigger, get, list with every filter and pages, task events, cancel, replay."""

from __future__ import annotations

from typing import Any

import trio
from api_harness import TENANT_A, Api

SINCE = {"since": "2000-01-01T00:00:00Z"}


async def _trigger(api: Api, workflow: str = "greet", **fields: Any) -> dict[str, Any]:
    response = await api.client.post(
        "/api/v1/workflow-runs/trigger", json={"workflow": workflow, **fields}, headers=api.member_a
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _list(api: Api, **params: Any) -> dict[str, Any]:
    response = await api.client.get("/api/v1/workflow-runs", params={**SINCE, **params}, headers=api.viewer_a)
    assert response.status_code == 200, response.text
    return response.json()


def _ids(page: dict[str, Any]) -> list[str]:
    return [run["run_id"] for run in page["rows"]]


async def test_a_triggered_run_completes_and_reads_back_with_its_tasks(api: Api) -> None:
    run = await _trigger(api, input={"name": "ada"}, additional_metadata={"env": "prod"}, priority=2)
    assert (run["workflow"], run["input"], run["priority"]) == ("greet", {"name": "ada"}, 2)
    assert run["additional_metadata"] == {"env": "prod"} and run["created_at"].endswith("Z")
    await api.finished(TENANT_A, run["run_id"])

    response = await api.client.get(f"/api/v1/workflow-runs/{run['run_id']}", headers=api.viewer_a)
    assert response.status_code == 200
    details = response.json()
    assert details["status"] == "COMPLETED" and details["done"] is True
    assert details["output"] == {"hello": {"hello": "ada"}}
    (task,) = details["tasks"]
    assert (task["name"], task["status"], task["attempt"]) == ("hello", "COMPLETED", 1)
    assert task["worker_name"] == "worker-tenant-a"
    assert [e["kind"] for e in task["events"]] == ["QUEUED", "ASSIGNED", "COMPLETED"]


async def test_a_trigger_with_a_known_key_answers_the_first_run(api: Api) -> None:
    first = await _trigger(api, key="order-17")
    again = await _trigger(api, key="order-17")
    assert again["run_id"] == first["run_id"]
    assert len((await api.snapshot(TENANT_A))["runs"]) == 1


async def test_a_run_of_an_unknown_workflow_is_refused_with_the_engines_reason(api: Api) -> None:
    before = await api.snapshot(TENANT_A)
    response = await api.client.post(
        "/api/v1/workflow-runs/trigger", json={"workflow": "nope"}, headers=api.member_a
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert "nope" in response.json()["message"]
    assert await api.snapshot(TENANT_A) == before


async def test_the_task_events_of_a_run_read_oldest_first_in_pages(api: Api) -> None:
    run = await _trigger(api)
    await api.finished(TENANT_A, run["run_id"])
    path = f"/api/v1/workflow-runs/{run['run_id']}/task-events"
    response = await api.client.get(path, headers=api.viewer_a)
    page = response.json()
    assert [e["kind"] for e in page["rows"]] == ["QUEUED", "ASSIGNED", "COMPLETED"]
    assert {e["task_name"] for e in page["rows"]} == {"hello"}
    assert page["pagination"] == {"offset": 0, "limit": 50, "total": 3, "next_offset": None}
    second = (await api.client.get(path, params={"offset": 1, "limit": 1}, headers=api.viewer_a)).json()
    assert [e["kind"] for e in second["rows"]] == ["ASSIGNED"]
    assert second["pagination"] == {"offset": 1, "limit": 1, "total": 3, "next_offset": 2}


async def test_runs_list_newest_first_in_pages(api: Api) -> None:
    made = [(await _trigger(api))["run_id"] for _ in range(5)]
    newest_first = list(reversed(made))
    assert _ids(await _list(api)) == newest_first
    page = await _list(api, limit=2)
    assert _ids(page) == newest_first[:2]
    assert page["pagination"] == {"offset": 0, "limit": 2, "total": None, "next_offset": 2}
    page = await _list(api, limit=2, offset=4)
    assert _ids(page) == newest_first[4:]
    assert page["pagination"]["next_offset"] is None


async def test_runs_filter_by_status_workflow_and_time(api: Api) -> None:
    ok = await _trigger(api)
    bad = await _trigger(api, "fails")
    for run in (ok, bad):
        await api.finished(TENANT_A, run["run_id"])
    assert _ids(await _list(api, statuses=["FAILED"])) == [bad["run_id"]]
    assert set(_ids(await _list(api, statuses=["FAILED", "COMPLETED"]))) == {ok["run_id"], bad["run_id"]}
    assert _ids(await _list(api, workflow_ids=["greet"])) == [ok["run_id"]]
    assert _ids(await _list(api, workflow_ids=["greet", "fails"])) == [bad["run_id"], ok["run_id"]]
    assert _ids(await _list(api, workflow_ids=["unknown"])) == []
    assert _ids(await _list(api, since=bad["created_at"])) == [bad["run_id"]]
    assert _ids(await _list(api, until=bad["created_at"])) == [ok["run_id"]]
    assert _ids(await _list(api, since="2999-01-01T00:00:00Z")) == []


async def test_runs_filter_by_metadata_all_or_any(api: Api) -> None:
    prod = await _trigger(api, additional_metadata={"env": "prod", "n": 1})
    dev = await _trigger(api, additional_metadata={"env": "dev", "n": 1})
    other = await _trigger(api, additional_metadata={"team": "x"})
    assert _ids(await _list(api, additional_metadata=["env:prod"])) == [prod["run_id"]]
    assert set(_ids(await _list(api, additional_metadata=["n:1"]))) == {prod["run_id"], dev["run_id"]}
    both = await _list(api, additional_metadata=["env:dev", "n:1"])
    assert _ids(both) == [dev["run_id"]]
    either = await _list(api, additional_metadata=["env:prod", "team:x"], metadata_match="any")
    assert _ids(either) == [other["run_id"], prod["run_id"]]
    assert _ids(await _list(api, additional_metadata=['n:"1"'])) == []  # the text "1" is not the number


async def test_runs_filter_by_parent_task(api: Api) -> None:
    parent = await _trigger(api)
    details = await api.finished(TENANT_A, parent["run_id"])
    task_id = details["tasks"][0]["task_id"]
    child = await _trigger(api, parent_task_id=task_id)
    assert _ids(await _list(api, parent_task_id=task_id)) == [child["run_id"]]


async def test_cancel_stops_a_running_run_and_counts_only_live_ones(api: Api) -> None:
    run = await _trigger(api, "waits")
    done = await _trigger(api)
    await api.finished(TENANT_A, done["run_id"])
    ids = [run["run_id"], done["run_id"], "no-such-run"]
    response = await api.client.post(
        "/api/v1/workflow-runs/cancel", json={"run_ids": ids}, headers=api.member_a
    )
    assert response.status_code == 200 and response.json() == {"cancelled": 1}
    assert (await api.finished(TENANT_A, run["run_id"]))["status"] == "CANCELLED"


async def test_replay_runs_a_failed_run_again(api: Api) -> None:
    bad = await _trigger(api, "fails")
    ok = await _trigger(api)
    for run in (bad, ok):
        await api.finished(TENANT_A, run["run_id"])
    ids = [bad["run_id"], ok["run_id"]]
    response = await api.client.post(
        "/api/v1/workflow-runs/replay", json={"run_ids": ids}, headers=api.member_a
    )
    assert response.status_code == 200 and response.json() == {"replayed": [bad["run_id"]]}
    with trio.fail_after(10):
        while (details := await api.finished(TENANT_A, bad["run_id"]))["tasks"][0]["attempt"] < 2:
            await trio.sleep(0.01)
    assert details["status"] == "FAILED"


async def test_an_unknown_run_is_404_with_a_message(api: Api) -> None:
    for path in ("/api/v1/workflow-runs/nope", "/api/v1/workflow-runs/nope/task-events"):
        response = await api.client.get(path, headers=api.viewer_a)
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "no run with id 'nope'"}


async def test_runs_filter_by_worker_and_by_triggering_event(api: Api) -> None:
    ran = await _trigger(api)
    await api.finished(TENANT_A, ran["run_id"])
    (worker,) = await api.call(TENANT_A, "list_workers")
    pushed = await api.client.post("/api/v1/events", json={"key": "order:1"}, headers=api.member_a)
    (by_event,) = pushed.json()["run_ids"]
    await api.finished(TENANT_A, by_event)
    assert _ids(await _list(api, triggering_event_id=pushed.json()["id"])) == [by_event]
    assert _ids(await _list(api, worker_id=worker["id"])) == [by_event, ran["run_id"]]
    assert _ids(await _list(api, worker_id="someone-else")) == []


async def test_metadata_any_takes_several_values_of_one_key(api: Api) -> None:
    a = await _trigger(api, additional_metadata={"env": "a"})
    b = await _trigger(api, additional_metadata={"env": "b"})
    await _trigger(api, additional_metadata={"env": "c"})
    either = await _list(api, additional_metadata=["env:a", "env:b"], metadata_match="any")
    assert _ids(either) == [b["run_id"], a["run_id"]]
    assert _ids(await _list(api, additional_metadata=["env:a", "env:b"])) == []
    page = await _list(api, additional_metadata=["env:a", "env:b"], metadata_match="any", limit=1)
    assert _ids(page) == [b["run_id"]] and page["pagination"]["next_offset"] == 1


async def test_cancel_and_replay_take_a_filter(api: Api) -> None:
    waiting = [(await _trigger(api, "waits", additional_metadata={"batch": 1}))["run_id"] for _ in range(2)]
    other = (await _trigger(api, "waits", additional_metadata={"batch": 2}))["run_id"]
    run_filter = {"since": "2000-01-01T00:00:00Z", "additional_metadata": {"batch": 1}}
    response = await api.client.post(
        "/api/v1/workflow-runs/cancel", json={"filter": run_filter}, headers=api.member_a
    )
    assert response.json() == {"cancelled": 2}
    for run_id in waiting:
        assert (await api.finished(TENANT_A, run_id))["status"] == "CANCELLED"
    assert (await api.call(TENANT_A, "get_run", other, False))["status"] == "RUNNING"
    replay_filter = {"since": "2000-01-01T00:00:00Z", "workflow_ids": ["waits"], "statuses": ["CANCELLED"]}
    response = await api.client.post(
        "/api/v1/workflow-runs/replay", json={"filter": replay_filter}, headers=api.member_a
    )
    assert sorted(response.json()["replayed"]) == sorted(waiting)
    both = await api.client.post(
        "/api/v1/workflow-runs/cancel", json={"run_ids": [other], "filter": run_filter}, headers=api.member_a
    )
    assert both.status_code == 422 and "either by run_ids or by filter" in both.json()["message"]
