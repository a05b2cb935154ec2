"""The API served by hypercorn's Trio worker on a real port, as a function and as an engine actor."""

from __future__ import annotations

import re

import httpx
import pytest
import trio
from api_harness import MEMBER_A, TENANT_A, FixedTokens, open_api

from ratchet.actors.api import ApiServer, create_app, serve_api
from ratchet.runtime import open_runtime


async def test_serve_api_answers_over_tcp() -> None:
    async with open_api() as api, trio.open_nursery() as nursery:
        app = create_app(FixedTokens(api.gateways))
        (url,) = await nursery.start(serve_api, app, "127.0.0.1:0")
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/api/live")).json() == {"status": "ok"}
            response = await client.post(
                "/api/v1/workflow-runs/trigger", json={"workflow": "greet"}, headers=MEMBER_A
            )
            assert response.status_code == 201
            assert (await api.finished(TENANT_A, response.json()["run_id"]))["status"] == "COMPLETED"
            schema = (await client.get("/openapi.json")).json()
            assert schema["openapi"].startswith("3.1")
            assert "Swagger UI" in (await client.get("/docs")).text
        nursery.cancel_scope.cancel()


async def test_the_api_server_actor_serves_until_it_is_stopped() -> None:
    async with open_runtime() as system:
        app = create_app(FixedTokens({}))
        ref = await system.spawn(ApiServer, app, "127.0.0.1:0", name="api")
        (url,) = await ref.wait_serving.ask()
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/api/v1/version")).json() == {"version": "test-version"}
            await system.root.terminate_child("api")
            with pytest.raises(httpx.ConnectError):
                await client.get("/api/live")


def test_a_malformed_bind_address_is_refused_with_an_example() -> None:
    app = create_app(FixedTokens({}))
    for bind in ("localhost", "127.0.0.1:http", ":80", "127.0.0.1:70000"):
        with pytest.raises(ValueError, match=re.escape("must be host:port, as in 127.0.0.1:8080")):
            ApiServer(app, bind)
