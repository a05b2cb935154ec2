"""Rate limits: declare, change, list and delete static keys (``ratchet.rate_limits``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from ratchet._contract.calls import Method
from ratchet._contract.flow import MAX_RATE_LIMIT, RateLimitDuration

from ._access import CallerDep
from ._errors import ErrorBody, not_found
from ._pages import Page, WindowDep, page_of

__all__ = ["RateLimit", "RateLimitRequest", "router"]


class RateLimitRequest(BaseModel):
    """At most ``limit`` units in any window of ``duration``."""

    model_config = {"extra": "forbid"}

    limit: int = Field(ge=1, le=MAX_RATE_LIMIT)
    duration: RateLimitDuration = RateLimitDuration.SECOND


class RateLimit(RateLimitRequest):
    """A static rate limit tasks consume with ``RateLimit(static_key=key, units=...)``."""

    key: str


router = APIRouter(prefix="/api/v1/rate-limits", tags=["Rate Limits"])


@router.get("", response_model=Page[RateLimit], summary="List rate limits")
async def list_rate_limits(at: WindowDep, caller: CallerDep) -> Page[dict[str, Any]]:
    """The tenant's static rate limits, by key."""
    return page_of(await caller.ask(Method.LIST_RATE_LIMITS), at)


RateLimitKey = Annotated[str, Path(min_length=1, max_length=200, description="The rate limit's key.")]


@router.delete(
    "/{key}",
    status_code=204,
    response_class=Response,
    responses={404: {"model": ErrorBody, "description": "No such rate limit."}},
    summary="Delete a rate limit",
)
async def delete_rate_limit(key: RateLimitKey, caller: CallerDep) -> Response:
    """Delete a static rate limit; tasks that need its key are refused from then on."""
    if not await caller.ask(Method.DELETE_RATE_LIMIT, key):
        raise not_found("rate limit", key)
    return Response(status_code=204)


@router.put("/{key}", response_model=RateLimit, summary="Put a rate limit")
async def put_rate_limit(
    request: RateLimitRequest,
    key: Annotated[str, Path(min_length=1, max_length=200, description="The rate limit's key.")],
    caller: CallerDep,
) -> RateLimit:
    """Declare or change a static rate limit; units already admitted keep counting."""
    await caller.ask(Method.PUT_RATE_LIMIT, key, request.limit, str(request.duration))
    return RateLimit(key=key, limit=request.limit, duration=request.duration)
