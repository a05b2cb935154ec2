"""A webhook end to end on a live engine: defined over its REST API, called over HTTP as GitHub
would, and the event it makes runs a workflow.

The engine serves HTTP with hypercorn on a real port (``open_engine(http=...)``); the
test talks to it only as a client on the network would: a member token to define the
webhook, then a request with no token and GitHub's ``X-Hub-Signature-256`` to the
tenant's receive route. The run the event starts is read back over REST too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict
from typing import Any

import httpx

from ratchet import Ratchet
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors import EngineOptions, open_engine
from ratchet.actors.auth import Role
from ratchet.actors.store import MemoryDatabase, MemoryStore, open_store
from ratchet.runtime import open_runtime

SECRET = "gh-webhook-secret"
KEY = b"an engine key of at least 32 bytes!!"


def _deploy_workflow() -> Any:
    r = Ratchet()
    deploy = r.workflow("deploy", on_events=["github:push"], input_validator=dict)

    @deploy.task()
    async def ship(inp: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"ref": inp["ref"], "repository": inp["repository"]["full_name"]}

    return deploy


def _github(body: bytes, event: str) -> dict[str, str]:
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": signature,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
    }


async def test_a_github_request_to_a_live_engine_runs_the_workflow_listening_to_its_event() -> None:
    database = MemoryDatabase()
    async with (
        open_runtime(seed=7) as system,
        open_store(MemoryStore(database)) as store,
        open_engine(
            system, store, EngineOptions(tenant="acme"), secret_key=KEY, http="127.0.0.1:0"
        ) as engine,
    ):
        config = WorkerConfig(name="deployer", workflows=[_deploy_workflow()], slots=5, threads=False)
        worker = await system.spawn(WorkerActor, config, engine.gateway, name="worker")
        await worker.wait_registered.ask()
        token = await engine.issue_token("ci", Role.MEMBER)
        (url,) = engine.api_urls
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            member = {"Authorization": f"Bearer {token}"}
            created = await client.post(
                "/api/v1/webhooks",
                json={
                    "name": "github",
                    "kind": "github",
                    "secret": SECRET,
                    "event_key_expression": "'github:' + headers['x-github-event']",
                },
                headers=member,
            )
            assert created.status_code == 201 and SECRET not in created.text

            body = json.dumps({"ref": "refs/heads/main", "repository": {"full_name": "acme/shop"}}).encode()
            ping = await client.post(
                "/api/v1/tenants/acme/webhooks/github", content=body, headers=_github(body, "ping")
            )
            assert ping.status_code == 200  # an event no workflow listens to: stored, starts nothing
            push = await client.post(
                "/api/v1/tenants/acme/webhooks/github", content=body, headers=_github(body, "push")
            )
            assert push.status_code == 200 and push.json() == {"events": 1}

            events = (
                await client.get("/api/v1/events", params={"keys": ["github:push"]}, headers=member)
            ).json()
            (event,) = events["rows"]
            assert event["additional_metadata"] == {"source": "webhook", "webhook": "github"}
            runs = await client.get(
                "/api/v1/workflow-runs",
                params={"since": "2000-01-01T00:00:00Z", "triggering_event_id": event["id"]},
                headers=member,
            )
            (run,) = runs.json()["rows"]
            finished = await engine.gateway.wait_run.ask(run["run_id"], 30.0)
            assert finished["status"] == "COMPLETED"
            read = (await client.get(f"/api/v1/workflow-runs/{run['run_id']}", headers=member)).json()
            assert read["status"] == "COMPLETED"
            assert read["output"]["ship"] == {"ref": "refs/heads/main", "repository": "acme/shop"}
            keys = (await client.get("/api/v1/events/keys", headers=member)).json()["keys"]
            assert keys == [{"key": "github:ping", "count": 1}, {"key": "github:push", "count": 1}]
        await system.root.terminate_child("worker")
    async with open_store(MemoryStore(database)) as reopened:
        (row,) = await reopened.list_webhooks("acme")
    assert SECRET not in json.dumps(asdict(row), default=str)  # the store keeps it sealed
