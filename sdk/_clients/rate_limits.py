"""``ratchet.rate_limits``: declare the static rate-limit keys tasks consume."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._contract.calls import Method
from .._contract.flow import RateLimitDuration, check_rate_limit_put

if TYPE_CHECKING:
    from .._client import Ratchet

__all__ = ["RateLimitsClient"]


class RateLimitsClient:
    """``ratchet.rate_limits``: create or change static rate limits."""

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
