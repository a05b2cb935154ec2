"""A client over its tenant's limits gets ``ratchet.TenantLimitError``, and nothing is started."""

from __future__ import annotations

import pytest

import ratchet
from ratchet import Context


def test_a_batch_over_the_tenants_run_burst_raises_tenant_limit_error(new_client):
    r = new_client()
    wf = r.workflow("limited", input_validator=dict)

    @wf.task()
    def noop(inp: dict, ctx: Context) -> None:
        return None

    r.embedded("memory://")  # no worker: runs stay queued
    too_many = [wf.create_bulk_run_item({"n": i}) for i in range(5001)]  # the default burst is 5000
    with pytest.raises(ratchet.TenantLimitError) as caught:
        wf.run_many_no_wait(too_many)
    err = caught.value
    assert (err.limit, err.value, err.retry_after) == ("runs_per_second", 1000.0, None)
    assert "send at most 5000 at once" in str(err)
    assert r.runs.list(workflow=wf) == []  # nothing was started
    refs = wf.run_many_no_wait(too_many[:3])
    assert len(refs) == 3
