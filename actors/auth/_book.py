"""The token book: which stored token a credential stands for, and whether it still works.

Every authenticated request ends here: a bearer token (HTTP, sign-in) is verified with
:func:`~._tokens.read_token`, a session credential (the nng wire) with
:func:`~._tokens.check_session_credential`, and either way the token's stored row is
consulted. Rows are cached for :data:`ROW_TTL` seconds of runtime clock, so a hot path
pays a dict lookup; a revocation made through this engine is seen at once
(:meth:`TokenBook.forget`), one made through another engine on the same database within
:data:`ROW_TTL`. Expiry is checked against the clock on every request.
"""

from __future__ import annotations

from typing import Any

from ratchet._errors import AuthenticationError
from ratchet.runtime import Clock

from ..store import ApiToken, Store
from ._principal import Principal, Role
from ._tokens import check_session_credential, read_token

__all__ = ["ROW_TTL", "TokenBook", "bearer_token"]

#: Seconds a token's stored row is trusted before it is read again.
ROW_TTL = 2.0
_MAX_CACHED = 100_000


def bearer_token(authorization: Any) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value.

    Raises:
        AuthenticationError: no header, or not a bearer one.
    """
    if authorization is None or authorization == "":
        raise AuthenticationError("no API token was given; send one as 'Authorization: Bearer <token>'")
    if not isinstance(authorization, str):
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


class TokenBook:
    """Turns tokens and credentials into principals, checking stored rows.

    Args:
        key: the engine's signing key.
        store: where token rows live.
        clock: the runtime clock (expiry, cache age).
    """

    def __init__(self, key: bytes, store: Store, clock: Clock) -> None:
        self.key = key
        self.store = store
        self.clock = clock
        self._rows: dict[tuple[str, str], tuple[ApiToken | None, float]] = {}
        self._credentials: dict[str, tuple[str, str]] = {}  # checked credential -> (tenant, token id)

    async def from_token(self, token: Any) -> Principal:
        """The principal of a JWT; raises :class:`~ratchet.AuthenticationError` saying why not."""
        claims = read_token(self.key, token, now=self.clock.time())
        return await self.principal(claims.tenant_id, claims.token_id)

    async def from_authorization(self, authorization: Any) -> Principal:
        """The principal of an HTTP ``Authorization`` header value."""
        return await self.from_token(bearer_token(authorization))

    async def from_credential(self, credential: Any) -> Principal:
        """The principal of a session credential of the nng wire.

        Every call over the wire comes here, so a credential's MAC is checked once and the
        answer remembered (the row is still checked, through its own cache).
        """
        known = self._credentials.get(credential) if isinstance(credential, str) else None
        if known is None:
            known = check_session_credential(self.key, credential)
            if len(self._credentials) >= _MAX_CACHED:
                self._credentials.clear()
            self._credentials[credential] = known
        return await self.principal(*known)

    async def principal(self, tenant_id: str, token_id: str) -> Principal:
        """The principal of a token known by its row's key, if that row still lets it work."""
        row = await self._row(tenant_id, token_id)
        if row is None:
            raise AuthenticationError("the API token is not known to this engine (it was deleted)")
        if row.revoked:
            raise AuthenticationError("the API token was revoked; ask an admin of the tenant for a new one")
        if row.expires_at is not None and self.clock.time() >= row.expires_at:
            raise AuthenticationError(
                "the API token has expired; make a new one with 'ratchet tokens create'"
            )
        try:
            role = Role(row.role)
        except ValueError:
            raise AuthenticationError(f"the API token's stored role {row.role!r} is unknown") from None
        return Principal(tenant_id, role, token_id)

    def forget(self, tenant_id: str, token_id: str) -> None:
        """Drop a cached row (after revoking it here), so the next request reads it again."""
        self._rows.pop((tenant_id, token_id), None)

    async def _row(self, tenant_id: str, token_id: str) -> ApiToken | None:
        key = (tenant_id, token_id)
        now = self.clock.monotonic()
        cached = self._rows.get(key)
        if cached is not None and now - cached[1] < ROW_TTL:
            return cached[0]
        row = await self.store.get_api_token(tenant_id, token_id)
        if len(self._rows) >= _MAX_CACHED:
            self._rows.clear()
        self._rows[key] = (row, now)
        return row
