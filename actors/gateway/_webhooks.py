"""The gateway's webhook methods: define, list, read and delete a tenant's webhooks.

What ``ratchet.webhooks`` calls over nng, and the REST routes under
``/api/v1/webhooks`` ask. The webhooks of every tenant live in one
:class:`~ratchet.actors.webhooks.Webhooks` service the engine builds; each gateway
asks it only for its own tenant, so a tenant never sees another's webhooks (an unknown
name and another tenant's answer alike: None, or False). The requests a webhook
receives never come this way: they arrive over HTTP, unauthenticated, at
``/api/v1/tenants/{tenant}/webhooks/{name}``, and reach the gateway as ordinary
``push_events``. Answers never hold a webhook's secret.
"""

from __future__ import annotations

from typing import Any

from ratchet._contract.protocol import RequestError, check_id
from ratchet.runtime import Actor, concurrent

from ..webhooks import WebhookExists, WebhookNotFound, Webhooks

__all__ = ["WebhookMethods"]


def _name(name: Any, what: str) -> str:
    return check_id(name, what, "a webhook name")


class WebhookMethods(Actor):
    """The gateway's webhook methods (see the module docstring).

    The :class:`~ratchet.actors.gateway._gateway.Gateway` sets ``tenant_id`` and
    ``webhooks`` (the engine's service; None in an engine built without one).
    """

    tenant_id: str
    webhooks: Webhooks | None

    def _service(self, what: str) -> Webhooks:
        if self.webhooks is None:
            raise RequestError(f"{what}: this engine serves no webhooks (it was started without the service)")
        return self.webhooks

    @concurrent
    async def create_webhook(self, definition: Any) -> dict[str, Any]:
        """Define a webhook of the tenant (a :class:`~ratchet.actors.webhooks.WebhookDefinition`
        as a map); returns it as :meth:`get_webhook` shows it.

        Raises:
            RequestError: a malformed definition, or a name the tenant uses already.
        """
        service = self._service("create_webhook")
        if not isinstance(definition, dict):
            what = type(definition).__name__
            raise RequestError(f"create_webhook: a webhook definition is a map, got {what}")
        try:
            return await service.create(self.tenant_id, definition)
        except WebhookExists as exc:
            raise RequestError(str(exc)) from None

    @concurrent
    async def list_webhooks(self) -> list[dict[str, Any]]:
        """The tenant's webhooks, by name."""
        return await self._service("list_webhooks").list(self.tenant_id)

    @concurrent
    async def get_webhook(self, name: Any) -> dict[str, Any] | None:
        """A webhook: ``{id, name, kind, ...settings, created_at}``; None if the tenant has none so named."""
        checked = _name(name, "get_webhook")
        try:
            return await self._service("get_webhook").get(self.tenant_id, checked)
        except WebhookNotFound:
            return None

    @concurrent
    async def delete_webhook(self, name: Any) -> bool:
        """Delete a webhook; False if the tenant has none of that name. Its URL then answers 404."""
        checked = _name(name, "delete_webhook")
        return await self._service("delete_webhook").delete(self.tenant_id, checked)

    @concurrent
    async def list_webhook_failures(self, name: Any, limit: Any = 100) -> list[dict[str, Any]] | None:
        """The requests a webhook refused, newest first (``{at, reason, excerpt}``); None if no such webhook.

        Raises:
            RequestError: ``limit`` is not 1 to 1000.
        """
        checked = _name(name, "list_webhook_failures")
        try:
            return await self._service("list_webhook_failures").failures(self.tenant_id, checked, limit=limit)
        except WebhookNotFound:
            return None
