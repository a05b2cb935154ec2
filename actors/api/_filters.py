"""Event filters: create, list, get, delete (``ratchet.filters``).

A filter lets events of its scope start its workflow when its CEL expression holds.
Filters a workflow declares in code (``default_filters``) are listed too, ``declared``;
only stored ones can be deleted.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel

from ratchet._contract.calls import MAX_ID_LENGTH, Method
from ratchet._contract.protocol import CreateFilterRequest

from ._access import CallerDep
from ._errors import ErrorBody, not_found
from ._pages import Page, WindowDep, page_of

__all__ = ["Filter", "router"]


class Filter(BaseModel):
    """An event filter of a workflow."""

    id: str
    workflow: str
    scope: str
    expression: str
    payload: Any = None
    declared: bool = False


router = APIRouter(prefix="/api/v1/filters", tags=["Filters"])

FilterId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, description="The filter's id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such filter."}}


@router.post("", response_model=Filter, status_code=201, summary="Create a filter")
async def create_filter(request: CreateFilterRequest, caller: CallerDep) -> Any:
    """Add a filter: events of ``scope`` start ``workflow`` when ``expression`` is true."""
    return await caller.ask(Method.CREATE_FILTER, request.model_dump())


@router.get("", response_model=Page[Filter], summary="List filters")
async def list_filters(
    at: WindowDep,
    caller: CallerDep,
    workflow: Annotated[
        str | None, Query(min_length=1, max_length=MAX_ID_LENGTH, description="Of this one.")
    ] = None,
) -> Page[dict[str, Any]]:
    """Filters of one workflow or all: declared ones, then stored ones."""
    return page_of(await caller.ask(Method.LIST_FILTERS, workflow), at)


@router.get("/{filter_id}", response_model=Filter, responses=_NOT_FOUND, summary="Get a filter")
async def get_filter(filter_id: FilterId, caller: CallerDep) -> Any:
    """A filter by id."""
    for found in await caller.ask(Method.LIST_FILTERS, None):
        if found["id"] == filter_id:
            return found
    raise not_found("filter", filter_id)


@router.delete(
    "/{filter_id}", status_code=204, response_class=Response, responses=_NOT_FOUND, summary="Delete a filter"
)
async def delete_filter(filter_id: FilterId, caller: CallerDep) -> Response:
    """Delete a stored filter (a declared one is refused: remove it from the workflow's code)."""
    if not await caller.ask(Method.DELETE_FILTER, filter_id):
        raise not_found("filter", filter_id)
    return Response(status_code=204)
