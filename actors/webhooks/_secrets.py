"""Sealing webhook secrets: what the store keeps is ciphertext, never a secret.

A webhook's secret must be read back to check signatures, so it is encrypted, not
hashed. :class:`SecretCipher` seals with AES-256-GCM under a key the engine derives
from its own key material with :func:`derive_key` (HKDF-SHA256, one key per purpose),
and binds each sealed secret to where it belongs (its tenant and webhook, as the GCM
associated data): a sealed secret copied onto another webhook's row does not open.

Sealed form: ``v1.`` then the base64url of a 12-byte nonce followed by the ciphertext
and its tag. The nonce comes from the operating system (:func:`os.urandom`), not from
the runtime's seeded random source: that source replays the same numbers for the same
seed, and a GCM nonce used twice under one key gives the key away.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._errors import SealedSecretError

__all__ = ["KEY_BYTES", "SecretCipher", "derive_key"]

KEY_BYTES = 32
MIN_MASTER_BYTES = 16
_VERSION = "v1."
_NONCE_BYTES = 12


def derive_key(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for ``purpose``, derived from the engine's key material with HKDF-SHA256.

    Different purposes give unrelated keys, so the key that seals webhook secrets is not
    the key that signs tokens, though both come from one master.

    Args:
        master: the engine's secret key material (at least 16 bytes).
        purpose: what the key is for, e.g. ``"webhook-secrets"``.

    Raises:
        TypeError: ``master`` is not bytes or ``purpose`` not a string.
        ValueError: ``master`` is shorter than 16 bytes or ``purpose`` is empty.
    """
    if not isinstance(master, bytes | bytearray):
        raise TypeError(f"derive_key: master must be bytes, got {type(master).__name__}")
    if len(master) < MIN_MASTER_BYTES:
        raise ValueError(
            f"derive_key: master key material must be at least {MIN_MASTER_BYTES} bytes, got {len(master)}"
        )
    if not isinstance(purpose, str) or not purpose:
        raise ValueError("derive_key: purpose must be a non-empty string naming what the key is for")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"ratchet:" + purpose.encode())
    return hkdf.derive(bytes(master))


class SecretCipher:
    """Seals and opens secrets with AES-256-GCM.

    Args:
        key: 32 bytes (from :func:`derive_key`).

    Raises:
        TypeError: ``key`` is not bytes.
        ValueError: ``key`` is not 32 bytes long.
    """

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray):
            raise TypeError(f"SecretCipher: key must be bytes, got {type(key).__name__}")
        if len(key) != KEY_BYTES:
            raise ValueError(f"SecretCipher: key must be {KEY_BYTES} bytes (use derive_key), got {len(key)}")
        self._aead = AESGCM(bytes(key))

    def __repr__(self) -> str:
        return "SecretCipher(<key hidden>)"

    def seal(self, secret: str, *, context: str) -> str:
        """``secret`` encrypted and bound to ``context`` (who it belongs to), as text for the store."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode("utf-8"), context.encode("utf-8"))
        return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, *, context: str) -> str:
        """The secret that :meth:`seal` sealed for ``context``.

        Raises:
            SealedSecretError: ``sealed`` was made with another key or for another
                context, or was altered, or is not a sealed secret.
        """
        try:
            if not sealed.startswith(_VERSION):
                raise ValueError("unknown format")
            raw = base64.urlsafe_b64decode(sealed[len(_VERSION) :].encode("ascii"))
            nonce, body = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
            return self._aead.decrypt(nonce, body, context.encode("utf-8")).decode("utf-8")
        except (InvalidTag, ValueError, binascii.Error, UnicodeError):
            raise SealedSecretError(
                "a stored webhook secret cannot be opened: it was sealed under another key (did the "
                "engine's key material change?) or for another webhook, or it was altered; "
                "create the webhook again with its secret"
            ) from None
