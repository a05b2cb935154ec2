"""Events read back over HTTP: listed newest first by time and key, one by id, and the keys seen.

The lists are checked against the events the test pushed (their ids, keys and times as
answered), never against numbers written into the test; another tenant's events stay
out of view, and garbage filters are refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from api_harness import Api

KEYS = ["order:paid", "user:new", "order:paid", "user:gone", "order:paid"]


async def push_all(api: Api) -> list[dict[str, Any]]:
    """Push KEYS in order, one request each; their answers."""
    out = []
    for number, key in enumerate(KEYS):
        response = await api.client.post(
            "/api/v1/events", json={"key": key, "payload": {"n": number}}, headers=api.member_a
        )
        assert response.status_code == 201
        out.append(response.json())
    return out


def ids(page: dict[str, Any]) -> list[str]:
    return [row["id"] for row in page["rows"]]


async def test_events_are_listed_newest_first_and_paged(api: Api) -> None:
    pushed = await push_all(api)
    newest_first = [e["id"] for e in reversed(pushed)]
    everything = (await api.client.get("/api/v1/events", headers=api.viewer_a)).json()
    assert ids(everything) == newest_first
    assert everything["rows"][0]["payload"] == {"n": len(KEYS) - 1}
    first = (await api.client.get("/api/v1/events", params={"limit": 2}, headers=api.viewer_a)).json()
    assert ids(first) == newest_first[:2] and first["pagination"]["next_offset"] == 2
    last = (
        await api.client.get("/api/v1/events", params={"limit": 2, "offset": 4}, headers=api.viewer_a)
    ).json()
    assert ids(last) == newest_first[4:] and last["pagination"]["next_offset"] is None


async def test_events_are_filtered_by_key_and_time(api: Api) -> None:
    await push_all(api)
    rows = (await api.client.get("/api/v1/events", headers=api.viewer_a)).json()["rows"]
    paid = await api.client.get("/api/v1/events", params={"keys": ["order:paid"]}, headers=api.viewer_a)
    assert ids(paid.json()) == [r["id"] for r in rows if r["key"] == "order:paid"]
    users = await api.client.get(
        "/api/v1/events", params={"keys": ["user:new", "user:gone", "user:new"]}, headers=api.viewer_a
    )
    assert ids(users.json()) == [r["id"] for r in rows if r["key"].startswith("user:")]

    middle = rows[2]["created_at"]
    at = datetime.fromisoformat(middle)
    since = await api.client.get("/api/v1/events", params={"since": middle}, headers=api.viewer_a)
    assert ids(since.json()) == [r["id"] for r in rows if datetime.fromisoformat(r["created_at"]) >= at]
    until = await api.client.get("/api/v1/events", params={"until": middle}, headers=api.viewer_a)
    assert ids(until.json()) == [r["id"] for r in rows if datetime.fromisoformat(r["created_at"]) < at]
    assert rows[2]["id"] in ids(since.json()) and rows[2]["id"] not in ids(until.json())


async def test_an_event_is_read_by_id(api: Api) -> None:
    pushed = await push_all(api)
    got = await api.client.get(f"/api/v1/events/{pushed[1]['id']}", headers=api.viewer_a)
    assert got.status_code == 200
    assert got.json()["key"] == "user:new" and got.json()["payload"] == {"n": 1}
    unknown = await api.client.get("/api/v1/events/no-such-event", headers=api.viewer_a)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


async def test_the_keys_seen_are_listed_with_their_counts(api: Api) -> None:
    await push_all(api)
    await api.client.post("/api/v1/events", json={"key": "theirs"}, headers=api.member_b)
    keys = (await api.client.get("/api/v1/events/keys", headers=api.viewer_a)).json()["keys"]
    assert keys == [{"key": key, "count": KEYS.count(key)} for key in sorted(set(KEYS))]


async def test_another_tenants_events_are_not_listed(api: Api) -> None:
    theirs = (
        await api.client.post("/api/v1/events", json={"key": "order:paid"}, headers=api.member_b)
    ).json()
    assert (await api.client.get("/api/v1/events", headers=api.viewer_a)).json()["rows"] == []
    assert (await api.client.get(f"/api/v1/events/{theirs['id']}", headers=api.viewer_a)).status_code == 404
    assert (await api.client.get("/api/v1/events/keys", headers=api.viewer_a)).json() == {"keys": []}


GARBAGE = [
    {"limit": 0},
    {"limit": 5000},
    {"offset": -1},
    {"since": "yesterday"},
    {"until": "not a time"},
    {"keys": ""},
    {"keys": "k" * 201},
    {"keys": [f"k{i}" for i in range(101)]},
]


@pytest.mark.parametrize("params", GARBAGE, ids=range(len(GARBAGE)))
async def test_garbage_filters_are_refused(api: Api, params: dict[str, Any]) -> None:
    response = await api.client.get("/api/v1/events", params=params, headers=api.viewer_a)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"


async def test_an_empty_time_window_is_refused(api: Api) -> None:
    params = {"since": "2030-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"}
    response = await api.client.get("/api/v1/events", params=params, headers=api.viewer_a)
    assert response.status_code == 400 and "until must be later than since" in response.json()["message"]
