"""``ratchet.rate_limits``: declare, list and delete the static rate-limit keys tasks consume."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from .._contract.calls import Method
from .._contract.flow import RateLimitDuration, check_rate_limit_key, check_rate_limit_put

if TYPE_CHECKING:
    from .._client import Ratchet

__all__ = ["RateLimitsClient"]


class RateLimitsClient:
    """``ratchet.rate_limits``: create, change, list and delete static rate limits."""

    def __init__(self, client: Ratchet) -> None:
        self._client = client

    def put(self, key: str, limit: int, duration: RateLimitDuration | str = RateLimitDuration.SECOND) -> None:
        """Allow at most ``limit`` units under ``key`` in any window of ``duration``.

        Tasks name the key with ``RateLimit(static_key=key, units=...)``. Putting a key
        again changes its limit and window; units already admitted keep counting.

        Raises:
            ValueError: a bad key, limit (1 to 1,000,000,000) or duration; nothing is sent.
        """
        key, limit, window = check_rate_limit_put(key, limit, duration)
        self._client.connection.call(Method.PUT_RATE_LIMIT, key, limit, window.value)

    async def aio_put(
        self, key: str, limit: int, duration: RateLimitDuration | str = RateLimitDuration.SECOND
    ) -> None:
        """:meth:`put` for async code (Trio or asyncio)."""
        key, limit, window = check_rate_limit_put(key, limit, duration)
        await self._client.connection.acall(Method.PUT_RATE_LIMIT, key, limit, window.value)

    def list(self) -> list[dict[str, Any]]:
        """The tenant's static rate limits, by key: ``{"key", "limit", "duration"}``."""
        rows: list[dict[str, Any]] = self._client.connection.call(Method.LIST_RATE_LIMITS)
        return rows

    async def aio_list(self) -> builtins.list[dict[str, Any]]:
        """:meth:`list` for async code (Trio or asyncio)."""
        rows: builtins.list[dict[str, Any]] = await self._client.connection.acall(Method.LIST_RATE_LIMITS)
        return rows

    def delete(self, key: str) -> bool:
        """Delete a static rate limit; False if the key was not declared.

        Tasks that need the key are refused from then on, as for a key never declared.

        Raises:
            ValueError: a bad key; nothing is sent.
        """
        return bool(self._client.connection.call(Method.DELETE_RATE_LIMIT, check_rate_limit_key(key)))

    async def aio_delete(self, key: str) -> bool:
        """:meth:`delete` for async code (Trio or asyncio)."""
        return bool(await self._client.connection.acall(Method.DELETE_RATE_LIMIT, check_rate_limit_key(key)))
