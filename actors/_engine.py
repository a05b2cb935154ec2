"""Assembling the engine: its supervision tree, on any actor system and store.

The engine is one ``rest_for_one`` supervisor whose children start in dependency order:

    engine (rest_for_one)
    ├── store-writer   group commit
    ├── timers         retries, timeouts
    ├── scheduler      ready queues and worker slots
    ├── dispatcher     worker sessions and heartbeats
    ├── coordinator    every active run's state machine
    ├── triggers       events and filters, event waits, crons, schedules
    ├── durable        durable tasks' logs and waits
    └── gateway        the API for workers and clients

``rest_for_one`` because each actor depends on those before it: if the scheduler
crashes, its queues are gone, so the dispatcher, coordinator and gateway restart after
it and the coordinator rebuilds the queues from the store. The same tree runs in a
``ratchet engine`` process over nng, embedded in an application, and in the simulation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ratchet.runtime import ActorRef, ActorSystem, ChildSpec, Strategy, SupervisorRef

from ._coordinator import RunCoordinator
from ._dispatcher import Dispatcher
from ._durable import DurableTasks
from ._gateway import Gateway
from ._scheduler import QueueScheduler
from ._timers import Timers
from ._triggers import Triggers
from .store import EnsureTenant, Store, StoreWriter

__all__ = ["DEFAULT_TENANT", "Engine", "EngineOptions", "engine_children", "ensure_tenant", "open_engine"]

DEFAULT_TENANT = "default"


@dataclass(frozen=True)
class EngineOptions:
    """Knobs of one engine.

    Attributes:
        tenant: the tenant served.
        heartbeat_interval: seconds between worker heartbeats.
        heartbeat_misses: heartbeats a worker may miss before its tasks are reassigned.
        commit_max_batch: the StoreWriter's batch size.
        commit_max_delay: the StoreWriter's linger, in seconds; 0 commits as soon as the writer
            is free (batches still form while a commit runs), the lowest latency at no cost
            in throughput on this machine.
        max_payload_bytes: the largest run input or task output accepted.
        max_restarts: restarts the engine supervisor allows within ``restart_window``.
        restart_window: seconds.
    """

    tenant: str = DEFAULT_TENANT
    heartbeat_interval: float = 1.0
    heartbeat_misses: int = 5
    commit_max_batch: int = 2000
    commit_max_delay: float = 0.0
    max_payload_bytes: int = 4 * 1024 * 1024
    max_restarts: int = 10
    restart_window: float = 60.0


def engine_children(store: Store, options: EngineOptions, *, node: Any = None) -> list[ChildSpec]:
    """The engine's actors, in start order."""
    tenant = options.tenant
    return [
        ChildSpec(
            StoreWriter,
            (store,),
            {"max_batch": options.commit_max_batch, "max_delay": options.commit_max_delay},
            name="store-writer",
        ),
        ChildSpec(Timers, name="timers"),
        ChildSpec(QueueScheduler, kwargs={"store": store, "tenant_id": tenant}, name="scheduler"),
        ChildSpec(
            Dispatcher,
            kwargs={
                "tenant_id": tenant,
                "heartbeat_interval": options.heartbeat_interval,
                "heartbeat_misses": options.heartbeat_misses,
            },
            name="dispatcher",
        ),
        ChildSpec(RunCoordinator, (store,), {"tenant_id": tenant}, name="coordinator"),
        ChildSpec(Triggers, (store,), {"tenant_id": tenant}, name="triggers"),
        ChildSpec(DurableTasks, (store,), {"tenant_id": tenant}, name="durable"),
        ChildSpec(
            Gateway,
            (store,),
            {"tenant_id": tenant, "node": node, "max_payload_bytes": options.max_payload_bytes},
            name="gateway",
        ),
    ]


async def ensure_tenant(store: Store, system: ActorSystem, tenant: str) -> None:
    """Create the tenant row on first start (tenant id = its name).

    One idempotent write rather than "read, then create if missing": engines starting
    together on a new database would all read "missing", and all but one would crash.
    """
    await store.commit([EnsureTenant(id=tenant, name=tenant, at=system.runtime.clock.time())])


@dataclass
class Engine:
    """A running engine: its supervisor and its gateway."""

    system: ActorSystem
    supervisor: SupervisorRef
    gateway: ActorRef
    store: Store
    options: EngineOptions


@asynccontextmanager
async def open_engine(
    system: ActorSystem, store: Store, options: EngineOptions | None = None, *, node: Any = None
) -> AsyncIterator[Engine]:
    """Run the engine's actor tree under ``system``'s root for the block's duration.

    Args:
        system: the actor system to run in.
        store: an open store.
        options: see :class:`EngineOptions`.
        node: an :class:`~ratchet.transport.ActorNode` serving the gateway to remote
            workers and clients; None for an engine used only in-process.
    """
    options = options or EngineOptions()
    await ensure_tenant(store, system, options.tenant)
    supervisor = await system.spawn_supervisor(
        "engine",
        strategy=Strategy.REST_FOR_ONE,
        max_restarts=options.max_restarts,
        within=options.restart_window,
        children=engine_children(store, options, node=node),
    )
    try:
        yield Engine(system, supervisor, system.lookup("gateway"), store, options)
    finally:
        await system.root.terminate_child("engine")
