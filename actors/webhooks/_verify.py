"""Verifying webhook requests: one pure function per provider.

Each verifier takes the webhook's secret, the request's headers (any mapping; names are
matched without regard to case), the raw body bytes as received, and the wall time now
(epoch seconds), and returns a :class:`Verified` or raises
:class:`~._errors.WebhookRejected` whose reason names the check that failed, never a
secret or an expected value.

How each provider signs, as its documentation says:

- generic HMAC: ``HMAC(secret, body)`` with SHA-1, SHA-256 or SHA-512, written in hex,
  base64 or base64url into a header of the owner's choosing, after an optional prefix
  (``sha256=``);
- Stripe: ``Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>">`` (several
  ``v1`` while a secret rolls over), accepted within 10 minutes of ``t``;
- Slack: ``X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<ts>:<body>">`` with the
  timestamp in ``X-Slack-Request-Timestamp``, accepted within 5 minutes;
- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of body>``;
- Svix: ``svix-signature`` holds space-separated ``v1,<base64 HMAC-SHA256 of
  "<svix-id>.<svix-timestamp>.<body>">`` made with the key that the secret
  ``whsec_<base64 key>`` encodes, accepted within 5 minutes; the signed ``svix-id`` is
  returned as the delivery id, so that the caller can refuse a replay inside the window;
- basic auth (``Authorization: Basic``) and an API key in a header, where the sender
  simply shows the secret.

Every comparison of a secret or a signature is :func:`hmac.compare_digest`, over every
candidate signature, so time tells an attacker nothing. A provider without a timestamp
(GitHub, generic HMAC, basic, API key) cannot tell a replay from a retry: use one that
signs a timestamp where that matters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import WebhookRejected

__all__ = [
    "ALGORITHMS",
    "ENCODINGS",
    "SLACK_TOLERANCE",
    "STRIPE_TOLERANCE",
    "SVIX_TOLERANCE",
    "Verified",
    "header_map",
    "svix_key",
    "verify_api_key",
    "verify_basic",
    "verify_github",
    "verify_hmac",
    "verify_slack",
    "verify_stripe",
    "verify_svix",
]

STRIPE_TOLERANCE = 600.0
"""Seconds a Stripe request's ``t=`` may be away from now."""
SLACK_TOLERANCE = 300.0
"""Seconds a Slack request's timestamp may be away from now."""
SVIX_TOLERANCE = 300.0
"""Seconds a Svix request's timestamp may be away from now."""

ALGORITHMS: dict[str, Callable[..., Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}
ENCODINGS = ("hex", "base64", "base64url")

MAX_DELIVERY_ID_LENGTH = 200
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() would take other scripts' digits
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_DELIVERY_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_DELIVERY_ID_LENGTH}}}")  # printable ASCII, no spaces


@dataclass(frozen=True, slots=True)
class Verified:
    """A request that passed verification.

    Attributes:
        delivery_id: the signed id of the delivery, for providers that sign one (Svix):
            the caller refuses a second request with it until ``expires_at``.
        expires_at: when a request with this delivery's timestamp stops passing the
            window check, so the id need not be remembered after it.
    """

    delivery_id: str | None = None
    expires_at: float | None = None


