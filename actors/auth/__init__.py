"""Tenants, API tokens and who may do what: the engine's authentication and authorization.

- :mod:`._principal`: who asks (tenant, role) and what each role may do;
- :mod:`._roles`: the least role of each gateway method;
- :mod:`._tokens`: API tokens (JWTs the engine signs) and the wire's session credentials;
- :mod:`._book`: turning either into a principal, against the stored token rows;
- :mod:`._authority`: the actor that signs peers in, makes tokens and tenants;
- :mod:`._guard`: what the nng door serves to whom.
"""

from ._authority import Authority as Authority
from ._authority import check_tenant_name as check_tenant_name
from ._book import TokenBook as TokenBook
from ._book import bearer_token as bearer_token
from ._guard import WireGuard as WireGuard
from ._principal import Principal as Principal
from ._principal import Role as Role

__all__ = ["Authority", "Principal", "Role", "TokenBook", "WireGuard", "bearer_token", "check_tenant_name"]
