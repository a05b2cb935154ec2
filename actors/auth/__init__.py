"""Tenants, API tokens and who may do what: the engine's authentication and authorization."""

from ._principal import Principal as Principal
from ._principal import Role as Role

__all__ = ["Principal", "Role"]
