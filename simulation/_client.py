"""The scenario's handle on a simulated cluster: :class:`SimClient`.

A scenario (the built-in workload's, or a user's) drives the cluster only through it:
trigger runs, push events, wait for and read runs, cancel them. Every call retries
across engine restarts and network faults, the way a careful application would; what
may be repeated safely and what may not is said per method.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ratchet._contract.status import TaskStatus
from ratchet._declare.workflow import Workflow
from ratchet.actors.store import MemoryStore, open_store

if TYPE_CHECKING:
    from ._world import _World

__all__ = ["PushRecord", "SimClient"]


@dataclass(frozen=True)
class PushRecord:
    """An event the client pushed and the engine acknowledged.

    Attributes:
        key, payload, scope: the event.
        event_id: the id the engine answered with.
        sent: virtual seconds when the client first sent it.
        acknowledged: virtual seconds when the answer came.
    """

    key: str
    payload: Any
    scope: str | None
    event_id: str
    sent: float
    acknowledged: float


class SimClient:
    """The scenario's handle on the cluster: trigger, wait for, read and cancel runs; push events.

    Every call retries across engine restarts and network faults; triggers carry an
    idempotency key, so a repeated trigger never starts a second run. Pushes carry none
    (the engine takes none): see :meth:`push`.
    """

    def __init__(self, world: _World) -> None:
        self._world = world
        self.random = world.random.fork("scenario")
        self._keys = 0

    def now(self) -> float:
        """Virtual seconds since the simulation started."""
        return self._world.now()

    async def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass."""
        await self._world.clock.sleep(seconds)

    async def trigger(
        self,
        workflow: Workflow | str,
        input: Any = None,
        *,
        key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
    ) -> str:
        """Start a run and return its id once the engine acknowledged it (committed)."""
        name = workflow if isinstance(workflow, str) else workflow.name
        self._keys += 1
        request: dict[str, Any] = {
            "workflow": name,
            "input": input,
            "key": key or f"sim-trigger-{self._keys}",
            "additional_metadata": dict(additional_metadata or {}),
        }

        def refused_for_now(answer: Any) -> bool:
            error = answer[0].get("error", "")
            # before any worker registered the workflow, or a commit that failed: try again
            return "unknown workflow" in error or "could not be stored" in error

        (answer,) = await self._world.client.call("trigger", [request], retry_on=refused_for_now)
        if "run_id" not in answer:
            self._world.observations.violate("triggers-are-answered", f"trigger of {name} refused: {answer}")
            raise RuntimeError(f"the engine refused a trigger of {name}: {answer['error']}")
        run_id: str = answer["run_id"]
        self._world.acknowledge(run_id)
        return run_id

    async def push(
        self,
        key: str,
        payload: Any = None,
        *,
        scope: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
    ) -> str:
        """Push an event and return its id once the engine acknowledged it (committed).

        The engine's ``push_events`` takes no idempotency key, so a push is not safe to
        repeat: an answer that never came (the engine died after committing the event)
        leaves the client no way to tell, and it pushes again; the event may then be
        stored twice, each copy starting its own runs. A push the engine refused
        (``{"error"}``: nothing was stored) is safely repeated.
        """
        request: dict[str, Any] = {
            "key": key,
            "payload": payload,
            "additional_metadata": dict(additional_metadata or {}),
            "scope": scope,
        }
        sent = self.now()

        def refused_for_now(answer: Any) -> bool:
            return "error" in answer[0]  # the commit failed: nothing was stored

        (answer,) = await self._world.client.call("push_events", [request], retry_on=refused_for_now)
        record = PushRecord(key, payload, scope, answer["id"], sent, self.now())
        self._world.pushes.append(record)
        return record.event_id

    async def wait_registered(self, workflows: Sequence[str], poll: float = 0.2) -> None:
        """Wait until a worker has registered with every workflow in ``workflows`` known.

        Events start runs only of the workflows registered when they are pushed.
        """
        while True:
            names = set(await self._world.client.call("list_workflows"))
            if set(workflows) <= names and await self._world.client.call("list_workers"):
                return
            await self.sleep(poll)

    async def get(self, run_id: str) -> dict[str, Any] | None:
        """The run's description (status, output, tasks), or None if there is no such run."""
        return await self._world.client.call("get_run", run_id, True)  # type: ignore[no-any-return]

    async def wait(self, run_id: str, poll: float = 1.0) -> dict[str, Any]:
        """Wait until the run has ended and return its description."""
        while True:
            run = await self.get(run_id)
            if run is not None and run["done"]:
                return run
            await self.sleep(poll)

    async def run(self, workflow: Workflow | str, input: Any = None, **options: Any) -> dict[str, Any]:
        """Trigger a run and wait for it to end."""
        return await self.wait(await self.trigger(workflow, input, **options))

    async def cancel(self, run_id: str) -> None:
        """Cancel a run (its queued and running tasks)."""
        self._world.fault(f"cancel run {run_id}")
        await self._world.client.call("cancel_runs", [run_id])

    async def runs(self) -> list[dict[str, Any]]:
        """Every run the store holds, read directly (not through the engine)."""
        store = MemoryStore(self._world.database)
        async with open_store(store):
            rows = await store.list_runs("default", limit=None)
            out = []
            for row in rows:
                tasks = await store.list_tasks("default", row.id)
                out.append(
                    {
                        "run_id": row.id,
                        "status": str(row.status),
                        "input": row.input,
                        "additional_metadata": row.additional_metadata or {},
                        "output": {t.name: t.output for t in tasks if t.status == TaskStatus.COMPLETED},
                    }
                )
            return out
