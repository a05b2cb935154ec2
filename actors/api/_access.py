"""Who is calling, and the one way a route reaches the engine: :class:`Caller`.

A route declares ``caller: Caller = Depends(authenticated)``. The dependency passes the
request's raw ``Authorization`` header to :meth:`ApiBackend.authenticate` (no or a bad
token: 401 before anything else is looked at), and hands the route a :class:`Caller`
bound to the token's tenant. :meth:`Caller.ask` is the only way to the gateway: it
checks the token's role against the least role of the gateway method
(:func:`~ratchet.actors.auth._roles.role_for`, 403 otherwise) before it asks, so no
route can forget the check, and it turns the gateway's refusals into statuses
(:func:`~._errors.problem_of`). The tenant is the token's, never a parameter: another
tenant's objects are simply not in this tenant's gateway, and answer 404.

Tokens and tenants are the engine's authority's, not a gateway's:
:meth:`Caller.ask_authority` asks it with the caller's principal, and the authority
checks the role itself (an admin for tokens, an admin of the first tenant to create
tenants), exactly as it does for a call that came over nng.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ratchet._contract.calls import Method
from ratchet.runtime import ActorRef

from ..auth import Principal
from ..auth._roles import role_for
from ._backend import ApiBackend
from ._errors import not_found, problem_of

__all__ = ["BEARER", "Caller", "CallerDep", "authenticated", "backend_of"]

#: The security scheme ``/openapi.json`` documents; the header itself goes to the backend.
BEARER = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer <token>`.")


def backend_of(request: Request) -> ApiBackend:
    """The :class:`ApiBackend` the app was created with."""
    backend: ApiBackend = request.app.state.backend
    return backend


@dataclass(frozen=True)
class Caller:
    """An authenticated request: its principal, and its tenant's gateway.

    Attributes:
        principal: the tenant and role of the request's token.
        gateway: the Gateway actor serving that tenant.
        authority: the engine's Authority actor.
    """

    principal: Principal
    gateway: ActorRef
    authority: ActorRef

    def require(self, method: Method) -> None:
        """Refuse (403) unless the token's role may call gateway ``method``.

        Raises:
            ratchet.PermissionDeniedError: the role is below the method's least role.
        """
        needed = role_for(method)
        if needed is None:  # a method the role table lacks is a bug here, never a way in
            raise RuntimeError(f"gateway method {method!r} has no least role in METHOD_ROLES")
        self.principal.require(needed, str(method).replace("_", " "))

    async def ask(self, method: Method, *args: Any) -> Any:
        """Ask the tenant's gateway ``method(*args)``, as an SDK client would.

        Raises:
            ratchet.PermissionDeniedError: the token's role may not call ``method``.
            ApiProblem: the gateway refused the request (400), or is restarting (503).
        """
        self.require(method)
        return await _asking(getattr(self.gateway, method).ask(*args))

    async def ask_found(self, what: str, object_id: str, method: Method, *args: Any) -> Any:
        """:meth:`ask`, for a method that answers None for an object this tenant does not have.

        Raises:
            ApiProblem: 404 naming ``what`` and ``object_id`` (another tenant's object answers
                the same), or as :meth:`ask`.
        """
        found = await self.ask(method, *args)
        if found is None:
            raise not_found(what, object_id)
        return found

    async def ask_authority(self, method: str, *args: Any) -> Any:
        """Ask the engine's authority ``method(*args, principal=...)`` as this caller.

        Raises:
            ApiProblem: the authority refused the request (400), the role (403), or is
                restarting (503).
        """
        return await _asking(getattr(self.authority, method).ask(*args, principal=self.principal))


async def _asking(answer: Awaitable[Any]) -> Any:
    """``answer``, awaited, with the engine's refusals turned into statuses."""
    try:
        return await answer
    except Exception as exc:
        problem = problem_of(exc)
        if problem is None:
            raise
        raise problem from None


async def authenticated(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
) -> Caller:
    """The :class:`Caller` of a request (a FastAPI dependency).

    Raises:
        ratchet.AuthenticationError: no valid token (-> 401).
    """
    backend = backend_of(request)
    principal = await backend.authenticate(request.headers.get("authorization"))
    return Caller(principal, backend.gateway(principal.tenant_id), backend.authority())


#: A route's parameter for its :class:`Caller`: ``caller: CallerDep``.
CallerDep = Annotated[Caller, Depends(authenticated)]
