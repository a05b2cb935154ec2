"""Webhooks: define, list, read and delete them, and read what they refused (``ratchet.webhooks``).

These routes manage a tenant's webhooks through its gateway, with a token like every
other route (a member defines and deletes, a viewer reads). The requests a webhook
receives come elsewhere, without a token, to
``POST /api/v1/tenants/{tenant}/webhooks/{name}`` (see
:func:`ratchet.actors.webhooks.webhook_router`). A webhook's secret goes in when it is
defined and never comes out: no answer holds it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel

from ratchet._contract.calls import Method

from ..webhooks import WebhookDefinition
from ._access import CallerDep
from ._errors import ErrorBody, not_found
from ._pages import MAX_LIMIT, Page, WindowDep, page_of
from ._times import UtcDatetime

__all__ = ["Webhook", "WebhookFailure", "router", "wire_definition"]


class Webhook(BaseModel):
    """A webhook: how it verifies requests and makes events; never its secret.

    Its requests go to ``POST /api/v1/tenants/{tenant}/webhooks/{name}``.
    """

    id: str
    name: str
    kind: str
    event_key_expression: str | None = None
    scope_expression: str | None = None
    static_payload: dict[str, Any] | None = None
    header: str | None = None
    algorithm: str | None = None
    encoding: str | None = None
    prefix: str | None = None
    username: str | None = None
    invalid: str | None = None
    created_at: UtcDatetime


class WebhookFailure(BaseModel):
    """A request a webhook refused: when, why, and the start of its body."""

    at: UtcDatetime
    reason: str
    excerpt: str | None = None


router = APIRouter(prefix="/api/v1/webhooks", tags=["Webhooks"])

WebhookName = Annotated[str, Path(min_length=1, max_length=100, description="The webhook's name.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such webhook."}}


def wire_definition(definition: WebhookDefinition) -> dict[str, Any]:
    """``definition`` as the gateway takes it: the fields the sender gave, the secret in clear."""
    fields = definition.model_dump(mode="json", exclude_unset=True, exclude={"secret"})
    return {**fields, "secret": definition.secret.get_secret_value()}


@router.post("", response_model=Webhook, status_code=201, summary="Create a webhook")
async def create_webhook(definition: WebhookDefinition, caller: CallerDep) -> Any:
    """Define a webhook of the caller's tenant: a name, how its requests are verified (a
    provider ``kind`` and its secret), and CEL giving each request's event key and scope."""
    return await caller.ask(Method.CREATE_WEBHOOK, wire_definition(definition))


@router.get("", response_model=Page[Webhook], summary="List webhooks")
async def list_webhooks(at: WindowDep, caller: CallerDep) -> Page[dict[str, Any]]:
    """The tenant's webhooks, by name."""
    return page_of(await caller.ask(Method.LIST_WEBHOOKS), at)


@router.get("/{name}", response_model=Webhook, responses=_NOT_FOUND, summary="Get a webhook")
async def get_webhook(name: WebhookName, caller: CallerDep) -> Any:
    """A webhook by name."""
    found = await caller.ask_found("webhook", name, Method.GET_WEBHOOK, name)
    return found


@router.delete(
    "/{name}", status_code=204, response_class=Response, responses=_NOT_FOUND, summary="Delete a webhook"
)
async def delete_webhook(name: WebhookName, caller: CallerDep) -> Response:
    """Delete a webhook; requests to its URL then answer 404."""
    if not await caller.ask(Method.DELETE_WEBHOOK, name):
        raise not_found("webhook", name)
    return Response(status_code=204)


@router.get(
    "/{name}/failures",
    response_model=Page[WebhookFailure],
    responses=_NOT_FOUND,
    summary="List a webhook's refused requests",
)
async def list_webhook_failures(name: WebhookName, at: WindowDep, caller: CallerDep) -> Page[dict[str, Any]]:
    """The requests the webhook refused (bad signature, stale timestamp, a body that makes
    no event, ...), newest first; the last thousand are kept in view."""
    rows = await caller.ask_found(
        "webhook", name, Method.LIST_WEBHOOK_FAILURES, name, min(at.end + 1, MAX_LIMIT)
    )
    return page_of(rows, at, complete=False)
