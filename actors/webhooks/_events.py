"""From a verified request to an ordinary event: parse the body, evaluate the CEL, merge the payload.

Pure functions; each failure raises :class:`~._errors.WebhookEventError` with a short
reason for the sender and the detail for the webhook's owner. The event is shaped like
any pushed event (:func:`ratchet._contract.calls.event_request`) and checked against
the gateway's own request model, so the push that follows refuses nothing the sender
could have caused.

The CEL activation is ``input`` (the body: JSON, or a form's fields) and ``headers``
(lower-case names), without the headers that carry credentials (``authorization``,
``cookie``, and an ``api_key`` webhook's key header): an expression cannot copy a
credential into an event, and an error cannot quote one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from ratchet._contract.calls import event_request
from ratchet._contract.cel import CelError, compile_cel
from ratchet._contract.protocol import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    PushEventRequest,
    RequestError,
    check_payload_size,
    parse,
)

from ._definition import WebhookKind, WebhookSettings
from ._errors import WebhookEventError

__all__ = ["activation_headers", "event_for", "parse_body", "slack_challenge"]

_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_FORM = "application/x-www-form-urlencoded"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def parse_body(body: bytes, content_type: str | None) -> Any:
    """The body as JSON values: JSON, or a URL-encoded form's fields; an empty body is ``None``.

    A form field given once is a string, given more often a list of strings.

    Raises:
        WebhookEventError: the body is neither (not UTF-8, not JSON, nested too deep).
    """
    if not body.strip():
        return None
    media = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if media == _FORM:
            fields = parse_qs(text, keep_blank_values=True, strict_parsing=True, max_num_fields=1000)
            return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        what = "URL-encoded form" if media == _FORM else "JSON"
        detail = "nested too deep" if isinstance(exc, RecursionError) else str(exc)
        raise WebhookEventError(f"the body is not {what}", f"the body is not {what}: {detail}") from None


def slack_challenge(kind: WebhookKind, payload: Any) -> str | None:
    """The challenge of a Slack URL verification request, or None for any other request."""
    if kind is not WebhookKind.SLACK or not isinstance(payload, dict):
        return None
    if payload.get("type") != "url_verification":
        return None
    challenge = payload.get("challenge")
    if not isinstance(challenge, str) or not 0 < len(challenge) <= 1000:
        raise WebhookEventError(
            "the URL verification has no challenge",
            "a Slack url_verification body without a string challenge",
        )
    return challenge


def activation_headers(settings: WebhookSettings, headers: Mapping[str, str]) -> dict[str, str]:
    """The headers CEL sees: all but those that carry credentials."""
    hidden = set(_CREDENTIAL_HEADERS)
    if settings.kind is WebhookKind.API_KEY and settings.header is not None:
        hidden.add(settings.header.lower())
    return {name: value for name, value in headers.items() if name not in hidden}


def _evaluate(expression: str, what: str, activation: Mapping[str, Any]) -> Any:
    try:
        return compile_cel(expression).evaluate(activation)
    except CelError as exc:
        raise WebhookEventError(f"the {what} expression failed for this request", str(exc)) from None


def event_for(
    webhook: str, settings: WebhookSettings, payload: Any, headers: Mapping[str, str]
) -> dict[str, Any]:
    """The event a verified request makes, as a ``push_events`` request.

    Args:
        webhook: the webhook's name (kept in the event's metadata with ``source: webhook``).
        settings: the webhook's settings.
        payload: the parsed body (see :func:`parse_body`).
        headers: the request's headers, by lower-case name.

    Raises:
        WebhookEventError: an expression failed or gave no usable key or scope, or the
            body cannot take the static payload or cannot be an event's payload.
    """
    activation = {"input": payload, "headers": activation_headers(settings, headers)}
    key = _evaluate(settings.event_key_expression, "event key", activation)
    if not isinstance(key, str) or not key.strip():
        raise WebhookEventError(
            "the event key expression gave no event key for this request",
            f"event key expression {settings.event_key_expression!r} gave {type(key).__name__} "
            f"{_short(key)}, not a non-empty string",
        )
    scope = None
    if settings.scope_expression is not None:
        scope = _evaluate(settings.scope_expression, "scope", activation)
        if scope is not None and not isinstance(scope, str):
            raise WebhookEventError(
                "the scope expression gave no scope for this request",
                f"scope expression {settings.scope_expression!r} gave {type(scope).__name__} "
                f"{_short(scope)}, not a string or null",
            )
    if settings.static_payload:
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise WebhookEventError(
                "the body is not a JSON object",
                f"the static payload merges over the body, which is a JSON {type(payload).__name__}",
            )
        payload = {**payload, **settings.static_payload}
    event = event_request(key, payload, {"source": "webhook", "webhook": webhook}, scope)
    try:
        parse(PushEventRequest, event, f"the event of webhook {webhook!r}")
        check_payload_size(payload, DEFAULT_MAX_PAYLOAD_BYTES, "the body")
    except RequestError as exc:
        raise WebhookEventError("the request does not make a valid event", str(exc)) from None
    return event


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
