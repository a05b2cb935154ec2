"""Garbage on every route: a 400 or 422 whose message says what was wrong, never a 500, nothing changed."""

from __future__ import annotations

from typing import Any

import httpx
from api_harness import BASE_URL, TENANT_A, Api

from ratchet.actors.api import EngineBackend, create_app
from ratchet.runtime import Actor, ActorRef

#: Bodies no route accepts: not JSON, JSON of the wrong kind, nesting deeper than any parser should follow.
NOT_BODIES: list[bytes] = [
    b"",
    b"{nope",
    b"\xff\xfe",
    b"[]",
    b'"text"',
    b"42",
    b"null",
    b"true",
    b"[" * 100_000 + b"]" * 100_000,
]

#: Wrong fields and values per route with a body (each also gets every one of ``NOT_BODIES``).
WRONG: dict[tuple[str, str], list[Any]] = {
    ("POST", "/api/v1/workflow-runs/trigger"): [
        {},
        {"workflow": 5},
        {"workflow": ""},
        {"workflow": "greet", "priority": 9},
        {"workflow": "greet", "priority": "high"},
        {"workflow": "greet", "additional_metadata": []},
        {"workflow": "greet", "unknown": 1},
        {"workflow": "greet", "desired_worker_labels": {"gpu": {"value": "a", "wat": 1}}},
        {"workflow": "greet", "desired_worker_labels": {"gpu": 5}},
        {"workflow": "x" * 500},
        {"workflow": "greet", "key": ""},
    ],
    ("POST", "/api/v1/workflow-runs/cancel"): [
        {},
        {"run_ids": []},
        {"run_ids": "r"},
        {"run_ids": [1]},
        {"filter": {}},
        {"filter": {"since": "then"}},
        {"filter": {"since": "2030-01-01", "statuses": ["DONE"]}},
        {"filter": {"since": "2030-01-01", "metadata_match": "some"}},
        {"filter": {"since": "2030-01-01", "owner": "me"}},
        {"run_ids": ["r"], "filter": {"since": "2030-01-01"}},
    ],
    ("POST", "/api/v1/workflow-runs/replay"): [
        {"run_ids": [None]},
        {"run_ids": [""]},
        {"ids": ["r"]},
        {"filter": {"since": "2030-01-01", "workflow_ids": [""]}},
        {"filter": {"since": 1e300}},
    ],
    ("PATCH", "/api/v1/workers/{worker}"): [{}, {"paused": "yes"}, {"paused": 1}, {"paused": True, "x": 1}],
    ("PATCH", "/api/v1/workflows/greet"): [{}, {"paused": "no"}, {"paused": None}],
    ("POST", "/api/v1/events"): [{}, {"key": ""}, {"key": 3}, {"key": "k", "scope": ""}, {"key": "k\x00"}],
    ("POST", "/api/v1/events/bulk"): [{}, {"events": []}, {"events": {}}, {"events": [{"key": "k"}] * 1001}],
    ("POST", "/api/v1/filters"): [
        {},
        {"workflow": "greet", "expression": "", "scope": "s"},
        {"workflow": "greet", "expression": "1 +", "scope": "s"},
        {"workflow": "greet", "expression": "true", "scope": 7},
    ],
    ("POST", "/api/v1/crons"): [
        {},
        {"workflow": "greet", "name": "n", "expression": "* * *"},
        {"workflow": "greet", "name": " ", "expression": "@daily"},
        {"workflow": "nope", "name": "n", "expression": "@daily"},
        {"workflow": "greet", "name": "n", "expression": "@daily", "priority": 0},
    ],
    ("PATCH", "/api/v1/crons/{id}"): [
        {},
        {"enabled": "yes"},
        {"enabled": 1},
        {"enabled": None},
        {"enabled": True, "x": 1},
    ],
    ("POST", "/api/v1/scheduled-runs"): [
        {},
        {"workflow": "greet", "trigger_at": "tomorrow"},
        {"workflow": "greet", "trigger_at": 1e300},
        {"workflow": "greet", "trigger_at": "2200-01-01T00:00:00Z"},
        {"workflow": "greet", "trigger_at": True},
        {"workflow": "nope", "trigger_at": "2100-01-01T00:00:00Z"},
    ],
    ("PATCH", "/api/v1/scheduled-runs/{id}"): [
        {},
        {"trigger_at": None},
        {"trigger_at": "2001-01-01T00:00:00Z"},
    ],
    ("POST", "/api/v1/scheduled-runs/bulk-delete"): [{}, {"ids": []}, {"ids": [""]}, {"ids": [["a"]]}],
    ("PUT", "/api/v1/rate-limits/{key}"): [
        {},
        {"limit": 0},
        {"limit": 10**12},
        {"limit": 1, "duration": "FORTNIGHT"},
        {"limit": "ten"},
        {"limit": 1.5},
    ],
}

