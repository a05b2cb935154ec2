"""How workflows read to operators: finding one by name or id, and its versions.

A workflow is named by users and identified by the engine; requests may give either.
Its *current* version is the one new runs use (the one workers registered last, or
pointed back to); a workflow no worker registered yet uses its latest. Pure views over
store records, and one lookup that reads the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..store import Store, Workflow, WorkflowVersion

__all__ = ["current_versions", "find_workflow", "version_view", "workflow_summary", "workflow_view"]


async def find_workflow(store: Store, tenant_id: str, workflow: str) -> Workflow | None:
    """The workflow named ``workflow``, else the one with that id, else None."""
    found = await store.get_workflow_by_name(tenant_id, workflow)
    if found is None:
        found = await store.get_workflow(tenant_id, workflow)
    return found


async def current_versions(store: Store, tenant_id: str) -> dict[str, int]:
    """The version new runs use, by workflow id, for the workflows that have one pointed."""
    return {row.workflow_id: row.version for row in await store.list_current_workflow_versions(tenant_id)}


def _task_names(definition: Any) -> list[str]:
    tasks = definition.get("tasks") if isinstance(definition, dict) else None
    return [t["name"] for t in tasks or () if isinstance(t, dict) and isinstance(t.get("name"), str)]


def version_view(version: WorkflowVersion, current: int | None, *, definition: bool) -> dict[str, Any]:
    """One version: ``{version, checksum, created_at, current, tasks}`` (and its
    ``definition`` when asked for)."""
    out: dict[str, Any] = {
        "version": version.version,
        "checksum": version.checksum,
        "created_at": version.created_at,
        "current": version.version == current,
        "tasks": _task_names(version.definition),
    }
    if definition:
        out["definition"] = version.definition
    return out


def workflow_summary(workflow: Workflow, current: int | None, *, paused: bool) -> dict[str, Any]:
    """A workflow as ``list_workflows`` lists it: ``{id, name, created_at, paused, current_version}``."""
    return {
        "id": workflow.id,
        "name": workflow.name,
        "created_at": workflow.created_at,
        "paused": paused,
        "current_version": current,
    }


def workflow_view(
    workflow: Workflow,
    versions: Sequence[WorkflowVersion],
    pointed: Mapping[str, int],
    *,
    paused: bool,
) -> dict[str, Any]:
    """A workflow with its versions, oldest first, as ``get_workflow`` answers it."""
    current = pointed.get(workflow.id)
    if current is None and versions:
        current = max(v.version for v in versions)
    out = workflow_summary(workflow, current, paused=paused)
    out["versions"] = [version_view(v, current, definition=False) for v in versions]
    return out
