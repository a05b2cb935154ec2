"""``ratchet.workflows``: the workflows this client declared, and the engine's view of all of them.

It is a mapping of the workflows declared on this client (``ratchet.workflows["etl"]``,
``"etl" in ratchet.workflows``, ``.values()``), and the hatchet-sdk feature client:
``list`` and ``get`` read the workflows the engine knows (with their versions),
``pause`` and ``unpause`` hold back or release a workflow's new work. A paused
workflow's runs are accepted and their tasks stay QUEUED, without timing out in the
queue, until it is unpaused; tasks already running finish. Workflows are named by a
:class:`Workflow`, its name, or the engine's id for it.
"""

from __future__ import annotations

import builtins
from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import TYPE_CHECKING, Any

import pydantic

from .._contract.calls import Method
from .calls import ClientCalls

if TYPE_CHECKING:
    from .._client import Ratchet
    from .._declare.workflow import Workflow

__all__ = ["WorkflowDetails", "WorkflowVersionDetails", "WorkflowsClient"]


class WorkflowVersionDetails(pydantic.BaseModel):
    """One version of a workflow; ``current`` is the one new runs use."""

    model_config = pydantic.ConfigDict(defer_build=True)  # built on first use: import ratchet stays light

    version: int
    checksum: str
    created_at: float
    current: bool = False
    tasks: list[str] = []
    # the definition as workers registered it (from list_versions only)
    definition: dict[str, Any] | None = None


class WorkflowDetails(pydantic.BaseModel):
    """A workflow the engine knows: whether it is paused, and its versions (from ``get``)."""

    model_config = pydantic.ConfigDict(defer_build=True)

    id: str
    name: str
    created_at: float
    paused: bool = False
    current_version: int | None = None
    versions: list[WorkflowVersionDetails] = []


def _ref(workflow: Any) -> Any:
    return getattr(workflow, "name", workflow)


def _workflow(answer: Any, workflow: Any) -> WorkflowDetails:
    if answer is None:
        raise LookupError(f"the engine knows no workflow {_ref(workflow)!r}")
    return WorkflowDetails.model_validate(answer)


def _versions(answer: Any, workflow: Any) -> builtins.list[WorkflowVersionDetails]:
    if answer is None:
        raise LookupError(f"the engine knows no workflow {_ref(workflow)!r}")
    return [WorkflowVersionDetails.model_validate(v) for v in answer]


class WorkflowsClient(ClientCalls):
    """``ratchet.workflows``: this client's declared workflows, and the engine's workflows."""

    def __init__(self, client: Ratchet) -> None:
        super().__init__(client)
        self._declared: dict[str, Workflow] = {}

    # -- the declared workflows, by name ---------------------------------------------------------

    def __getitem__(self, name: str) -> Workflow:
        return self._declared[name]

    def __setitem__(self, name: str, workflow: Workflow) -> None:
        self._declared[name] = workflow

    def __contains__(self, name: object) -> bool:
        return name in self._declared

    def __iter__(self) -> Iterator[str]:
        return iter(self._declared)

    def __len__(self) -> int:
        return len(self._declared)

    def keys(self) -> KeysView[str]:
        return self._declared.keys()

    def values(self) -> ValuesView[Workflow]:
        return self._declared.values()

    def items(self) -> ItemsView[str, Workflow]:
        return self._declared.items()

    # -- the engine's workflows -----------------------------------------------------------------

    def list(
        self, *, name_contains: str | None = None, limit: int = 100, offset: int = 0
    ) -> builtins.list[WorkflowDetails]:
        """The workflows the engine knows, by name (those whose name holds ``name_contains``)."""
        answer = self._call(Method.LIST_WORKFLOWS, _listing(name_contains, limit, offset))
        return [WorkflowDetails.model_validate(w) for w in answer]

    async def aio_list(
        self, *, name_contains: str | None = None, limit: int = 100, offset: int = 0
    ) -> builtins.list[WorkflowDetails]:
        """The ``aio_`` form of :meth:`list`."""
        answer = await self._acall(Method.LIST_WORKFLOWS, _listing(name_contains, limit, offset))
        return [WorkflowDetails.model_validate(w) for w in answer]

    def get(self, workflow: Any) -> WorkflowDetails:
        """A workflow with its versions; LookupError if the engine does not know it."""
        return _workflow(self._call(Method.GET_WORKFLOW, _ref(workflow)), workflow)

    async def aio_get(self, workflow: Any) -> WorkflowDetails:
        """The ``aio_`` form of :meth:`get`."""
        return _workflow(await self._acall(Method.GET_WORKFLOW, _ref(workflow)), workflow)

    def list_versions(self, workflow: Any) -> builtins.list[WorkflowVersionDetails]:
        """Every version of a workflow, oldest first, with its definition."""
        return _versions(self._call(Method.LIST_WORKFLOW_VERSIONS, _ref(workflow)), workflow)

    async def aio_list_versions(self, workflow: Any) -> builtins.list[WorkflowVersionDetails]:
        """The ``aio_`` form of :meth:`list_versions`."""
        return _versions(await self._acall(Method.LIST_WORKFLOW_VERSIONS, _ref(workflow)), workflow)

    def pause(self, workflow: Any) -> WorkflowDetails:
        """Pause a workflow: its new tasks stay queued until :meth:`unpause`."""
        return _workflow(self._call(Method.PAUSE_WORKFLOW, _ref(workflow)), workflow)

    async def aio_pause(self, workflow: Any) -> WorkflowDetails:
        """The ``aio_`` form of :meth:`pause`."""
        return _workflow(await self._acall(Method.PAUSE_WORKFLOW, _ref(workflow)), workflow)

    def unpause(self, workflow: Any) -> WorkflowDetails:
        """Unpause a workflow: its queued tasks start as workers have room."""
        return _workflow(self._call(Method.UNPAUSE_WORKFLOW, _ref(workflow)), workflow)

    async def aio_unpause(self, workflow: Any) -> WorkflowDetails:
        """The ``aio_`` form of :meth:`unpause`."""
        return _workflow(await self._acall(Method.UNPAUSE_WORKFLOW, _ref(workflow)), workflow)


def _listing(name_contains: str | None, limit: int, offset: int) -> dict[str, Any]:
    listing: dict[str, Any] = {"limit": limit, "offset": offset}
    if name_contains is not None:
        listing["name_contains"] = name_contains
    return listing