#: Query strings no list accepts.
BAD_QUERIES: dict[str, list[dict[str, Any]]] = {
    "/api/v1/workflow-runs": [
        {},
        {"since": "yesterday"},
        {"since": "2030-01-01", "until": "soon"},
        {"since": "2030-01-01", "statuses": "DONE"},
        {"since": "2030-01-01", "limit": 0},
        {"since": "2030-01-01", "limit": "many"},
        {"since": "2030-01-01", "offset": -1},
        {"since": "2030-01-01", "offset": 10**6},
        {"since": "2030-01-01", "additional_metadata": "nocolon"},
        {"since": "2030-01-01", "additional_metadata": ":v"},
        {"since": "2030-01-01", "additional_metadata": "n:NaN"},
        {"since": "2030-01-01", "metadata_match": "some"},
        {"since": "2030-01-01", "parent_task_id": ""},
        {"since": "2030-01-01", "workflow_ids": ["w"] * 101},
        {"since": "2030-01-01", "worker_id": ""},
        {"since": "2030-01-01", "triggering_event_id": "e" * 201},
    ],
    "/api/v1/crons": [{"limit": 1001}, {"workflow": ""}],
    "/api/v1/filters": [{"offset": "x"}, {"workflow": "x" * 201}],
    "/api/v1/rate-limits": [{"limit": 0}, {"offset": "x"}],
    "/api/v1/scheduled-runs": [{"status": "DONE"}, {"limit": -5}],
    "/api/v1/workflows": [{"limit": 0}, {"name_contains": ""}],
    "/api/v1/workers": [{"offset": 9001}, {"include_inactive": "maybe"}],
    "/api/v1/workflow-runs/r/task-events": [{"limit": "all"}],
    "/api/v1/workflow-runs/r/timings": [{"depth": -1}, {"depth": 11}, {"depth": "deep"}],
    "/api/v1/tasks/t": [{"attempt": 0}, {"attempt": "last"}],
    "/api/v1/tasks/t/task-events": [{"offset": -1}],
    "/api/v1/workflows/greet/versions": [{"limit": 1001}],
    "/api/v1/metrics": [
        {"since": "then"},
        {"until": "2030-01-01"},
        {"since": "2030-01-02", "until": "2030-01-01"},
    ],
}

LONG_ID = "x" * 201
JSON = {"Content-Type": "application/json"}


