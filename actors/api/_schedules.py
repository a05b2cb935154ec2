"""Scheduled runs: create, list, get, move, delete, bulk delete (``ratchet.scheduled``).

A schedule runs its workflow once at its time. Only a PENDING schedule can be moved or
deleted: one that FIRED or was CANCELLED answers 400 saying so; an unknown one 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from ratchet._contract.calls import MAX_ID_LENGTH, Method
from ratchet._contract.protocol import CreateScheduleRequest
from ratchet._contract.status import ScheduleStatus

from ._access import Caller, CallerDep
from ._errors import ApiProblem, ErrorBody, not_found
from ._pages import Page, WindowDep, page_of
from ._times import UtcDatetime, epoch

__all__ = ["BulkDeleteRequest", "BulkDeleted", "MoveRequest", "Schedule", "ScheduleRequest", "router"]

#: The most schedules one bulk delete names.
MAX_BULK_DELETE = 1000


class ScheduleRequest(CreateScheduleRequest):
    """A run of ``workflow`` at ``trigger_at`` (at most a day past, at most 100 years ahead)."""

    trigger_at: UtcDatetime  # type: ignore[assignment]  # a date-time here, epoch seconds on the wire


class MoveRequest(BaseModel):
    """A pending schedule's new time."""

    model_config = {"extra": "forbid"}

    trigger_at: UtcDatetime


class BulkDeleteRequest(BaseModel):
    """Schedules to delete."""

    model_config = {"extra": "forbid"}

    ids: list[Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]] = Field(
        min_length=1, max_length=MAX_BULK_DELETE
    )


class BulkDeleted(BaseModel):
    """What a bulk delete did."""

    deleted: list[str] = Field(description="Schedules that were pending and are now cancelled.")
    not_deleted: list[str] = Field(description="Unknown ids, and schedules that had fired or were cancelled.")


class Schedule(BaseModel):
    """A one-time run of a workflow; ``run_id`` once it fired."""

    id: str
    workflow: str
    trigger_at: UtcDatetime
    input: Any = None
    additional_metadata: dict[str, Any] = {}
    priority: int | None = None
    status: ScheduleStatus
    run_id: str | None = None
    created_at: UtcDatetime


router = APIRouter(prefix="/api/v1/scheduled-runs", tags=["Scheduled Runs"])

ScheduleId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, description="The schedule's id.")]
_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such schedule."},
}


async def _not_pending(caller: Caller, schedule_id: str, what: str) -> ApiProblem:
    """Why a schedule could not be moved or deleted: unknown (404) or no longer pending (400)."""
    found = await caller.ask(Method.GET_SCHEDULE, schedule_id)
    if found is None:
        return not_found("schedule", schedule_id)
    return ApiProblem(
        400,
        "invalid_request",
        f"schedule {schedule_id!r} is {found['status']}: only a PENDING schedule can be {what}",
    )


@router.post("", response_model=Schedule, status_code=201, summary="Create a scheduled run")
async def create_schedule(request: ScheduleRequest, caller: CallerDep) -> Any:
    """Run a workflow once at a given time."""
    body = request.model_dump()
    body["trigger_at"] = epoch(request.trigger_at)
    return await caller.ask(Method.CREATE_SCHEDULE, body)


@router.get("", response_model=Page[Schedule], summary="List scheduled runs")
async def list_schedules(
    at: WindowDep,
    caller: CallerDep,
    workflow: Annotated[
        str | None, Query(min_length=1, max_length=MAX_ID_LENGTH, description="Of this one.")
    ] = None,
    status: Annotated[ScheduleStatus | None, Query(description="In this status.")] = None,
) -> Page[dict[str, Any]]:
    """Schedules, soonest first."""
    filters: dict[str, Any] = {}
    if workflow is not None:
        filters["workflow"] = workflow
    if status is not None:
        filters["status"] = str(status)
    return page_of(await caller.ask(Method.LIST_SCHEDULES, filters), at)


@router.get("/{schedule_id}", response_model=Schedule, responses=_ANSWERS, summary="Get a scheduled run")
async def get_schedule(schedule_id: ScheduleId, caller: CallerDep) -> Any:
    """A schedule by id."""
    found = await caller.ask_found("schedule", schedule_id, Method.GET_SCHEDULE, schedule_id)
    return found


@router.patch("/{schedule_id}", response_model=Schedule, responses=_ANSWERS, summary="Move a scheduled run")
async def move_schedule(request: MoveRequest, schedule_id: ScheduleId, caller: CallerDep) -> Any:
    """Move a pending schedule to a new time."""
    if not await caller.ask(Method.UPDATE_SCHEDULE, schedule_id, epoch(request.trigger_at)):
        raise await _not_pending(caller, schedule_id, "moved")
    return await caller.ask(Method.GET_SCHEDULE, schedule_id)


@router.delete(
    "/{schedule_id}",
    status_code=204,
    response_class=Response,
    responses=_ANSWERS,
    summary="Delete a scheduled run",
)
async def delete_schedule(schedule_id: ScheduleId, caller: CallerDep) -> Response:
    """Cancel a pending schedule."""
    if not await caller.ask(Method.DELETE_SCHEDULE, schedule_id):
        raise await _not_pending(caller, schedule_id, "deleted")
    return Response(status_code=204)


@router.post("/bulk-delete", response_model=BulkDeleted, summary="Delete scheduled runs")
async def bulk_delete_schedules(request: BulkDeleteRequest, caller: CallerDep) -> BulkDeleted:
    """Cancel several pending schedules; unknown and no longer pending ones are reported, not refused."""
    deleted, not_deleted = [], []
    for schedule_id in dict.fromkeys(request.ids):
        if await caller.ask(Method.DELETE_SCHEDULE, schedule_id):
            deleted.append(schedule_id)
        else:
            not_deleted.append(schedule_id)
    return BulkDeleted(deleted=deleted, not_deleted=not_deleted)
