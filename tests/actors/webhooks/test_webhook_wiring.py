"""How the engine wires its webhooks: one service for every tenant, keyed by tenant, sealed
under a key derived from the engine's own.

Through the tenants' gateways (as the SDK and the REST routes reach them): a tenant
sees, reads and deletes only its own webhooks; the gateway refuses garbage with a
RequestError and stores nothing. Across engines: one with the same key on the same
database verifies the webhook's requests; one with another key cannot open the sealed
secret and answers "unavailable" instead of accepting anything.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from ratchet.actors import Engine, EngineOptions, open_engine
from ratchet.actors.auth import Principal, Role
from ratchet.actors.store import MemoryDatabase, MemoryStore, open_store
from ratchet.actors.webhooks import WebhookUnavailable
from ratchet.runtime import ActorError, open_runtime

KEY = b"the engine's key, 32 bytes long!"
HOOK = {"name": "gh", "kind": "github", "secret": "gh-secret", "event_key_expression": "'github:push'"}
BODY = b'{"ref": "main"}'
SIGNED = {"x-hub-signature-256": "sha256=" + hmac.new(b"gh-secret", BODY, hashlib.sha256).hexdigest()}


@asynccontextmanager
async def running(database: MemoryDatabase, key: bytes = KEY, seed: int = 1) -> AsyncIterator[Engine]:
    async with (
        open_runtime(seed=seed) as system,
        open_store(MemoryStore(database)) as store,
        open_engine(system, store, EngineOptions(tenant="a"), secret_key=key) as engine,
    ):
        if await store.get_tenant("b") is None:
            await engine.authority.create_tenant.ask({"name": "b"}, principal=Principal("a", Role.ADMIN))
        yield engine


async def ask(engine: Engine, tenant: str, method: str, *args: Any) -> Any:
    return await getattr(engine.gateway_for(tenant), method).ask(*args)


async def test_each_tenants_gateway_reaches_only_its_own_webhooks() -> None:
    async with running(MemoryDatabase()) as engine:
        created = await ask(engine, "a", "create_webhook", HOOK)
        assert "secret" not in created and "gh-secret" not in str(created)
        assert await ask(engine, "b", "list_webhooks") == []
        assert await ask(engine, "b", "get_webhook", "gh") is None
        assert await ask(engine, "b", "list_webhook_failures", "gh") is None
        assert await ask(engine, "b", "delete_webhook", "gh") is False
        assert [w["id"] for w in await ask(engine, "a", "list_webhooks")] == [created["id"]]
        # the same name in another tenant is another webhook
        theirs = await ask(engine, "b", "create_webhook", {**HOOK, "secret": "b-secret"})
        assert theirs["id"] != created["id"]
        reception = await engine.webhooks.receive("a", "gh", SIGNED, BODY)
        assert reception.tenant_id == "a" and reception.webhook_id == created["id"]


GARBAGE: list[tuple[str, tuple[Any, ...]]] = [
    ("create_webhook", (None,)),
    ("create_webhook", ([HOOK],)),
    ("create_webhook", ("gh",)),
    ("create_webhook", ({**HOOK, "kind": "nope"},)),
    ("create_webhook", ({**HOOK, "secret": 7},)),
    ("create_webhook", ({**HOOK, "name": "../etc"},)),
    ("get_webhook", (None,)),
    ("get_webhook", ("",)),
    ("get_webhook", ({"name": "gh"},)),
    ("delete_webhook", (7,)),
    ("delete_webhook", ("x" * 201,)),
    ("list_webhook_failures", ("gh", 0)),
    ("list_webhook_failures", ("gh", "100")),
    ("list_webhook_failures", ("gh", 10_000)),
    ("list_webhook_failures", (None,)),
    ("list_events", ("all",)),
    ("list_events", ({"limit": -1},)),
    ("list_events", ({"keys": []},)),
    ("list_events", ({"since": float("nan")},)),
    ("list_events", ({"since": 10.0, "until": 5.0},)),
    ("list_events", ({"color": "red"},)),
    ("get_event", (None,)),
    ("get_event", ("",)),
]


@pytest.mark.parametrize(("method", "args"), GARBAGE, ids=[f"{m}-{i}" for i, (m, _) in enumerate(GARBAGE)])
async def test_the_gateway_refuses_garbage_and_stores_nothing(method: str, args: tuple[Any, ...]) -> None:
    async with running(MemoryDatabase()) as engine:
        await ask(engine, "a", "create_webhook", HOOK)
        before = await ask(engine, "a", "list_webhooks")
        with pytest.raises(ActorError) as raised:
            await ask(engine, "a", method, *args)
        assert raised.value.error_type.endswith("RequestError"), raised.value
        assert "gh-secret" not in raised.value.error_message
        assert await ask(engine, "a", "list_webhooks") == before


async def test_a_name_taken_is_a_request_error_and_keeps_the_first() -> None:
    async with running(MemoryDatabase()) as engine:
        first = await ask(engine, "a", "create_webhook", HOOK)
        with pytest.raises(ActorError, match="already") as raised:
            await ask(engine, "a", "create_webhook", {**HOOK, "secret": "other"})
        assert raised.value.error_type.endswith("RequestError")
        assert [w["id"] for w in await ask(engine, "a", "list_webhooks")] == [first["id"]]


async def test_the_secrets_key_comes_from_the_engines_key() -> None:
    database = MemoryDatabase()
    async with running(database) as engine:
        await ask(engine, "a", "create_webhook", HOOK)
    async with running(database, seed=2) as engine:  # the same key: the sealed secret opens
        reception = await engine.webhooks.receive("a", "gh", SIGNED, BODY)
        assert reception.events[0]["key"] == "github:push"
    async with running(database, key=b"another engine's key, 32 bytes!!", seed=3) as engine:
        with pytest.raises(WebhookUnavailable):
            await engine.webhooks.receive("a", "gh", SIGNED, BODY)
