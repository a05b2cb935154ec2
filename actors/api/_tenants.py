"""Tenants, and who a token is: ``/api/v1/tenants`` and ``/api/v1/whoami``.

Creating a tenant is for admins of the engine's first tenant: the answer holds the new
tenant's first admin token, shown this once, to hand to its owners. Listing shows
every tenant to them, and to anyone else only their own. ``whoami`` answers any valid
token with its tenant, role and id.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ._access import CallerDep
from ._pages import Page, WindowDep, page_of
from ._times import UtcDatetime
from ._tokens import CreatedToken

__all__ = ["CreateTenantRequest", "CreatedTenant", "Tenant", "WhoAmI", "router"]


class CreateTenantRequest(BaseModel):
    """A tenant to create."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
        description="Its name and id: 1 to 63 lowercase letters, digits, '-' or '_'.",
    )


class Tenant(BaseModel):
    """A tenant."""

    id: str
    name: str
    created_at: UtcDatetime


class CreatedTenant(BaseModel):
    """A new tenant, and its first admin token (shown this once)."""

    tenant: Tenant
    admin_token: CreatedToken


class WhoAmI(BaseModel):
    """The token a request carries: its tenant, role and id."""

    tenant_id: str
    role: str
    token_id: str | None = None


router = APIRouter(tags=["Tenants"])


@router.post("/api/v1/tenants", response_model=CreatedTenant, status_code=201, summary="Create a tenant")
async def create_tenant(request: CreateTenantRequest, caller: CallerDep) -> Any:
    """Create a tenant and start its actors; admins of the engine's first tenant only."""
    return await caller.ask_authority("create_tenant", request.model_dump())


@router.get("/api/v1/tenants", response_model=Page[Tenant], summary="List tenants")
async def list_tenants(at: WindowDep, caller: CallerDep) -> Page[dict[str, Any]]:
    """Every tenant for admins of the engine's first tenant; the caller's own for anyone else."""
    return page_of(await caller.ask_authority("list_tenants"), at)


@router.get("/api/v1/whoami", response_model=WhoAmI, summary="Who the token is")
async def whoami(caller: CallerDep) -> Any:
    """The tenant, role and id of the request's token."""
    return await caller.ask_authority("whoami")
