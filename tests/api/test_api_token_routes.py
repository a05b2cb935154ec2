"""Tokens, tenants and whoami over HTTP: admins manage tokens, the first tenant's admins make tenants.

Each refusal changes nothing: a member or viewer may not manage tokens (403), a
tenant's admin may not make tenants unless the tenant is the engine's first (403),
another tenant's token id answers 404 as an unknown one does, and garbage is 422.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_harness import TENANT_A, TENANT_B, Api, auth

from ratchet.actors.auth import Role


async def test_whoami_names_the_tokens_tenant_and_role(api: Api) -> None:
    for headers, tenant, role in (
        (api.admin_a, TENANT_A, "admin"),
        (api.viewer_a, TENANT_A, "viewer"),
        (api.member_b, TENANT_B, "member"),
    ):
        response = await api.client.get("/api/v1/whoami", headers=headers)
        assert response.status_code == 200
        assert response.json()["tenant_id"] == tenant and response.json()["role"] == role
        assert response.json()["token_id"]


async def test_an_admin_makes_lists_and_revokes_a_token(api: Api) -> None:
    made = await api.client.post("/api/v1/tokens", json={"name": "ci", "role": "viewer"}, headers=api.admin_a)
    assert made.status_code == 201
    token = made.json()
    assert token["role"] == "viewer" and token["tenant_id"] == TENANT_A and not token["revoked"]
    me = await api.client.get("/api/v1/whoami", headers=auth(token["token"]))
    assert me.json() == {"tenant_id": TENANT_A, "role": "viewer", "token_id": token["id"]}

    listed = (await api.client.get("/api/v1/tokens", headers=api.admin_a)).json()["rows"]
    (row,) = [r for r in listed if r["id"] == token["id"]]
    assert row["name"] == "ci" and "token" not in row
    assert all("token" not in r for r in listed)

    assert (await api.client.delete(f"/api/v1/tokens/{token['id']}", headers=api.admin_a)).status_code == 204
    refused = await api.client.get("/api/v1/whoami", headers=auth(token["token"]))
    assert refused.status_code == 401
    listed = (await api.client.get("/api/v1/tokens", headers=api.admin_a)).json()["rows"]
    assert [r["revoked"] for r in listed if r["id"] == token["id"]] == [True]


async def test_a_member_or_viewer_may_not_manage_tokens(api: Api) -> None:
    before = await api.snapshot(TENANT_A)
    (mine,) = [r for r in await api.engine.store.list_api_tokens(TENANT_A) if r.role == "viewer"]
    for headers in (api.member_a, api.viewer_a):
        for method, path, body in (
            ("POST", "/api/v1/tokens", {"name": "x"}),
            ("GET", "/api/v1/tokens", None),
            ("DELETE", f"/api/v1/tokens/{mine.id}", None),
        ):
            response = await api.client.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (method, path, response.text)
            assert "needs an admin token" in response.json()["message"]
    assert await api.snapshot(TENANT_A) == before


async def test_another_tenants_token_is_not_found_and_keeps_working(api: Api) -> None:
    issued = await api.engine.authority.issue_token.ask(TENANT_B, "b's", Role.MEMBER)
    response = await api.client.delete(f"/api/v1/tokens/{issued['id']}", headers=api.admin_a)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    unknown = await api.client.delete("/api/v1/tokens/no-such-token", headers=api.admin_a)
    assert unknown.status_code == 404
    assert (await api.client.get("/api/v1/whoami", headers=auth(issued["token"]))).status_code == 200
    ids = {r["id"] for r in (await api.client.get("/api/v1/tokens", headers=api.admin_a)).json()["rows"]}
    assert issued["id"] not in ids


TOKEN_GARBAGE: list[Any] = [
    None,
    [],
    {},
    {"name": ""},
    {"name": "x" * 201},
    {"name": "ci", "role": "root"},
    {"name": "ci", "expires_in": 5},
    {"name": "ci", "expires_in": "soon"},
    {"name": "ci", "expires_in": 1e12},
    {"name": "ci", "tenant_id": TENANT_B},
]


@pytest.mark.parametrize("body", TOKEN_GARBAGE, ids=range(len(TOKEN_GARBAGE)))
async def test_a_garbage_token_request_is_refused_and_changes_nothing(api: Api, body: Any) -> None:
    before = await api.snapshot(TENANT_A)
    response = await api.client.post("/api/v1/tokens", json=body, headers=api.admin_a)
    assert response.status_code == 422, response.text
    assert await api.snapshot(TENANT_A) == before


async def test_a_name_the_authority_refuses_is_400(api: Api) -> None:
    before = await api.snapshot(TENANT_A)
    response = await api.client.post("/api/v1/tokens", json={"name": "tab\there"}, headers=api.admin_a)
    assert response.status_code == 400 and "printable" in response.json()["message"]
    assert await api.snapshot(TENANT_A) == before


async def test_the_first_tenants_admin_makes_a_tenant_whose_admin_sees_only_it(api: Api) -> None:
    made = await api.client.post("/api/v1/tenants", json={"name": "tenant-c"}, headers=api.admin_a)
    assert made.status_code == 201
    created = made.json()
    assert created["tenant"]["id"] == "tenant-c" and created["admin_token"]["role"] == "admin"
    admin_c = auth(created["admin_token"]["token"])
    assert (await api.client.get("/api/v1/whoami", headers=admin_c)).json()["tenant_id"] == "tenant-c"

    every = await api.client.get("/api/v1/tenants", headers=api.admin_a)
    assert {t["id"] for t in every.json()["rows"]} == {TENANT_A, TENANT_B, "tenant-c"}
    own = await api.client.get("/api/v1/tenants", headers=admin_c)
    assert [t["id"] for t in own.json()["rows"]] == ["tenant-c"]
    viewer = await api.client.get("/api/v1/tenants", headers=api.viewer_a)
    assert [t["id"] for t in viewer.json()["rows"]] == [TENANT_A]

    # the new tenant's engine cell serves it at once
    pushed = await api.client.post("/api/v1/events", json={"key": "hello"}, headers=admin_c)
    assert pushed.status_code == 201


async def test_only_the_first_tenants_admins_make_tenants(api: Api) -> None:
    admin_b = auth(await api.engine.issue_token("b admin", Role.ADMIN, tenant_id=TENANT_B))
    before = await api.snapshot(TENANT_A)
    for headers in (admin_b, api.member_a, api.viewer_a):
        response = await api.client.post("/api/v1/tenants", json={"name": "tenant-z"}, headers=headers)
        assert response.status_code == 403, response.text
    assert await api.snapshot(TENANT_A) == before


@pytest.mark.parametrize("body", [None, {}, {"name": ""}, {"name": "Upper"}, {"name": "a b"}, {"name": 7}])
async def test_a_garbage_tenant_request_is_refused_and_changes_nothing(api: Api, body: Any) -> None:
    before = await api.snapshot(TENANT_A)
    response = await api.client.post("/api/v1/tenants", json=body, headers=api.admin_a)
    assert response.status_code == 422, response.text
    assert await api.snapshot(TENANT_A) == before


async def test_a_tenant_that_exists_is_refused(api: Api) -> None:
    before = await api.snapshot(TENANT_A)
    response = await api.client.post("/api/v1/tenants", json={"name": TENANT_B}, headers=api.admin_a)
    assert response.status_code == 400 and "exists already" in response.json()["message"]
    assert await api.snapshot(TENANT_A) == before
