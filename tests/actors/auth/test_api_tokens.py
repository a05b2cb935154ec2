"""API tokens and session credentials: made by one key, refused for every kind of garbage."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratchet._errors import AuthenticationError
from ratchet.actors.auth._book import bearer_token
from ratchet.actors.auth._tokens import (
    check_session_credential,
    mint_token,
    read_token,
    session_credential,
)

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
NOW = 2_000_000_000.0


def make(key: bytes = KEY, *, tenant: str = "acme", expires_at: float = NOW + 3600) -> str:
    return mint_token(
        key, tenant_id=tenant, token_id="t1", server_url="http://x", issued_at=NOW, expires_at=expires_at
    )


def test_a_token_carries_the_tenant_its_id_and_where_the_server_is() -> None:
    token = make()
    assert token.count(".") == 2
    claims = read_token(KEY, token, now=NOW)
    assert (claims.tenant_id, claims.token_id, claims.server_url) == ("acme", "t1", "http://x")
    # what tools that read it unverified (as Hatchet's SDK does) see
    unverified = jwt.decode(token, options={"verify_signature": False})
    assert unverified["sub"] == "acme" and unverified["server_url"] == "http://x"


def test_a_token_signed_with_another_key_is_refused_saying_so() -> None:
    with pytest.raises(AuthenticationError, match="signature does not match"):
        read_token(KEY, make(OTHER_KEY), now=NOW)


def test_a_token_whose_claims_were_changed_is_refused() -> None:
    header, claims, signature = make().split(".")
    body = json.loads(base64.urlsafe_b64decode(claims + "=="))
    body["sub"] = "victim"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    with pytest.raises(AuthenticationError, match="signature"):
        read_token(KEY, f"{header}.{forged}.{signature}", now=NOW)


def test_an_unsigned_token_is_refused() -> None:
    unsigned = jwt.encode(
        {"sub": "acme", "token_id": "t1", "exp": NOW + 10, "iat": NOW}, None, algorithm="none"
    )
    with pytest.raises(AuthenticationError, match="malformed"):
        read_token(KEY, unsigned, now=NOW)


def test_an_expired_token_is_refused_by_the_runtime_clock() -> None:
    token = make(expires_at=NOW + 60)
    read_token(KEY, token, now=NOW + 59)
    with pytest.raises(AuthenticationError, match="expired"):
        read_token(KEY, token, now=NOW + 60)


def test_the_error_never_quotes_the_token() -> None:
    token = make(OTHER_KEY)
    with pytest.raises(AuthenticationError) as info:
        read_token(KEY, token, now=NOW)
    assert token not in str(info.value) and token.split(".")[2] not in str(info.value)


@given(
    st.one_of(st.text(max_size=300), st.binary(max_size=50), st.integers(), st.none(), st.lists(st.text()))
)
def test_garbage_is_refused_with_an_authentication_error(garbage: object) -> None:
    with pytest.raises(AuthenticationError):
        read_token(KEY, garbage, now=NOW)


@given(st.text(max_size=200))
def test_garbage_credentials_are_refused(garbage: str) -> None:
    with pytest.raises(AuthenticationError):
        check_session_credential(KEY, garbage)


def test_a_session_credential_names_its_token_and_cannot_be_turned_to_another_tenant() -> None:
    credential = session_credential(KEY, "acme", "t1")
    assert check_session_credential(KEY, credential) == ("acme", "t1")
    mac = credential.rpartition(".")[2]
    with pytest.raises(AuthenticationError):
        check_session_credential(KEY, f"victim/t1.{mac}")
    with pytest.raises(AuthenticationError):
        check_session_credential(OTHER_KEY, credential)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer   ", 42, "token-without-scheme"])
def test_a_header_that_is_no_bearer_token_is_refused(header: object) -> None:
    with pytest.raises(AuthenticationError):
        bearer_token(header)


def test_a_bearer_header_gives_its_token() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer  abc.def.ghi ") == "abc.def.ghi"
