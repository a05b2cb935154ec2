"""What the HTTP API needs of the engine: who is asking, that tenant's gateway, the authority, webhooks.

The API is a second door to the same service layer as the nng gateway: every route
authenticates the request's token, checks its role, then asks the tenant's
:class:`~ratchet.actors.gateway._gateway.Gateway` (or, for tokens and tenants, the
engine's :class:`~ratchet.actors.auth.Authority`) exactly what an SDK client would.
The one route without a token, a webhook's receive route, reaches the engine's
:class:`~ratchet.actors.webhooks.Webhooks` service and the tenant's ``push_events``.
:class:`ApiBackend` is all the routes see of the engine, so tests and the engine's
host plug in the same app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ratchet.runtime import ActorRef

from ..auth import Principal
from ..webhooks import Webhooks

__all__ = ["ApiBackend"]


class ApiBackend(Protocol):
    """The engine as the HTTP routes reach it.

    Attributes:
        version: the engine's version, as ``/api/v1/version`` reports it.
        webhooks: the engine's webhooks service (every tenant's webhooks).
    """

    version: str
    webhooks: Webhooks

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal a request's raw ``Authorization`` header names.

        Args:
            authorization: the header as sent (``"Bearer <token>"``), or None without one.

        Raises:
            ratchet.AuthenticationError: no valid token; the message says why (-> 401).
        """
        ...

    def gateway(self, tenant_id: str) -> ActorRef:
        """The Gateway actor serving ``tenant_id``."""
        ...

    def authority(self) -> ActorRef:
        """The engine's Authority actor (tokens, tenants, who a token is)."""
        ...

    async def push_events(self, tenant_id: str, events: list[dict[str, Any]]) -> Sequence[Mapping[str, Any]]:
        """Push events through ``tenant_id``'s gateway (what a webhook's verified request makes)."""
        ...
