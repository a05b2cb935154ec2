"""Who may do what over HTTP: no token 401, a viewer's writes 403, another tenant's objects 404.

Every route of the app is covered: the route tables below are checked against the
app's own routes, so a new route fails these tests until it is added here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_harness import TENANT_A, TENANT_B, VERSION, Api, auth
from fastapi import FastAPI

from ratchet.actors.auth import Principal, Role
from ratchet.actors.auth._tokens import mint_token

SOON = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

#: A valid body for every route that writes, by (method, path template).
WRITES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/workflow-runs/trigger"): {"workflow": "greet"},
    ("POST", "/api/v1/workflow-runs/cancel"): {"run_ids": ["{run}"]},
    ("POST", "/api/v1/workflow-runs/replay"): {"run_ids": ["{failed}"]},
    ("POST", "/api/v1/events"): {"key": "order:paid"},
    ("POST", "/api/v1/events/bulk"): {"events": [{"key": "order:paid"}]},
    ("POST", "/api/v1/filters"): {"workflow": "greet", "expression": "true", "scope": "s"},
    ("DELETE", "/api/v1/filters/{filter_id}"): None,
    ("POST", "/api/v1/crons"): {"workflow": "greet", "name": "n", "expression": "@daily"},
    ("DELETE", "/api/v1/crons/{cron_id}"): None,
    ("PATCH", "/api/v1/crons/{cron_id}"): {"enabled": False},
    ("POST", "/api/v1/crons/{cron_id}/run"): None,
    ("POST", "/api/v1/scheduled-runs"): {"workflow": "greet", "trigger_at": SOON},
    ("PATCH", "/api/v1/scheduled-runs/{schedule_id}"): {"trigger_at": SOON},
    ("DELETE", "/api/v1/scheduled-runs/{schedule_id}"): None,
    ("POST", "/api/v1/scheduled-runs/bulk-delete"): {"ids": ["{schedule}"]},
    ("PUT", "/api/v1/rate-limits/{key}"): {"limit": 3},
    ("DELETE", "/api/v1/rate-limits/{key}"): None,
    ("PATCH", "/api/v1/workers/{worker_id}"): {"paused": True},
    ("PATCH", "/api/v1/workflows/{workflow}"): {"paused": True},
    ("POST", "/api/v1/webhooks"): {
        "name": "hook",
        "kind": "github",
        "secret": "s3cret",
        "event_key_expression": "'github:push'",
    },
    ("DELETE", "/api/v1/webhooks/{name}"): None,
    ("POST", "/api/v1/tokens"): {"name": "ci", "role": "viewer"},
    ("DELETE", "/api/v1/tokens/{token_id}"): None,
    ("POST", "/api/v1/tenants"): {"name": "tenant-c"},
    ("PUT", "/api/v1/tenants/{tenant}/limits"): {"max_workers": 50},
}

#: Routes anyone may call, without a token.
PUBLIC = {("GET", "/api/live"), ("GET", "/api/ready"), ("GET", "/api/v1/version")}
#: A webhook's receive route: no bearer token, its own verification instead (see test_api_webhooks).
RECEIVE = ("POST", "/api/v1/tenants/{tenant}/webhooks/{name}")
#: Routes only an admin token may call (tenants: an admin of the engine's first tenant).
ADMIN_ONLY = {
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{token_id}"),
    ("POST", "/api/v1/tenants"),
}


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path template) the app documents in its OpenAPI schema."""
    paths = app.openapi()["paths"]
    out = [(method.upper(), path) for path, operations in paths.items() for method in operations]
    assert len(out) > 20, "the schema lists the routes"
    return out


