"""A whole engine with real SDK workers under virtual time, for flow-control tests.

:func:`run_engine` runs the engine's actor tree on a memory store and in-process
:class:`~ratchet._worker.worker.WorkerActor` workers inside one seeded Trio run with
``MockClock(autojump_threshold=0)``: task functions ``await trio.sleep(...)`` in virtual
seconds, so a test can ask "did a rate-limited task start exactly when its window
allowed?" and get an exact answer, with no real waiting. The engine keeps a trace, and
the scheduler's ``flow`` events in it are the facts the invariant checkers read. The
engine can be crashed and restarted on the same database mid-scenario.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from ratchet._declare.workflow import Workflow
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors import EngineOptions, open_engine
from ratchet.actors.store import MemoryDatabase, MemoryStore, open_store
from ratchet.runtime import (
    ActorDeadError,
    ActorRef,
    AskTimeout,
    FixedEpochClock,
    open_runtime,
    run_deterministic,
)
from ratchet.runtime._trace import Trace
from ratchet.simulation._flow_invariants import ConcurrencyFact, RateFact, flow_facts, flow_violations

__all__ = ["Cluster", "Interval", "run_engine"]


@dataclass
class Interval:
    """When a task function ran, in virtual seconds (``end`` None while it runs)."""

    run_id: str
    task: str
    attempt: int
    key: Any
    start: float
    end: float | None = None
    worker: str | None = None


class _GatewayByName(ActorRef):
    """The current engine's gateway (a restarted engine has a new one)."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster

    @property
    def name(self) -> str:
        return "gateway"

    def _current(self) -> ActorRef:
        if self._cluster.engine is None:
            raise ActorDeadError("the engine is down")
        return self._cluster.engine.gateway

    async def _ask(
        self, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], timeout: float | None
    ) -> Any:
        return await self._current()._ask(method, args, kwargs, timeout)

    def _tell(self, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        self._current()._tell(method, args, kwargs)


@dataclass
class Cluster:
    """The running engine and workers, as a scenario sees them."""

    system: Any
    workflows: Sequence[Workflow]
    database: MemoryDatabase = field(default_factory=MemoryDatabase)
    engine: Any = None
    store: MemoryStore | None = None
    intervals: list[Interval] = field(default_factory=list)
    _crash: trio.Event | None = None
    _up: trio.Event = field(default_factory=trio.Event)

    @property
    def gateway(self) -> ActorRef:
        return _GatewayByName(self)

    def now(self) -> float:
        return trio.current_time()

    async def call(self, method: str, *args: Any) -> Any:
        """Ask the gateway, waiting out an engine restart."""
        while True:
            try:
                return await getattr(self.gateway, method).options(timeout=60.0).ask(*args)
            except (ActorDeadError, AskTimeout):
                await self._up.wait()

    async def trigger(self, workflow: str, inputs: Sequence[Any], **options: Any) -> list[str]:
        answers = await self.call("trigger", [{"workflow": workflow, "input": i, **options} for i in inputs])
        assert all("run_id" in a for a in answers), answers
        return [a["run_id"] for a in answers]

    async def wait(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [await self.call("wait_run", run_id) for run_id in run_ids]

    async def engine_loop(
        self, options: EngineOptions, *, task_status: Any = trio.TASK_STATUS_IGNORED
    ) -> None:
        started = False
        while True:
            store = self.store = MemoryStore(self.database)
            self._crash = trio.Event()
            async with open_store(store), open_engine(self.system, store, options) as engine:
                self.engine = engine
                self._up.set()
                if not started:
                    started = True
                    task_status.started()
                await self._crash.wait()
                self.engine = None
                self._up = trio.Event()
                store.crash()

    async def restart_engine(self) -> None:
        """Crash the engine (its store loses what was not committed) and wait for the new one."""
        assert self._crash is not None
        self._crash.set()
        await trio.sleep(0)
        await self._up.wait()

    async def add_worker(
        self, name: str, *, slots: int = 10, labels: Mapping[str, Any] | None = None
    ) -> ActorRef:
        config = WorkerConfig(
            name=name, workflows=list(self.workflows), slots=slots, labels=dict(labels or {}), threads=False
        )
        ref = await self.system.spawn(WorkerActor, config, self.gateway, name=name, worker_id=name)
        await ref.wait_registered.ask()
        return ref

    def facts(self) -> tuple[list[ConcurrencyFact], list[RateFact]]:
        return flow_facts(self.system.runtime.trace.events)

    def violations(self) -> list[str]:
        """Every flow-control invariant the scheduler's trace breaks (the simulation's check)."""
        return flow_violations(self.system.runtime.trace.events)

    def record(self, ctx: Any, key: Any = None) -> Interval:
        """Call at the top of a task function: notes when (and where) it began."""
        interval = Interval(ctx.workflow_run_id, ctx.task_name, ctx.attempt_number, key, self.now())
        self.intervals.append(interval)
        return interval


def run_engine(
    workflows: Callable[[Cluster], Sequence[Workflow]],
    scenario: Callable[[Cluster], Awaitable[Any]],
    *,
    seed: int = 1,
    workers: Sequence[tuple[str, int, Mapping[str, Any]]] = (("w1", 10, {}),),
    options: EngineOptions | None = None,
) -> tuple[Cluster, Any]:
    """Run ``scenario`` against an engine with ``workers``; returns the cluster and its result.

    Args:
        workflows: builds the workflows (their task functions may use the cluster).
        scenario: triggers runs and waits for them.
        seed: seeds the Trio scheduler and the runtime's random source.
        workers: ``(name, slots, labels)`` of each worker.
        options: engine options (heartbeats every second, three misses, by default).
    """
    options = options or EngineOptions(heartbeat_interval=1.0, heartbeat_misses=3, max_restarts=100)

    async def main() -> tuple[Cluster, Any]:
        async with open_runtime(seed=seed, clock=FixedEpochClock(), trace=Trace(keep=True)) as system:
            cluster = Cluster(system, [])
            cluster.workflows = list(workflows(cluster))
            async with trio.open_nursery() as nursery:
                await nursery.start(cluster.engine_loop, options)
                for name, slots, labels in workers:
                    await cluster.add_worker(name, slots=slots, labels=labels)
                result = await scenario(cluster)
                nursery.cancel_scope.cancel()
            assert cluster.violations() == []  # every scenario keeps every flow invariant
            return cluster, result

    return run_deterministic(main, seed=seed)