def header_map(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers by lower-case name; a name given twice joins its values with ``", "`` (as HTTP does)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        key = str(name).lower()
        out[key] = f"{out[key]}, {value}" if key in out else str(value)
    return out


def _header(headers: Mapping[str, str], name: str) -> str:
    """The stripped value of header ``name``, or a rejection saying it is missing."""
    value = header_map(headers).get(name.lower(), "").strip()
    if not value:
        raise WebhookRejected(f"the {name} header is missing")
    return value


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _mac(algorithm: str, key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, ALGORITHMS[algorithm]).digest()


def _decode(signature: str, encoding: str) -> bytes | None:
    """A signature's bytes, or None if it is not written in ``encoding``."""
    try:
        if encoding == "hex":
            return bytes.fromhex(signature) if _HEX.fullmatch(signature) else None
        if encoding == "base64":
            return base64.b64decode(signature, validate=True) if _BASE64.fullmatch(signature) else None
        if _BASE64URL.fullmatch(signature):
            return base64.urlsafe_b64decode(signature.rstrip("=") + "=" * (-len(signature.rstrip("=")) % 4))
        return None
    except (binascii.Error, ValueError):
        return None


def _any_matches(expected: bytes, candidates: Iterable[bytes | None]) -> bool:
    """Whether any candidate equals ``expected``, comparing every one in constant time."""
    found = False
    for candidate in candidates:
        found |= hmac.compare_digest(expected, candidate if candidate is not None else b"")
    return found


def _timestamp(headers: Mapping[str, str], name: str) -> int:
    return _parse_timestamp(_header(headers, name), name)


def _parse_timestamp(value: str, where: str) -> int:
    if not _TIMESTAMP.fullmatch(value):
        raise WebhookRejected(f"the timestamp in {where} is not a Unix time in seconds")
    return int(value)


def _fresh(timestamp: int, now: float, tolerance: float, where: str) -> None:
    if abs(now - timestamp) > tolerance:
        raise WebhookRejected(
            f"the timestamp in {where} is more than {tolerance:g} seconds from now; "
            "the request is stale or replayed"
        )


def _bad_signature() -> WebhookRejected:
    return WebhookRejected("the signature does not match")


def verify_hmac(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    *,
    header: str,
    algorithm: str = "sha256",
    encoding: str = "hex",
    prefix: str = "",
) -> Verified:
    """Check a generic HMAC of the body: ``<prefix><encoded HMAC(secret, body)>`` in ``header``.

    Args:
        secret: the shared secret (its UTF-8 bytes are the key).
        headers: the request's headers.
        body: the raw body.
        now: unused (no timestamp is signed); taken for a uniform signature.
        header: the header carrying the signature.
        algorithm: ``sha1``, ``sha256`` or ``sha512``.
        encoding: ``hex`` (either case), ``base64`` or ``base64url`` (padding optional).
        prefix: text before the signature (``sha256=``), required when set.

    Raises:
        WebhookRejected: the header is missing, lacks the prefix, is not in the encoding,
            or holds another signature.
        ValueError: an unknown ``algorithm`` or ``encoding`` (the definition is wrong).
    """
    if algorithm not in ALGORITHMS or encoding not in ENCODINGS:
        raise ValueError(f"unknown HMAC algorithm {algorithm!r} or encoding {encoding!r}")
    value = _header(headers, header)
    if not value.startswith(prefix):
        raise WebhookRejected(f"the {header} header does not start with {prefix!r}")
    provided = _decode(value[len(prefix) :].strip(), encoding)
    if provided is None:
        raise WebhookRejected(f"the signature in {header} is not {encoding}")
    if not _any_matches(_mac(algorithm, _utf8(secret), body), [provided]):
        raise _bad_signature()
    return Verified()


def verify_github(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
    """Check GitHub's ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of body>``.

    Raises:
        WebhookRejected: the header is missing or malformed, or the signature differs.
    """
    return verify_hmac(secret, headers, body, now, header="X-Hub-Signature-256", prefix="sha256=")


def verify_stripe(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, *, tolerance: float = STRIPE_TOLERANCE
) -> Verified:
    """Check Stripe's ``Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>...]``.

    The signed text is ``<ts>.<body>``, the key the endpoint secret's UTF-8 bytes
    (``whsec_...`` whole). Any one matching ``v1`` passes (Stripe sends one per live
    secret while a secret rolls over); other schemes (``v0``) are ignored.

    Raises:
        WebhookRejected: the header is missing or has no ``t``/``v1``; ``t`` is more than
            ``tolerance`` seconds from ``now``; no ``v1`` matches.
    """
    value = _header(headers, "Stripe-Signature")
    stamps: list[str] = []
    signatures: list[str] = []
    for part in value.split(","):
        name, _, item = part.strip().partition("=")
        if name == "t":
            stamps.append(item.strip())
        elif name == "v1":
            signatures.append(item.strip())
    if not stamps or not signatures:
        raise WebhookRejected("the Stripe-Signature header has no t= timestamp or no v1= signature")
    timestamp = _parse_timestamp(stamps[0], "Stripe-Signature")
    _fresh(timestamp, now, tolerance, "Stripe-Signature")
    expected = _mac("sha256", _utf8(secret), str(timestamp).encode() + b"." + body)
    if not _any_matches(expected, (_decode(s, "hex") for s in signatures)):
        raise _bad_signature()
    return Verified()


def verify_slack(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, *, tolerance: float = SLACK_TOLERANCE
) -> Verified:
    """Check Slack's ``X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<ts>:<body>">``.

    The timestamp is ``X-Slack-Request-Timestamp``; the key the signing secret's UTF-8 bytes.

    Raises:
        WebhookRejected: a header is missing or malformed; the timestamp is more than
            ``tolerance`` seconds from ``now``; the signature differs.
    """
    timestamp = _timestamp(headers, "X-Slack-Request-Timestamp")
    signature = _header(headers, "X-Slack-Signature")
    _fresh(timestamp, now, tolerance, "X-Slack-Request-Timestamp")
    if not signature.startswith("v0="):
        raise WebhookRejected("the X-Slack-Signature header does not start with 'v0='")
    expected = _mac("sha256", _utf8(secret), b"v0:" + str(timestamp).encode() + b":" + body)
    if not _any_matches(expected, [_decode(signature[3:], "hex")]):
        raise _bad_signature()
    return Verified()


def svix_key(secret: str) -> bytes:
    """The HMAC key a Svix secret (``whsec_<base64>``; the prefix may be left out) encodes.

    Raises:
        ValueError: the secret is not base64 after its prefix (the message does not repeat it).
    """
    encoded = secret.removeprefix("whsec_")
    key = _decode(encoded, "base64")
    if not key:
        raise ValueError("a Svix secret is 'whsec_' followed by the base64 of its key")
    return key


def verify_svix(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, *, tolerance: float = SVIX_TOLERANCE
) -> Verified:
    """Check Svix's ``svix-signature`` over ``<svix-id>.<svix-timestamp>.<body>``.

    ``svix-signature`` holds space-separated ``<version>,<base64 signature>`` items; any
    matching ``v1`` passes. The signed ``svix-id`` comes back as the delivery id, to be
    remembered until the timestamp leaves the window (``expires_at``).

    Raises:
        WebhookRejected: a header is missing or malformed; the timestamp is more than
            ``tolerance`` seconds from ``now``; no ``v1`` signature matches.
        ValueError: the secret is not a Svix secret (the definition is wrong).
    """
    key = svix_key(secret)
    delivery_id = _header(headers, "svix-id")
    if not _DELIVERY_ID.fullmatch(delivery_id):
        raise WebhookRejected(
            f"the svix-id header is not 1 to {MAX_DELIVERY_ID_LENGTH} printable characters without spaces"
        )
    timestamp = _timestamp(headers, "svix-timestamp")
    value = _header(headers, "svix-signature")
    _fresh(timestamp, now, tolerance, "svix-timestamp")
    signatures = [item[3:] for item in value.split() if item.startswith("v1,")]
    if not signatures:
        raise WebhookRejected("the svix-signature header has no v1 signature")
    signed = delivery_id.encode() + b"." + str(timestamp).encode() + b"." + body
    if not _any_matches(_mac("sha256", key, signed), (_decode(s, "base64") for s in signatures)):
        raise _bad_signature()
    return Verified(delivery_id=delivery_id, expires_at=timestamp + tolerance)


def verify_basic(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, *, username: str
) -> Verified:
    """Check ``Authorization: Basic <base64 of "username:secret">``.

    Raises:
        WebhookRejected: the header is missing or not basic credentials, or they differ.
    """
    value = _header(headers, "Authorization")
    scheme, _, encoded = value.partition(" ")
    decoded = _decode(encoded.strip(), "base64") if scheme.lower() == "basic" else None
    if not decoded:
        raise WebhookRejected("the Authorization header does not hold basic credentials")
    user, colon, password = decoded.partition(b":")
    same_user = hmac.compare_digest(user, _utf8(username))
    same_password = hmac.compare_digest(password, _utf8(secret))
    if not (colon and same_user & same_password):
        raise WebhookRejected("the credentials do not match")
    return Verified()


def verify_api_key(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, *, header: str
) -> Verified:
    """Check that ``header`` holds the API key.

    Raises:
        WebhookRejected: the header is missing or holds another key.
    """
    if not hmac.compare_digest(_utf8(_header(headers, header)), _utf8(secret)):
        raise WebhookRejected(f"the key in {header} does not match")
    return Verified()
