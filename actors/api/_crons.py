"""Crons: create, list, get, enable or disable, run now, delete (``ratchet.cron``).

Crons a workflow declares in code (``on_crons``) are listed too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, StrictBool

from ratchet._contract.calls import MAX_ID_LENGTH, Method
from ratchet._contract.protocol import CreateCronRequest

from ._access import CallerDep
from ._errors import ApiProblem, ErrorBody, not_found
from ._pages import Page, WindowDep, page_of
from ._times import UtcDatetime

__all__ = ["Cron", "CronRun", "CronUpdate", "router"]


class Cron(BaseModel):
    """A cron trigger of a workflow (UTC)."""

    id: str
    workflow: str
    name: str
    expression: str
    input: Any = None
    additional_metadata: dict[str, Any] = {}
    priority: int | None = None
    created_at: UtcDatetime
    last_fired_at: UtcDatetime | None = None
    enabled: bool = True
    next_fire_at: UtcDatetime | None = None


class CronUpdate(BaseModel):
    """A change to a cron: ``enabled`` false disables it (no tick fires), true enables it again."""

    model_config = {"extra": "forbid"}

    enabled: StrictBool


class CronRun(BaseModel):
    """The run a cron started on request."""

    run_id: str


router = APIRouter(prefix="/api/v1/crons", tags=["Crons"])

CronId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, description="The cron's id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such cron."}}


@router.post("", response_model=Cron, status_code=201, summary="Create a cron")
async def create_cron(request: CreateCronRequest, caller: CallerDep) -> Any:
    """Run a workflow on every tick of a cron expression (5 or 6 fields, or ``@daily``-style)."""
    return await caller.ask(Method.CREATE_CRON, request.model_dump())


@router.get("", response_model=Page[Cron], summary="List crons")
async def list_crons(
    at: WindowDep,
    caller: CallerDep,
    workflow: Annotated[
        str | None, Query(min_length=1, max_length=MAX_ID_LENGTH, description="Of this one.")
    ] = None,
) -> Page[dict[str, Any]]:
    """Crons, oldest first, of one workflow or all."""
    return page_of(await caller.ask(Method.LIST_CRONS, workflow), at)


@router.get("/{cron_id}", response_model=Cron, responses=_NOT_FOUND, summary="Get a cron")
async def get_cron(cron_id: CronId, caller: CallerDep) -> Any:
    """A cron by id."""
    found = await caller.ask_found("cron", cron_id, Method.GET_CRON, cron_id)
    return found


@router.patch("/{cron_id}", response_model=Cron, responses=_NOT_FOUND, summary="Enable or disable a cron")
async def update_cron(cron_id: CronId, request: CronUpdate, caller: CallerDep) -> Any:
    """Disable a cron (no tick fires, across engine restarts) or enable it from its next tick."""
    method = Method.RESUME_CRON if request.enabled else Method.PAUSE_CRON
    found = await caller.ask_found("cron", cron_id, method, cron_id)
    return found


@router.post(
    "/{cron_id}/run", response_model=CronRun, status_code=201, responses=_NOT_FOUND, summary="Run a cron now"
)
async def run_cron_now(cron_id: CronId, caller: CallerDep) -> Any:
    """Start one run of the cron's workflow with its input and metadata now, enabled or not."""
    started = await caller.ask_found("cron", cron_id, Method.RUN_CRON_NOW, cron_id)
    if "error" in started:
        message = f"cron {cron_id!r} could not start a run: {started['error']}"
        raise ApiProblem(400, "invalid_request", message)
    return started


@router.delete(
    "/{cron_id}", status_code=204, response_class=Response, responses=_NOT_FOUND, summary="Delete a cron"
)
async def delete_cron(cron_id: CronId, caller: CallerDep) -> Response:
    """Delete a cron; its next tick does not fire."""
    if not await caller.ask(Method.DELETE_CRON, cron_id):
        raise not_found("cron", cron_id)
    return Response(status_code=204)
