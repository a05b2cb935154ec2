"""Rate limits through the client: put, listed by key, changed."""

from __future__ import annotations

import pytest
import trio
from e2e_helpers import start


def _workflow(r):
    wf = r.workflow("sender")

    @wf.task()
    def send(inp, ctx):
        return inp

    return wf


def test_rate_limits_are_put_changed_and_listed(new_client):
    r = new_client()
    _workflow(r)
    start(r)
    assert r.rate_limits.list() == []
    r.rate_limits.put("sms", 2, "HOUR")
    r.rate_limits.put("emails", 10)
    r.rate_limits.put("sms", 3, "MINUTE")
    assert r.rate_limits.list() == [
        {"key": "emails", "limit": 10, "duration": "SECOND"},
        {"key": "sms", "limit": 3, "duration": "MINUTE"},
    ]
    assert trio.run(r.rate_limits.aio_list) == r.rate_limits.list()


def test_a_bad_rate_limit_is_refused_and_not_listed(new_client):
    r = new_client()
    _workflow(r)
    start(r)
    with pytest.raises(ValueError, match="limit"):
        r.rate_limits.put("sms", 0)
    assert r.rate_limits.list() == []
