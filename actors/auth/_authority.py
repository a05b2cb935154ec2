"""The Authority actor: signing in, API tokens and tenants.

It owns the engine's :class:`~._book.TokenBook` and the tenants' cells: on start it makes
sure every stored tenant has its cell of actors running (a tenant made by another engine
on the same database, or a cell lost with a restart of the tenants' supervisor), and
:meth:`Authority.create_tenant` starts the new tenant's cell at once.

Messages:
    from the nng wire (through the node's guard, :mod:`._guard`): ``open_session``, and,
        with the caller's principal, ``whoami``, ``create_token``, ``list_tokens``,
        ``revoke_token``, ``create_tenant``, ``list_tenants``, ``get_limits``,
        ``set_limits``, ``get_usage``.
    from the HTTP API (in-process): the same.
    from the engine's host (in-process only): ``issue_token``, the local admin token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ratchet._contract.protocol import RequestError
from ratchet._errors import PermissionDeniedError
from ratchet.runtime import Actor, ActorRef, ChildSpec, concurrent

from .. import _names as names
from ..limits import load_limits, updated_limits
from ..store import CommitTicket, CreateApiToken, CreateTenant, PutTenantLimits, RevokeApiToken, Store, Tenant
from ._book import TokenBook
from ._principal import Principal, Role
from ._tokens import mint_token, read_token, session_credential, token_digest

__all__ = [
    "DEFAULT_TOKEN_LIFETIME",
    "MAX_TOKEN_LIFETIME",
    "Authority",
    "check_tenant_name",
]

DEFAULT_TOKEN_LIFETIME = 90 * 24 * 3600.0
MAX_TOKEN_LIFETIME = 10 * 365 * 24 * 3600.0
_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def check_tenant_name(name: Any) -> str:
    """A valid tenant name (also its id), or :class:`RequestError` saying what a name is."""
    if not isinstance(name, str) or not _TENANT_NAME.fullmatch(name):
        raise RequestError(
            f"a tenant name is 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter "
            f"or digit; got {name!r:.80}"
        )
    return name


def _token_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200 or not value.isprintable():
        raise RequestError(f"a token's name is 1 to 200 printable characters; got {value!r:.80}")
    return value


def _role(value: Any) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise RequestError(f"a token's role is one of viewer, member, admin; got {value!r:.80}") from None


def _lifetime(value: Any) -> float:
    if value is None:
        return DEFAULT_TOKEN_LIFETIME
    if isinstance(value, bool) or not isinstance(value, int | float) or not 60 <= value <= MAX_TOKEN_LIFETIME:
        raise RequestError(
            f"a token's expires_in is a number of seconds from 60 to {MAX_TOKEN_LIFETIME:g} (10 years); "
            f"got {value!r:.80}"
        )
    return float(value)


def _request(value: Any, what: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestError(f"{what} must be a map, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise RequestError(f"{what} has unknown fields {unknown}; it takes {sorted(allowed)}")
    return value


class Authority(Actor):
    """See the module docstring.

    Args:
        store: the store.
        book: the engine's token book (shared with the wire guard; outlives restarts).
        home_tenant: the engine's first tenant, whose admins manage tenants.
        cell: makes the child spec of a tenant's cell.
        server_url: the engine's HTTP address, written into the tokens it mints.
    """

    def __init__(
        self,
        store: Store,
        *,
        book: TokenBook,
        home_tenant: str,
        cell: Callable[[str], ChildSpec],
        server_url: str = "",
    ) -> None:
        self.store = store
        self.home_tenant = home_tenant
        self.server_url = server_url
        self.book = book
        self._cell = cell

    async def on_start(self) -> None:
        system = self.context.system
        self._writer: ActorRef = system.lookup(names.STORE_WRITER)
        self._tenants = system.lookup(names.TENANTS)
        for tenant in await self.store.list_tenants():
            await self._start_cell(tenant.id)

    # -- signing in ------------------------------------------------------------------------------

    @concurrent
    async def open_session(self, token: Any) -> dict[str, Any]:
        """Sign a wire peer in: its session credential, tenant and role (see :mod:`._tokens`)."""
        principal = await self.book.from_token(token)
        credential = session_credential(self.book.key, principal.tenant_id, principal.token_id)
        return {"credential": credential, "tenant_id": principal.tenant_id, "role": str(principal.role)}

    async def whoami(self, *, principal: Principal) -> dict[str, Any]:
        """The caller's tenant, role and token id."""
        return {"tenant_id": principal.tenant_id, "role": str(principal.role), "token_id": principal.token_id}

    # -- tokens --------------------------------------------------------------------------------

    @concurrent
    async def create_token(self, request: Any, *, principal: Principal) -> dict[str, Any]:
        """Make an API token of the caller's tenant: ``{name, role, expires_in}``; admins only.

        Returns the token (shown this once; only its digest is stored) and its row.
        """
        principal.require(Role.ADMIN, "create API tokens")
        req = _request(request, "a token request", {"name", "role", "expires_in"})
        return await self.issue_token(
            principal.tenant_id,
            _token_name(req.get("name")),
            _role(req.get("role", Role.MEMBER)),
            _lifetime(req.get("expires_in")),
        )

    async def issue_token(
        self, tenant_id: str, name: str, role: Role, lifetime: float = DEFAULT_TOKEN_LIFETIME
    ) -> dict[str, Any]:
        """Mint and store a token of ``tenant_id`` (in-process callers only: the engine's host)."""
        now = self.context.clock.time()
        token_id = self.context.random.token_hex(16)
        token = mint_token(
            self.book.key,
            tenant_id=tenant_id,
            token_id=token_id,
            server_url=self.server_url,
            issued_at=now,
            expires_at=now + lifetime,
        )
        await self._commit(
            CreateApiToken(
                tenant_id=tenant_id,
                id=token_id,
                name=name,
                token_hash=token_digest(token),
                at=now,
                role=str(role),
                expires_at=now + lifetime,
            )
        )
        return {"token": token, **_token_view(tenant_id, token_id, name, role, now, now + lifetime, False)}

    async def list_tokens(self, *, principal: Principal) -> list[dict[str, Any]]:
        """The caller's tenant's tokens (never the tokens themselves); admins only."""
        principal.require(Role.ADMIN, "list API tokens")
        rows = await self.store.list_api_tokens(principal.tenant_id)
        return [
            _token_view(r.tenant_id, r.id, r.name, r.role, r.created_at, r.expires_at, bool(r.revoked))
            for r in rows
        ]

    async def revoke_token(self, token_id: Any, *, principal: Principal) -> bool:
        """Revoke a token of the caller's tenant at once; False if it has no such token. Admins only."""
        principal.require(Role.ADMIN, "revoke API tokens")
        if not isinstance(token_id, str) or not 0 < len(token_id) <= 200:
            raise RequestError(f"a token id is a name of 1 to 200 characters; got {token_id!r:.80}")
        (found,) = await self._commit(RevokeApiToken(tenant_id=principal.tenant_id, id=token_id))
        self.book.forget(principal.tenant_id, token_id)
        return bool(found)

    def verify(self, token: Any) -> str:
        """The tenant a token claims, if its signature and expiry hold (the row is not read)."""
        return read_token(self.book.key, token, now=self.context.clock.time()).tenant_id

    # -- tenants -------------------------------------------------------------------------------

    @concurrent
    async def create_tenant(self, request: Any, *, principal: Principal) -> dict[str, Any]:
        """Create a tenant ``{name}`` and start its cell; admins of the engine's first tenant only.

        Returns the tenant and an admin token of it (shown this once) to hand to its owners.
        """
        self._require_home_admin(principal, "create tenants")
        req = _request(request, "a tenant request", {"name"})
        name = check_tenant_name(req.get("name"))
        if await self.store.get_tenant(name) is not None:
            raise RequestError(f"a tenant named {name!r} exists already")
        now = self.context.clock.time()
        await self._commit(CreateTenant(id=name, name=name, at=now))
        await self._start_cell(name)
        admin = await self.issue_token(name, f"first admin of {name}", Role.ADMIN)
        return {"tenant": {"id": name, "name": name, "created_at": now}, "admin_token": admin}

    async def list_tenants(self, *, principal: Principal) -> list[dict[str, Any]]:
        """Every tenant for an admin of the engine's first tenant; the caller's own otherwise."""
        rows: list[Tenant] = await self.store.list_tenants()
        if not (principal.tenant_id == self.home_tenant and principal.role is Role.ADMIN):
            rows = [t for t in rows if t.id == principal.tenant_id]
        return [{"id": t.id, "name": t.name, "created_at": t.created_at} for t in rows]

    async def ensure_cell(self, tenant_id: str) -> bool:
        """Start ``tenant_id``'s cell if the tenant is stored and its cell is not running; whether it runs."""
        if await self.store.get_tenant(tenant_id) is None:
            return False
        await self._start_cell(tenant_id)
        return True

    # -- limits ---------------------------------------------------------------------------------

    async def get_limits(self, tenant_id: Any, *, principal: Principal) -> dict[str, Any] | None:
        """A tenant's limits (see :class:`~ratchet.actors.limits.TenantLimits`); None: no such tenant.

        Anyone of a tenant may read its own; admins of the engine's first tenant, any tenant's.
        Another tenant's limits answer None, as a tenant that does not exist does.
        """
        tenant = await self._visible_tenant(tenant_id, principal)
        if tenant is None:
            return None
        limits = await load_limits(self.store, tenant)
        return {"tenant_id": tenant, "limits": limits.settings()}

    @concurrent
    async def set_limits(self, tenant_id: Any, change: Any, *, principal: Principal) -> dict[str, Any] | None:
        """Change a tenant's limits: ``change`` names the limits to set, the others stay.

        Admins of the engine's first tenant only. The change applies at once in the
        tenant's cell on this engine (other engines sharing the database read it when
        they start the tenant's cell). Returns the tenant's limits after the change, or
        None if there is no such tenant.

        Raises:
            PermissionDeniedError: the caller is not an admin of the engine's first tenant.
            RequestError: an unknown limit or a value out of range; nothing is changed.
        """
        tenant = await self._visible_tenant(tenant_id, principal)
        if tenant is None:
            return None
        self._require_home_admin(principal, "set tenants' limits")
        limits = updated_limits(await load_limits(self.store, tenant), change)
        settings = limits.settings()
        await self._commit(PutTenantLimits(tenant_id=tenant, settings=settings, at=self.context.clock.time()))
        try:
            gateway = self.context.system.lookup(names.scoped(names.GATEWAY, tenant))
        except LookupError:
            pass  # its cell is not running here: it loads the limits when it starts
        else:
            await gateway.apply_limits.ask(settings)
        return {"tenant_id": tenant, "limits": settings}

    @concurrent
    async def get_usage(self, tenant_id: Any, *, principal: Principal) -> dict[str, Any] | None:
        """A tenant's usage against its limits now (see :class:`~ratchet.actors.limits.TenantUsage`).

        Who may read it is as for :meth:`get_limits`; None: no such tenant (or another's).
        """
        tenant = await self._visible_tenant(tenant_id, principal)
        if tenant is None:
            return None
        await self._start_cell(tenant)
        gateway = self.context.system.lookup(names.scoped(names.GATEWAY, tenant))
        usage: dict[str, Any] = await gateway.tenant_usage.ask()
        return usage

    async def _visible_tenant(self, tenant_id: Any, principal: Principal) -> str | None:
        """``tenant_id`` if it exists and ``principal`` may see it, else None.

        Raises:
            RequestError: ``tenant_id`` is not a tenant name at all.
        """
        name = check_tenant_name(tenant_id)
        home_admin = principal.tenant_id == self.home_tenant and principal.role is Role.ADMIN
        if name != principal.tenant_id and not home_admin:
            return None
        if await self.store.get_tenant(name) is None:
            return None
        return name

    # -- plumbing --------------------------------------------------------------------------------

    def _require_home_admin(self, principal: Principal, action: str) -> None:
        principal.require(Role.ADMIN, action)
        if principal.tenant_id != self.home_tenant:
            raise PermissionDeniedError(
                f"only admins of the engine's first tenant ({self.home_tenant!r}) may {action}",
                role=str(principal.role),
                needed=str(Role.ADMIN),
            )

    async def _start_cell(self, tenant_id: str) -> None:
        try:
            self.context.system.lookup(names.tenant_cell(tenant_id))
            return  # running
        except LookupError:
            pass
        await self._tenants.start_child(self._cell(tenant_id))

    async def _commit(self, *mutations: Any) -> list[Any]:
        ticket = CommitTicket(list(mutations))
        self._writer.enqueue.tell(ticket)
        return await ticket.wait()


def _token_view(
    tenant_id: str,
    token_id: str,
    name: str,
    role: str,
    created_at: float,
    expires_at: float | None,
    revoked: bool,
) -> dict[str, Any]:
    return {
        "id": token_id,
        "tenant_id": tenant_id,
        "name": name,
        "role": str(role),
        "created_at": created_at,
        "expires_at": expires_at,
        "revoked": revoked,
    }
