"""An embedded engine may serve the REST API too (off by default), with a token for it."""

from __future__ import annotations

import httpx
from e2e_helpers import eventually

from ratchet import Ratchet


def test_an_embedded_engine_serves_no_http_unless_asked(tmp_path) -> None:
    r = Ratchet()
    with r.embedded(f"sqlite:///{tmp_path / 'a.db'}"):
        assert r.api.url == "" and r.api.token == ""


def test_an_embedded_engine_asked_for_http_serves_it_with_an_admin_token(tmp_path) -> None:
    r = Ratchet()

    @r.task(input_validator=dict)
    def hi(inp: dict, ctx) -> dict:
        return {"hi": inp["name"]}

    with r.embedded(f"sqlite:///{tmp_path / 'b.db'}", workers=[r.worker("w")], http="127.0.0.1:0"):
        assert r.api.url.startswith("http://127.0.0.1:")
        auth = {"Authorization": f"Bearer {r.api.token}"}
        created = httpx.post(
            f"{r.api.url}/api/v1/workflow-runs/trigger",
            json={"workflow": "hi", "input": {"name": "ada"}},
            headers=auth,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        run_id = created.json()["run_id"]
        eventually(lambda: r.runs.get(run_id).status == "COMPLETED", "the run to complete")
        assert r.runs.get(run_id).output["hi"] == {"hi": "ada"}
        assert httpx.get(f"{r.api.url}/api/v1/workflows", timeout=30).status_code == 401
