"""The webhook route: ``POST /api/v1/tenants/{tenant}/webhooks/{name}``, with no bearer token.

The webhook's own verification is the request's authentication (see
:mod:`._service`). The route reads at most one byte more than the body limit, hands the
request to :meth:`Webhooks.receive`, pushes the events it makes through the tenant's
gateway, and answers:

- 200 ``{"events": n}`` once the events are durable (or ``{"challenge": ...}`` for a
  Slack URL verification);
- 404 for an unknown tenant or webhook (the same answer for both), 401 for a failed
  verification, 409 for a replayed delivery, 413 for a body over the limit, 422 for a
  body or CEL expression that makes no event, 429 (with ``Retry-After``) over the rate
  limit, 503 when the event could not be pushed;

each refusal as ``{"detail": reason}``, a few words that leak nothing.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..store import StoreError
from ._errors import (
    WebhookBodyTooLarge,
    WebhookError,
    WebhookEventError,
    WebhookNotFound,
    WebhookRateLimited,
    WebhookRejected,
    WebhookReplayed,
    WebhookUnavailable,
)
from ._service import Reception, Webhooks

__all__ = ["WEBHOOK_PATH", "PushEvents", "webhook_router"]

WEBHOOK_PATH = "/api/v1/tenants/{tenant}/webhooks/{name}"

PushEvents = Callable[[str, list[dict[str, Any]]], Awaitable[Sequence[Mapping[str, Any]]]]
"""``push_events(tenant_id, events)``: the tenant's gateway ``push_events``, answering per event
``{"id", "runs"}`` once durable, or ``{"error"}``."""

# most specific first: WebhookReplayed is a WebhookRejected
_STATUS: tuple[tuple[type[WebhookError], int], ...] = (
    (WebhookNotFound, 404),
    (WebhookRateLimited, 429),
    (WebhookBodyTooLarge, 413),
    (WebhookReplayed, 409),
    (WebhookRejected, 401),
    (WebhookEventError, 422),
    (WebhookUnavailable, 503),
)

_PUSH_FAILED = "the event could not be stored; try again"

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the events were pushed (`{events}`), or a Slack challenge is answered"},
    401: {"description": "the request failed the webhook's verification"},
    404: {"description": "no such webhook"},
    409: {"description": "a delivery the webhook took already (a replay)"},
    413: {"description": "the body is over the limit"},
    422: {"description": "the body, or the webhook's CEL expressions, make no event"},
    429: {"description": "over the webhook's rate limit; see Retry-After"},
    503: {"description": "the event could not be stored now; retry"},
}


def _status(error: WebhookError) -> int:
    return next(status for kind, status in _STATUS if isinstance(error, kind))


def _refusal(error: WebhookError) -> JSONResponse:
    headers = {}
    if isinstance(error, WebhookRateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    return JSONResponse({"detail": error.reason}, status_code=_status(error), headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, or its first ``limit + 1`` bytes: enough to tell that it is too big, never more."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)[: limit + 1]


async def _push(service: Webhooks, push_events: PushEvents, reception: Reception) -> JSONResponse:
    try:
        answers = list(await push_events(reception.tenant_id, list(reception.events)))
        failed = len(answers) != len(reception.events) or any("error" in a for a in answers)
    except Exception:  # the gateway's failure is the engine's business, not the sender's
        failed = True
    if failed:
        try:
            await service.release(reception, "the event could not be pushed to the tenant's gateway")
        except StoreError:
            pass  # the store is down too: nothing more can be undone or recorded
        return _refusal(WebhookUnavailable(_PUSH_FAILED))
    return JSONResponse({"events": len(answers)})


def webhook_router(get_service: Callable[[], Webhooks], push_events: PushEvents) -> APIRouter:
    """The router of ``POST /api/v1/tenants/{tenant}/webhooks/{name}`` (see the module docstring).

    Args:
        get_service: returns the engine's :class:`Webhooks` (called per request, so the
            app can be built before the engine starts).
        push_events: pushes events through a tenant's gateway (see :data:`PushEvents`).
    """
    router = APIRouter(tags=["Webhooks"])

    @router.post(
        WEBHOOK_PATH,
        summary="Receive a webhook request",
        responses=_RESPONSES,
        openapi_extra={"requestBody": {"required": False, "content": {"application/json": {"schema": {}}}}},
    )
    async def receive_webhook(tenant: str, name: str, request: Request) -> JSONResponse:
        """Verify a request to a webhook and push the event it makes; no bearer token is needed."""
        service = get_service()
        body = await _read_body(request, service.max_body_bytes)
        try:
            reception = await service.receive(tenant, name, request.headers.items(), body)
        except WebhookError as error:
            return _refusal(error)
        if reception.challenge is not None:
            return JSONResponse({"challenge": reception.challenge})
        return await _push(service, push_events, reception)

    return router
