"""The webhook route in-process: httpx's ASGI transport under Trio, a real memory store, and a
``push_events`` that records what the gateway would be given."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio
from fastapi import FastAPI
from webhook_signing import SLACK_SECRET, SVIX_SECRET, github_headers, slack_headers, svix_headers

from ratchet.actors.store import MemoryStore, open_store
from ratchet.actors.webhooks import Webhooks, derive_key, webhook_router
from ratchet.runtime import FixedEpochClock, RandomSource

EPOCH = 1_893_456_000
T = "acme"
URL = f"/api/v1/tenants/{T}/webhooks/github"
BODY = b'{"ref": "refs/heads/main"}'
GITHUB = {
    "name": "github",
    "kind": "github",
    "secret": "gh-secret",
    "event_key_expression": "'github:' + headers['x-github-event']",
}


class Gateway:
    """Stands where the tenant's gateway is: records each push, answers as ``push_events`` does."""

    def __init__(self) -> None:
        self.pushed: list[tuple[str, list[dict[str, Any]]]] = []
        self.failure: Exception | None = None
        self.answer_error = False

    async def push_events(self, tenant_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        await trio.lowlevel.checkpoint()
        if self.failure is not None:
            raise self.failure
        if self.answer_error:
            return [{"error": "the event could not be stored: store down"} for _ in events]
        self.pushed.append((tenant_id, events))
        return [{"id": f"e{len(self.pushed)}", "runs": []} for _ in events]


class App:
    def __init__(self, hooks: Webhooks, gateway: Gateway, client: httpx.AsyncClient) -> None:
        self.hooks, self.gateway, self.client = hooks, gateway, client

    async def post(self, url: str = URL, body: bytes = BODY, headers: dict[str, str] | None = None):
        if headers is None:
            headers = {**github_headers(body, "gh-secret"), "X-GitHub-Event": "push"}
        return await self.client.post(url, content=body, headers=headers)


@pytest.fixture
async def app() -> AsyncIterator[App]:
    async with open_store(MemoryStore()) as store:
        key = derive_key(b"engine key material for the tests", "webhook-secrets")
        hooks = Webhooks(
            store,
            store.commit,
            key,
            FixedEpochClock(EPOCH),
            RandomSource(3),
            rate=5.0,
            burst=5,
            max_body_bytes=4096,
        )
        await hooks.create(T, GITHUB)
        gateway = Gateway()
        api = FastAPI()
        api.include_router(webhook_router(lambda: hooks, gateway.push_events))
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
            yield App(hooks, gateway, client)


async def test_a_verified_request_is_pushed_as_an_event(app: App) -> None:
    response = await app.post()
    assert response.status_code == 200 and response.json() == {"events": 1}
    ((tenant, (event,)),) = app.gateway.pushed
    assert tenant == T and event["key"] == "github:push" and event["payload"] == json.loads(BODY)


async def test_no_bearer_token_is_asked_for(app: App) -> None:
    response = await app.client.post(
        URL,
        content=BODY,
        headers={
            **github_headers(BODY, "gh-secret"),
            "X-GitHub-Event": "push",
            "Authorization": "Bearer junk",
        },
    )
    assert response.status_code == 200


async def test_a_wrong_signature_answers_401_and_pushes_nothing(app: App) -> None:
    response = await app.post(headers={**github_headers(BODY, "guess"), "X-GitHub-Event": "push"})
    assert response.status_code == 401
    assert response.json() == {"detail": "the signature does not match"}
    assert "gh-secret" not in response.text
    assert app.gateway.pushed == []


async def test_unknown_tenant_and_unknown_webhook_both_answer_404(app: App) -> None:
    a = await app.post(url="/api/v1/tenants/nobody/webhooks/github")
    b = await app.post(url=f"/api/v1/tenants/{T}/webhooks/nothing")
    assert a.status_code == b.status_code == 404
    assert a.json() == b.json() == {"detail": "no such webhook"}
    assert app.gateway.pushed == []


async def test_a_huge_body_answers_413_without_being_read_whole(app: App) -> None:
    sent = 0

    async def stream():
        nonlocal sent
        for _ in range(1000):  # 1000 chunks of 1 KiB: far over the 4 KiB limit
            sent += 1
            yield b"x" * 1024

    headers = {**github_headers(b"", "gh-secret"), "X-GitHub-Event": "push"}
    response = await app.client.post(URL, content=stream(), headers=headers)
    assert response.status_code == 413
    assert response.json() == {"detail": "the body is over the limit of 4096 bytes"}
    assert sent < 1000
    assert app.gateway.pushed == []
    (failure,) = await app.hooks.failures(T, "github")
    assert failure["reason"] == "the body is over the limit of 4096 bytes"


async def test_a_cel_failure_answers_422_with_a_generic_reason(app: App) -> None:
    await app.hooks.create(T, {**GITHUB, "name": "strict", "event_key_expression": "input.action"})
    url = f"/api/v1/tenants/{T}/webhooks/strict"
    response = await app.post(url=url)
    assert response.status_code == 422
    assert response.json() == {"detail": "the event key expression failed for this request"}
    (failure,) = await app.hooks.failures(T, "strict")
    assert "input.action" in failure["reason"]
    bad_json = b"{nope"
    response = await app.post(url=url, body=bad_json)
    assert response.status_code == 422 and response.json() == {"detail": "the body is not JSON"}


async def test_a_flood_answers_429_with_retry_after(app: App) -> None:
    answers = [(await app.post()).status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]
    response = await app.post()
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    assert len(app.gateway.pushed) == 5


async def test_a_slack_challenge_is_answered(app: App) -> None:
    await app.hooks.create(
        T, {"name": "slack", "kind": "slack", "secret": SLACK_SECRET, "event_key_expression": "input.type"}
    )
    body = b'{"type": "url_verification", "challenge": "c-123"}'
    response = await app.post(
        url=f"/api/v1/tenants/{T}/webhooks/slack", body=body, headers=slack_headers(body, EPOCH)
    )
    assert response.status_code == 200 and response.json() == {"challenge": "c-123"}
    assert app.gateway.pushed == []


async def test_a_replayed_svix_delivery_answers_409(app: App) -> None:
    await app.hooks.create(
        T, {"name": "svix", "kind": "svix", "secret": SVIX_SECRET, "event_key_expression": "input.eventType"}
    )
    body = b'{"eventType": "user.created"}'
    url = f"/api/v1/tenants/{T}/webhooks/svix"
    headers = svix_headers(body, EPOCH, "msg_7")
    assert (await app.post(url=url, body=body, headers=headers)).status_code == 200
    replay = await app.post(url=url, body=body, headers=headers)
    assert replay.status_code == 409
    assert replay.json() == {"detail": "this delivery was received already; a replay is refused"}
    assert len(app.gateway.pushed) == 1


@pytest.mark.parametrize("failure", ["raises", "answers an error"])
async def test_a_failed_push_answers_503_and_the_retry_is_taken(app: App, failure: str) -> None:
    await app.hooks.create(
        T, {"name": "svix", "kind": "svix", "secret": SVIX_SECRET, "event_key_expression": "input.eventType"}
    )
    body = b'{"eventType": "user.created"}'
    url = f"/api/v1/tenants/{T}/webhooks/svix"
    headers = svix_headers(body, EPOCH, "msg_8")
    if failure == "raises":
        app.gateway.failure = RuntimeError("gateway gone: /secret/path in the message")
    else:
        app.gateway.answer_error = True
    response = await app.post(url=url, body=body, headers=headers)
    assert response.status_code == 503
    assert response.json() == {"detail": "the event could not be stored; try again"}
    (recorded,) = await app.hooks.failures(T, "svix")
    assert recorded["reason"] == "the event could not be pushed to the tenant's gateway"
    app.gateway.failure, app.gateway.answer_error = None, False
    assert (await app.post(url=url, body=body, headers=headers)).status_code == 200  # svix retries: taken
    assert len(app.gateway.pushed) == 1


async def test_other_methods_and_paths_are_not_served(app: App) -> None:
    assert (await app.client.get(URL)).status_code == 405
    assert (await app.client.post(f"/api/v1/tenants/{T}/webhooks")).status_code == 404


async def test_the_route_is_in_the_openapi_schema_without_security() -> None:
    api = FastAPI()
    api.include_router(webhook_router(lambda: None, None))  # type: ignore[arg-type]
    operation = api.openapi()["paths"]["/api/v1/tenants/{tenant}/webhooks/{name}"]["post"]
    assert set(operation["responses"]) >= {"200", "401", "404", "409", "413", "422", "429", "503"}
    assert "security" not in operation
