"""The REST API of a real ``ratchet engine`` process, called as a user would with curl.

The engine serves HTTP beside nng (``--http``); the local admin token it wrote works
there too; a worker process runs the triggered run; no token, a garbage token and a
token of another tenant get 401 and 404 answers that leak nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from process_harness import Cluster

from ratchet._session import read_local_token


def api_url(cluster: Cluster) -> str:
    text = "\n".join(cluster.processes[0].lines)
    match = re.search(r"REST API at (http://\S+) ", text)
    assert match, text
    return match.group(1)


def wait_for(predicate: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while (value := predicate()) is None or value is False:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


def test_a_run_triggered_over_http_is_run_by_a_worker_and_listed(cluster: Cluster) -> None:
    cluster.engine()
    cluster.worker()
    url = api_url(cluster)
    token = read_local_token(cluster.address)
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=auth, timeout=30) as http:
        assert httpx.get(f"{url}/api/live").status_code == 200
        assert http.get("/openapi.json").json()["openapi"].startswith("3.1")
        wait_for(lambda: http.get("/api/v1/workers").json()["rows"] or None, "the worker")
        created = http.post("/api/v1/workflow-runs/trigger", json={"workflow": "noop", "input": {}})
        assert created.status_code == 201, created.text
        run_id = created.json()["run_id"]

        def finished() -> Any:
            run = http.get(f"/api/v1/workflow-runs/{run_id}").json()
            return run if run["status"] == "COMPLETED" else None

        wait_for(finished, "the run to complete")
        since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        listed = http.get("/api/v1/workflow-runs", params={"since": since, "statuses": "COMPLETED"}).json()
        assert [r["run_id"] for r in listed["rows"]] == [run_id]
        assert listed["pagination"]["next_offset"] is None

        # no token, a garbage one: 401, saying why
        bare = httpx.get(f"{url}/api/v1/workflow-runs", params={"since": since})
        assert bare.status_code == 401 and "token" in bare.json()["message"]
        garbage = httpx.get(
            f"{url}/api/v1/workflow-runs", params={"since": since}, headers={"Authorization": "Bearer x.y.z"}
        )
        assert garbage.status_code == 401

        # another tenant's token: the run does not exist for it
        made = subprocess.run(
            [sys.executable, "-m", "ratchet.cli", "tenants", "create", "other", "--engine", cluster.address],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
        other = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
        assert httpx.get(f"{url}/api/v1/workflow-runs/{run_id}", headers=other).status_code == 404
        others = httpx.get(f"{url}/api/v1/workflow-runs", params={"since": since}, headers=other).json()
        assert others["rows"] == []


def test_an_http_address_in_use_is_a_clear_error(cluster: Cluster, tmp_path: Any) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "ratchet.cli",
                "engine",
                "--db",
                f"sqlite:///{tmp_path / 'r.db'}",
                "--listen",
                cluster.address,
                "--http",
                f"127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode != 0
    assert f"cannot serve the REST API at 127.0.0.1:{port}" in out.stderr
    assert "Traceback" not in out.stderr
