"""One simulated cluster: the real engine, real SDK workers and a client in one seeded run.

Theory of operation. :func:`simulate` runs inside :func:`~ratchet.runtime.run_deterministic`
(a seeded Trio scheduler and ``MockClock(autojump_threshold=0)``), so virtual time jumps
whenever every task waits and the same seed replays the same run event for event. Inside
it:

- the engine is the real actor tree (:func:`~ratchet.actors.open_engine`) on a
  :class:`~ratchet.actors.store.MemoryStore`; a crash makes the store stop answering,
  tears the tree down and starts a new one on what was committed;
- workers are real :class:`~ratchet._worker.WorkerActor` instances running real task
  functions; sync task functions run inline, never in threads (the rule of the
  simulation: no threads, sockets, files or wall clock);
- a client triggers runs of randomly shaped DAG workflows whose tasks succeed, fail,
  raise ``NonRetryableException`` or hang past their timeout, as the seed decides, and
  cancels some runs from outside;
- faults fire at times the seed draws: engine crashes, worker crashes.

When the workload is done and the faults have healed, every acknowledged run must end;
then :mod:`ratchet.simulation._invariants` checks the committed store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import trio

from ratchet._errors import NonRetryableException
from ratchet._worker import WorkerActor, WorkerConfig
from ratchet._workflow import Workflow
from ratchet.actors import EngineOptions, open_engine
from ratchet.actors.store import MemoryDatabase, MemoryStore, open_store
from ratchet.runtime import (
    ActorDeadError,
    ActorError,
    ActorRef,
    AskTimeout,
    FixedEpochClock,
    RandomSource,
    open_runtime,
)
from ratchet.runtime._trace import Trace

from ._invariants import Observations, check_store

__all__ = ["SimConfig", "SimResult", "simulate"]

BEHAVIOURS = ("ok", "ok", "ok", "ok", "fail", "fatal", "hang")


@dataclass(frozen=True)
class SimConfig:
    """The shape of one simulation.

    Attributes:
        seed: everything else random is drawn from it.
        runs: runs the client triggers.
        workflows: randomly shaped DAG workflows.
        workers: workers (each restarted after a crash).
        slots: slots per worker.
        engine_crashes: engine crashes (each followed by a restart).
        worker_crashes: worker crashes (each followed by a fresh worker).
        cancels: runs the client cancels.
        horizon: virtual seconds in which triggers and faults happen.
        settle: virtual seconds allowed afterwards for every run to end.
    """

    seed: int
    runs: int = 12
    workflows: int = 3
    workers: int = 2
    slots: int = 3
    engine_crashes: int = 1
    worker_crashes: int = 1
    cancels: int = 1
    horizon: float = 20.0
    settle: float = 600.0

    def __post_init__(self) -> None:
        counts = ("runs", "workflows", "workers", "slots", "engine_crashes", "worker_crashes", "cancels")
        for name in counts:
            value = getattr(self, name)
            least = 1 if name in ("runs", "workflows", "workers", "slots") else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"SimConfig.{name} must be a whole number >= {least}, got {value!r}")
        for name in ("horizon", "settle"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e9:
                raise ValueError(f"SimConfig.{name} must be a positive number of seconds, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"SimConfig.seed must be an int, got {self.seed!r}")


@dataclass
class SimResult:
    """What a simulation did and whether the contract held."""

    seed: int
    violations: list[str]
    digest: str
    acknowledged: int
    virtual_seconds: float
    faults: list[str] = field(default_factory=list)
    trace_tail: str = ""
    run_statuses: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    trace_text: str = ""

    @property
    def ok(self) -> bool:
        return not self.violations

    def verdict(self) -> str:
        head = f"seed {self.seed}: {'ok' if self.ok else 'FAILED'}"
        info = (
            f"{self.acknowledged} runs, {len(self.faults)} faults, "
            f"{self.virtual_seconds:.1f}s virtual, digest {self.digest[:16]}"
        )
        lines = [f"{head} ({info})"]
        lines += [f"  violated: {v}" for v in self.violations]
        if not self.ok:
            lines += [f"  fault: {f}" for f in self.faults]
            lines += ["  trace (last events):", self.trace_tail]
        return "\n".join(lines)


class _GatewayByName(ActorRef):
    """The engine's gateway, looked up by name on every call (it is replaced on restart)."""

    def __init__(self, world: _World) -> None:
        self._world = world

    @property
    def name(self) -> str:
        return "gateway"

    def _current(self) -> ActorRef:
        engine = self._world.engine
        if engine is None:
            raise ActorDeadError("the engine is down")
        return engine.gateway

    async def _ask(
        self, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], timeout: float | None
    ) -> Any:
        return await self._current()._ask(method, args, kwargs, timeout)

    def _tell(self, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        self._current()._tell(method, args, kwargs)


def _make_workflows(random: RandomSource, count: int, observations: Observations) -> list[Workflow]:
    workflows = []
    for w in range(count):
        wf = Workflow(None, f"sim-wf-{w}", input_validator=dict)
        names: list[str] = []
        for t in range(random.randint(1, 5)):
            name = f"t{t}"
            parents = [p for p in names if random.random() < 0.5]
            options: dict[str, Any] = {
                "retries": random.randint(0, 2),
                "execution_timeout": 2.0,
                "schedule_timeout": 300.0,
            }
            if random.random() < 0.5:
                options["backoff_factor"] = 0.5
            wf.task(name=name, parents=parents, **options)(_task_fn(name, parents, observations))
            names.append(name)
        workflows.append(wf)
    return workflows


def _task_fn(name: str, parents: list[str], observations: Observations) -> Any:
    async def fn(input: dict[str, Any], ctx: Any) -> dict[str, Any]:
        key = (ctx.workflow_run_id, name)
        observations.started()
        for parent in parents:
            output = ctx.task_output(parent)
            if output != {"task": parent, "run": ctx.workflow_run_id}:
                observations.violate(
                    "children-see-parent-outputs", f"{key}: parent {parent!r} output {output!r}"
                )
        plan = input.get("plan", {}).get(name, [])
        behaviour = plan[ctx.attempt_number - 1] if ctx.attempt_number <= len(plan) else "ok"
        await trio.sleep(input.get("work", 0.1))
        if behaviour == "fail":
            raise RuntimeError(f"planned failure of {name} attempt {ctx.attempt_number}")
        if behaviour == "fatal":
            raise NonRetryableException(f"planned fatal failure of {name}")
        if behaviour == "hang":
            attempt_key = (*key, ctx.attempt_number)
            observations.hanging(attempt_key)
            try:
                await trio.sleep(3600)
            finally:
                observations.stopped(attempt_key)
        return {"task": name, "run": ctx.workflow_run_id}

    fn.__name__ = name
    return fn


class _World:
    def __init__(self, config: SimConfig, system: Any, random: RandomSource) -> None:
        self.config = config
        self.system = system
        self.random = random
        self.database = MemoryDatabase()
        self.engine: Any = None
        self.store: MemoryStore | None = None
        self.faults: list[str] = []
        self.observations = Observations()
        self.workflows = _make_workflows(random.fork("workflows"), config.workflows, self.observations)
        self.acknowledged: list[str] = []
        self._crash: trio.Event | None = None
        self._up: trio.Event = trio.Event()
        self._worker_count = 0
        self.gateway = _GatewayByName(self)

    def now(self) -> float:
        return self.system.runtime.clock.monotonic()

    def fault(self, text: str) -> None:
        self.faults.append(f"t={self.now():.3f} {text}")
        self.system.runtime.record("fault", "world", text)

    # -- the engine, crashing and restarting ----------------------------------------------------

    async def run_engine(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        started = False
        options = EngineOptions(heartbeat_interval=1.0, heartbeat_misses=3, max_restarts=1000)
        while True:
            self.store = MemoryStore(self.database)
            self._crash = trio.Event()
            async with open_store(self.store) as store, open_engine(self.system, store, options) as engine:
                self.engine = engine
                self._up.set()
                if not started:
                    started = True
                    task_status.started()
                await self._crash.wait()
                self.engine = None
                self._up = trio.Event()
            await self.system.runtime.clock.sleep(self.random.uniform(0.1, 3.0))

    def crash_engine(self) -> None:
        if self.store is not None and self._crash is not None and self.engine is not None:
            self.fault("engine crash")
            self.store.crash()
            self._crash.set()

    # -- workers --------------------------------------------------------------------------------

    async def spawn_worker(self) -> ActorRef:
        self._worker_count += 1
        name = f"worker-{self._worker_count}"
        config = WorkerConfig(name=name, workflows=self.workflows, slots=self.config.slots, threads=False)
        ref = await self.system.spawn(WorkerActor, config, self.gateway, name=name)
        self.observations.worker(name, ref, self.config.slots)
        return ref

    async def crash_worker(self) -> None:
        live = [name for name, ref in self.observations.workers.items() if ref.is_alive]
        if not live:
            return
        name = self.random.choice(sorted(live))
        self.fault(f"worker crash: {name}")
        await self.system.root.terminate_child(name)
        await self.spawn_worker()

    # -- the client -----------------------------------------------------------------------------

    async def call(self, method: str, *args: Any) -> Any:
        while True:
            try:
                return await getattr(self.gateway, method).options(timeout=30.0).ask(*args)
            except (ActorDeadError, AskTimeout):
                await self.system.runtime.clock.sleep(0.5)
            except ActorError as exc:
                if "RequestError" in exc.error_type:
                    raise
                # the engine is going down under the call (its store crashed): try again
                await self.system.runtime.clock.sleep(0.5)

    def _plan(self, workflow: Workflow) -> dict[str, list[str]]:
        plan = {}
        for name, task in workflow.tasks.items():
            attempts = task.spec.retry.retries + 1
            plan[name] = [self.random.choice(BEHAVIOURS) for _ in range(attempts)]
        return plan

    async def client(self) -> None:
        clock = self.system.runtime.clock
        gap = self.config.horizon / max(1, self.config.runs)
        for _ in range(self.config.runs):
            await clock.sleep(self.random.uniform(0, 2 * gap))
            workflow = self.random.choice(self.workflows)
            payload = {
                "workflow": workflow.name,
                "input": {"plan": self._plan(workflow), "work": self.random.uniform(0.01, 0.5)},
            }
            (answer,) = await self.call("trigger", [payload])
            if "run_id" in answer:
                self.acknowledged.append(answer["run_id"])
            elif "unknown workflow" not in answer.get("error", ""):
                self.observations.violate("triggers-are-answered", f"trigger refused: {answer}")

    async def faults_plan(self) -> None:
        clock = self.system.runtime.clock
        start = self.now()
        events = (
            [
                ("engine", self.random.uniform(0, self.config.horizon))
                for _ in range(self.config.engine_crashes)
            ]
            + [
                ("worker", self.random.uniform(0, self.config.horizon))
                for _ in range(self.config.worker_crashes)
            ]
            + [("cancel", self.random.uniform(0, self.config.horizon)) for _ in range(self.config.cancels)]
        )
        for kind, at in sorted(events, key=lambda e: e[1]):
            await clock.sleep(max(0.0, start + at - self.now()))
            if kind == "engine":
                self.crash_engine()
            elif kind == "worker":
                await self.crash_worker()
            elif self.acknowledged:
                run_id = self.random.choice(self.acknowledged)
                self.fault(f"cancel run {run_id}")
                await self.call("cancel_runs", [run_id])

    async def settle(self) -> list[str]:
        """Wait until every acknowledged run ended; the ones that did not, if time ran out."""
        clock = self.system.runtime.clock
        deadline = self.now() + self.config.settle
        pending = list(self.acknowledged)
        while pending and self.now() < deadline:
            still = []
            for run_id in pending:
                run = await self.call("get_run", run_id, False)
                if run is None or not run["done"]:
                    still.append(run_id)
            pending = still
            if pending:
                await clock.sleep(1.0)
        return pending


async def _simulate(config: SimConfig, trace: Trace) -> SimResult:
    random = RandomSource(config.seed)
    async with open_runtime(
        seed=config.seed, clock=FixedEpochClock(), trace=trace, max_restarts=1000, within=1.0
    ) as system:
        world = _World(config, system, random)
        async with trio.open_nursery() as nursery:
            await nursery.start(world.run_engine)
            for _ in range(config.workers):
                await world.spawn_worker()
            async with trio.open_nursery() as activity:
                activity.start_soon(world.client)
                activity.start_soon(world.faults_plan)
            unfinished = await world.settle()
            for run_id in unfinished:
                world.observations.violate("every-run-ends", f"run {run_id} did not end after faults healed")
            world.observations.check_hung_attempts()
            nursery.cancel_scope.cancel()
        elapsed = world.now()
        store = MemoryStore(world.database)
        async with open_store(store):
            violations = await check_store(
                store, world.acknowledged, {wf.name: wf.spec for wf in world.workflows}, world.observations
            )
            statuses: dict[str, int] = {}
            for run_id in world.acknowledged:
                run = await store.get_run("default", run_id)
                status = "LOST" if run is None else str(run.status)
                statuses[status] = statuses.get(status, 0) + 1
        for name in list(system.names()):
            if name.startswith("worker-"):
                await system.root.terminate_child(name)
    return SimResult(
        seed=config.seed,
        violations=violations,
        digest=trace.digest(),
        acknowledged=len(world.acknowledged),
        virtual_seconds=elapsed,
        faults=world.faults,
        trace_tail=trace.render(last=40) if violations else "",
        run_statuses=statuses,
        attempts=world.observations.attempts,
        trace_text=trace.render(),
    )


def simulate(config: SimConfig | int) -> SimResult:
    """Run one simulation (a :class:`SimConfig`, or just a seed) and check its invariants."""
    from ratchet.runtime import run_deterministic

    if not isinstance(config, SimConfig):
        config = SimConfig(seed=config)
    trace = Trace(keep=True)
    return run_deterministic(_simulate, config, trace, seed=config.seed)
