"""The :class:`~._backend.ApiBackend` of an engine running in this process.

Tokens are checked by the engine's :class:`~ratchet.actors.auth.TokenBook` (signature,
expiry, and the stored row, so a revoked token stops working), exactly as the nng door
checks them; each tenant's requests go to the gateway of that tenant's cell. A tenant
another engine on the same database created since this one started gets its cell
started on its first request, as the wire guard does. Tokens and tenants are the
engine's authority's; webhooks are the engine's one :class:`~ratchet.actors.webhooks.Webhooks`
service, whose verified requests are pushed through the tenant's gateway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from typing import TYPE_CHECKING, Any

from ratchet.runtime import ActorRef, ActorSystem

from .. import _names as names
from ..auth import Principal, TokenBook
from ..webhooks import Webhooks

if TYPE_CHECKING:
    from .._engine import Engine

__all__ = ["EngineBackend", "engine_version"]


def engine_version() -> str:
    """The installed Ratchet's version ("unknown" when it runs from an uninstalled tree)."""
    try:
        return installed_version("ratchet")
    except PackageNotFoundError:
        return "unknown"


class EngineBackend:
    """Authenticates with the engine's token book and answers from its tenants' gateways.

    Args:
        system: the engine's actor system.
        book: the engine's token book.
        webhooks: the engine's webhooks service.
        version: what ``/api/v1/version`` answers (default: the installed version).
    """

    def __init__(
        self, system: ActorSystem, book: TokenBook, *, webhooks: Webhooks, version: str | None = None
    ) -> None:
        self.system = system
        self.book = book
        self.webhooks = webhooks
        self.version = version if version is not None else engine_version()

    @classmethod
    def of(cls, engine: Engine, *, version: str | None = None) -> EngineBackend:
        """The backend of a running :class:`~ratchet.actors.Engine`.

        Raises:
            ValueError: the engine was assembled without a webhooks service.
        """
        if engine.webhooks is None:
            raise ValueError("EngineBackend.of: the engine has no webhooks service; open it with open_engine")
        return cls(engine.system, engine.book, webhooks=engine.webhooks, version=version)

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization: Bearer <token>`` header.

        Raises:
            ratchet.AuthenticationError: no header, not a bearer token, a token this
                engine did not sign, or one expired, revoked or deleted; the message says which.
        """
        principal = await self.book.from_authorization(authorization)
        await self._running(principal.tenant_id)
        return principal

    async def _running(self, tenant_id: str) -> ActorRef:
        """``tenant_id``'s gateway, its cell started first if the tenant is stored but not running here.

        Raises:
            LookupError: no such tenant.
        """
        try:
            return self.gateway(tenant_id)
        except LookupError:
            await self.authority().ensure_cell.ask(tenant_id)
        return self.gateway(tenant_id)

    def authority(self) -> ActorRef:
        """The engine's Authority actor."""
        ref: ActorRef = self.system.lookup(names.AUTHORITY)
        return ref

    async def push_events(self, tenant_id: str, events: list[dict[str, Any]]) -> Sequence[Mapping[str, Any]]:
        """Push ``events`` through ``tenant_id``'s gateway; per event ``{"id", "runs"}`` or ``{"error"}``."""
        gateway = await self._running(tenant_id)
        answers: list[dict[str, Any]] = await gateway.push_events.ask(events)
        return answers

    def gateway(self, tenant_id: str) -> ActorRef:
        """The gateway of ``tenant_id``'s cell.

        Raises:
            LookupError: no cell of that tenant runs here.
        """
        ref: ActorRef = self.system.lookup(names.scoped(names.GATEWAY, tenant_id))
        return ref
