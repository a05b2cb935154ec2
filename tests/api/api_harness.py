"""One engine serving two tenants, and the API app in front of it, with real API tokens.

The engine's first tenant is ``tenant-a``; ``tenant-b`` is created through the engine's
authority, as ``ratchet tenants create`` does. Tokens are minted by the engine for each
role, and the app authenticates them with the engine's token book
(:class:`~ratchet.actors.api.EngineBackend`). Every route is then driven in-process with
httpx's ASGI transport under Trio, against the real engine, whose in-process workers
(one per tenant) run the workflows below.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import trio
from fastapi import FastAPI

from ratchet import NonRetryableException, Ratchet, Workflow
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors import Engine, EngineOptions, open_engine
from ratchet.actors.api import EngineBackend, create_app
from ratchet.actors.auth import Principal, Role
from ratchet.actors.store import MemoryStore, open_store
from ratchet.runtime import ActorRef, open_runtime

TENANT_A = "tenant-a"
TENANT_B = "tenant-b"
TENANTS = (TENANT_A, TENANT_B)
BASE_URL = "http://ratchet.test"
VERSION = "test-version"

_SEEDS = itertools.count(100)


def auth(token: str) -> dict[str, str]:
    """The header that sends ``token``."""
    return {"Authorization": f"Bearer {token}"}


def declare() -> list[Workflow]:
    """The workflows both tenants' workers run."""
    r = Ratchet()
    greet = r.workflow("greet", input_validator=dict, on_events=["order:*"])

    @greet.task()
    async def hello(inp: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"hello": inp.get("name", "world")}

    fails = r.workflow("fails", input_validator=dict)

    @fails.task(retries=0)
    async def boom(inp: dict[str, Any], ctx: Any) -> None:
        raise NonRetryableException("boom")

    waits = r.workflow("waits", input_validator=dict)

    @waits.task()
    async def wait_for_cancel(inp: dict[str, Any], ctx: Any) -> None:
        await trio.sleep_forever()

    return [greet, fails, waits]


@dataclass
class Api:
    """The app, its client, the engine behind it, and headers carrying each kind of token.

    Attributes:
        admin_a, member_a, viewer_a: headers with a token of ``tenant-a`` of that role.
        member_b: a header with a member token of ``tenant-b``.
    """

    app: FastAPI
    client: httpx.AsyncClient
    engine: Engine
    backend: EngineBackend
    admin_a: dict[str, str]
    member_a: dict[str, str]
    viewer_a: dict[str, str]
    member_b: dict[str, str]

    def gateway(self, tenant: str) -> ActorRef:
        return self.engine.gateway_for(tenant)

    async def call(self, tenant: str, method: str, *args: Any) -> Any:
        """Ask a tenant's gateway directly (to set up or check what a route did)."""
        return await getattr(self.gateway(tenant), method).ask(*args)

    async def finished(self, tenant: str, run_id: str) -> dict[str, Any]:
        """The run, once it finished."""
        return await self.call(tenant, "wait_run", run_id, 10.0)

    async def snapshot(self, tenant: str) -> dict[str, Any]:
        """Everything a route could change in ``tenant``, as stored: to prove a refusal changed nothing."""
        store = self.engine.store
        return {
            "runs": [(r.id, r.status) for r in await store.list_runs(tenant, limit=None)],
            "events": [e.id for e in await store.list_events(tenant, limit=None)],
            "crons": [c.id for c in await store.list_crons(tenant)],
            "schedules": [(s.id, s.status, s.trigger_at) for s in await store.list_schedules(tenant)],
            "filters": [f.id for f in await store.list_event_filters(tenant)],
            "rate_limits": [(r.key, r.limit_units) for r in await store.list_rate_limits(tenant)],
            "pauses": [(p.kind, p.target) for p in await store.list_pauses(tenant)],
            "webhooks": [(w.id, w.name) for w in await store.list_webhooks(tenant)],
            "tokens": [(t.id, bool(t.revoked)) for t in await store.list_api_tokens(tenant)],
            "tenants": [t.id for t in await store.list_tenants()],
        }


async def _token(engine: Engine, tenant: str, role: Role) -> dict[str, str]:
    return auth(await engine.issue_token(f"{role} of {tenant}", role, tenant_id=tenant))


@dataclass
class Tenants:
    """The engine serving both tenants, its API backend, and a header per kind of token."""

    engine: Engine
    backend: EngineBackend
    headers: dict[str, dict[str, str]]


@asynccontextmanager
async def open_tenants() -> AsyncIterator[Tenants]:
    """The engine with both tenants, a worker for each, and tokens (``admin-a``, ``member-a``,
    ``viewer-a``, ``member-b``)."""
    workflows = declare()
    async with open_runtime(seed=next(_SEEDS)) as system:
        options = EngineOptions(tenant=TENANT_A)
        async with open_store(MemoryStore()) as store, open_engine(system, store, options) as engine:
            home_admin = Principal(TENANT_A, Role.ADMIN)
            await engine.authority.create_tenant.ask({"name": TENANT_B}, principal=home_admin)
            for tenant in TENANTS:
                config = WorkerConfig(name=f"worker-{tenant}", workflows=workflows, slots=20, threads=False)
                ref = await system.spawn(
                    WorkerActor, config, engine.gateway_for(tenant), name=f"worker:{tenant}"
                )
                await ref.wait_registered.ask()
            backend = EngineBackend.of(engine, version=VERSION)
            headers = {
                "admin-a": await _token(engine, TENANT_A, Role.ADMIN),
                "member-a": await _token(engine, TENANT_A, Role.MEMBER),
                "viewer-a": await _token(engine, TENANT_A, Role.VIEWER),
                "member-b": await _token(engine, TENANT_B, Role.MEMBER),
            }
            yield Tenants(engine, backend, headers)
            for tenant in TENANTS:
                await system.root.terminate_child(f"worker:{tenant}")


@asynccontextmanager
async def open_api(**app_options: Any) -> AsyncIterator[Api]:
    """:func:`open_tenants`, and an httpx client of the app in front of the engine."""
    async with open_tenants() as tenants:
        app = create_app(tenants.backend, **app_options)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield Api(
                app,
                client,
                tenants.engine,
                tenants.backend,
                admin_a=tenants.headers["admin-a"],
                member_a=tenants.headers["member-a"],
                viewer_a=tenants.headers["viewer-a"],
                member_b=tenants.headers["member-b"],
            )
