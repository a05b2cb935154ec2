"""Tenants' limits and usage: ``GET/PUT /api/v1/tenants/{tenant}/limits``, ``GET .../usage``.

The routes ask the engine's authority, which decides who may see and change what: any
token reads its own tenant's limits and usage, admins of the engine's first tenant read
and set any tenant's. Another tenant's answer is a 404, as a tenant that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from ..limits import MAX_PAYLOAD_CAP, TenantLimits
from ._access import CallerDep, backend_of
from ._errors import ApiProblem, ErrorBody, problem_of

__all__ = ["TenantLimitsChange", "TenantLimitsView", "TenantUsageView", "router"]

TenantName = Annotated[
    str, Path(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$", description="The tenant's name.")
]


class TenantLimitsView(BaseModel):
    """A tenant's limits."""

    tenant_id: str
    limits: TenantLimits


class TenantLimitsChange(BaseModel):
    """The limits to change; those left out keep their values (``max_payload_bytes: null``
    removes the tenant's payload cap). See :class:`TenantLimits` for each."""

    model_config = ConfigDict(extra="forbid", strict=True)

    runs_per_second: float | None = Field(default=None, gt=0)
    runs_burst: int | None = Field(default=None, ge=1)
    events_per_second: float | None = Field(default=None, gt=0)
    events_burst: int | None = Field(default=None, ge=1)
    webhook_calls_per_second: float | None = Field(default=None, gt=0)
    webhook_calls_burst: int | None = Field(default=None, ge=1)
    max_queued_tasks: int | None = Field(default=None, ge=0)
    max_workers: int | None = Field(default=None, ge=0)
    max_payload_bytes: int | None = Field(default=None, ge=1024, le=MAX_PAYLOAD_CAP)


class TenantUsageView(BaseModel):
    """A tenant's usage now, against its limits.

    Counters (``runs``, ``events``, ``webhook_calls``, ``workers_registered``, ``refused``)
    count since this engine started serving the tenant; ``*_available`` are what may be
    sent at once now.
    """

    tenant_id: str
    queued_tasks: int
    workers: int
    runs_available: float
    events_available: float
    webhook_calls_available: float
    runs: int
    events: int
    webhook_calls: int
    workers_registered: int
    refused: dict[str, int]
    limits: TenantLimits


router = APIRouter(prefix="/api/v1/tenants", tags=["Tenants"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such tenant, or not one this token may see."}
}


async def _ask_authority(request: Request, caller: CallerDep, method: str, *args: Any) -> Any:
    """Ask the authority ``method(*args)`` as the caller; None (no such tenant for it) is a 404."""
    authority = backend_of(request).authority()
    try:
        answer = await getattr(authority, method).ask(*args, principal=caller.principal)
    except Exception as exc:
        problem = problem_of(exc)
        if problem is None:
            raise
        raise problem from None
    if answer is None:
        raise ApiProblem(404, "not_found", f"no tenant named {args[0]!r} (or not one this token may see)")
    return answer


@router.get(
    "/{tenant}/limits", response_model=TenantLimitsView, responses=_NOT_FOUND, summary="Get a tenant's limits"
)
async def get_tenant_limits(tenant: TenantName, request: Request, caller: CallerDep) -> Any:
    """The tenant's limits: its own for any token, any tenant's for the engine's first tenant's admins."""
    return await _ask_authority(request, caller, "get_limits", tenant)


@router.put(
    "/{tenant}/limits", response_model=TenantLimitsView, responses=_NOT_FOUND, summary="Set a tenant's limits"
)
async def set_tenant_limits(
    tenant: TenantName, change: TenantLimitsChange, request: Request, caller: CallerDep
) -> Any:
    """Change some of a tenant's limits (admins of the engine's first tenant only); applies at once."""
    return await _ask_authority(request, caller, "set_limits", tenant, change.model_dump(exclude_unset=True))


@router.get(
    "/{tenant}/usage", response_model=TenantUsageView, responses=_NOT_FOUND, summary="Get a tenant's usage"
)
async def get_tenant_usage(tenant: TenantName, request: Request, caller: CallerDep) -> Any:
    """The tenant's queued tasks, workers, admitted and refused work, and what it may send now."""
    return await _ask_authority(request, caller, "get_usage", tenant)
