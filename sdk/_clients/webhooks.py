"""``ratchet.webhooks``: define a tenant's webhooks, read them, delete them, see what they refused.

A webhook turns requests from outside (GitHub, Stripe, Slack, Svix, or any service
that signs with an HMAC, a basic password or an API key) into ordinary events of the
tenant. Its requests go, without a token, to the engine's HTTP API at
``/api/v1/tenants/{tenant}/webhooks/{name}``; these calls define and inspect it over
the engine's usual line. The secret goes in with :meth:`WebhooksClient.create` and
never comes back. Each call is one gateway call with a sync and an ``aio_`` form; a
definition the engine refuses raises :class:`ValueError` with its reason.
"""

from __future__ import annotations

import builtins
from typing import Any

import pydantic

from .._contract.calls import Method
from .calls import ClientCalls

__all__ = ["Webhook", "WebhookFailure", "WebhooksClient"]


class Webhook(pydantic.BaseModel):
    """A webhook as the engine keeps it: how it verifies requests and makes events (never its secret).

    ``kind`` is how requests are verified (``github``, ``stripe``, ``slack``, ``svix``,
    ``hmac``, ``basic``, ``api_key``); the event key (and scope) are CEL over ``input``
    (the body) and ``headers``; ``static_payload`` is merged over the body.
    """

    model_config = pydantic.ConfigDict(defer_build=True, extra="allow")

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
    created_at: float


class WebhookFailure(pydantic.BaseModel):
    """A request a webhook refused: when (epoch seconds), why, and the start of its body."""

    model_config = pydantic.ConfigDict(defer_build=True)

    at: float
    reason: str
    excerpt: str | None = None


def _definition(
    name: str,
    kind: str,
    secret: str,
    event_key_expression: str,
    scope_expression: str | None,
    static_payload: dict[str, Any] | None,
    settings: dict[str, Any],
) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "secret": secret,
        "event_key_expression": event_key_expression,
        **settings,
    }
    if scope_expression is not None:
        definition["scope_expression"] = scope_expression
    if static_payload is not None:
        definition["static_payload"] = static_payload
    return definition


def _found(answer: Any, name: str) -> Any:
    if answer is None:
        raise LookupError(f"no webhook named {name!r}")
    return answer


class WebhooksClient(ClientCalls):
    """``ratchet.webhooks``: create, list, get, delete webhooks, and list their failures."""

    def create(
        self,
        name: str,
        kind: str,
        secret: str,
        event_key_expression: str,
        *,
        scope_expression: str | None = None,
        static_payload: dict[str, Any] | None = None,
        **settings: Any,
    ) -> Webhook:
        """Define a webhook of the tenant.

        Args:
            name: unique in the tenant; the last part of its URL.
            kind: how requests are verified (see :class:`Webhook`).
            secret: the shared secret, Svix's ``whsec_...``, the password or the key.
            event_key_expression: CEL giving each request's event key, e.g.
                ``"'github:' + headers['x-github-event']"``.
            scope_expression: CEL giving the event's scope (or null).
            static_payload: a JSON object merged over the body.
            settings: the kind's own settings: ``header``, ``algorithm``, ``encoding``,
                ``prefix`` (``hmac``; ``header`` for ``api_key``), ``username`` (``basic``).

        Raises:
            ValueError: the definition is malformed, or the name is taken; nothing was stored.
        """
        definition = _definition(
            name, kind, secret, event_key_expression, scope_expression, static_payload, settings
        )
        return Webhook.model_validate(self._call(Method.CREATE_WEBHOOK, definition))

    async def aio_create(
        self,
        name: str,
        kind: str,
        secret: str,
        event_key_expression: str,
        *,
        scope_expression: str | None = None,
        static_payload: dict[str, Any] | None = None,
        **settings: Any,
    ) -> Webhook:
        """The ``aio_`` form of :meth:`create`."""
        definition = _definition(
            name, kind, secret, event_key_expression, scope_expression, static_payload, settings
        )
        return Webhook.model_validate(await self._acall(Method.CREATE_WEBHOOK, definition))

    def list(self) -> builtins.list[Webhook]:
        """The tenant's webhooks, by name."""
        return [Webhook.model_validate(w) for w in self._call(Method.LIST_WEBHOOKS)]

    async def aio_list(self) -> builtins.list[Webhook]:
        """The ``aio_`` form of :meth:`list`."""
        return [Webhook.model_validate(w) for w in await self._acall(Method.LIST_WEBHOOKS)]

    def get(self, name: str) -> Webhook:
        """A webhook by name; LookupError if the tenant has none so named."""
        return Webhook.model_validate(_found(self._call(Method.GET_WEBHOOK, name), name))

    async def aio_get(self, name: str) -> Webhook:
        """The ``aio_`` form of :meth:`get`."""
        return Webhook.model_validate(_found(await self._acall(Method.GET_WEBHOOK, name), name))

    def delete(self, name: str) -> bool:
        """Delete a webhook (its URL then answers 404); False if there was none."""
        return bool(self._call(Method.DELETE_WEBHOOK, name))

    async def aio_delete(self, name: str) -> bool:
        """The ``aio_`` form of :meth:`delete`."""
        return bool(await self._acall(Method.DELETE_WEBHOOK, name))

    def failures(self, name: str, limit: int = 100) -> builtins.list[WebhookFailure]:
        """The requests a webhook refused, newest first (at most ``limit``, 1 to 1000).

        Raises:
            LookupError: no such webhook.
            ValueError: a bad ``limit``.
        """
        rows = _found(self._call(Method.LIST_WEBHOOK_FAILURES, name, limit), name)
        return [WebhookFailure.model_validate(r) for r in rows]

    async def aio_failures(self, name: str, limit: int = 100) -> builtins.list[WebhookFailure]:
        """The ``aio_`` form of :meth:`failures`."""
        rows = _found(await self._acall(Method.LIST_WEBHOOK_FAILURES, name, limit), name)
        return [WebhookFailure.model_validate(r) for r in rows]
