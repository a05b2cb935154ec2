"""The webhooks service on a real memory store: definitions, requests made into events, refusals.

Every refused request changes nothing but its failure record (requests to an unknown
webhook and over the rate limit not even that); the attack tests compare the whole
database before and after.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator

import pytest
import trio
from webhook_signing import (
    GITHUB_SECRET,
    SLACK_SECRET,
    STRIPE_SECRET,
    SVIX_SECRET,
    basic_header,
    github_headers,
    slack_headers,
    stripe_headers,
    svix_headers,
)

from ratchet._contract.protocol import RequestError
from ratchet.actors.store import MemoryStore, SQLiteStore, Store, open_store
from ratchet.actors.webhooks import (
    WebhookBodyTooLarge,
    WebhookEventError,
    WebhookExists,
    WebhookNotFound,
    WebhookRateLimited,
    WebhookRejected,
    WebhookReplayed,
    Webhooks,
    WebhookUnavailable,
    derive_key,
)
from ratchet.runtime import FixedEpochClock, RandomSource

EPOCH = 1_893_456_000
KEY = derive_key(b"engine key material for the tests", "webhook-secrets")
T = "acme"
PUSH = b'{"ref": "refs/heads/main", "repository": {"full_name": "acme/shop"}}'
GITHUB = {
    "name": "github",
    "kind": "github",
    "secret": GITHUB_SECRET,
    "event_key_expression": "'github:' + headers['x-github-event']",
    "scope_expression": "input.repository.full_name",
    "static_payload": {"source": "github"},
}
STRIPE = {"name": "stripe", "kind": "stripe", "secret": STRIPE_SECRET, "event_key_expression": "input.type"}
SVIX = {"name": "svix", "kind": "svix", "secret": SVIX_SECRET, "event_key_expression": "input.eventType"}
SLACK = {
    "name": "slack",
    "kind": "slack",
    "secret": SLACK_SECRET,
    "event_key_expression": "'slack:' + input.type",
}


def make(store: Store, *, key: bytes = KEY, **kw) -> Webhooks:
    return Webhooks(store, store.commit, key, FixedEpochClock(EPOCH), RandomSource(7), **kw)


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    async with open_store(MemoryStore()) as s:
        yield s


def snapshot(store: MemoryStore) -> dict:
    return copy.deepcopy(store.database.rows)


def push_headers(body: bytes = PUSH) -> dict[str, str]:
    return {**github_headers(body), "X-GitHub-Event": "push", "Content-Type": "application/json"}


async def test_a_webhook_is_created_listed_and_shown_without_its_secret(store: MemoryStore) -> None:
    hooks = make(store)
    created = await hooks.create(T, GITHUB)
    assert created["name"] == "github" and created["kind"] == "github" and created["id"]
    assert created["scope_expression"] == "input.repository.full_name"
    assert "secret" not in created and GITHUB_SECRET not in repr(created)
    assert await hooks.get(T, "github") == created
    assert await hooks.list(T) == [created]
    assert await hooks.list("other-tenant") == []
    (row,) = store.database.rows["webhooks"].values()
    assert GITHUB_SECRET not in repr(row) and row["sealed_secret"].startswith("v1.")


async def test_the_database_file_never_holds_a_secret_in_plain_text(tmp_path) -> None:
    path = tmp_path / "store.db"
    secret = "a-very-recognisable-secret-value"
    async with open_store(SQLiteStore(path)) as sqlite:
        hooks = make(sqlite)
        await hooks.create(T, {**STRIPE, "secret": secret})
        await hooks.create(T, {**SVIX, "name": "svix"})
        (row,) = await sqlite._select("webhooks", [], [], 1)
        assert secret not in repr(row)
        # and the service still verifies with it
        body = b'{"type": "invoice.paid"}'
        headers = stripe_headers(body, EPOCH, secret)
        assert (await hooks.receive(T, "stripe", headers, body)).events[0]["key"] == "invoice.paid"
    written = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("store.db"))
    assert secret.encode() not in written
    assert SVIX_SECRET.encode() not in written


async def test_a_second_webhook_of_a_name_is_refused_and_changes_nothing(store: MemoryStore) -> None:
    hooks = make(store)
    await hooks.create(T, GITHUB)
    before = snapshot(store)
    with pytest.raises(WebhookExists, match="has a webhook named 'github' already"):
        await hooks.create(T, {**STRIPE, "name": "github"})
    assert snapshot(store) == before
    await hooks.create("other-tenant", GITHUB)  # names are per tenant


@pytest.mark.parametrize(
    ("tenant", "definition", "message"),
    [
        ("", GITHUB, "not a tenant id"),
        (None, GITHUB, "not a tenant id"),
        ("t" * 201, GITHUB, "not a tenant id"),
        (T, "github", "expected a mapping"),
        (T, {**GITHUB, "kind": "smoke-signals"}, "kind"),
        (T, {**GITHUB, "event_key_expression": "input.("}, "bad CEL expression"),
        (T, {k: v for k, v in GITHUB.items() if k != "secret"}, "secret"),
    ],
)
async def test_a_bad_definition_is_refused_and_stores_nothing(store, tenant, definition, message) -> None:
    with pytest.raises(RequestError, match=message) as info:
        await make(store).create(tenant, definition)
    assert GITHUB_SECRET not in str(info.value)
    assert store.database.count("webhooks") == 0


async def test_a_verified_request_makes_an_ordinary_event(store: MemoryStore) -> None:
    hooks = make(store)
    await hooks.create(T, GITHUB)
    reception = await hooks.receive(T, "github", push_headers(), PUSH)
    assert reception.challenge is None and reception.tenant_id == T
    (event,) = reception.events
    assert event == {
        "key": "github:push",
        "payload": {**json.loads(PUSH), "source": "github"},
        "additional_metadata": {"source": "webhook", "webhook": "github"},
        "scope": "acme/shop",
    }
    assert hooks.statistics().accepted == 1


async def test_the_static_payload_wins_over_the_body(store: MemoryStore) -> None:
    hooks = make(store)
    await hooks.create(T, GITHUB)
    body = b'{"source": "forged", "repository": {"full_name": "a/b"}}'
    (event,) = (await hooks.receive(T, "github", push_headers(body), body)).events
    assert event["payload"]["source"] == "github"


async def test_a_form_encoded_body_is_read_as_its_fields(store: MemoryStore, autojump_clock) -> None:
    hooks = make(store)
    await hooks.create(T, {**SLACK, "event_key_expression": "'slack:command:' + input.command"})
    body = b"command=%2Fdeploy&text=shop+now&channel=a&channel=b"
    headers = {**slack_headers(body, EPOCH), "Content-Type": "application/x-www-form-urlencoded"}
    (event,) = (await hooks.receive(T, "slack", headers, body)).events
    assert event["key"] == "slack:command:/deploy"
    assert event["payload"] == {"command": "/deploy", "text": "shop now", "channel": ["a", "b"]}


async def test_a_slack_url_verification_answers_its_challenge_and_makes_no_event(store: MemoryStore) -> None:
    hooks = make(store)
    await hooks.create(T, SLACK)
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"  # Slack's own example
    body = json.dumps({"type": "url_verification", "token": "x", "challenge": challenge}).encode()
    reception = await hooks.receive(T, "slack", slack_headers(body, EPOCH), body)
    assert reception.challenge == challenge
    assert reception.events == ()
    # an unsigned challenge is refused like any request
    with pytest.raises(WebhookRejected):
        await hooks.receive(T, "slack", {}, body)


# -- attacks and garbage: each refused, nothing changed but the failure record -----------------


async def refused_with(hooks: Webhooks, store: MemoryStore, error: type, *args) -> Exception:
    before = snapshot(store)
    failures_before = store.database.count("webhook_failures")
    with pytest.raises(error) as info:
        await hooks.receive(*args)
    after = snapshot(store)
    after["webhook_failures"] = before["webhook_failures"]
    assert after == before, "a refused request changed more than its failure record"
    assert store.database.count("webhook_failures") in (failures_before, failures_before + 1)
    return info.value


async def test_a_wrong_signature_is_refused_and_recorded(store: MemoryStore) -> None:
    hooks = make(store)
    await hooks.create(T, GITHUB)
    headers = {**github_headers(PUSH, "guessed secret"), "X-GitHub-Event": "push"}
    error = await refused_with(hooks, store, WebhookRejected, T, "github", headers, PUSH)
    assert error.reason == "the signature does not match"
    (failure,) = await hooks.failures(T, "github")
    assert failure["reason"] == "the signature does not match"
    assert failure["excerpt"] == PUSH.decode() and failure["at"] == pytest.approx(EPOCH)


async def test_a_refused_body_the_store_cannot_keep_as_is_is_still_recorded(store: MemoryStore) -> None:
    hooks = make(store)
    await hooks.create(T, {**GITHUB, "event_key_expression": "input.k + input.missing"})
    for body in (b'{"k": "nul\x00"}', b'{"k": "\\u0000\\ud800"}', b"\xff\x00\xfe"):
        with pytest.raises(WebhookRejected):
            await hooks.receive(T, "github", {}, body)
        with pytest.raises(WebhookEventError):
            await hooks.receive(T, "github", push_headers(body), body)
    failures = await hooks.failures(T, "github")
    assert len(failures) == 6 and hooks.statistics().unrecorded == 0
    assert failures[-1]["excerpt"] == '{"k": "nul\ufffd"}'


async def test_a_tampered_body_is_refused(store: MemoryStore) -> None:
    hooks = make(store)
    await hooks.create(T, GITHUB)
    tampered = PUSH.replace(b"main", b"evil")
    await refused_with(hooks, store, WebhookRejected, T, "github", push_headers(), tampered)


async def test_a_stale_stripe_timestamp_is_refused(store: MemoryStore, autojump_clock) -> None:
    hooks = make(store)
    await hooks.create(T, STRIPE)
    body = b'{"type": "charge.succeeded"}'
    headers = stripe_headers(body, EPOCH)
    assert (await hooks.receive(T, "stripe", headers, body)).events[0]["key"] == "charge.succeeded"
    await trio.sleep(601)  # the same signed request, replayed after the window
    error = await refused_with(hooks, store, WebhookRejected, T, "stripe", headers, body)
    assert "stale or replayed" in error.reason


async def test_a_stale_slack_timestamp_is_refused(store: MemoryStore) -> None:
    hooks = make(store)
    await hooks.create(T, SLACK)
    body = b'{"type": "app_mention"}'
    await refused_with(hooks, store, WebhookRejected, T, "slack", slack_headers(body, EPOCH - 301), body)


async def test_a_repeated_svix_id_is_refused_inside_the_window_and_stale_after(
    store: MemoryStore, autojump_clock
) -> None:
    hooks = make(store)
    await hooks.create(T, SVIX)
    body = b'{"eventType": "invoice.paid", "data": {"id": 1}}'
    headers = svix_headers(body, EPOCH, "msg_1")
    (event,) = (await hooks.receive(T, "svix", headers, body)).events
    assert event["key"] == "invoice.paid"
    await trio.sleep(200)
    error = await refused_with(hooks, store, WebhookReplayed, T, "svix", headers, body)
    assert error.reason == "this delivery was received already; a replay is refused"
    # the same id signed anew (a resend) is still refused inside the first one's window
    resent = svix_headers(body, EPOCH + 200, "msg_1")
    await refused_with(hooks, store, WebhookReplayed, T, "svix", resent, body)
    await trio.sleep(200)
    await refused_with(hooks, store, WebhookRejected, T, "svix", headers, body)  # stale now
    reasons = [f["reason"] for f in await hooks.failures(T, "svix")]
    assert "stale or replayed" in reasons[0] and reasons[1:] == [error.reason] * 2


async def test_a_svix_id_is_forgotten_once_its_window_passed(store: MemoryStore, autojump_clock) -> None:
    hooks = make(store)
    await hooks.create(T, SVIX)
    body = b'{"eventType": "a"}'
    await hooks.receive(T, "svix", svix_headers(body, EPOCH, "msg_1"), body)
    await hooks.receive(T, "svix", svix_headers(body, EPOCH, "msg_2"), body)
    assert store.database.count("webhook_deliveries") == 2
    await trio.sleep(400)
    # a resend of msg_1 with a fresh timestamp, after the first window, is a new delivery
    await hooks.receive(T, "svix", svix_headers(body, EPOCH + 400, "msg_1"), body)
    await hooks.receive(T, "svix", svix_headers(body, EPOCH + 400, "msg_3"), body)
    held = sorted(d["delivery_id"] for d in store.database.rows["webhook_deliveries"].values())
    assert held == ["msg_1", "msg_3"]  # msg_2's window passed: it was forgotten


async def test_a_released_delivery_can_be_retried(store: MemoryStore) -> None:
    hooks = make(store)
    await hooks.create(T, SVIX)
    body = b'{"eventType": "a"}'
    headers = svix_headers(body, EPOCH, "msg_9")
    reception = await hooks.receive(T, "svix", headers, body)
    await hooks.release(reception, "the event could not be pushed")
    assert (await hooks.failures(T, "svix"))[0]["reason"] == "the event could not be pushed"
    assert (await hooks.receive(T, "svix", headers, body)).events == reception.events


async def test_a_failing_event_key_expression_is_refused_and_recorded_with_its_detail(
    store: MemoryStore,
) -> None:
    hooks = make(store)
    await hooks.create(T, {**GITHUB, "event_key_expression": "input.action"})
    error = await refused_with(hooks, store, WebhookEventError, T, "github", push_headers(), PUSH)
    assert error.reason == "the event key expression failed for this request"
    (failure,) = await hooks.failures(T, "github")
    assert "input.action" in failure["reason"] and "action" in failure["reason"]


@pytest.mark.parametrize(
    ("changes", "body", "reason"),
    [
        ({"event_key_expression": "input.ref.size()"}, PUSH, "gave no event key"),
        ({"event_key_expression": "''"}, PUSH, "gave no event key"),
        ({"event_key_expression": "'k' + input.ref * 10"}, PUSH, "event key expression failed"),
        ({"scope_expression": "1"}, PUSH, "gave no scope"),
        ({"scope_expression": None}, b'["a list"]', "not a JSON object"),
        ({}, b"{not json", "not JSON"),
        ({}, b"\xff\xfe", "not JSON"),
        ({}, b'{"n": NaN}', "not JSON"),
        ({}, b'{"n": 1e999}', "not JSON"),
        ({}, b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        ({"static_payload": None, "scope_expression": None}, b'{"n": 36893488147419103232}', "valid event"),
        ({"event_key_expression": "'x' * 300"}, PUSH, "event key expression failed"),
        ({"event_key_expression": "'a'.repeat(1)"}, PUSH, "event key expression failed"),
        (
            {"event_key_expression": "input.key", "scope_expression": None},
            b'{"key": "' + b"k" * 300 + b'"}',
            "valid event",
        ),
        (
            {"event_key_expression": "input.key", "scope_expression": None},
            b'{"key": "tab\\tkey"}',
            "valid event",
        ),
    ],
)
async def test_a_verified_request_that_makes_no_event_is_refused(store, changes, body, reason) -> None:
    hooks = make(store)
    await hooks.create(T, {**GITHUB, **changes})
    error = await refused_with(hooks, store, WebhookEventError, T, "github", push_headers(body), body)
    assert reason in error.reason


async def test_a_body_over_the_limit_is_refused_and_recorded(store: MemoryStore) -> None:
    hooks = make(store, max_body_bytes=1000)
    await hooks.create(T, GITHUB)
    big = b'{"pad": "' + b"x" * 1000 + b'"}'
    error = await refused_with(hooks, store, WebhookBodyTooLarge, T, "github", push_headers(big), big)
    assert error.reason == "the body is over the limit of 1000 bytes"
    (failure,) = await hooks.failures(T, "github")
    assert len(failure["excerpt"]) == 256


async def test_an_unknown_tenant_and_an_unknown_webhook_look_the_same(store: MemoryStore) -> None:
    hooks = make(store)
    await hooks.create(T, GITHUB)
    answers = []
    for tenant, name in [("nobody", "github"), (T, "gitlab"), ("", "github"), (T, "nul\x00"), (None, 5)]:
        error = await refused_with(hooks, store, WebhookNotFound, tenant, name, push_headers(), PUSH)
        answers.append((type(error), error.reason))
    assert set(answers) == {(WebhookNotFound, "no such webhook")}
    assert store.database.count("webhook_failures") == 0
    for call in (hooks.get(T, "gitlab"), hooks.failures("nobody", "github")):
        with pytest.raises(WebhookNotFound):
            await call


async def test_the_rate_limit_refuses_a_flood_without_writing(store: MemoryStore, autojump_clock) -> None:
    hooks = make(store, rate=1.0, burst=2)
    await hooks.create(T, GITHUB)
    await hooks.create(T, {**GITHUB, "name": "other"})
    for _ in range(2):
        await hooks.receive(T, "github", push_headers(), PUSH)
    error = await refused_with(hooks, store, WebhookRateLimited, T, "github", push_headers(), PUSH)
    assert error.retry_after == pytest.approx(1.0)
    assert store.database.count("webhook_failures") == 0
    await hooks.receive(T, "other", push_headers(), PUSH)  # each webhook has its own bucket
    await trio.sleep(1.0)
    await hooks.receive(T, "github", push_headers(), PUSH)
    assert hooks.statistics().rate_limited == 1


async def test_bad_signatures_use_the_rate_limit_too(store: MemoryStore) -> None:
    hooks = make(store, rate=0.001, burst=3)
    await hooks.create(T, GITHUB)
    for _ in range(3):
        with pytest.raises(WebhookRejected):
            await hooks.receive(T, "github", {}, PUSH)
    with pytest.raises(WebhookRateLimited):
        await hooks.receive(T, "github", push_headers(), PUSH)
    assert len(await hooks.failures(T, "github")) == 3


async def test_credentials_are_hidden_from_the_cel_expressions(store: MemoryStore) -> None:
    hooks = make(store)
    await hooks.create(
        T,
        {
            "name": "basic",
            "kind": "basic",
            "username": "shop",
            "secret": "hunter2-password",
            "event_key_expression": "headers.authorization",
        },
    )
    await hooks.create(
        T,
        {
            "name": "keyed",
            "kind": "api_key",
            "header": "X-Api-Key",
            "secret": "k-12345-secret",
            "event_key_expression": "'keyed:' + headers['x-api-key']",
        },
    )
    body = b"{}"
    with pytest.raises(WebhookEventError):
        await hooks.receive(T, "basic", basic_header("shop", "hunter2-password"), body)
    with pytest.raises(WebhookEventError):
        await hooks.receive(T, "keyed", {"X-Api-Key": "k-12345-secret"}, body)
    for name, secret in (("basic", "hunter2-password"), ("keyed", "k-12345-secret")):
        (failure,) = await hooks.failures(T, name)
        assert secret not in failure["reason"]


async def test_a_secret_sealed_under_another_key_makes_the_webhook_unavailable(store: MemoryStore) -> None:
    await make(store).create(T, GITHUB)
    other = make(store, key=derive_key(b"another engine's key material!!", "webhook-secrets"))
    error = await refused_with(other, store, WebhookUnavailable, T, "github", push_headers(), PUSH)
    assert error.reason == "this webhook cannot verify requests now"
    (failure,) = await other.failures(T, "github")
    assert "stored secret cannot be read" in failure["reason"]


async def test_a_deleted_webhook_takes_no_more_requests(store: MemoryStore) -> None:
    hooks = make(store)
    await hooks.create(T, GITHUB)
    assert await hooks.delete("other-tenant", "github") is False
    assert await hooks.delete(T, "github") is True
    assert await hooks.delete(T, "github") is False
    assert await hooks.delete(None, "github") is False
    with pytest.raises(WebhookNotFound):
        await hooks.receive(T, "github", push_headers(), PUSH)
    recreated = await hooks.create(T, GITHUB)
    assert await hooks.failures(T, "github") == [] and recreated["id"]


async def test_failures_are_listed_newest_first_and_limits_are_checked(store: MemoryStore) -> None:
    hooks = make(store)
    await hooks.create(T, GITHUB)
    for body in (b"1", b"2", b"3"):
        with pytest.raises(WebhookRejected):
            await hooks.receive(T, "github", {}, body)
    assert [f["excerpt"] for f in await hooks.failures(T, "github")] == ["3", "2", "1"]
    assert [f["excerpt"] for f in await hooks.failures(T, "github", limit=1)] == ["3"]
    for limit in (0, 1001, "5", True):
        with pytest.raises(RequestError, match="limit must be 1 to 1000"):
            await hooks.failures(T, "github", limit=limit)


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({}, "a string body", "body must be the raw bytes"),
        ({}, None, "body must be the raw bytes"),
        (5, b"{}", "headers must be a mapping"),
        ([("only-a-name",)], b"{}", "headers must be a mapping"),
    ],
)
async def test_receive_refuses_garbage_arguments(store: MemoryStore, headers, body, message) -> None:
    hooks = make(store)
    await hooks.create(T, GITHUB)
    with pytest.raises(TypeError, match=message):
        await hooks.receive(T, "github", headers, body)


@pytest.mark.parametrize(
    "kw",
    [{"rate": 0}, {"burst": 0}, {"max_body_bytes": 0}, {"max_buckets": 0}, {"key": b"short"}],
)
async def test_the_service_refuses_garbage_settings(store: MemoryStore, kw) -> None:
    with pytest.raises(ValueError):
        make(store, **kw)
