"""Tenants' limits over HTTP: a tenant over a limit gets a 429 naming it, with Retry-After,
nothing is written for the refused request, and the other tenant is not held back."""

from __future__ import annotations

from typing import Any

from api_harness import TENANT_A, TENANT_B, Api


async def _run_ids(api: Api, tenant: str) -> set[str]:
    return {run_id for run_id, _ in (await api.snapshot(tenant))["runs"]}


def _trigger_body(name: str = "ada") -> dict[str, Any]:
    return {"workflow": "greet", "input": {"name": name}}


async def _set_limits(api: Api, tenant: str, change: dict[str, Any], status: int = 200) -> Any:
    response = await api.client.put(f"/api/v1/tenants/{tenant}/limits", json=change, headers=api.admin_a)
    assert response.status_code == status, response.text
    return response.json()


async def test_a_tenant_over_its_runs_a_second_gets_429_and_the_other_tenant_triggers(api: Api) -> None:
    # a rate so low nothing refills during the test: a burst of 2, then refusals
    await _set_limits(api, TENANT_A, {"runs_per_second": 0.001, "runs_burst": 2})
    for name in ("a", "b"):
        ok = await api.client.post(
            "/api/v1/workflow-runs/trigger", json=_trigger_body(name), headers=api.member_a
        )
        assert ok.status_code == 201, ok.text
    before = await _run_ids(api, TENANT_A)
    refused = await api.client.post(
        "/api/v1/workflow-runs/trigger", json=_trigger_body("c"), headers=api.member_a
    )
    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert body["code"] == "limited"
    assert "runs_per_second" in body["message"] and TENANT_A in body["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert await _run_ids(api, TENANT_A) == before  # nothing written for the refused run
    # the other tenant triggers as usual, at the same time
    for name in ("x", "y", "z"):
        other = await api.client.post(
            "/api/v1/workflow-runs/trigger", json=_trigger_body(name), headers=api.member_b
        )
        assert other.status_code == 201, other.text
    usage = await api.client.get(f"/api/v1/tenants/{TENANT_A}/usage", headers=api.viewer_a)
    assert usage.status_code == 200, usage.text
    seen = usage.json()
    assert seen["runs"] == 2 and seen["refused"] == {"runs_per_second": 1}
    assert seen["limits"]["runs_burst"] == 2 and seen["runs_available"] < 1


async def test_events_over_the_tenants_rate_are_refused_whole(api: Api) -> None:
    await _set_limits(api, TENANT_A, {"events_per_second": 0.001, "events_burst": 3})
    before = await api.snapshot(TENANT_A)
    events = [{"key": f"nobody:{i}"} for i in range(4)]
    refused = await api.client.post("/api/v1/events/bulk", json={"events": events}, headers=api.member_a)
    assert refused.status_code == 429, refused.text
    assert "events_per_second" in refused.json()["message"]
    assert "Retry-After" not in refused.headers  # 4 events never fit a burst of 3: waiting does not help
    assert await api.snapshot(TENANT_A) == before
    fits = await api.client.post("/api/v1/events/bulk", json={"events": events[:3]}, headers=api.member_a)
    assert fits.status_code == 201, fits.text
    again = await api.client.post("/api/v1/events", json={"key": "nobody:more"}, headers=api.member_a)
    assert again.status_code == 429 and "Retry-After" in again.headers


async def test_limits_read_back_and_only_the_first_tenants_admins_set_them(api: Api) -> None:
    mine = await api.client.get(f"/api/v1/tenants/{TENANT_B}/limits", headers=api.member_b)
    assert mine.status_code == 200, mine.text
    assert mine.json()["limits"]["max_workers"] == 1000  # the defaults
    changed = await _set_limits(api, TENANT_B, {"max_workers": 7, "max_payload_bytes": 4096})
    assert changed["limits"]["max_workers"] == 7 and changed["limits"]["max_payload_bytes"] == 4096
    assert changed["limits"]["runs_burst"] == 5000  # left out: kept
    read = await api.client.get(f"/api/v1/tenants/{TENANT_B}/limits", headers=api.admin_a)
    assert read.json() == changed
    # a member of tenant-b may not set its own limits, nor read tenant-a's (a 404, as for no tenant)
    denied = await api.client.put(
        f"/api/v1/tenants/{TENANT_B}/limits", json={"max_workers": 9}, headers=api.member_b
    )
    assert denied.status_code == 403, denied.text
    hidden = await api.client.get(f"/api/v1/tenants/{TENANT_A}/limits", headers=api.member_b)
    assert hidden.status_code == 404, hidden.text
    missing = await api.client.get("/api/v1/tenants/nobody/usage", headers=api.admin_a)
    assert missing.status_code == 404, missing.text
    assert (await api.client.get(f"/api/v1/tenants/{TENANT_B}/limits", headers=api.admin_a)).json() == changed


async def test_bad_limits_are_refused_and_change_nothing(api: Api) -> None:
    before = (await api.client.get(f"/api/v1/tenants/{TENANT_A}/limits", headers=api.admin_a)).json()
    for bad in (
        {"runs_per_second": 0},
        {"runs_per_second": "fast"},
        {"runs_burst": 1.5},
        {"max_workers": -1},
        {"max_payload_bytes": 10},
        {"max_payload_bytes": 10**12},
        {"no_such_limit": 1},
        {"runs_burst": True},
    ):
        await _set_limits(api, TENANT_A, bad, 422)
    bad_json = await api.client.put(
        f"/api/v1/tenants/{TENANT_A}/limits",
        content=b"[1, 2",
        headers={**api.admin_a, "content-type": "application/json"},
    )
    assert bad_json.status_code in (400, 422), bad_json.text
    bad_name = await api.client.get("/api/v1/tenants/NOT A NAME/limits", headers=api.admin_a)
    assert bad_name.status_code == 422, bad_name.text
    assert (await api.client.get(f"/api/v1/tenants/{TENANT_A}/limits", headers=api.admin_a)).json() == before


async def test_a_tenants_payload_cap_refuses_larger_inputs(api: Api) -> None:
    await _set_limits(api, TENANT_A, {"max_payload_bytes": 1024})
    before = await _run_ids(api, TENANT_A)
    big = await api.client.post(
        "/api/v1/workflow-runs/trigger", json=_trigger_body("x" * 2000), headers=api.member_a
    )
    assert big.status_code == 400, big.text
    assert "1024 bytes" in big.json()["message"]
    assert await _run_ids(api, TENANT_A) == before
    other = await api.client.post(
        "/api/v1/workflow-runs/trigger", json=_trigger_body("x" * 2000), headers=api.member_b
    )
    assert other.status_code == 201, other.text