async def _objects(api: Api, tenant: str) -> dict[str, str]:
    """A run still running, a failed run, a cron, a schedule and a filter of ``tenant``."""
    headers = api.member_a if tenant == TENANT_A else api.member_b

    async def post(path: str, body: Any) -> Any:
        response = await api.client.post(path, json=body, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()

    failed = (await post("/api/v1/workflow-runs/trigger", {"workflow": "fails"}))["run_id"]
    hook = {"name": f"hook-{tenant}", "kind": "github", "secret": "s", "event_key_expression": "'k'"}
    issued = await api.engine.authority.issue_token.ask(tenant, "listed", Role.VIEWER)
    details = await api.finished(tenant, failed)
    (worker,) = await api.call(tenant, "list_workers")
    workflows = await api.call(tenant, "list_workflows", {"name_contains": "greet"})
    return {
        "tenant": tenant,
        "task": details["tasks"][0]["task_id"],
        "worker": worker["id"],
        "workflow": workflows[0]["id"],
        "run": (await post("/api/v1/workflow-runs/trigger", {"workflow": "waits"}))["run_id"],
        "failed": failed,
        "cron": (await post("/api/v1/crons", {"workflow": "greet", "name": "c", "expression": "@daily"}))[
            "id"
        ],
        "schedule": (await post("/api/v1/scheduled-runs", {"workflow": "greet", "trigger_at": SOON}))["id"],
        "filter": (await post("/api/v1/filters", {"workflow": "greet", "expression": "true", "scope": "s"}))[
            "id"
        ],
        "event": (await post("/api/v1/events", {"key": "order:seen"}))["id"],
        "webhook": (await post("/api/v1/webhooks", hook))["name"],
        "token": issued["id"],
    }


def _fill(path: str, ids: dict[str, str]) -> str:
    return path.format(
        run_id=ids["run"],
        filter_id=ids["filter"],
        cron_id=ids["cron"],
        schedule_id=ids["schedule"],
        task_id=ids["task"],
        worker_id=ids["worker"],
        workflow=ids["workflow"],
        key="emails",
        event_id=ids["event"],
        name=ids["webhook"],
        token_id=ids["token"],
        tenant=ids["tenant"],
    )


def _body(body: Any, ids: dict[str, str]) -> Any:
    if isinstance(body, dict):
        return {k: _body(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [_body(v, ids) for v in body]
    if isinstance(body, str) and body.startswith("{") and body.endswith("}"):
        return ids[body[1:-1]]
    return body


def _query(path: str) -> dict[str, str]:
    return {"since": "2000-01-01T00:00:00Z"} if path == "/api/v1/workflow-runs" else {}


async def test_the_route_tables_cover_every_route(api: Api) -> None:
    routes = set(_routes(api.app))
    writes = {(m, p) for m, p in routes if m != "GET"}
    assert writes == set(WRITES) | {RECEIVE}, "add the route to WRITES"
    assert PUBLIC <= routes and ADMIN_ONLY <= routes


#: Authorization headers that carry no valid token (the revoked and foreign ones are made per test).
NOT_TOKENS = [
    None,
    "",
    "Bearer",
    "Bearer wrong",
    "Bearer a.b.c",
    "Basic bWU6cHc=",
    "bearer  ",
    "revoked",
    "foreign",
]


async def _not_a_token(api: Api, header: str | None) -> dict[str, str]:
    if header == "revoked":
        issued = await api.engine.authority.issue_token.ask(TENANT_A, "soon revoked", Role.ADMIN)
        admin = Principal(TENANT_A, Role.ADMIN)
        assert await api.engine.authority.revoke_token.ask(issued["id"], principal=admin)
        return auth(issued["token"])
    if header == "foreign":  # a well-formed token signed with another engine's key
        token = mint_token(
            b"k" * 32, tenant_id=TENANT_A, token_id="t", server_url="", issued_at=0.0, expires_at=4e9
        )
        return auth(token)
    return {} if header is None else {"Authorization": header}


@pytest.mark.parametrize("header", NOT_TOKENS)
async def test_every_route_without_a_valid_token_is_401_and_changes_nothing(api: Api, header: Any) -> None:
    ids = await _objects(api, TENANT_A)
    headers = await _not_a_token(api, header)
    before = await api.snapshot(TENANT_A)
    for method, path in _routes(api.app):
        if (method, path) in PUBLIC or (method, path) == RECEIVE:
            continue
        body = _body(WRITES.get((method, path)), ids)
        response = await api.client.request(
            method, _fill(path, ids), json=body, params=_query(path), headers=headers
        )
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["code"] == "unauthenticated"
        assert response.headers["www-authenticate"] == "Bearer"
        garbage = await api.client.request(method, _fill(path, ids), content=b"{nope", headers=headers)
        assert garbage.status_code == 401, (method, path, garbage.text)
    assert await api.snapshot(TENANT_A) == before


async def test_the_servers_own_routes_need_no_token(api: Api) -> None:
    assert (await api.client.get("/api/live")).json() == {"status": "ok"}
    assert (await api.client.get("/api/ready")).json() == {"status": "ok"}
    assert (await api.client.get("/api/v1/version")).json() == {"version": VERSION}


async def test_a_revoked_token_stops_working_at_once(api: Api) -> None:
    issued = await api.engine.authority.issue_token.ask(TENANT_A, "ci", Role.MEMBER)
    headers = auth(issued["token"])
    assert (await api.client.get("/api/v1/workflows", headers=headers)).status_code == 200
    await api.engine.authority.revoke_token.ask(issued["id"], principal=Principal(TENANT_A, Role.ADMIN))
    response = await api.client.get("/api/v1/workflows", headers=headers)
    assert response.status_code == 401 and "revoked" in response.json()["message"]


async def test_a_viewer_may_read_but_each_write_is_403_and_changes_nothing(api: Api) -> None:
    ids = await _objects(api, TENANT_A)
    before = await api.snapshot(TENANT_A)
    for (method, path), body in WRITES.items():
        response = await api.client.request(
            method, _fill(path, ids), json=_body(body, ids), headers=api.viewer_a
        )
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "forbidden"
        assert "a viewer token may not" in response.json()["message"]
    assert await api.snapshot(TENANT_A) == before
    for method, path in _routes(api.app):
        if method == "GET":
            response = await api.client.get(_fill(path, ids), params=_query(path), headers=api.viewer_a)
            expected = 403 if (method, path) in ADMIN_ONLY else 200
            assert response.status_code == expected, (path, response.text)


async def test_a_token_of_one_tenant_never_reaches_another_tenants_objects(api: Api) -> None:
    theirs = await _objects(api, TENANT_B)
    ours = await _objects(api, TENANT_A)
    before = await api.snapshot(TENANT_B)
    for method, path in _routes(api.app):
        if "{" not in path or path.endswith("{key}") or (method, path) == RECEIVE:
            continue
        body = _body(WRITES.get((method, path)), ours)
        headers = api.admin_a if (method, path) in ADMIN_ONLY else api.member_a
        response = await api.client.request(method, _fill(path, theirs), json=body, headers=headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "not_found"
    cancel = await api.client.post(
        "/api/v1/workflow-runs/cancel", json={"run_ids": [theirs["run"]]}, headers=api.member_a
    )
    assert cancel.json() == {"cancelled": 0}
    replay = await api.client.post(
        "/api/v1/workflow-runs/replay", json={"run_ids": [theirs["failed"]]}, headers=api.member_a
    )
    assert replay.json() == {"replayed": []}
    bulk = await api.client.post(
        "/api/v1/scheduled-runs/bulk-delete", json={"ids": [theirs["schedule"]]}, headers=api.member_a
    )
    assert bulk.json() == {"deleted": [], "not_deleted": [theirs["schedule"]]}
    assert await api.snapshot(TENANT_B) == before
    lists = (
        "/api/v1/workflow-runs",
        "/api/v1/crons",
        "/api/v1/scheduled-runs",
        "/api/v1/filters",
        "/api/v1/events",
        "/api/v1/webhooks",
        "/api/v1/tokens",
    )
    for path in lists:
        listed = await api.client.get(path, params=_query(path), headers=api.admin_a)
        seen = {
            row.get("run_id", row.get("name" if "webhooks" in path else "id"))
            for row in listed.json()["rows"]
        }
        assert seen and not seen & set(theirs.values()), path


async def test_a_viewer_token_of_a_tenant_reads_only_its_own_tenant(api: Api) -> None:
    await _objects(api, TENANT_B)
    listed = await api.client.get(
        "/api/v1/workflow-runs", params=_query("/api/v1/workflow-runs"), headers=api.viewer_a
    )
    assert listed.json()["rows"] == []
