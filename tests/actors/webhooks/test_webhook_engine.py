"""Webhooks end to end on a real engine (virtual time): a verified request becomes an ordinary
event, so it starts the workflows listening to its key and wakes durable waits; a refused one
starts nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import trio
from engine_harness import EPOCH, RunningEngine, engine, runs_of
from fastapi import FastAPI
from webhook_signing import STRIPE_SECRET, github_headers, stripe_headers

from ratchet import DurableContext, Ratchet
from ratchet.actors.store import MemoryDatabase, commit
from ratchet.actors.webhooks import Webhooks, derive_key, webhook_router
from ratchet.runtime import FixedEpochClock

TENANT = "default"
PUSH = b'{"ref": "refs/heads/main", "repository": {"full_name": "acme/shop"}}'


@asynccontextmanager
async def webhooks_of(eng: RunningEngine) -> AsyncIterator[tuple[Webhooks, httpx.AsyncClient]]:
    """The webhooks service and its route, wired to the engine as the HTTP app wires them."""
    writer = eng.system.lookup("store-writer")
    runtime = eng.system.runtime
    hooks = Webhooks(
        eng.store,
        lambda mutations: commit(writer, mutations),
        derive_key(b"the engine's key material, 32 b", "webhook-secrets"),
        runtime.clock,
        runtime.random,
    )

    async def push_events(tenant_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        assert tenant_id == TENANT  # this engine serves one tenant
        return list(await eng.gateway.push_events.ask(events))

    app = FastAPI()
    app.include_router(webhook_router(lambda: hooks, push_events))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://engine") as client:
        yield hooks, client


def workflows():
    r = Ratchet()
    deploy = r.workflow("deploy", on_events=["github:push"], input_validator=dict)

    @deploy.task()
    async def ship(inp, ctx):
        return {"ref": inp["ref"], "source": inp["source"], "meta": dict(ctx.additional_metadata)}

    @r.durable_task(input_validator=dict)
    async def await_payment(inp, ctx: DurableContext):
        event = await ctx.aio_wait_for_event(
            "stripe:invoice.paid", f"input.data.invoice == '{inp['invoice']}'"
        )
        return {"amount": event["payload"]["data"]["amount"]}

    return deploy, await_payment


async def test_a_verified_webhook_starts_the_workflows_listening_to_its_event(autojump_clock):
    deploy, _ = workflows()
    async with engine(MemoryDatabase(), FixedEpochClock(EPOCH), [deploy]) as eng:
        async with webhooks_of(eng) as (hooks, client):
            await hooks.create(
                TENANT,
                {
                    "name": "github",
                    "kind": "github",
                    "secret": "gh-secret",
                    "event_key_expression": "'github:' + headers['x-github-event']",
                    "static_payload": {"source": "github"},
                },
            )
            url = f"/api/v1/tenants/{TENANT}/webhooks/github"
            forged = await client.post(
                url, content=PUSH, headers={**github_headers(PUSH, "guess"), "X-GitHub-Event": "push"}
            )
            assert forged.status_code == 401
            signed = {**github_headers(PUSH, "gh-secret"), "X-GitHub-Event": "push"}
            response = await client.post(url, content=PUSH, headers=signed)
            assert response.status_code == 200 and response.json() == {"events": 1}

            (run,) = await runs_of(eng.store, "deploy")  # the forged request started nothing
            details = await eng.call("wait_run", run.id, None)
        assert details["status"] == "COMPLETED"
        assert details["output"]["ship"] == {
            "ref": "refs/heads/main",
            "source": "github",
            "meta": {"source": "webhook", "webhook": "github"},
        }
        (event,) = await eng.store.list_events(TENANT)
        assert event.key == "github:push" and event.payload["repository"] == {"full_name": "acme/shop"}


async def test_a_verified_webhook_wakes_a_durable_wait_for_its_event(autojump_clock):
    _, await_payment = workflows()
    async with engine(MemoryDatabase(), FixedEpochClock(EPOCH), [await_payment]) as eng:
        async with webhooks_of(eng) as (hooks, client):
            await hooks.create(
                TENANT,
                {
                    "name": "stripe",
                    "kind": "stripe",
                    "secret": STRIPE_SECRET,
                    "event_key_expression": "'stripe:' + input.type",
                },
            )
            (answer,) = await eng.call(
                "trigger", [{"workflow": "await_payment", "input": {"invoice": "in_7"}}]
            )
            await trio.sleep(60)
            body = b'{"type": "invoice.paid", "data": {"invoice": "in_7", "amount": 4200}}'
            now = int(eng.system.runtime.clock.time())
            response = await client.post(
                f"/api/v1/tenants/{TENANT}/webhooks/stripe", content=body, headers=stripe_headers(body, now)
            )
            assert response.status_code == 200
            details = await eng.call("wait_run", answer["run_id"], None)
        assert details["status"] == "COMPLETED"
        assert details["output"]["await_payment"] == {"amount": 4200}
