"""Workflows and workers: what the tenant has registered, and who serves it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ratchet._contract.calls import Method

from ._access import CallerDep
from ._pages import Page, WindowDep, page_of

__all__ = ["Worker", "Workflow", "router"]


class Workflow(BaseModel):
    """A registered workflow."""

    name: str


class Worker(BaseModel):
    """A worker with a live session."""

    id: str
    name: str
    slots: int
    durable_slots: int
    actions: list[str] = Field(description="The tasks it runs, as `<workflow>:<task>` queue names.")
    workflows: dict[str, int] = Field(description="The version of each workflow it registered.")
    labels: dict[str, Any] = {}
    draining: bool
    last_seen_seconds_ago: float


router = APIRouter(prefix="/api/v1")


@router.get("/workflows", response_model=Page[Workflow], tags=["Workflows"], summary="List workflows")
async def list_workflows(at: WindowDep, caller: CallerDep) -> Page[dict[str, Any]]:
    """The tenant's workflows, by name."""
    names = sorted(await caller.ask(Method.LIST_WORKFLOWS))
    return page_of([{"name": name} for name in names], at)


@router.get("/workers", response_model=Page[Worker], tags=["Workers"], summary="List workers")
async def list_workers(at: WindowDep, caller: CallerDep) -> Page[dict[str, Any]]:
    """Workers with a live session, by id."""
    workers = sorted(await caller.ask(Method.LIST_WORKERS), key=lambda w: w["id"])
    return page_of(workers, at)
