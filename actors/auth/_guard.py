"""The wire guard: who may call what through the engine's nng door.

An engine's :class:`~ratchet.transport.ActorNode` serves its actors to peers it does not
trust, so it hands every incoming call to :class:`WireGuard` first (the node's
``authorize``). A peer signs in once with its API token (``auth.open_session``, the only
call served without a credential) and stamps the session credential it gets on every
envelope after (see :mod:`._tokens`). Then:

- a call to ``gateway`` is served by the gateway of the credential's tenant, if the
  token's role may make it (:data:`~._roles.METHOD_ROLES`); the peer never names its
  tenant, so it cannot reach another's;
- a worker's registration must name the connection it came over (the engine sends the
  tenant's tasks to the peer a registration names);
- a call to ``auth`` (tokens, tenants, ``whoami``) gets the caller's principal added;
- anything else is refused: the engine's other actors are not served to peers.

A refused call runs nothing and its caller gets the reason (an
:class:`~ratchet.AuthenticationError`, :class:`~ratchet.PermissionDeniedError` or
:class:`LookupError`); the node counts refusals.
"""

from __future__ import annotations

from typing import Any

from ratchet._contract.calls import Method
from ratchet.runtime import ActorSystem

from .. import _names as names
from ._book import TokenBook
from ._roles import role_for

__all__ = ["AUTHORITY_METHODS", "WireGuard"]

#: What peers may ask of the authority, with their principal added.
AUTHORITY_METHODS = frozenset(
    {
        "whoami",
        "create_token",
        "list_tokens",
        "revoke_token",
        "create_tenant",
        "list_tenants",
        "get_limits",
        "set_limits",
        "get_usage",
    }
)


def _check_own_peer(peer: str, args: list[Any]) -> None:
    """A worker registers its own connection only: the engine sends its tasks to the peer it
    names, so naming another's would send this tenant's tasks down someone else's line."""
    request = args[0] if len(args) == 1 else None
    named = request.get("peer") if isinstance(request, dict) else None
    if named is not None and named != peer:
        raise PermissionError(
            f"a worker registers from its own connection: this one is {peer!r:.100}, the request "
            f"names {named!r:.100}"
        )


class WireGuard:
    """The ``authorize`` of an engine's actor node; see the module docstring.

    Args:
        system: the engine's actor system (to find tenants' gateways and the authority).
        book: the engine's token book.
    """

    def __init__(self, system: ActorSystem, book: TokenBook) -> None:
        self.system = system
        self.book = book

    async def __call__(
        self, peer: str, credential: str, actor: str, method: str, args: list[Any], kwargs: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        if kwargs:
            raise LookupError(
                f"calls to the engine take positional arguments only; got {sorted(kwargs)!r:.200}"
            )
        if actor == names.AUTHORITY and method == "open_session":
            return names.AUTHORITY, {}
        principal = await self.book.from_credential(credential)
        if actor == names.GATEWAY:
            needed = role_for(method)
            if needed is None:
                raise LookupError(f"the engine's gateway has no method {method!r:.100}")
            principal.require(needed, f"call {method}")
            if method == Method.REGISTER_WORKER:
                _check_own_peer(peer, args)
            target = names.scoped(names.GATEWAY, principal.tenant_id)
            await self._ensure_cell(principal.tenant_id, target)
            return target, {}
        if actor == names.AUTHORITY and method in AUTHORITY_METHODS:
            return names.AUTHORITY, {"principal": principal}
        raise LookupError(f"{actor!r:.100}.{method:.100} is not served to workers and clients")

    async def _ensure_cell(self, tenant_id: str, gateway: str) -> None:
        """Start the cell of a tenant another engine created since this one started."""
        try:
            self.system.lookup(gateway)
        except LookupError:
            await self.system.lookup(names.AUTHORITY).ensure_cell.ask(tenant_id)
