"""The API served by hypercorn's Trio worker on a real port, as a function and as an engine actor."""

from __future__ import annotations

import re

import httpx
import pytest
import trio
from api_harness import TENANT_A, VERSION, Api, open_api

from ratchet.actors.api import ApiServer, create_app, serve_api


async def test_serve_api_answers_over_tcp() -> None:
    async with open_api() as api, trio.open_nursery() as nursery:
        app = create_app(api.backend)
        (url,) = await nursery.start(serve_api, app, "127.0.0.1:0")
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/api/live")).json() == {"status": "ok"}
            response = await client.post(
                "/api/v1/workflow-runs/trigger", json={"workflow": "greet"}, headers=api.member_a
            )
            assert response.status_code == 201
            assert (await api.finished(TENANT_A, response.json()["run_id"]))["status"] == "COMPLETED"
            schema = (await client.get("/openapi.json")).json()
            assert schema["openapi"].startswith("3.1")
            assert "Swagger UI" in (await client.get("/docs")).text
        nursery.cancel_scope.cancel()


async def test_the_api_server_actor_serves_until_it_is_stopped(api: Api) -> None:
    system = api.engine.system
    ref = await system.spawn(ApiServer, create_app(api.backend), "127.0.0.1:0", name="api")
    (url,) = await ref.wait_serving.ask()
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/api/v1/version")).json() == {"version": VERSION}
        assert (await client.get("/api/v1/workflows", headers=api.viewer_a)).status_code == 200
        await system.root.terminate_child("api")
        with pytest.raises(httpx.ConnectError):
            await client.get("/api/live")


async def test_a_malformed_bind_address_is_refused_with_an_example(api: Api) -> None:
    app = create_app(api.backend)
    for bind in ("localhost", "127.0.0.1:http", ":80", "127.0.0.1:70000"):
        with pytest.raises(ValueError, match=re.escape("must be host:port, as in 127.0.0.1:8080")):
            ApiServer(app, bind)
