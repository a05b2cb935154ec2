"""Sealed webhook secrets: derived keys, sealing that opens only with the same key and context."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratchet.actors.webhooks import SealedSecretError, SecretCipher, derive_key

MASTER = b"engine signing key material, 32b"
KEY = derive_key(MASTER, "webhook-secrets")


def test_derived_keys_are_32_bytes_stable_and_differ_per_purpose_and_master() -> None:
    assert len(KEY) == 32
    assert derive_key(MASTER, "webhook-secrets") == KEY
    assert derive_key(MASTER, "api-tokens") != KEY
    assert derive_key(MASTER[::-1], "webhook-secrets") != KEY
    assert KEY not in MASTER and MASTER[:16] not in KEY


@pytest.mark.parametrize(
    ("master", "purpose", "error", "message"),
    [
        ("a string", "p", TypeError, "master must be bytes"),
        (b"short", "p", ValueError, "at least 16 bytes, got 5"),
        (MASTER, "", ValueError, "purpose must be a non-empty string"),
        (MASTER, None, ValueError, "purpose must be a non-empty string"),
    ],
)
def test_derive_key_refuses_garbage(master, purpose, error, message) -> None:
    with pytest.raises(error, match=message):
        derive_key(master, purpose)


@pytest.mark.parametrize(
    ("key", "error", "message"),
    [
        ("k" * 32, TypeError, "key must be bytes"),
        (b"k" * 31, ValueError, "must be 32 bytes"),
        (b"", ValueError, "32"),
    ],
)
def test_a_cipher_needs_a_32_byte_key(key, error, message) -> None:
    with pytest.raises(error, match=message):
        SecretCipher(key)


@given(secret=st.text(min_size=1, max_size=200), context=st.text(max_size=50))
def test_a_sealed_secret_opens_to_itself_and_does_not_show_it(secret: str, context: str) -> None:
    cipher = SecretCipher(KEY)
    sealed = cipher.seal(secret, context=context)
    assert cipher.open(sealed, context=context) == secret
    assert sealed.startswith("v1.") and sealed.isascii()
    if len(secret.encode()) >= 8:  # a shorter one may turn up in random bytes by chance
        assert secret.encode() not in base64.urlsafe_b64decode(sealed[3:])


def test_sealing_twice_gives_different_texts() -> None:
    cipher = SecretCipher(KEY)
    assert cipher.seal("s", context="c") != cipher.seal("s", context="c")


def test_a_sealed_secret_opens_with_neither_another_key_nor_another_context() -> None:
    sealed = SecretCipher(KEY).seal("whsec_abc", context='["webhook","t1","w1"]')
    with pytest.raises(SealedSecretError, match="another key"):
        SecretCipher(derive_key(MASTER, "other")).open(sealed, context='["webhook","t1","w1"]')
    with pytest.raises(SealedSecretError):
        SecretCipher(KEY).open(sealed, context='["webhook","t1","w2"]')


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "v1.",
        "v1.!!!",
        "v2.AAAA",
        "plaintext-secret",
        "v1." + base64.urlsafe_b64encode(b"x" * 40).decode(),
    ],
)
def test_garbage_does_not_open(garbage: str) -> None:
    with pytest.raises(SealedSecretError, match=r"^a stored webhook secret cannot be opened"):
        SecretCipher(KEY).open(garbage, context="c")


def test_a_tampered_sealed_secret_does_not_open() -> None:
    cipher = SecretCipher(KEY)
    raw = bytearray(base64.urlsafe_b64decode(cipher.seal("secret", context="c")[3:]))
    raw[-1] ^= 1
    with pytest.raises(SealedSecretError):
        cipher.open("v1." + base64.urlsafe_b64encode(bytes(raw)).decode(), context="c")


def test_the_cipher_does_not_show_its_key() -> None:
    assert repr(SecretCipher(KEY)) == "SecretCipher(<key hidden>)"
