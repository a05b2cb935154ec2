"""API tokens: create, list, revoke (admins of the tenant only).

The engine's authority does the work, as for ``ratchet tokens`` over nng: a token is
shown once, when it is made (only its digest is stored); a revoked token stops working
at once. Tokens are the caller's tenant's: another tenant's token id answers 404, as
one that never existed does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from ._access import CallerDep
from ._errors import ErrorBody, not_found
from ._pages import Page, WindowDep, page_of
from ._times import UtcDatetime

__all__ = ["CreateTokenRequest", "CreatedToken", "Token", "router"]

#: The longest a token may live: ten years, as the authority allows.
MAX_LIFETIME_SECONDS = 10 * 365 * 24 * 3600


class CreateTokenRequest(BaseModel):
    """A token to make for the caller's tenant."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="What the token is for.")
    role: Literal["viewer", "member", "admin"] = Field(
        default="member", description="viewer reads; member also writes; admin also manages tokens."
    )
    expires_in: float | None = Field(
        default=None,
        ge=60,
        le=MAX_LIFETIME_SECONDS,
        allow_inf_nan=False,
        description="Seconds until it expires (default 90 days).",
    )


class Token(BaseModel):
    """An API token's record (never the token itself)."""

    id: str
    tenant_id: str
    name: str
    role: str
    created_at: UtcDatetime
    expires_at: UtcDatetime | None = None
    revoked: bool = False


class CreatedToken(Token):
    """A new token: its record, and the token, shown this once."""

    token: str = Field(description="The bearer token; only its digest is stored, so keep it now.")


router = APIRouter(prefix="/api/v1/tokens", tags=["Tokens"])

TokenId = Annotated[str, Path(min_length=1, max_length=200, description="The token's id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such token."}}


@router.post("", response_model=CreatedToken, status_code=201, summary="Create an API token")
async def create_token(request: CreateTokenRequest, caller: CallerDep) -> Any:
    """Make a token of the caller's tenant; admins only. The answer holds the token, shown this once."""
    return await caller.ask_authority("create_token", request.model_dump(exclude_none=True))


@router.get("", response_model=Page[Token], summary="List API tokens")
async def list_tokens(at: WindowDep, caller: CallerDep) -> Page[dict[str, Any]]:
    """The caller's tenant's tokens (their records, revoked ones too); admins only."""
    return page_of(await caller.ask_authority("list_tokens"), at)


@router.delete(
    "/{token_id}",
    status_code=204,
    response_class=Response,
    responses=_NOT_FOUND,
    summary="Revoke an API token",
)
async def revoke_token(token_id: TokenId, caller: CallerDep) -> Response:
    """Revoke a token of the caller's tenant; it stops working at once. Admins only."""
    if not await caller.ask_authority("revoke_token", token_id):
        raise not_found("token", token_id)
    return Response(status_code=204)
