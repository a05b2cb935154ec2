"""Who is asking: a request's principal, its role, and what each role may do.

Every request the engine serves, through HTTP or the nng gateway, runs on behalf of one
:class:`Principal`, derived from its API token (see :mod:`._tokens`), never from a
parameter the request could forge. Roles nest: ``admin`` ⊃ ``member`` ⊃ ``viewer``.

- ``viewer`` reads;
- ``member`` also triggers, cancels and replays runs, pushes events, manages crons,
  schedules, filters, webhooks and rate limits, pauses workflows and workers, and runs
  workers;
- ``admin`` also manages the tenant's API tokens and, in the engine's first tenant,
  tenants.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ratchet._errors import PermissionDeniedError

__all__ = ["Principal", "Role"]


class Role(enum.StrEnum):
    """What a token may do; each role may do everything the roles below it may."""

    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may."""
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """The tenant and role a request acts as.

    Attributes:
        tenant_id: the tenant every object the request reads or writes belongs to.
        role: what it may do.
        token_id: the API token it came with ("" for the engine's own in-process callers).
    """

    tenant_id: str
    role: Role
    token_id: str = ""

    def require(self, needed: Role, action: str) -> None:
        """Raise :class:`~ratchet.PermissionDeniedError` unless this principal may ``action``.

        Args:
            needed: the least role that may.
            action: what was attempted, for the message ("trigger runs").
        """
        if not self.role.allows(needed):
            raise PermissionDeniedError(
                f"a {self.role} token may not {action}; that needs a {needed} or admin token"
                if needed is Role.MEMBER
                else f"a {self.role} token may not {action}; that needs an {needed} token",
                role=str(self.role),
                needed=str(needed),
            )
