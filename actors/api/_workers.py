"""Workers: list, get, pause and resume.

A paused worker is given no new tasks; those it runs finish. The pause is stored, so it
holds across engine restarts and while the worker is away.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from ratchet._contract.calls import MAX_ID_LENGTH, Method
from ratchet._contract.status import WorkerState

from ._access import CallerDep
from ._errors import ErrorBody
from ._pages import Page, WindowDep, page_of
from ._times import UtcDatetime

__all__ = ["Worker", "WorkerUpdate", "router"]


class Worker(BaseModel):
    """A worker: connected (ACTIVE or PAUSED) or gone (INACTIVE)."""

    id: str
    name: str
    status: WorkerState
    paused: bool
    draining: bool = Field(description="Shutting down: it is given nothing new.")
    slots: int
    slots_used: int
    slots_free: int
    durable_slots: int
    durable_slots_used: int
    durable_slots_free: int
    labels: dict[str, Any] = {}
    actions: list[str] = Field(default=[], description="The tasks it runs, as `<workflow>:<task>`.")
    workflows: dict[str, int] = Field(default={}, description="The version of each workflow it registered.")
    registered_at: UtcDatetime | None = None
    last_heartbeat_at: UtcDatetime | None = None
    last_seen_seconds_ago: float | None = None


class WorkerUpdate(BaseModel):
    """What to change of a worker."""

    model_config = {"extra": "forbid"}

    paused: bool = Field(strict=True, description="Pause (true) or resume (false) the worker.")


router = APIRouter(prefix="/api/v1/workers", tags=["Workers"])

WorkerId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, description="The worker's id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such worker."}}


@router.get("", response_model=Page[Worker], summary="List workers")
async def list_workers(
    at: WindowDep,
    caller: CallerDep,
    include_inactive: Annotated[bool, Query(description="Also the workers that are gone.")] = False,
) -> Page[dict[str, Any]]:
    """Workers, by id: the connected ones, or every one that ever registered."""
    return page_of(await caller.ask(Method.LIST_WORKERS, {"include_inactive": include_inactive}), at)


@router.get("/{worker_id}", response_model=Worker, responses=_NOT_FOUND, summary="Get a worker")
async def get_worker(worker_id: WorkerId, caller: CallerDep) -> Any:
    """A worker: its status, slots used and free, labels, last heartbeat and workflows."""
    found = await caller.ask_found("worker", worker_id, Method.GET_WORKER, worker_id)
    return found


@router.patch("/{worker_id}", response_model=Worker, responses=_NOT_FOUND, summary="Pause or resume a worker")
async def update_worker(request: WorkerUpdate, worker_id: WorkerId, caller: CallerDep) -> Any:
    """Pause a worker (it takes no new tasks; running ones finish) or resume it."""
    method = Method.PAUSE_WORKER if request.paused else Method.RESUME_WORKER
    found = await caller.ask_found("worker", worker_id, method, worker_id)
    return found
