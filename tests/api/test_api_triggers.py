"""Events, filters, crons and scheduled runs over HTTP: each route's work, its 404s and its refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import trio
from api_harness import TENANT_A, Api

SOON = (datetime.now(UTC) + timedelta(hours=1)).isoformat()


async def _post(api: Api, path: str, body: Any, status: int = 201) -> Any:
    response = await api.client.post(path, json=body, headers=api.member_a)
    assert response.status_code == status, response.text
    return response.json()


async def _get(api: Api, path: str, expect: int = 200, **params: Any) -> Any:
    response = await api.client.get(path, params=params, headers=api.viewer_a)
    assert response.status_code == expect, response.text
    return response.json()


async def test_a_pushed_event_starts_its_listeners_runs(api: Api) -> None:
    event = await _post(api, "/api/v1/events", {"key": "order:paid", "payload": {"name": "bo"}, "scope": "s"})
    assert (event["key"], event["payload"], event["scope"]) == ("order:paid", {"name": "bo"}, "s")
    (run_id,) = event["run_ids"]
    assert (await api.finished(TENANT_A, run_id))["output"] == {"hello": {"hello": "bo"}}
    quiet = await _post(api, "/api/v1/events", {"key": "nobody:listens"})
    assert quiet["run_ids"] == []
    assert len((await api.snapshot(TENANT_A))["events"]) == 2


async def test_bulk_push_pushes_every_event_or_none(api: Api) -> None:
    events = [{"key": "order:a"}, {"key": "other", "additional_metadata": {"n": 1}}]
    answer = await _post(api, "/api/v1/events/bulk", {"events": events})
    assert [e["key"] for e in answer["events"]] == ["order:a", "other"]
    assert [len(e["run_ids"]) for e in answer["events"]] == [1, 0]
    await api.finished(TENANT_A, answer["events"][0]["run_ids"][0])
    before = await api.snapshot(TENANT_A)
    blank = await _post(api, "/api/v1/events/bulk", {"events": [{"key": "ok"}, {"key": "   "}]}, 422)
    assert "body.events.1.key" in blank["message"] and "not blank" in blank["message"]
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    bad = await _post(
        api, "/api/v1/events/bulk", {"events": [{"key": "ok"}, {"key": "b", "payload": deep}]}, 400
    )
    assert "payload of event 'b'" in bad["message"] and "deep" in bad["message"]
    assert await api.snapshot(TENANT_A) == before


async def test_filters_are_created_listed_got_and_deleted(api: Api) -> None:
    made = await _post(
        api, "/api/v1/filters", {"workflow": "greet", "expression": "input.n > 1", "scope": "s", "payload": 1}
    )
    assert made["workflow"] == "greet" and made["declared"] is False
    page = await _get(api, "/api/v1/filters", workflow="greet")
    assert [f["id"] for f in page["rows"]] == [made["id"]] and page["pagination"]["total"] == 1
    assert (await _get(api, "/api/v1/filters", workflow="fails"))["rows"] == []
    assert await _get(api, f"/api/v1/filters/{made['id']}") == made
    response = await api.client.delete(f"/api/v1/filters/{made['id']}", headers=api.member_a)
    assert response.status_code == 204
    response = await api.client.delete(f"/api/v1/filters/{made['id']}", headers=api.member_a)
    assert response.status_code == 404 and made["id"] in response.json()["message"]
    assert (await _get(api, f"/api/v1/filters/{made['id']}", 404))["code"] == "not_found"


async def test_a_filter_with_bad_cel_or_an_unknown_workflow_is_refused(api: Api) -> None:
    before = await api.snapshot(TENANT_A)
    bad = await _post(api, "/api/v1/filters", {"workflow": "greet", "expression": "(((", "scope": "s"}, 400)
    assert "filter of workflow 'greet'" in bad["message"]
    unknown = await _post(
        api, "/api/v1/filters", {"workflow": "zzz", "expression": "true", "scope": "s"}, 400
    )
    assert "zzz" in unknown["message"]
    assert await api.snapshot(TENANT_A) == before


async def test_crons_are_created_listed_got_and_deleted(api: Api) -> None:
    body = {"workflow": "greet", "name": "nightly", "expression": "0 3 * * *", "input": {"name": "c"}}
    cron = await _post(api, "/api/v1/crons", body)
    assert (cron["name"], cron["expression"], cron["input"]) == ("nightly", "0 3 * * *", {"name": "c"})
    assert cron["next_fire_at"].endswith("03:00:00Z")
    assert await _get(api, f"/api/v1/crons/{cron['id']}") == cron
    names = [c["name"] for c in (await _get(api, "/api/v1/crons"))["rows"]]
    assert names == ["nightly"]
    taken = await _post(api, "/api/v1/crons", body, 400)
    assert "nightly" in taken["message"]
    bad = await _post(api, "/api/v1/crons", {**body, "name": "x", "expression": "every tuesday"}, 400)
    assert "cron 'x' of workflow 'greet'" in bad["message"]
    assert (await api.client.delete(f"/api/v1/crons/{cron['id']}", headers=api.member_a)).status_code == 204
    assert (await api.client.delete(f"/api/v1/crons/{cron['id']}", headers=api.member_a)).status_code == 404
    assert (await _get(api, f"/api/v1/crons/{cron['id']}", 404))[
        "message"
    ] == f"no cron with id {cron['id']!r}"


async def test_crons_list_in_pages(api: Api) -> None:
    for n in range(3):
        await _post(api, "/api/v1/crons", {"workflow": "greet", "name": f"c{n}", "expression": "@daily"})
    page = await _get(api, "/api/v1/crons", offset=1, limit=1)
    assert [c["name"] for c in page["rows"]] == ["c1"]
    assert page["pagination"] == {"offset": 1, "limit": 1, "total": 3, "next_offset": 2}
    assert (await _get(api, "/api/v1/crons", workflow="fails"))["rows"] == []


async def test_schedules_are_created_listed_moved_and_deleted(api: Api) -> None:
    made = await _post(
        api, "/api/v1/scheduled-runs", {"workflow": "greet", "trigger_at": SOON, "priority": 3}
    )
    assert made["status"] == "PENDING" and made["priority"] == 3 and made["run_id"] is None
    assert await _get(api, f"/api/v1/scheduled-runs/{made['id']}") == made
    later = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    response = await api.client.patch(
        f"/api/v1/scheduled-runs/{made['id']}", json={"trigger_at": later.isoformat()}, headers=api.member_a
    )
    assert response.status_code == 200, response.text
    assert datetime.fromisoformat(response.json()["trigger_at"]) == later
    assert [s["id"] for s in (await _get(api, "/api/v1/scheduled-runs", status="PENDING"))["rows"]] == [
        made["id"]
    ]
    assert (await _get(api, "/api/v1/scheduled-runs", workflow="fails"))["rows"] == []
    response = await api.client.delete(f"/api/v1/scheduled-runs/{made['id']}", headers=api.member_a)
    assert response.status_code == 204
    gone = await api.client.delete(f"/api/v1/scheduled-runs/{made['id']}", headers=api.member_a)
    assert gone.status_code == 400 and "is CANCELLED" in gone.json()["message"]
    unknown = await api.client.delete("/api/v1/scheduled-runs/nope", headers=api.member_a)
    assert unknown.status_code == 404


async def test_a_fired_schedule_names_its_run_and_cannot_move(api: Api) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    made = await _post(api, "/api/v1/scheduled-runs", {"workflow": "greet", "trigger_at": past})
    with trio.fail_after(10):
        while (found := await _get(api, f"/api/v1/scheduled-runs/{made['id']}"))["status"] != "FIRED":
            await trio.sleep(0.01)
    assert (await api.finished(TENANT_A, found["run_id"]))["status"] == "COMPLETED"
    response = await api.client.patch(
        f"/api/v1/scheduled-runs/{made['id']}", json={"trigger_at": SOON}, headers=api.member_a
    )
    assert response.status_code == 400
    assert (
        response.json()["message"]
        == f"schedule {made['id']!r} is FIRED: only a PENDING schedule can be moved"
    )


async def test_a_schedule_far_in_the_past_is_refused(api: Api) -> None:
    before = await api.snapshot(TENANT_A)
    body = {"workflow": "greet", "trigger_at": "2001-01-01T00:00:00Z"}
    assert "in the past" in (await _post(api, "/api/v1/scheduled-runs", body, 400))["message"]
    assert await api.snapshot(TENANT_A) == before


async def test_bulk_delete_reports_what_it_could_not_delete(api: Api) -> None:
    ids = [(await _post(api, "/api/v1/scheduled-runs", {"workflow": "greet", "trigger_at": SOON}))["id"]]
    ids.append((await _post(api, "/api/v1/scheduled-runs", {"workflow": "greet", "trigger_at": SOON}))["id"])
    answer = await _post(api, "/api/v1/scheduled-runs/bulk-delete", {"ids": [*ids, "nope", ids[0]]}, 200)
    assert answer == {"deleted": ids, "not_deleted": ["nope"]}
    statuses = {s["status"] for s in (await _get(api, "/api/v1/scheduled-runs"))["rows"]}
    assert statuses == {"CANCELLED"}


async def test_a_rate_limit_is_put_and_changed(api: Api) -> None:
    response = await api.client.put(
        "/api/v1/rate-limits/emails", json={"limit": 10, "duration": "MINUTE"}, headers=api.member_a
    )
    assert response.status_code == 200
    assert response.json() == {"key": "emails", "limit": 10, "duration": "MINUTE"}
    await api.client.put("/api/v1/rate-limits/emails", json={"limit": 5}, headers=api.member_a)
    assert (await api.snapshot(TENANT_A))["rate_limits"] == [("emails", 5)]


async def test_rate_limits_are_listed_by_key_for_their_tenant_only(api: Api) -> None:
    for key, body in (("sms", {"limit": 2, "duration": "HOUR"}), ("emails", {"limit": 10})):
        response = await api.client.put(f"/api/v1/rate-limits/{key}", json=body, headers=api.member_a)
        assert response.status_code == 200, response.text
    listed = await api.client.get("/api/v1/rate-limits", headers=api.viewer_a)
    assert listed.status_code == 200
    assert listed.json()["rows"] == [
        {"key": "emails", "limit": 10, "duration": "SECOND"},
        {"key": "sms", "limit": 2, "duration": "HOUR"},
    ]
    assert listed.json()["pagination"]["total"] == 2
    second = await api.client.get("/api/v1/rate-limits", params={"offset": 1}, headers=api.viewer_a)
    assert [r["key"] for r in second.json()["rows"]] == ["sms"]
    theirs = await api.client.get("/api/v1/rate-limits", headers=api.member_b)
    assert theirs.json()["rows"] == []
    garbage = await api.client.get("/api/v1/rate-limits", params={"limit": "many"}, headers=api.viewer_a)
    assert garbage.status_code == 422


async def test_a_cron_is_disabled_enabled_and_run_now(api: Api) -> None:
    body = {"workflow": "greet", "name": "nightly", "expression": "0 3 * * *", "input": {"name": "c"}}
    cron = await _post(api, "/api/v1/crons", body)
    assert cron["enabled"] is True
    path = f"/api/v1/crons/{cron['id']}"
    disabled = await api.client.patch(path, json={"enabled": False}, headers=api.member_a)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["enabled"] is False and disabled.json()["next_fire_at"] is None
    assert (await _get(api, path))["enabled"] is False
    started = await _post(api, f"{path}/run", None)
    assert (await api.finished(TENANT_A, started["run_id"]))["output"] == {"hello": {"hello": "c"}}
    enabled = await api.client.patch(path, json={"enabled": True}, headers=api.member_a)
    assert enabled.json()["enabled"] is True and enabled.json()["next_fire_at"].endswith("03:00:00Z")
    missing = await api.client.patch("/api/v1/crons/nope", json={"enabled": True}, headers=api.member_a)
    assert missing.status_code == 404 and missing.json()["message"] == "no cron with id 'nope'"
    assert (await _post(api, "/api/v1/crons/nope/run", None, 404))["code"] == "not_found"


async def test_a_rate_limit_is_deleted_once_and_only_in_its_tenant(api: Api) -> None:
    await api.client.put("/api/v1/rate-limits/emails", json={"limit": 10}, headers=api.member_a)
    await api.client.put("/api/v1/rate-limits/emails", json={"limit": 4}, headers=api.member_b)
    theirs = await api.client.delete("/api/v1/rate-limits/emails", headers=api.member_b)
    assert theirs.status_code == 204
    assert (await api.snapshot(TENANT_A))["rate_limits"] == [("emails", 10)]
    viewer = await api.client.delete("/api/v1/rate-limits/emails", headers=api.viewer_a)
    assert viewer.status_code == 403
    assert (await api.client.delete("/api/v1/rate-limits/emails", headers=api.member_a)).status_code == 204
    again = await api.client.delete("/api/v1/rate-limits/emails", headers=api.member_a)
    assert again.status_code == 404 and again.json()["message"] == "no rate limit with id 'emails'"
    assert (await api.client.get("/api/v1/rate-limits", headers=api.viewer_a)).json()["rows"] == []
    assert (await api.snapshot(TENANT_A))["rate_limits"] == []
