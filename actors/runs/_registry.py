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

Several engines on one database. Each engine's registry is a cache of the store, which
the engines share: before a registration, the engine reads the workflow back from the
store (:meth:`WorkflowRegistry.sync`), so a definition another engine stored keeps its
number, a new one takes the next number after every stored one, and the current version
is the one the store points at. A workflow's id is a function of its tenant and name
(:func:`workflow_id`), so engines registering a new workflow at the same moment write
the same row. The store keeps the first writer's row of a workflow and of a version
number (a write of either changes nothing once it is stored), so two engines racing
with *different* new definitions may both believe they stored theirs under one number:
after the commit, each reads the workflow back again (:meth:`WorkflowRegistry.lost`)
and the one whose content is not what the store holds registers it again, under the
next number. Content stored twice (racing engines each giving it a number) is known by
its lowest number, on every engine.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ratchet._contract.spec import WorkflowSpec

from ..store import (
    CurrentWorkflowVersion,
    RegisterWorkflowVersion,
    SetCurrentWorkflowVersion,
    Store,
    Workflow,
    WorkflowVersion,
)

__all__ = ["RegisteredWorkflow", "Registration", "WorkflowRegistry", "workflow_id"]

_WORKFLOW_IDS = uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")


def workflow_id(tenant_id: str, name: str) -> str:
    """The id of a workflow first registered by this code: the same on every engine.

    Workflows stored before ids were derived keep their random ids (read from the store).
    """
    return str(uuid.uuid5(_WORKFLOW_IDS, f"{tenant_id}/{name}"))


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
        self._settled = 0  # commits settled so far: a read of the store older than one is stale

    async def load(self, store: Store, tenant_id: str) -> None:
        """Read a tenant's workflows, versions and current versions from the store."""
        await self.sync(store, tenant_id, None)

    async def sync(self, store: Store, tenant_id: str, names: Iterable[str] | None) -> None:
        """Bring the workflows ``names`` (None: all) up to date with what the store holds.

        Other engines on the database may have stored versions, or moved the current
        one, since this engine last looked; see the module docstring.
        """
        settled = self._settled
        current = {row.workflow_id: row for row in await store.list_current_workflow_versions(tenant_id)}
        if names is None:
            rows = await store.list_workflows(tenant_id)
        else:
            found = [await store.get_workflow_by_name(tenant_id, name) for name in names]
            rows = [row for row in found if row is not None]
        stored = [(wf, await store.list_workflow_versions(tenant_id, wf.id)) for wf in rows]
        # a commit of this engine settled while we read: our reading of its pointer is older
        # than what memory holds, so keep memory's current version this time
        fresh = settled == self._settled
        for wf, versions in stored:
            self.merge(tenant_id, wf, versions, current.get(wf.id), fresh=fresh)

    def merge(
        self,
        tenant_id: str,
        wf: Workflow,
        versions: Sequence[WorkflowVersion],
        current: CurrentWorkflowVersion | None,
        *,
        fresh: bool = True,
    ) -> None:
        """Take in one workflow as the store holds it: its stored versions win over
        memory's, and its current version does unless a move of this engine is in
        flight (or ``fresh`` is false: the reading may predate one that landed)."""
        if not versions:
            return
        entry = self._workflows.get((tenant_id, wf.name))
        if entry is not None and entry.id != wf.id:
            # this engine has it under an id the store did not keep: the stored one is it
            self._by_id.pop((tenant_id, entry.id), None)
            entry = None
        if entry is None:
            entry = RegisteredWorkflow(wf.id, wf.name)
            self._workflows[(tenant_id, wf.name)] = entry
            self._by_id[(tenant_id, wf.id)] = entry
        for version in versions:
            held = entry.versions.get(version.version)
            if held is not None and held.version == version.checksum:
                continue
            # new to this engine, or another engine stored other content under the number
            entry.pending.pop(version.version, None)
            entry.versions[version.version] = WorkflowSpec.from_dict(version.definition)
        entry.by_checksum.clear()
        for number in sorted(entry.versions):  # content stored twice: its lowest number
            entry.by_checksum.setdefault(entry.versions[number].version, number)
        entry.next_number = max(entry.next_number, max(entry.versions) + 1)
        in_flight = any(not move.landed and not move.failed for move in entry.moves)
        if in_flight or not fresh:
            return
        if current is not None and entry._holds(current.version, current.checksum):
            entry.moves = [Move(current.version, current.checksum)]
        elif entry.current is None:  # stored before versions could move back, or its pointer never landed
            newest = max(n for n in entry.versions if entry.stored(n))
            entry.moves = [Move(newest, entry.versions[newest].version)]

    def lost(self, tenant_id: str, registered: Sequence[tuple[WorkflowSpec, int]]) -> list[WorkflowSpec]:
        """The specs of ``registered`` (spec, number) that the store knows by another number
        (after a :meth:`sync`): another engine stored other content under the number first,
        or stored this content under a lower one."""
        out = []
        for spec, number in registered:
            entry = self._workflows.get((tenant_id, spec.name))
            if entry is None or entry.by_checksum.get(spec.version) != number:
                out.append(spec)
        return out

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
            entry = RegisteredWorkflow(workflow_id(tenant_id, spec.name), spec.name)
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
        self._settled += 1
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
