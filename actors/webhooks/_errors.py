"""What a webhook request or a webhook definition can fail with.

A refused request raises a :class:`WebhookError`; its :attr:`~WebhookError.reason` is
what the sender is told, a few words that name the check that failed and never a
secret, an expected signature or a stored detail. The route turns each class into its
HTTP status (see :mod:`._routes`). A bad definition is the caller's mistake and raises
:class:`~ratchet._contract.protocol.RequestError`, like every other bad request.
"""

from __future__ import annotations

from ratchet._contract.protocol import RequestError

__all__ = [
    "SealedSecretError",
    "WebhookBodyTooLarge",
    "WebhookError",
    "WebhookEventError",
    "WebhookExists",
    "WebhookNotFound",
    "WebhookRateLimited",
    "WebhookRejected",
    "WebhookReplayed",
    "WebhookUnavailable",
]


class WebhookError(Exception):
    """A webhook request was refused; nothing was pushed.

    Attributes:
        reason: why, in words safe to send back to whoever sent the request.
        detail: the whole story, recorded with the failure for the webhook's owner (the
            CEL error, the body's problem); the sender only gets :attr:`reason`.
    """

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = reason if detail is None else detail


class WebhookNotFound(WebhookError):
    """No such webhook: the same answer for an unknown tenant and an unknown name (HTTP 404)."""

    def __init__(self) -> None:
        super().__init__("no such webhook")


class WebhookRejected(WebhookError):
    """The request failed its webhook's verification: signature, credentials or timestamp (HTTP 401)."""


class WebhookReplayed(WebhookRejected):
    """The request repeats a delivery the webhook already took inside its window (HTTP 409)."""


class WebhookRateLimited(WebhookError):
    """The webhook received more requests than its rate allows (HTTP 429).

    Attributes:
        retry_after: seconds until a request would be admitted.
    """

    def __init__(self, retry_after: float) -> None:
        super().__init__("too many requests for this webhook; retry later")
        self.retry_after = retry_after


class WebhookBodyTooLarge(WebhookError):
    """The request body is over the limit (HTTP 413).

    Attributes:
        limit: the largest body accepted, in bytes.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is over the limit of {limit} bytes")
        self.limit = limit


class WebhookEventError(WebhookError):
    """The request verified but makes no event: the body is not JSON, or CEL failed (HTTP 422)."""


class WebhookUnavailable(WebhookError):
    """The webhook cannot take the request now: its secret cannot be opened, or the push failed (HTTP 503)."""


class WebhookExists(RequestError):
    """A webhook of that name exists already in the tenant; nothing was changed."""


class SealedSecretError(Exception):
    """A stored webhook secret cannot be opened: sealed with another key, or altered."""