async def _refused(api: Api, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    headers = {**api.member_a, **kwargs.pop("headers", {})}
    response = await api.client.request(method, path, headers=headers, **kwargs)
    assert response.status_code in (400, 422), (method, path, kwargs, response.status_code, response.text)
    body = response.json()
    assert body["code"] == "invalid_request" and len(body["message"]) > 20, body
    return body


async def _pending_schedule(api: Api) -> str:
    body = {"workflow": "greet", "trigger_at": "2100-01-01T00:00:00Z"}
    response = await api.client.post("/api/v1/scheduled-runs", json=body, headers=api.member_a)
    return str(response.json()["id"])


async def test_every_body_route_refuses_garbage_and_changes_nothing(api: Api) -> None:
    schedule = await _pending_schedule(api)
    before = await api.snapshot(TENANT_A)
    (worker,) = await api.call(TENANT_A, "list_workers")
    for (method, template), bodies in WRONG.items():
        path = template.format(id=schedule, key="emails", worker=worker["id"])
        for raw in NOT_BODIES:
            await _refused(api, method, path, content=raw, headers=JSON)
        for body in bodies:
            await _refused(api, method, path, json=body)
    assert await api.snapshot(TENANT_A) == before


async def test_refusals_name_the_field_and_the_problem(api: Api) -> None:
    body = await _refused(
        api, "POST", "/api/v1/workflow-runs/trigger", json={"workflow": "greet", "priority": 9}
    )
    assert "body.priority" in body["message"] and "less than or equal to 3" in body["message"]
    body = await _refused(api, "POST", "/api/v1/workflow-runs/trigger", content=b"{nope", headers=JSON)
    assert "JSON decode error" in body["message"]
    body = await _refused(api, "GET", "/api/v1/workflow-runs", params={})
    assert "query.since: Field required" in body["message"]
    body = await _refused(
        api, "GET", "/api/v1/workflow-runs", params={"since": "2030-01-01", "additional_metadata": "nocolon"}
    )
    assert body["message"] == "additional_metadata: 'nocolon' is not key:value (as in env:prod)"
    body = await _refused(
        api,
        "POST",
        "/api/v1/workflow-runs/trigger",
        json={"workflow": "greet", "desired_worker_labels": {"gpu": {"value": "a", "wat": 1}}},
    )
    assert "label 'gpu' has unknown fields ['wat']" in body["message"]


async def test_every_list_refuses_bad_queries(api: Api) -> None:
    for path, queries in BAD_QUERIES.items():
        for params in queries:
            await _refused(api, "GET", path, params=params)


async def test_ids_too_long_are_refused_on_every_route_that_takes_one(api: Api) -> None:
    before = await api.snapshot(TENANT_A)
    for method, path in [
        ("GET", f"/api/v1/workflow-runs/{LONG_ID}"),
        ("GET", f"/api/v1/workflow-runs/{LONG_ID}/task-events"),
        ("GET", f"/api/v1/filters/{LONG_ID}"),
        ("DELETE", f"/api/v1/filters/{LONG_ID}"),
        ("GET", f"/api/v1/crons/{LONG_ID}"),
        ("DELETE", f"/api/v1/crons/{LONG_ID}"),
        ("POST", f"/api/v1/crons/{LONG_ID}/run"),
        ("GET", f"/api/v1/scheduled-runs/{LONG_ID}"),
        ("DELETE", f"/api/v1/scheduled-runs/{LONG_ID}"),
        ("GET", f"/api/v1/workflow-runs/{LONG_ID}/timings"),
        ("GET", f"/api/v1/tasks/{LONG_ID}"),
        ("GET", f"/api/v1/tasks/{LONG_ID}/task-events"),
        ("GET", f"/api/v1/workers/{LONG_ID}"),
        ("GET", f"/api/v1/workflows/{LONG_ID}"),
        ("GET", f"/api/v1/workflows/{LONG_ID}/versions"),
    ]:
        await _refused(api, method, path)
    await _refused(api, "PATCH", f"/api/v1/scheduled-runs/{LONG_ID}", json={"trigger_at": "2100-01-01"})
    await _refused(api, "PATCH", f"/api/v1/crons/{LONG_ID}", json={"enabled": False})
    await _refused(api, "PUT", f"/api/v1/rate-limits/{LONG_ID}", json={"limit": 1})
    await _refused(api, "PUT", "/api/v1/rate-limits/%20", json={"limit": 1})
    await _refused(api, "DELETE", f"/api/v1/rate-limits/{LONG_ID}")
    await _refused(api, "DELETE", "/api/v1/rate-limits/%20")
    await _refused(api, "PATCH", f"/api/v1/workers/{LONG_ID}", json={"paused": True})
    await _refused(api, "PATCH", f"/api/v1/workflows/{LONG_ID}", json={"paused": True})
    assert await api.snapshot(TENANT_A) == before


async def test_non_json_numbers_in_a_payload_are_refused(api: Api) -> None:
    before = await api.snapshot(TENANT_A)
    for raw in (b'{"workflow": "greet", "input": NaN}', b'{"workflow": "greet", "input": {"x": Infinity}}'):
        path = "/api/v1/workflow-runs/trigger"
        await _refused(api, "POST", path, content=raw, headers=JSON)
    assert await api.snapshot(TENANT_A) == before


async def test_an_unknown_route_or_method_says_so(api: Api) -> None:
    response = await api.client.get("/api/v1/nothing", headers=api.member_a)
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "no route '/api/v1/nothing'; /docs lists the routes",
    }
    response = await api.client.put("/api/v1/events", json={}, headers=api.member_a)
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


async def test_a_body_over_the_limit_is_413_before_it_is_read(api: Api) -> None:
    app = create_app(api.backend, max_body_bytes=1024)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        body = {"workflow": "greet", "input": "x" * 2000}
        response = await client.post("/api/v1/workflow-runs/trigger", json=body, headers=api.member_a)
    assert response.status_code == 413 and response.text == "Content Too Large"


class _Gone(Actor):
    """A gateway that has stopped, as one is while its tenant's cell restarts."""

    def list_workflows(self) -> list[str]:
        return []


async def test_a_gateway_that_is_down_answers_503_and_to_try_again(api: Api) -> None:
    system = api.engine.system
    gone = await system.spawn(_Gone, name="gone")
    await system.root.terminate_child("gone")

    class Restarting(EngineBackend):
        def gateway(self, tenant_id: str) -> ActorRef:
            return gone

    app = create_app(Restarting.of(api.engine))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        response = await client.get("/api/v1/workflows", headers=api.viewer_a)
    assert response.status_code == 503
    assert response.json() == {
        "code": "unavailable",
        "message": "the engine is restarting; try again in a moment",
    }
