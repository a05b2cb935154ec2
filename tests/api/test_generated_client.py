"""A client generated from ``/openapi.json`` by a standard generator drives runs on a live server.

``openapi-python-client`` (from PyPI, offline) generates a package from the document the
server serves; the test imports it and, with its ``AuthenticatedClient`` (httpx) against
hypercorn on a real port, triggers a run, lists it and cancels it. The generator must
not warn: a warning means part of the API did not make it into the client. Refusals
come back as the generated ``ErrorBody`` and change nothing.
"""

from __future__ import annotations

import datetime
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import trio
from api_harness import TENANT_A, open_api

from ratchet.actors.api import create_app, serve_api

PACKAGE = "ratchet_generated_api_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


def _token(header: dict[str, str]) -> str:
    scheme, _, token = header["Authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


async def generate(spec: str, where: Path) -> None:
    """Run the generator on ``spec`` into ``where / PACKAGE``; fail with its output if it warns."""
    (where / "openapi.json").write_text(spec)
    argv = [str(GENERATOR), "generate", "--path", "openapi.json", "--output-path", PACKAGE]
    argv += ["--meta", "none", "--fail-on-warning"]
    # the generator formats its output with ruff (a test dependency, next to it)
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = await trio.run_process(
        argv, cwd=where, env=env, capture_stdout=True, capture_stderr=True, check=False
    )
    assert done.returncode == 0, (done.stdout + done.stderr).decode()


@pytest.fixture
def imported(tmp_path: Path) -> Iterator[Any]:
    """Imports the generated package from ``tmp_path`` (once generated); forgets it afterwards."""
    sys.path.insert(0, str(tmp_path))

    def load(name: str) -> ModuleType:
        return importlib.import_module(f"{PACKAGE}{name}")

    try:
        yield load
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


async def test_a_generated_client_triggers_lists_and_cancels_a_run(tmp_path: Path, imported: Any) -> None:
    assert GENERATOR.exists(), "openapi-python-client is a test dependency: pip install -e '.[test]'"
    with trio.fail_after(30):
        async with open_api() as api, trio.open_nursery() as nursery:
            (url,) = await nursery.start(serve_api, create_app(api.backend), "127.0.0.1:0")
            async with httpx.AsyncClient(base_url=url) as http:
                await generate((await http.get("/openapi.json")).text, tmp_path)

            package = imported("")
            runs = {name: imported(f".api.workflow_runs.{name}") for name in ("trigger_run", "list_runs")}
            runs.update({name: imported(f".api.workflow_runs.{name}") for name in ("cancel_runs", "get_run")})
            models = imported(".models")
            member = package.AuthenticatedClient(base_url=url, token=_token(api.member_a))
            viewer = package.AuthenticatedClient(base_url=url, token=_token(api.viewer_a))

            async with member, viewer:
                # trigger: a run that waits until it is cancelled
                body = models.TriggerRequest(workflow="waits", input_={"why": "generated"})
                run = await runs["trigger_run"].asyncio(client=member, body=body)
                assert isinstance(run, models.WorkflowRun), run
                assert run.workflow == "waits" and not run.done

                # list: the run is on the page for its time window
                since = run.created_at - datetime.timedelta(minutes=1)
                page = await runs["list_runs"].asyncio(client=member, since=since)
                assert isinstance(page, models.PageWorkflowRun), page
                assert [row.run_id for row in page.rows] == [run.run_id]
                assert page.rows[0].status in (models.RunStatus.QUEUED, models.RunStatus.RUNNING)

                # a viewer may not cancel: the generated error model, and nothing changed
                before = await api.snapshot(TENANT_A)
                ids = models.RunIds(run_ids=[run.run_id])
                refused = await runs["cancel_runs"].asyncio_detailed(client=viewer, body=ids)
                assert refused.status_code == 403 and isinstance(refused.parsed, models.ErrorBody)
                assert refused.parsed.code == "forbidden"
                assert await api.snapshot(TENANT_A) == before

                # cancel: the member's cancel takes the run
                cancelled = await runs["cancel_runs"].asyncio(client=member, body=ids)
                assert isinstance(cancelled, models.Cancelled) and cancelled.cancelled == 1
                assert (await api.finished(TENANT_A, run.run_id))["status"] == "CANCELLED"
                got = await runs["get_run"].asyncio(run.run_id, client=member)
                assert got.status is models.RunStatus.CANCELLED and got.done

                # garbage in: an unknown workflow comes back as the error model, and starts nothing
                before = await api.snapshot(TENANT_A)
                unknown = await runs["trigger_run"].asyncio_detailed(
                    client=member, body=models.TriggerRequest(workflow="no-such-workflow")
                )
                assert unknown.status_code >= 400 and isinstance(unknown.parsed, models.ErrorBody)
                assert "no-such-workflow" in unknown.parsed.message
                assert await api.snapshot(TENANT_A) == before
            nursery.cancel_scope.cancel()
