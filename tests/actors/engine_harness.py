"""Engines and workers in virtual time: one Trio run, a MockClock, a memory database.

For behaviour over hours (crons, schedules, durable sleeps) and across engine crashes:
the database outlives each engine (a crash keeps only what was committed), and every
engine shares one clock, so wall time moves on while an engine is down.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ratchet import Workflow
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors import EngineOptions, open_engine
from ratchet.actors.store import MemoryDatabase, MemoryStore, open_store
from ratchet.runtime import ActorRef, ActorSystem, FixedEpochClock, open_runtime

_SEEDS = itertools.count(1)
EPOCH = 1_893_456_000.0  # 2030-01-01T00:00:00Z, a Tuesday


@dataclass
class RunningEngine:
    system: ActorSystem
    gateway: ActorRef
    store: MemoryStore

    async def call(self, method: str, *args: Any) -> Any:
        return await getattr(self.gateway, method).ask(*args)

    def actor(self, name: str) -> Any:
        return self.system.lookup(name)._cell.instance


@asynccontextmanager
async def engine(
    database: MemoryDatabase,
    clock: FixedEpochClock,
    workflows: Sequence[Workflow] = (),
    *,
    seed: int | None = None,
    slots: int = 100,
) -> AsyncIterator[RunningEngine]:
    """An engine on ``database`` with one in-process worker running ``workflows``.

    Each engine gets its own seed (ids drawn by a restarted engine must not repeat
    the ones its predecessor drew), the same on every run of the test.
    """
    seed = next(_SEEDS) if seed is None else seed
    async with open_runtime(seed=seed, clock=clock, max_restarts=1000, within=1.0) as system:
        store = MemoryStore(database)
        options = EngineOptions(heartbeat_interval=30.0)  # hours of virtual time stay cheap
        async with open_store(store), open_engine(system, store, options) as eng:
            if workflows:
                config = WorkerConfig(name="w", workflows=list(workflows), slots=slots, threads=False)
                ref = await system.spawn(WorkerActor, config, eng.gateway, name="worker:w")
                await ref.wait_registered.ask()
            yield RunningEngine(system, eng.gateway, store)
            for name in list(system.names()):
                if name.startswith("worker:"):
                    await system.root.terminate_child(name)


async def runs_of(store: MemoryStore, workflow: str) -> list[Any]:
    """Stored runs of ``workflow``, oldest first."""
    wf = await store.get_workflow_by_name("default", workflow)
    if wf is None:
        return []
    return list(reversed(await store.list_runs("default", workflow_id=wf.id, limit=None)))
