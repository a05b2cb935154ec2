"""API tokens: three-part JWTs the engine signs, and the short session credential of the wire.

A token is an HS256 JWT (``header.claims.signature``) with the claims Hatchet's tokens
carry, so tools that read them unverified find the tenant and the server:

- ``sub``: the tenant id;
- ``token_id``: the id of the stored row that must exist, unrevoked, for the token to work
  (so a token can be revoked, or expire, at once);
- ``server_url``: the engine's HTTP address, as the engine knew it when it minted the token;
- ``iat`` and ``exp``: when it was made and when it stops working (epoch seconds).

Reading a token (:func:`read_token`) checks its shape, its signature and its expiry, and
names what is wrong without ever echoing the token. The stored row is checked by the
caller (:mod:`._book`).

A *session credential* (:func:`session_credential`) is what the nng wire carries in every
envelope once a worker or client has signed in with its token: the token's id and a MAC
of it under the engine's key, a few dozen bytes instead of the whole JWT. It holds no
secret of its own (the MAC cannot be made without the key) and no state (any engine with
the key verifies it, also after a restart), and it dies with its token's row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from dataclasses import dataclass
from typing import Any

import jwt

from ratchet._errors import AuthenticationError

__all__ = [
    "ALGORITHM",
    "TokenClaims",
    "check_session_credential",
    "mint_token",
    "read_token",
    "session_credential",
    "token_digest",
]

ALGORITHM = "HS256"
#: Longest token accepted, in characters: a real one is about 300.
MAX_TOKEN_LENGTH = 4096
_MAC_CHARS = 32  # 192 bits of the credential's MAC, base64url


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says (the stored row decides whether it still works)."""

    tenant_id: str
    token_id: str
    server_url: str
    issued_at: float
    expires_at: float


def mint_token(
    key: bytes, *, tenant_id: str, token_id: str, server_url: str, issued_at: float, expires_at: float
) -> str:
    """A signed token with the claims of the module docstring."""
    claims = {
        "sub": tenant_id,
        "token_id": token_id,
        "server_url": server_url,
        "iat": int(issued_at),
        "exp": math.ceil(expires_at),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def read_token(key: bytes, token: Any, *, now: float) -> TokenClaims:
    """Verify ``token``'s shape, signature and expiry; its claims.

    Raises:
        AuthenticationError: saying what is wrong (never quoting the token).
    """
    if not isinstance(token, str) or not token:
        raise AuthenticationError("no API token was given; send one as 'Authorization: Bearer <token>'")
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise AuthenticationError(
            "the API token is malformed: a Ratchet token is a JWT of three dot-separated parts "
            "(make one with 'ratchet tokens create')"
        )
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            # time is the runtime clock's, checked below; PyJWT would read the wall clock
            options={
                "require": ["sub", "exp", "iat"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise AuthenticationError(
            "the API token's signature does not match this engine's key: it was made by another "
            "engine, or this engine's key changed since (give every engine the same --secret-key-file)"
        ) from None
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError(f"the API token is malformed: {_jwt_reason(exc)}") from None
    tenant_id, token_id = claims.get("sub"), claims.get("token_id")
    server_url, exp, iat = claims.get("server_url", ""), claims.get("exp"), claims.get("iat")
    if not (
        isinstance(tenant_id, str) and isinstance(token_id, str) and _text(tenant_id) and _text(token_id)
    ):
        raise AuthenticationError("the API token is malformed: its sub and token_id claims must be names")
    if not isinstance(server_url, str):
        raise AuthenticationError("the API token is malformed: its server_url claim must be text")
    if not (isinstance(exp, int | float) and isinstance(iat, int | float) and _number(exp) and _number(iat)):
        raise AuthenticationError("the API token is malformed: its exp and iat claims must be numbers")
    if now >= exp:
        raise AuthenticationError("the API token has expired; make a new one with 'ratchet tokens create'")
    return TokenClaims(tenant_id, token_id, server_url, float(iat), float(exp))


def token_digest(token: str) -> str:
    """The SHA-256 of a token, as stored (the token itself never is)."""
    return hashlib.sha256(token.encode()).hexdigest()


def session_credential(key: bytes, tenant_id: str, token_id: str) -> str:
    """The credential a signed-in peer stamps on its envelopes: ``tenant/token_id.mac``."""
    return f"{tenant_id}/{token_id}.{_mac(key, tenant_id, token_id)}"


def check_session_credential(key: bytes, credential: Any) -> tuple[str, str]:
    """The (tenant id, token id) a session credential stands for.

    Raises:
        AuthenticationError: not a credential this engine's key made.
    """
    if isinstance(credential, str) and 0 < len(credential) <= 512:
        who, _, mac = credential.rpartition(".")
        tenant_id, _, token_id = who.partition("/")
        if tenant_id and token_id and hmac.compare_digest(mac, _mac(key, tenant_id, token_id)):
            return tenant_id, token_id
    raise AuthenticationError(
        "this connection has not signed in with a valid API token (or the engine's key changed "
        "since it did); give the worker or client a token (RATCHET_TOKEN)"
    )


def _mac(key: bytes, tenant_id: str, token_id: str) -> str:
    digest = hmac.new(key, f"session\x00{tenant_id}\x00{token_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:_MAC_CHARS]


def _text(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 200


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _jwt_reason(exc: Exception) -> str:
    """PyJWT's reason, which names the part at fault and never contains the token."""
    text = str(exc) or type(exc).__name__
    return text[:200]
