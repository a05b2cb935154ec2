"""The store's webhook tables on memory, SQLite and Postgres: webhooks, refusals, deliveries.

Each test runs once per backend (the ``store`` fixture). Sequence numbers are compared
by order, never by value.
"""

from __future__ import annotations

import dataclasses

import pytest

from ratchet.actors.store import (
    ClaimWebhookDelivery,
    CreateWebhook,
    DeleteWebhook,
    MutationRejected,
    RecordWebhookFailure,
    ReleaseWebhookDelivery,
    Store,
)

T = "tenant-1"

HOOK = CreateWebhook(
    tenant_id=T,
    name="stripe",
    id="wh-1",
    kind="stripe",
    settings={"event_key_expression": "input.type", "static_payload": {"source": "stripe"}},
    sealed_secret="v1.sealed",
    at=5.0,
)


async def test_a_webhook_is_stored_listed_and_deleted_per_tenant(store: Store) -> None:
    other = dataclasses.replace(HOOK, name="github", id="wh-2", kind="github", settings={})
    elsewhere = dataclasses.replace(HOOK, tenant_id="tenant-2", id="wh-3")
    await store.commit([HOOK, other, elsewhere])
    got = await store.get_webhook(T, "stripe")
    assert got is not None
    assert (got.id, got.kind, got.sealed_secret, got.created_at) == ("wh-1", "stripe", "v1.sealed", 5.0)
    assert got.settings == {"event_key_expression": "input.type", "static_payload": {"source": "stripe"}}
    assert [w.name for w in await store.list_webhooks(T)] == ["github", "stripe"]
    assert [w.id for w in await store.list_webhooks("tenant-2")] == ["wh-3"]
    assert await store.get_webhook("tenant-2", "github") is None

    assert await store.commit([DeleteWebhook(tenant_id=T, name="stripe")]) == [True]
    assert await store.commit([DeleteWebhook(tenant_id=T, name="stripe")]) == [False]
    assert await store.get_webhook(T, "stripe") is None
    assert (await store.get_webhook("tenant-2", "stripe")).id == "wh-3"  # another tenant's stays


async def test_a_second_webhook_of_the_same_name_is_rejected_and_changes_nothing(store: Store) -> None:
    await store.commit([HOOK])
    with pytest.raises(MutationRejected, match="CreateWebhook"):
        await store.commit([dataclasses.replace(HOOK, id="wh-9", kind="svix")])
    assert (await store.get_webhook(T, "stripe")).id == "wh-1"


@pytest.mark.parametrize(
    "bad",
    [
        dataclasses.replace(HOOK, settings={"x": float("nan")}),
        dataclasses.replace(HOOK, name="nul\x00name"),
        dataclasses.replace(HOOK, at=float("inf")),
        dataclasses.replace(HOOK, sealed_secret=None),  # type: ignore[arg-type]
    ],
)
async def test_a_webhook_that_cannot_be_stored_is_rejected(store: Store, bad: CreateWebhook) -> None:
    with pytest.raises(MutationRejected):
        await store.commit([bad])
    assert await store.list_webhooks(T) == []


async def test_failures_are_listed_newest_first_per_webhook(store: Store) -> None:
    await store.commit(
        [
            RecordWebhookFailure(tenant_id=T, webhook_id="wh-1", reason=f"r{i}", excerpt="{}", at=float(i))
            for i in range(3)
        ]
    )
    await store.commit([RecordWebhookFailure(tenant_id=T, webhook_id="wh-2", reason="other", at=9.0)])
    failures = await store.list_webhook_failures(T, "wh-1")
    assert [f.reason for f in failures] == ["r2", "r1", "r0"]
    assert failures[0].seq > failures[1].seq > failures[2].seq
    assert [f.reason for f in await store.list_webhook_failures(T, "wh-1", limit=1)] == ["r2"]
    (only,) = await store.list_webhook_failures(T, "wh-2")
    assert (only.excerpt, only.at) == (None, 9.0)
    assert await store.list_webhook_failures("tenant-2", "wh-1") == []


async def test_a_delivery_id_is_claimed_once_until_released(store: Store) -> None:
    claim = ClaimWebhookDelivery(tenant_id=T, webhook_id="wh-1", delivery_id="msg_1", expires_at=100.0)
    await store.commit([claim])
    with pytest.raises(MutationRejected, match="ClaimWebhookDelivery"):
        await store.commit([dataclasses.replace(claim, expires_at=200.0)])
    assert (await store.get_webhook_delivery(T, "wh-1", "msg_1")).expires_at == 100.0
    # the same id under another webhook or tenant is another delivery
    await store.commit(
        [dataclasses.replace(claim, webhook_id="wh-2"), dataclasses.replace(claim, tenant_id="t2")]
    )

    # a release naming another expiry leaves the claim alone
    stale = ReleaseWebhookDelivery(tenant_id=T, webhook_id="wh-1", delivery_id="msg_1", expires_at=50.0)
    assert await store.commit([stale]) == [False]
    exact = dataclasses.replace(stale, expires_at=100.0)
    assert await store.commit([exact]) == [True]
    assert await store.get_webhook_delivery(T, "wh-1", "msg_1") is None
    assert await store.commit([exact]) == [False]
    # forgotten, it can be claimed again; and an unconditional release forgets whatever is there
    await store.commit([claim])
    unconditional = ReleaseWebhookDelivery(tenant_id=T, webhook_id="wh-1", delivery_id="msg_1")
    assert await store.commit([unconditional]) == [True]


async def test_a_release_and_a_new_claim_of_one_id_apply_in_order_in_one_commit(store: Store) -> None:
    claim = ClaimWebhookDelivery(tenant_id=T, webhook_id="wh-1", delivery_id="msg_1", expires_at=10.0)
    await store.commit([claim])
    release = ReleaseWebhookDelivery(tenant_id=T, webhook_id="wh-1", delivery_id="msg_1", expires_at=10.0)
    assert await store.commit([release, dataclasses.replace(claim, expires_at=400.0)]) == [True, None]
    assert (await store.get_webhook_delivery(T, "wh-1", "msg_1")).expires_at == 400.0


async def test_expired_deliveries_are_listed_soonest_first(store: Store) -> None:
    await store.commit(
        [
            ClaimWebhookDelivery(tenant_id=T, webhook_id="wh-1", delivery_id=f"m{i}", expires_at=at)
            for i, at in enumerate([30.0, 10.0, 50.0, 20.0])
        ]
    )
    await store.commit(
        [ClaimWebhookDelivery(tenant_id=T, webhook_id="wh-2", delivery_id="x", expires_at=1.0)]
    )
    expired = await store.list_expired_webhook_deliveries(T, "wh-1", 35.0)
    assert [d.delivery_id for d in expired] == ["m1", "m3", "m0"]
    assert [d.delivery_id for d in await store.list_expired_webhook_deliveries(T, "wh-1", 35.0, limit=2)] == [
        "m1",
        "m3",
    ]
    assert await store.list_expired_webhook_deliveries(T, "wh-1", 10.0) == []
