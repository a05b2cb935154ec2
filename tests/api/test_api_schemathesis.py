"""Schemathesis against the live server: every operation, no 5xx, every answer as documented.

The engine and hypercorn run in a Trio loop on a thread of their own (Schemathesis
calls the server synchronously, over TCP); its in-process ASGI mode would run the app
on asyncio, which the engine's actors are not.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import trio
from api_harness import open_tenants
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ratchet.actors.api import create_app, serve_api

#: Examples per operation: enough to walk each one's parameters, few enough for well under a minute.
EXAMPLES = 15
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_server() -> Iterator[tuple[str, dict[str, str]]]:
    """The API of a real engine on a free port: its URL and a member token's header."""
    started: queue.Queue[Any] = queue.Queue()

    async def serve() -> None:
        try:
            async with open_tenants() as tenants, trio.open_nursery() as nursery:
                (url,) = await nursery.start(serve_api, create_app(tenants.backend), "127.0.0.1:0")
                stop = trio.Event()
                started.put((url, tenants.headers["member-a"], trio.lowlevel.current_trio_token(), stop))
                await stop.wait()
                nursery.cancel_scope.cancel()
        except BaseException as exc:
            started.put(exc)
            raise

    thread = threading.Thread(target=trio.run, args=(serve,), daemon=True)
    thread.start()
    answer = started.get(timeout=60)
    if isinstance(answer, BaseException):
        raise answer
    url, headers, token, stop = answer
    yield url, headers
    trio.from_thread.run_sync(stop.set, trio_token=token)
    thread.join(timeout=30)


@pytest.mark.slow
def test_every_operation_answers_as_documented(live_server: tuple[str, dict[str, str]]) -> None:
    url, headers = live_server
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
        )
        def answers_as_documented(case: Any) -> None:
            case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)

        answers_as_documented()
