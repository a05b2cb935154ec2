"""Workflow definitions the engine knows, with their immutable versions.

Workers register their workflows' specs when they connect. A spec whose content (its
:attr:`~ratchet._spec.WorkflowSpec.version` checksum) is new becomes the workflow's next
version; a known one is reused, so restarting a fleet of identical workers creates no
versions. New runs use the latest version; a run stays bound to the version it started
with, because the engine looks its spec up by (workflow, version number).

A new version is *pending* until the commit that records it lands: new runs do not use
it (a run must never reference a version the store may not hold), a repeated
registration of it waits on the same commit, and a failed commit forgets it, so the
next registration writes it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ratchet._spec import WorkflowSpec
from ratchet.runtime import RandomSource

from .store import RegisterWorkflowVersion, Store

__all__ = ["RegisteredWorkflow", "WorkflowRegistry"]


@dataclass
class RegisteredWorkflow:
    """One workflow of a tenant and every version of it."""

    id: str
    name: str
    versions: dict[int, WorkflowSpec] = field(default_factory=dict)
    by_checksum: dict[str, int] = field(default_factory=dict)
    pending: dict[int, Any] = field(default_factory=dict)  # version -> the commit recording it

    @property
    def latest(self) -> int | None:
        """The newest version the store holds (None while the only ones are pending)."""
        return max((v for v in self.versions if self.stored(v)), default=None)

    def stored(self, version: int) -> bool:
        """Whether the store holds ``version`` (its commit landed)."""
        ticket = self.pending.get(version)
        return ticket is None or ticket.succeeded


class WorkflowRegistry:
    """Every tenant's workflows, in memory, loaded from and written to the store."""

    def __init__(self) -> None:
        self._workflows: dict[tuple[str, str], RegisteredWorkflow] = {}
        self._by_id: dict[tuple[str, str], RegisteredWorkflow] = {}

    async def load(self, store: Store, tenant_id: str) -> None:
        """Read a tenant's workflows and versions from the store."""
        for wf in await store.list_workflows(tenant_id):
            entry = RegisteredWorkflow(wf.id, wf.name)
            for version in await store.list_workflow_versions(tenant_id, wf.id):
                spec = WorkflowSpec.from_dict(version.definition)
                entry.versions[version.version] = spec
                entry.by_checksum[version.checksum] = version.version
            if entry.versions:
                self._workflows[(tenant_id, wf.name)] = entry
                self._by_id[(tenant_id, wf.id)] = entry

    def get(self, tenant_id: str, name: str) -> RegisteredWorkflow | None:
        return self._workflows.get((tenant_id, name))

    def by_id(self, tenant_id: str, workflow_id: str) -> RegisteredWorkflow | None:
        return self._by_id.get((tenant_id, workflow_id))

    def names(self, tenant_id: str) -> list[str]:
        return sorted(name for (tenant, name) in self._workflows if tenant == tenant_id)

    def register(
        self, tenant_id: str, spec: WorkflowSpec, *, random: RandomSource, at: float
    ) -> tuple[RegisteredWorkflow, int, RegisterWorkflowVersion | None]:
        """Add ``spec`` as a version of its workflow if its content is new.

        Returns:
            The workflow, the version number the spec has, and the mutation to persist
            (None when the version already existed).
        """
        checksum = spec.version
        entry = self._workflows.get((tenant_id, spec.name))
        if entry is None:
            entry = RegisteredWorkflow(random.new_id(), spec.name)
        elif checksum in entry.by_checksum:
            return entry, entry.by_checksum[checksum], None
        number = (entry.latest + 1) if entry.versions else 1
        entry.versions[number] = spec
        entry.by_checksum[checksum] = number
        self._workflows[(tenant_id, spec.name)] = entry
        self._by_id[(tenant_id, entry.id)] = entry
        mutation = RegisterWorkflowVersion(
            tenant_id=tenant_id,
            workflow_id=entry.id,
            name=spec.name,
            version=number,
            checksum=checksum,
            definition=spec.to_dict(),
            at=at,
        )
        return entry, number, mutation

    def confirm(self, tenant_id: str, name: str, number: int) -> None:
        """The version's commit landed: new runs may use it."""
        entry = self._workflows.get((tenant_id, name))
        if entry is not None:
            entry.pending.pop(number, None)

    def forget(self, tenant_id: str, name: str, number: int) -> None:
        """Undo :meth:`register` of a version whose mutation failed to commit."""
        entry = self._workflows.get((tenant_id, name))
        if entry is None or number not in entry.versions:
            return
        entry.pending.pop(number, None)
        spec = entry.versions.pop(number)
        entry.by_checksum.pop(spec.version, None)
        if not entry.versions:
            del self._workflows[(tenant_id, name)]
            self._by_id.pop((tenant_id, entry.id), None)
