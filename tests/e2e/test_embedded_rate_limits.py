"""Rate limits through the client: put, listed by key, changed."""

from __future__ import annotations

import pytest
import trio
from e2e_helpers import start

from ratchet.runtime import ActorError


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


def test_a_rate_limit_is_deleted_once(new_client):
    r = new_client()
    _workflow(r)
    start(r)
    r.rate_limits.put("sms", 2, "HOUR")
    r.rate_limits.put("emails", 10)
    assert r.rate_limits.delete("sms") is True
    assert r.rate_limits.delete("sms") is False
    assert [limit["key"] for limit in r.rate_limits.list()] == ["emails"]
    assert trio.run(r.rate_limits.aio_delete, "emails") is True
    assert r.rate_limits.list() == []
    for key in ("", 7, "x" * 201, "tab\there"):
        with pytest.raises(ValueError, match="rate limit key"):
            r.rate_limits.delete(key)
    with pytest.raises(ActorError, match="delete_rate_limit: rate limit key"):
        r.connection.call("delete_rate_limit", ["a"])
