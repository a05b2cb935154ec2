"""Workflow definitions the engine knows, their versions, and which one new runs use.

Theory of operation. A version *is* a definition's content: a spec whose checksum
(:attr:`~ratchet._contract.spec.WorkflowSpec.version`) the workflow already has is that version
again, whoever registers it; a new checksum becomes the next version number. A run is
bound to the version it started with, because the engine looks its spec up by
(workflow, version number).

New runs use the workflow's *current* version: the one the worker code that registered
last runs. So a deploy of new code moves it forward, a rollback (workers registering an
earlier definition again) moves it back to that definition's own version, and a fleet of
identical workers restarting changes nothing. What registers decides what it may move:

* :attr:`Registration.DEPLOY`, a worker registering for the first time (new code going
  live), always makes its version current;
* :attr:`Registration.RECONNECT`, a worker the engine knew registering again (after an
  engine restart, or a lost session), changes nothing that is already decided: workers
  reconnecting in some order after a restart must not undo a rollback;
* :attr:`Registration.CLIENT`, a client about to trigger a workflow no worker registered
  yet, registers its definition only if the engine knows no version of the workflow at
  all; it is not a worker and never replaces the version workers run.

Every change waits for its commit before new runs see it. A new version is *pending*
until the commit that records it lands (a run must never reference a version the store
may not hold); a repeated registration of it waits on the same commit, and a failed
commit forgets it, so the next registration writes it again. A move of the current
version is a *move* in :attr:`RegisteredWorkflow.moves`: the newest one whose commit
landed is current, so concurrent registrations settle on the one the coordinator handled
last, as the store does (the writer commits in submission order). The store keeps the
current version with its checksum (:class:`~ratchet.actors.store.SetCurrentWorkflowVersion`);
a restart starts from it, or from the newest version if there is none.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from ratchet._contract.spec import WorkflowSpec
from ratchet.runtime import RandomSource

from ..store import RegisterWorkflowVersion, SetCurrentWorkflowVersion, Store

__all__ = ["RegisteredWorkflow", "Registration", "WorkflowRegistry"]


class Registration(enum.Enum):
    """Who registers a definition, which decides whether it becomes current."""

    DEPLOY = "deploy"  # a worker new to the engine: its code is what runs from now on
    RECONNECT = "reconnect"  # a worker the engine knew, registering again
    CLIENT = "client"  # a client about to trigger a workflow no worker registered yet

    def __repr__(self) -> str:
        return f"Registration.{self.name}"


class _Unsubmitted:
    """The commit of a change :meth:`WorkflowRegistry.register` made and the caller has
    not yet handed to the writer (:meth:`WorkflowRegistry.submitted` replaces it)."""

    succeeded = False
    done = False


_UNSUBMITTED = _Unsubmitted()


@dataclass
class Move:
    """A change of the current version: ``ticket`` is its commit (None once it landed)."""

    version: int
    checksum: str
    ticket: Any = None

    @property
    def landed(self) -> bool:
        return self.ticket is None or self.ticket.succeeded

    @property
    def failed(self) -> bool:
        return self.ticket is not None and self.ticket.done and not self.ticket.succeeded


@dataclass
class RegisteredWorkflow:
    """One workflow of a tenant, every version of it, and the one new runs use."""

    id: str
    name: str
    versions: dict[int, WorkflowSpec] = field(default_factory=dict)
    by_checksum: dict[str, int] = field(default_factory=dict)
    pending: dict[int, Any] = field(default_factory=dict)  # version -> the commit recording it
    moves: list[Move] = field(default_factory=list)  # oldest first
    next_number: int = 1  # numbers are never reused, not even a forgotten one's

    @property
    def current(self) -> int | None:
        """The version new runs use: the newest move that landed, to a version the store holds."""
        for move in reversed(self.moves):
            if move.landed and self._holds(move.version, move.checksum):
                return move.version
        return None

    @property
    def wanted(self) -> Move | None:
        """The newest move that has not failed (landed or still being committed)."""
        for move in reversed(self.moves):
            if not move.failed and self._has(move.version, move.checksum):
                return move
        return None

    def stored(self, version: int) -> bool:
        """Whether the store holds ``version`` (its commit landed)."""
        ticket = self.pending.get(version)
        return ticket is None or ticket.succeeded

    def _has(self, version: int, checksum: str) -> bool:
        spec = self.versions.get(version)
        return spec is not None and spec.version == checksum

    def _holds(self, version: int, checksum: str) -> bool:
        return self._has(version, checksum) and self.stored(version)


class WorkflowRegistry:
    """Every tenant's workflows, in memory, loaded from and written to the store."""

    def __init__(self) -> None:
        self._workflows: dict[tuple[str, str], RegisteredWorkflow] = {}
        self._by_id: dict[tuple[str, str], RegisteredWorkflow] = {}

    async def load(self, store: Store, tenant_id: str) -> None:
        """Read a tenant's workflows, versions and current versions from the store."""
        current = {row.workflow_id: row for row in await store.list_current_workflow_versions(tenant_id)}
        for wf in await store.list_workflows(tenant_id):
            entry = RegisteredWorkflow(wf.id, wf.name)
            for version in await store.list_workflow_versions(tenant_id, wf.id):
                spec = WorkflowSpec.from_dict(version.definition)
                entry.versions[version.version] = spec
                entry.by_checksum[version.checksum] = version.version
            if not entry.versions:
                continue
            entry.next_number = max(entry.versions) + 1
            row = current.get(wf.id)
            if row is not None and entry._has(row.version, row.checksum):
                entry.moves.append(Move(row.version, row.checksum))
            else:  # stored before versions could move back, or its pointer never landed
                newest = max(entry.versions)
                entry.moves.append(Move(newest, entry.versions[newest].version))
            self._workflows[(tenant_id, wf.name)] = entry
            self._by_id[(tenant_id, wf.id)] = entry

    def get(self, tenant_id: str, name: str) -> RegisteredWorkflow | None:
        return self._workflows.get((tenant_id, name))

    def by_id(self, tenant_id: str, workflow_id: str) -> RegisteredWorkflow | None:
        return self._by_id.get((tenant_id, workflow_id))

    def names(self, tenant_id: str) -> list[str]:
        return sorted(name for (tenant, name) in self._workflows if tenant == tenant_id)

    def register(
        self,
        tenant_id: str,
        spec: WorkflowSpec,
        registration: Registration,
        *,
        random: RandomSource,
        at: float,
    ) -> tuple[RegisteredWorkflow, int, list[Any], list[Any]]:
        """Add ``spec`` as a version of its workflow if its content is new, and move the
        current version to it if ``registration`` may (see the module docstring).

        Returns:
            The workflow; the version number the spec has (for a client's definition of a
            workflow the engine knows: the current one, the client's is not kept); the
            mutations to commit; the commits of others to wait for (what this
            registration relies on that is still being committed).
        """
        entry = self._workflows.get((tenant_id, spec.name))
        if entry is not None and registration is Registration.CLIENT:
            # the engine knows the workflow: workers decide its versions, not clients
            wanted = entry.wanted
            number = entry.current if wanted is None else wanted.version
            waits: list[Any] = [] if wanted is None or wanted.ticket is None else [wanted.ticket]
            return entry, number or max(entry.versions), [], [*waits, *entry.pending.values()]
        if entry is None:
            entry = RegisteredWorkflow(random.new_id(), spec.name)
            self._workflows[(tenant_id, spec.name)] = entry
            self._by_id[(tenant_id, entry.id)] = entry
        checksum = spec.version
        mutations: list[Any] = []
        waits = []
        number = entry.by_checksum.get(checksum)
        if number is None:
            number = entry.next_number
            entry.next_number += 1
            entry.versions[number] = spec
            entry.by_checksum[checksum] = number
            entry.pending[number] = _UNSUBMITTED
            mutations.append(
                RegisterWorkflowVersion(
                    tenant_id=tenant_id,
                    workflow_id=entry.id,
                    name=spec.name,
                    version=number,
                    checksum=checksum,
                    definition=spec.to_dict(),
                    at=at,
                )
            )
        elif number in entry.pending:
            waits.append(entry.pending[number])  # registered a moment ago: its commit
        wanted = entry.wanted
        if registration is Registration.DEPLOY or wanted is None:
            if wanted is not None and wanted.version == number:
                if wanted.ticket is not None:
                    waits.append(wanted.ticket)  # the same move, still being committed
            else:
                entry.moves.append(Move(number, checksum, _UNSUBMITTED))
                mutations.append(
                    SetCurrentWorkflowVersion(
                        tenant_id=tenant_id, workflow_id=entry.id, version=number, checksum=checksum, at=at
                    )
                )
        return entry, number, mutations, waits

    @staticmethod
    def submitted(entry: RegisteredWorkflow, ticket: Any) -> None:
        """``ticket`` is the commit carrying the mutations :meth:`register` just returned."""
        for number, pending in entry.pending.items():
            if pending is _UNSUBMITTED:
                entry.pending[number] = ticket
        for move in entry.moves:
            if move.ticket is _UNSUBMITTED:
                move.ticket = ticket

    def settle(self, tenant_id: str, name: str, ticket: Any) -> None:
        """The commit ``ticket`` finished: keep what it wrote, forget what it failed to write."""
        entry = self._workflows.get((tenant_id, name))
        if entry is None:
            return
        for number in [n for n, t in entry.pending.items() if t is ticket]:
            if ticket.succeeded:
                del entry.pending[number]
            else:
                self._forget_version(tenant_id, entry, number)
        kept: list[Move] = []
        for move in entry.moves:
            if move.ticket is ticket:
                if not ticket.succeeded:
                    continue
                move.ticket = None
            kept.append(move)
        # only the newest landed move matters from now on (and the moves still in flight)
        newest = max((i for i, m in enumerate(kept) if m.ticket is None), default=0)
        entry.moves = kept[newest:]
        if not entry.versions:
            del self._workflows[(tenant_id, name)]
            self._by_id.pop((tenant_id, entry.id), None)

    @staticmethod
    def _forget_version(tenant_id: str, entry: RegisteredWorkflow, number: int) -> None:
        """Undo the registration of a version whose commit failed."""
        entry.pending.pop(number, None)
        spec = entry.versions.pop(number, None)
        if spec is not None:
            entry.by_checksum.pop(spec.version, None)
        entry.moves = [m for m in entry.moves if m.version != number]
