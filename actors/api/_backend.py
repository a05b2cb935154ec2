"""What the HTTP API needs of the engine: who is asking, and that tenant's gateway.

The API is a second door to the same service layer as the nng gateway: every route
authenticates the request's token, checks its role, then asks the tenant's
:class:`~ratchet.actors.gateway._gateway.Gateway` exactly what an SDK client would.
:class:`ApiBackend` is all the routes see of the engine, so tests and the engine's
host plug in the same app.
"""

from __future__ import annotations

from typing import Protocol

from ratchet.runtime import ActorRef

from ..auth import Principal

__all__ = ["ApiBackend"]


class ApiBackend(Protocol):
    """The engine as the HTTP routes reach it.

    Attributes:
        version: the engine's version, as ``/api/v1/version`` reports it.
    """

    version: str

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
        """The engine's Authority actor (tenants, tokens, tenants' limits)."""
        ...
