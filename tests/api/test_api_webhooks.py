"""Webhooks over HTTP: defined with a token, received without one, and the event they make runs workflows.

A member defines a webhook (its secret goes in and never comes out), a GitHub-style
request signed with the secret arrives at the tenant's receive route with no token,
and the event it makes starts the workflow listening to its key; refused requests are
listed as failures. Garbage definitions change nothing; another tenant's webhooks are
invisible, and a request to another tenant's receive route fails exactly like one to
a webhook that does not exist.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from api_harness import TENANT_A, TENANT_B, Api

SECRET = "It's a Secret to Everybody"
HOOK = {
    "name": "github",
    "kind": "github",
    "secret": SECRET,
    "event_key_expression": "'order:' + input.action",
    "static_payload": {"name": "webhook"},
}


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """GitHub's signature header: ``sha256=`` and the hex HMAC-SHA256 of the body under the secret."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def receive_url(tenant: str, name: str) -> str:
    return f"/api/v1/tenants/{tenant}/webhooks/{name}"


async def create(api: Api, headers: dict[str, str], hook: dict[str, Any] = HOOK) -> dict[str, Any]:
    response = await api.client.post("/api/v1/webhooks", json=hook, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_signed_request_makes_an_event_that_runs_the_workflow_listening_to_it(api: Api) -> None:
    created = await create(api, api.member_a)
    assert created["name"] == "github" and created["kind"] == "github"
    assert created["event_key_expression"] == HOOK["event_key_expression"]
    body = json.dumps({"action": "paid", "order": 7}).encode()

    response = await api.client.post(receive_url(TENANT_A, "github"), content=body, headers=signed(body))
    assert response.status_code == 200 and response.json() == {"events": 1}

    events = (await api.client.get("/api/v1/events", headers=api.viewer_a)).json()["rows"]
    (event,) = [e for e in events if e["key"] == "order:paid"]
    assert event["payload"] == {"action": "paid", "order": 7, "name": "webhook"}
    assert event["additional_metadata"] == {"source": "webhook", "webhook": "github"}
    (run,) = await api.call(TENANT_A, "list_runs", {"triggering_event_id": event["id"]})
    finished = await api.finished(TENANT_A, run["run_id"])
    assert finished["status"] == "COMPLETED" and finished["output"]["hello"] == {"hello": "webhook"}


async def test_a_refused_request_starts_nothing_and_is_listed_as_a_failure(api: Api) -> None:
    await create(api, api.member_a)
    body = b'{"action": "forged"}'
    before = await api.snapshot(TENANT_A)
    forged = await api.client.post(
        receive_url(TENANT_A, "github"), content=body, headers=signed(body, "a guess")
    )
    assert forged.status_code == 401 and SECRET not in forged.text
    unsigned = await api.client.post(receive_url(TENANT_A, "github"), content=body, headers=api.member_a)
    assert unsigned.status_code == 401  # an API token is no webhook signature
    assert await api.snapshot(TENANT_A) == before

    failures = await api.client.get("/api/v1/webhooks/github/failures", headers=api.viewer_a)
    assert failures.status_code == 200
    rows = failures.json()["rows"]
    reasons = [row["reason"] for row in rows]  # newest first
    assert reasons == ["the X-Hub-Signature-256 header is missing", "the signature does not match"]
    assert rows[0]["excerpt"] == rows[1]["excerpt"] == body.decode()
    assert SECRET not in failures.text
    one = await api.client.get("/api/v1/webhooks/github/failures", params={"limit": 1}, headers=api.viewer_a)
    assert len(one.json()["rows"]) == 1 and one.json()["pagination"]["next_offset"] == 1


async def test_webhooks_are_listed_read_and_deleted_and_never_show_their_secret(api: Api) -> None:
    await create(api, api.member_a)
    await create(
        api,
        api.member_a,
        {
            "name": "alerts",
            "kind": "api_key",
            "header": "X-Key",
            "secret": "k3y",
            "event_key_expression": "'a'",
        },
    )
    listed = await api.client.get("/api/v1/webhooks", headers=api.viewer_a)
    assert [w["name"] for w in listed.json()["rows"]] == ["alerts", "github"]
    assert listed.json()["rows"][0]["header"] == "X-Key"
    got = await api.client.get("/api/v1/webhooks/github", headers=api.viewer_a)
    assert got.status_code == 200 and got.json()["static_payload"] == {"name": "webhook"}
    for text in (listed.text, got.text):
        assert SECRET not in text and "k3y" not in text and "secret" not in text

    assert (await api.client.delete("/api/v1/webhooks/github", headers=api.member_a)).status_code == 204
    assert (await api.client.get("/api/v1/webhooks/github", headers=api.viewer_a)).status_code == 404
    again = await api.client.delete("/api/v1/webhooks/github", headers=api.member_a)
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    failures = await api.client.get("/api/v1/webhooks/github/failures", headers=api.viewer_a)
    assert failures.status_code == 404
    body = b'{"action": "paid"}'
    gone = await api.client.post(receive_url(TENANT_A, "github"), content=body, headers=signed(body))
    assert gone.status_code == 404 and gone.json() == {"detail": "no such webhook"}


GARBAGE: list[Any] = [
    None,
    [],
    "github",
    {},
    {**HOOK, "secret": ""},
    {k: v for k, v in HOOK.items() if k != "secret"},
    {**HOOK, "kind": "carrier-pigeon"},
    {**HOOK, "name": "has space"},
    {**HOOK, "name": "a/b"},
    {**HOOK, "name": "x" * 101},
    {**HOOK, "event_key_expression": "input.(("},
    {**HOOK, "event_key_expression": ""},
    {**HOOK, "header": "X-Sig"},  # a github webhook takes no header
    {**HOOK, "color": "red"},
    {**HOOK, "kind": "hmac"},  # hmac needs a header
    {**HOOK, "kind": "basic"},  # basic needs a username
    {**HOOK, "kind": "svix", "secret": "not-whsec"},
    {**HOOK, "static_payload": [1, 2]},
    {**HOOK, "secret": "x" * 5000},
]


@pytest.mark.parametrize("body", GARBAGE, ids=range(len(GARBAGE)))
async def test_a_garbage_definition_is_refused_and_changes_nothing(api: Api, body: Any) -> None:
    before = await api.snapshot(TENANT_A)
    response = await api.client.post("/api/v1/webhooks", json=body, headers=api.member_a)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"
    assert SECRET not in response.text
    assert await api.snapshot(TENANT_A) == before


async def test_a_second_webhook_of_the_same_name_is_refused(api: Api) -> None:
    first = await create(api, api.member_a)
    before = await api.snapshot(TENANT_A)
    response = await api.client.post(
        "/api/v1/webhooks", json={**HOOK, "secret": "other"}, headers=api.member_a
    )
    assert response.status_code == 400 and "already" in response.json()["message"]
    assert await api.snapshot(TENANT_A) == before
    got = (await api.client.get("/api/v1/webhooks/github", headers=api.viewer_a)).json()
    assert got["id"] == first["id"]


async def test_a_body_that_is_not_json_is_refused(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/webhooks", content=b"{nope", headers={**api.member_a, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    limit = await api.client.get(
        "/api/v1/webhooks/github/failures", params={"limit": 0}, headers=api.viewer_a
    )
    assert limit.status_code == 422


async def test_a_webhook_of_one_tenant_is_not_reached_through_another_tenants_url(api: Api) -> None:
    await create(api, api.member_b)  # tenant B's "github", with the same secret
    listed = await api.client.get("/api/v1/webhooks", headers=api.member_a)
    assert listed.json()["rows"] == []
    body = b'{"action": "paid"}'
    before = {tenant: await api.snapshot(tenant) for tenant in (TENANT_A, TENANT_B)}
    through_a = await api.client.post(receive_url(TENANT_A, "github"), content=body, headers=signed(body))
    unknown_tenant = await api.client.post(
        receive_url("nobody", "github"), content=body, headers=signed(body)
    )
    unknown_name = await api.client.post(receive_url(TENANT_B, "gitlab"), content=body, headers=signed(body))
    with_b_token = await api.client.post(
        receive_url(TENANT_A, "github"), content=body, headers={**signed(body), **api.member_b}
    )
    answers = [(r.status_code, r.json(), r.headers.get("content-type")) for r in (through_a, with_b_token)]
    expected = (unknown_tenant.status_code, unknown_tenant.json(), unknown_tenant.headers.get("content-type"))
    assert answers == [expected, expected]
    assert (unknown_name.status_code, unknown_name.json()) == (404, {"detail": "no such webhook"})
    assert {tenant: await api.snapshot(tenant) for tenant in (TENANT_A, TENANT_B)} == before
    # tenant B's own URL takes it
    ok = await api.client.post(receive_url(TENANT_B, "github"), content=body, headers=signed(body))
    assert ok.status_code == 200
