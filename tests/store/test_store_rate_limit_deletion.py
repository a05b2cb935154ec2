"""DeleteRateLimit on every store: the key and its log go, other keys and tenants stay."""

from __future__ import annotations

from ratchet.actors.store import DeleteRateLimit, PutRateLimit, SaveRateLimitWindow, Store

T = "tenant-a"
OTHER = "tenant-b"


async def test_a_deleted_rate_limit_takes_its_log_and_nothing_else(store: Store) -> None:
    for tenant, key in ((T, "openai"), (T, "sms"), (OTHER, "openai")):
        await store.commit(
            [
                PutRateLimit(tenant_id=tenant, key=key, limit_units=5, duration_seconds=60.0, at=1.0),
                SaveRateLimitWindow(
                    tenant_id=tenant,
                    key=key,
                    limit_units=5,
                    duration_seconds=60.0,
                    log=[(1.0, 1.0, 1)],
                    at=1.0,
                ),
            ]
        )
    assert await store.commit([DeleteRateLimit(tenant_id=T, key="openai")]) == [True]
    assert await store.commit([DeleteRateLimit(tenant_id=T, key="openai")]) == [False]
    assert [r.key for r in await store.list_rate_limits(T)] == ["sms"]
    assert [w.key for w in await store.list_rate_limit_windows(T)] == ["sms"]
    assert [r.key for r in await store.list_rate_limits(OTHER)] == ["openai"]
    assert [w.key for w in await store.list_rate_limit_windows(OTHER)] == ["openai"]
