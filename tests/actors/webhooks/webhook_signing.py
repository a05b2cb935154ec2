"""Signing requests the way each provider documents it, for the webhook tests.

Written from the providers' documentation, independently of ``ratchet.actors.webhooks``:

- Stripe: ``Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<body>")>``;
- Slack: ``X-Slack-Request-Timestamp: <ts>``, ``X-Slack-Signature: v0=<hex HMAC-SHA256(secret,
  "v0:<ts>:<body>")>``;
- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>``;
- Svix: ``svix-id``, ``svix-timestamp``, ``svix-signature: v1,<base64 HMAC-SHA256(key,
  "<id>.<ts>.<body>")>`` where the secret is ``whsec_<base64 key>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

STRIPE_SECRET = "whsec_stripe_test_secret"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
GITHUB_SECRET = "It's a Secret to Everybody"
SVIX_KEY = b"svix-test-key-32-bytes-long!!!!!"
SVIX_SECRET = "whsec_" + base64.b64encode(SVIX_KEY).decode()


def _hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def stripe_headers(body: bytes, ts: int, secret: str = STRIPE_SECRET) -> dict[str, str]:
    signature = _hex(secret.encode(), f"{ts}.".encode() + body)
    return {"Stripe-Signature": f"t={ts},v1={signature}"}


def slack_headers(body: bytes, ts: int, secret: str = SLACK_SECRET) -> dict[str, str]:
    signature = _hex(secret.encode(), f"v0:{ts}:".encode() + body)
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={signature}"}


def github_headers(body: bytes, secret: str = GITHUB_SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + _hex(secret.encode(), body)}


def svix_headers(body: bytes, ts: int, msg_id: str = "msg_p5jXN8AQM9LWM0D4loKWxJek", key: bytes = SVIX_KEY):
    signed = f"{msg_id}.{ts}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {"svix-id": msg_id, "svix-timestamp": str(ts), "svix-signature": f"v1,{signature}"}


def hmac_signature(secret: str, body: bytes, algorithm: str, encoding: str) -> str:
    digest = hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).digest()
    if encoding == "hex":
        return digest.hex()
    if encoding == "base64":
        return base64.b64encode(digest).decode()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def basic_header(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}
