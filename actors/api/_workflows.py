"""Workflows: list, get, their versions, pause and unpause.

A workflow is named by its name or its id. A paused workflow's new runs are accepted
and their tasks stay QUEUED (without timing out in the queue) until it is unpaused; the
pause is stored, so it holds across engine restarts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from ratchet._contract.calls import MAX_ID_LENGTH, Method

from ._access import CallerDep
from ._errors import ErrorBody
from ._pages import Page, WindowDep, page_at, page_of
from ._times import UtcDatetime

__all__ = ["Workflow", "WorkflowDetails", "WorkflowUpdate", "WorkflowVersion", "router"]


class Workflow(BaseModel):
    """A registered workflow."""

    id: str
    name: str
    created_at: UtcDatetime
    paused: bool
    current_version: int | None = Field(default=None, description="The version new runs get.")


class WorkflowVersion(BaseModel):
    """One version of a workflow."""

    version: int
    checksum: str
    created_at: UtcDatetime
    current: bool = Field(description="Whether new runs get this version.")
    tasks: list[str]


class WorkflowVersionDefinition(WorkflowVersion):
    """One version of a workflow, with its definition as its workers registered it."""

    definition: dict[str, Any]


class WorkflowDetails(Workflow):
    """A workflow with its versions, oldest first."""

    versions: list[WorkflowVersion]


class WorkflowUpdate(BaseModel):
    """What to change of a workflow."""

    model_config = {"extra": "forbid"}

    paused: bool = Field(strict=True, description="Pause (true) or unpause (false) the workflow.")


router = APIRouter(prefix="/api/v1/workflows", tags=["Workflows"])

WorkflowRef = Annotated[
    str, Path(min_length=1, max_length=MAX_ID_LENGTH, description="The workflow's name or id.")
]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such workflow."}}


@router.get("", response_model=Page[Workflow], summary="List workflows")
async def list_workflows(
    at: WindowDep,
    caller: CallerDep,
    name_contains: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_ID_LENGTH, description="Workflows whose name has this."),
    ] = None,
) -> Page[dict[str, Any]]:
    """The tenant's workflows, by name."""
    filters: dict[str, Any] = {"offset": at.offset, "limit": at.limit + 1}
    if name_contains is not None:
        filters["name_contains"] = name_contains
    return page_at(await caller.ask(Method.LIST_WORKFLOWS, filters), at)


@router.get("/{workflow}", response_model=WorkflowDetails, responses=_NOT_FOUND, summary="Get a workflow")
async def get_workflow(workflow: WorkflowRef, caller: CallerDep) -> Any:
    """A workflow with its versions."""
    found = await caller.ask_found("workflow", workflow, Method.GET_WORKFLOW, workflow)
    return found


@router.get(
    "/{workflow}/versions",
    response_model=Page[WorkflowVersionDefinition],
    responses=_NOT_FOUND,
    summary="List a workflow's versions",
)
async def list_workflow_versions(
    workflow: WorkflowRef, at: WindowDep, caller: CallerDep
) -> Page[dict[str, Any]]:
    """Every version of a workflow, oldest first, with its definition."""
    versions = await caller.ask_found("workflow", workflow, Method.LIST_WORKFLOW_VERSIONS, workflow)
    return page_of(versions, at)


@router.patch(
    "/{workflow}", response_model=WorkflowDetails, responses=_NOT_FOUND, summary="Pause or unpause a workflow"
)
async def update_workflow(request: WorkflowUpdate, workflow: WorkflowRef, caller: CallerDep) -> Any:
    """Pause a workflow (its new runs wait, queued) or unpause it (they start as workers have room)."""
    method = Method.PAUSE_WORKFLOW if request.paused else Method.UNPAUSE_WORKFLOW
    found = await caller.ask_found("workflow", workflow, method, workflow)
    return found
