"""The :class:`~._backend.ApiBackend` of an engine running in this process.

Tokens are checked by the engine's :class:`~ratchet.actors.auth.TokenBook` (signature,
expiry, and the stored row, so a revoked token stops working), exactly as the nng door
checks them; each tenant's requests go to the gateway of that tenant's cell. A tenant
another engine on the same database created since this one started gets its cell
started on its first request, as the wire guard does.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from typing import TYPE_CHECKING

from ratchet.runtime import ActorRef, ActorSystem

from .. import _names as names
from ..auth import Principal, TokenBook

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
        version: what ``/api/v1/version`` answers (default: the installed version).
    """

    def __init__(self, system: ActorSystem, book: TokenBook, *, version: str | None = None) -> None:
        self.system = system
        self.book = book
        self.version = version if version is not None else engine_version()

    @classmethod
    def of(cls, engine: Engine) -> EngineBackend:
        """The backend of a running :class:`~ratchet.actors.Engine`."""
        return cls(engine.system, engine.book)

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization: Bearer <token>`` header.

        Raises:
            ratchet.AuthenticationError: no header, not a bearer token, a token this
                engine did not sign, or one expired, revoked or deleted; the message says which.
        """
        principal = await self.book.from_authorization(authorization)
        try:
            self.gateway(principal.tenant_id)
        except LookupError:
            await self.system.lookup(names.AUTHORITY).ensure_cell.ask(principal.tenant_id)
        return principal

    def authority(self) -> ActorRef:
        """The engine's :class:`~ratchet.actors.auth.Authority`."""
        ref: ActorRef = self.system.lookup(names.AUTHORITY)
        return ref

    def gateway(self, tenant_id: str) -> ActorRef:
        """The gateway of ``tenant_id``'s cell.

        Raises:
            LookupError: no cell of that tenant runs here.
        """
        ref: ActorRef = self.system.lookup(names.scoped(names.GATEWAY, tenant_id))
        return ref
