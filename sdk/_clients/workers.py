"""``ratchet.workers``: the workers connected to the engine, and pausing them.

A paused worker finishes what it runs and takes nothing new until it is resumed; the
pause is kept by the engine (across its restarts, and while the worker is away).
Each call is one gateway call with a sync and an ``aio_`` form.
"""

from __future__ import annotations

import builtins
from typing import Any

import pydantic

from .._contract.calls import Method
from .._contract.status import WorkerState
from .calls import ClientCalls

__all__ = ["WorkerDetails", "WorkersClient"]


class WorkerDetails(pydantic.BaseModel):
    """A worker as the engine sees it.

    ``status`` is ACTIVE (connected, taking work), PAUSED (connected, taking nothing
    new) or INACTIVE (gone). Slots count ordinary and durable tasks apart; ``free`` ones
    are 0 while the worker drains or is paused. ``workflows`` maps each workflow it
    registered to the version it runs.
    """

    model_config = pydantic.ConfigDict(defer_build=True)  # built on first use: import ratchet stays light

    id: str
    name: str
    status: WorkerState
    paused: bool = False
    draining: bool = False
    slots: int = 0
    slots_used: int = 0
    slots_free: int = 0
    durable_slots: int = 0
    durable_slots_used: int = 0
    durable_slots_free: int = 0
    labels: dict[str, Any] = {}
    actions: list[str] = []
    workflows: dict[str, int] = {}
    registered_at: float | None = None
    last_heartbeat_at: float | None = None

    @property
    def worker_id(self) -> str:
        """The worker's id (hatchet-sdk's name for it)."""
        return self.id


def _worker(answer: Any, worker_id: str) -> WorkerDetails:
    if answer is None:
        raise LookupError(f"no worker with id {worker_id!r}")
    return WorkerDetails.model_validate(answer)


class WorkersClient(ClientCalls):
    """``ratchet.workers``: list, read, pause and resume workers."""

    def list(self, *, include_inactive: bool = False) -> builtins.list[WorkerDetails]:
        """The connected workers (``include_inactive``: also those that left), by id."""
        answer = self._call(Method.LIST_WORKERS, {"include_inactive": include_inactive})
        return [WorkerDetails.model_validate(w) for w in answer]

    async def aio_list(self, *, include_inactive: bool = False) -> builtins.list[WorkerDetails]:
        """The ``aio_`` form of :meth:`list`."""
        answer = await self._acall(Method.LIST_WORKERS, {"include_inactive": include_inactive})
        return [WorkerDetails.model_validate(w) for w in answer]

    def get(self, worker_id: str) -> WorkerDetails:
        """A worker; LookupError if the engine never knew it."""
        return _worker(self._call(Method.GET_WORKER, worker_id), worker_id)

    async def aio_get(self, worker_id: str) -> WorkerDetails:
        """The ``aio_`` form of :meth:`get`."""
        return _worker(await self._acall(Method.GET_WORKER, worker_id), worker_id)

    def pause(self, worker_id: str) -> WorkerDetails:
        """Give the worker no new tasks until :meth:`resume`; what it runs finishes."""
        return _worker(self._call(Method.PAUSE_WORKER, worker_id), worker_id)

    async def aio_pause(self, worker_id: str) -> WorkerDetails:
        """The ``aio_`` form of :meth:`pause`."""
        return _worker(await self._acall(Method.PAUSE_WORKER, worker_id), worker_id)

    def resume(self, worker_id: str) -> WorkerDetails:
        """Lift the worker's pause: it takes work again at once."""
        return _worker(self._call(Method.RESUME_WORKER, worker_id), worker_id)

    async def aio_resume(self, worker_id: str) -> WorkerDetails:
        """The ``aio_`` form of :meth:`resume`."""
        return _worker(await self._acall(Method.RESUME_WORKER, worker_id), worker_id)
