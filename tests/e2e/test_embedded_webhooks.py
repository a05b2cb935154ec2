"""``ratchet.webhooks`` and ``ratchet.event.list`` / ``get`` through the SDK, in embedded mode.

Webhooks are defined, listed, read, their failures listed and deleted, in sync and
``aio_`` forms; a secret never comes back; a bad definition or argument raises
``ValueError`` and stores nothing; an unknown name raises ``LookupError``. Events
pushed are read back newest first, by key and time, and by id.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import trio

GITHUB: dict[str, Any] = {
    "name": "github",
    "kind": "github",
    "secret": "gh-secret",
    "event_key_expression": "'github:' + headers['x-github-event']",
}


def test_webhooks_are_created_listed_read_and_deleted(new_client):
    r = new_client().embedded()
    hook = r.webhooks.create(**GITHUB, static_payload={"source": "github"})
    assert hook.name == "github" and hook.kind == "github" and hook.static_payload == {"source": "github"}
    signed = r.webhooks.create(
        "signed", "hmac", "hmac-secret", "'signed'", header="X-Signature", prefix="sha256="
    )
    assert signed.header == "X-Signature" and signed.prefix == "sha256=" and signed.algorithm == "sha256"
    assert [w.name for w in r.webhooks.list()] == ["github", "signed"]
    assert r.webhooks.get("github").id == hook.id
    for answer in (hook, signed, *r.webhooks.list()):
        dumped = answer.model_dump_json()
        assert "gh-secret" not in dumped and "hmac-secret" not in dumped
    assert r.webhooks.failures("github") == []
    assert r.webhooks.delete("github") is True
    assert r.webhooks.delete("github") is False
    with pytest.raises(LookupError, match="no webhook named 'github'"):
        r.webhooks.get("github")
    with pytest.raises(LookupError):
        r.webhooks.failures("github")
    assert [w.name for w in r.webhooks.list()] == ["signed"]


def test_the_aio_forms(new_client):
    r = new_client().embedded()

    async def main() -> None:
        created = await r.webhooks.aio_create(**GITHUB)
        assert [w.id for w in await r.webhooks.aio_list()] == [created.id]
        assert (await r.webhooks.aio_get("github")).event_key_expression == GITHUB["event_key_expression"]
        assert await r.webhooks.aio_failures("github", limit=5) == []
        assert await r.webhooks.aio_delete("github") is True
        with pytest.raises(LookupError):
            await r.webhooks.aio_get("github")
        event = await r.event.aio_push("aio:key", {"n": 1})
        assert (await r.event.aio_get(event.id)).payload == {"n": 1}
        assert [e.id for e in await r.event.aio_list(keys=["aio:key"])] == [event.id]

    trio.run(main)


BAD_DEFINITIONS: list[dict[str, Any]] = [
    {**GITHUB, "kind": "carrier-pigeon"},
    {**GITHUB, "name": "has space"},
    {**GITHUB, "secret": ""},
    {**GITHUB, "event_key_expression": "input.(("},
    {**GITHUB, "header": "X-Sig"},
    {**GITHUB, "kind": "hmac"},
    {**GITHUB, "static_payload": [1]},
    {**GITHUB, "colour": "red"},
]


@pytest.mark.parametrize("definition", BAD_DEFINITIONS, ids=range(len(BAD_DEFINITIONS)))
def test_a_bad_definition_raises_value_error_and_stores_nothing(new_client, definition):
    r = new_client().embedded()
    with pytest.raises(ValueError) as raised:
        r.webhooks.create(**definition)
    assert "gh-secret" not in str(raised.value)
    assert r.webhooks.list() == []


def test_bad_arguments_raise_value_error(new_client):
    r = new_client().embedded()
    r.webhooks.create(**GITHUB)
    with pytest.raises(ValueError, match="already"):
        r.webhooks.create(**{**GITHUB, "secret": "another"})
    for limit in (0, 1001, "ten", True):
        with pytest.raises(ValueError, match="limit"):
            r.webhooks.failures("github", limit=limit)
    for name in (None, 7, "", "x" * 300):
        with pytest.raises(ValueError):
            r.webhooks.get(name)
        with pytest.raises(ValueError):
            r.webhooks.delete(name)
    assert [w.name for w in r.webhooks.list()] == ["github"]


def test_events_are_read_back_by_key_time_and_id(new_client):
    r = new_client().embedded()
    before = datetime.now() - timedelta(minutes=1)
    pushed = [r.event.push(key, {"n": n}) for n, key in enumerate(["a:1", "b:1", "a:1"])]
    listed = r.event.list(since=before)
    assert [e.id for e in listed] == [e.id for e in reversed(pushed)]
    assert all(e.created_at is not None for e in listed)
    assert [e.id for e in r.event.list(keys=["a:1"])] == [pushed[2].id, pushed[0].id]
    assert [e.id for e in r.event.list(limit=1, offset=1)] == [pushed[1].id]
    assert r.event.list(until=before) == []
    got = r.event.get(pushed[1].id)
    assert got.key == "b:1" and got.payload == {"n": 1}
    with pytest.raises(LookupError):
        r.event.get("no-such-event")
    for bad in ({"limit": 0}, {"offset": -1}, {"keys": "a:1"}, {"keys": [""]}, {"since": "yesterday"}):
        with pytest.raises(ValueError):
            r.event.list(**bad)
    with pytest.raises(ValueError):
        r.event.get(None)
