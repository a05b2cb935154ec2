"""The OpenAPI document is a real contract: a client generated from it by a standard generator
(``openapi-python-client``) triggers a run, lists it and cancels it against a live engine."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import trio

from ratchet import Ratchet


def generate(spec: dict[str, Any], where: Path) -> Any:
    """Generate a client package from ``spec`` under ``where``; the imported package."""
    (where / "spec.json").write_text(json.dumps(spec))
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path",
            str(where / "spec.json"),
            "--output-path",
            str(where / "ratchet_api_client"),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module("ratchet_api_client")
    finally:
        sys.path.remove(str(where))


def test_a_generated_client_triggers_lists_and_cancels_a_run(tmp_path: Path) -> None:
    r = Ratchet()

    @r.task(input_validator=dict)
    async def wait_a_while(inp: dict, ctx: Any) -> dict:
        await trio.sleep(600)
        return {}

    with r.embedded(f"sqlite:///{tmp_path / 'r.db'}", workers=[r.worker("w")], http="127.0.0.1:0"):
        spec = httpx.get(f"{r.api.url}/openapi.json", timeout=30).json()
        client_package = generate(spec, tmp_path)
        client_module = importlib.import_module("ratchet_api_client.client")
        api = importlib.import_module("ratchet_api_client.api")
        models = importlib.import_module("ratchet_api_client.models")
        client = client_module.AuthenticatedClient(base_url=r.api.url, token=r.api.token)
        assert client_package.__name__ == "ratchet_api_client"

        trigger = importlib.import_module(f"{api.__name__}.workflow_runs.trigger_run")
        created = trigger.sync(
            client=client, body=models.TriggerRequest.from_dict({"workflow": "wait_a_while", "input": {}})
        )
        run_id = created.run_id

        listing = importlib.import_module(f"{api.__name__}.workflow_runs.list_runs")
        since = datetime.now(UTC) - timedelta(hours=1)
        page = listing.sync(client=client, since=since)
        assert [row.run_id for row in page.rows] == [run_id]

        deadline = time.monotonic() + 30
        while r.runs.get(run_id).status != "RUNNING":
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.02)
        cancel = importlib.import_module(f"{api.__name__}.workflow_runs.cancel_runs")
        done = cancel.sync(client=client, body=models.RunIds.from_dict({"run_ids": [run_id]}))
        assert done.cancelled == 1
        deadline = time.monotonic() + 30
        while r.runs.get(run_id).status != "CANCELLED":
            assert time.monotonic() < deadline, "the run was never cancelled"
            time.sleep(0.02)
