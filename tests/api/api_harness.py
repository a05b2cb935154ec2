"""Two tenants' engines on one memory database, and the API app in front of them.

Until the tenancy core lands, each tenant is its own engine (one actor system each,
``EngineOptions.tenant``) sharing one database, and :class:`FixedTokens` (tests only)
maps a few fixed bearer strings to principals of those tenants. Every route is then
driven in-process with httpx's ASGI transport under Trio, against real engines whose
in-process workers run the workflows below.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import trio
from fastapi import FastAPI

from ratchet import AuthenticationError, NonRetryableException, Ratchet, Workflow
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors import EngineOptions, open_engine
from ratchet.actors.api import create_app
from ratchet.actors.auth import Principal, Role
from ratchet.actors.store import MemoryDatabase, MemoryStore, open_store
from ratchet.runtime import ActorRef, open_runtime

TENANT_A = "tenant-a"
TENANT_B = "tenant-b"
TENANTS = (TENANT_A, TENANT_B)
BASE_URL = "http://ratchet.test"

#: Bearer tokens of the test backend, each a principal.
TOKENS = {
    "admin-a": Principal(TENANT_A, Role.ADMIN, "t1"),
    "member-a": Principal(TENANT_A, Role.MEMBER, "t2"),
    "viewer-a": Principal(TENANT_A, Role.VIEWER, "t3"),
    "member-b": Principal(TENANT_B, Role.MEMBER, "t4"),
}

_SEEDS = itertools.count(100)


def auth(token: str) -> dict[str, str]:
    """The header that sends ``token``."""
    return {"Authorization": f"Bearer {token}"}


MEMBER_A = auth("member-a")
VIEWER_A = auth("viewer-a")
MEMBER_B = auth("member-b")


class FixedTokens:
    """An :class:`~ratchet.actors.api.ApiBackend` for tests: fixed tokens, one gateway per tenant."""

    version = "test-version"

    def __init__(self, gateways: dict[str, ActorRef]) -> None:
        self.gateways = gateways

    async def authenticate(self, authorization: str | None) -> Principal:
        if authorization is None:
            raise AuthenticationError("no API token: send the header Authorization: Bearer <token>")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or token not in TOKENS:
            raise AuthenticationError("the API token is not valid")
        return TOKENS[token]

    def gateway(self, tenant_id: str) -> ActorRef:
        return self.gateways[tenant_id]


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
    """The app's client and the engines behind it."""

    app: FastAPI
    client: httpx.AsyncClient
    gateways: dict[str, ActorRef]
    stores: dict[str, MemoryStore]

    async def call(self, tenant: str, method: str, *args: Any) -> Any:
        """Ask a tenant's gateway directly (to set up or check what a route did)."""
        return await getattr(self.gateways[tenant], method).ask(*args)

    async def finished(self, tenant: str, run_id: str) -> dict[str, Any]:
        """The run, once it finished."""
        return await self.call(tenant, "wait_run", run_id, 10.0)

    async def snapshot(self, tenant: str) -> dict[str, Any]:
        """Everything a route could change in ``tenant``, as stored: to prove a refusal changed nothing."""
        store = self.stores[tenant]
        return {
            "runs": [(r.id, r.status) for r in await store.list_runs(tenant, limit=None)],
            "events": [e.id for e in await store.list_events(tenant, limit=None)],
            "crons": [c.id for c in await store.list_crons(tenant)],
            "schedules": [(s.id, s.status, s.trigger_at) for s in await store.list_schedules(tenant)],
            "filters": [f.id for f in await store.list_event_filters(tenant)],
            "rate_limits": [(r.key, r.limit_units) for r in await store.list_rate_limits(tenant)],
        }


@asynccontextmanager
async def _engine(
    database: MemoryDatabase, tenant: str, workflows: list[Workflow]
) -> AsyncIterator[tuple[ActorRef, MemoryStore]]:
    async with open_runtime(seed=next(_SEEDS)) as system:
        options = EngineOptions(tenant=tenant)
        async with open_store(MemoryStore(database)) as store, open_engine(system, store, options) as eng:
            config = WorkerConfig(name=f"worker-{tenant}", workflows=workflows, slots=20, threads=False)
            ref = await system.spawn(WorkerActor, config, eng.gateway, name="worker:w")
            await ref.wait_registered.ask()
            yield eng.gateway, store
            await system.root.terminate_child("worker:w")


@asynccontextmanager
async def open_api() -> AsyncIterator[Api]:
    """Both tenants' engines, with workers, and an httpx client of the app in front of them."""
    database = MemoryDatabase()
    workflows = declare()
    async with AsyncExitStack() as stack:
        engines = {t: await stack.enter_async_context(_engine(database, t, workflows)) for t in TENANTS}
        gateways = {t: gateway for t, (gateway, _) in engines.items()}
        app = create_app(FixedTokens(gateways))
        transport = httpx.ASGITransport(app=app)
        client = await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url=BASE_URL))
        yield Api(app, client, gateways, {t: store for t, (_, store) in engines.items()})
