"""One simulated world: a cluster, a scenario, a fault plan, and the verdict.

Theory of operation. :func:`run_world` runs inside
:func:`~ratchet.runtime.run_deterministic` (a seeded Trio scheduler and
``MockClock(autojump_threshold=0)``), so virtual time jumps whenever every task waits
and the same seed replays the same run event for event. Inside it:

1. the engine (:class:`~._cluster.EngineProcess`), N workers and a client start on one
   :class:`~ratchet.transport.SimNetwork`, each a separate actor system;
2. the *scenario* (the built-in workload, or a user's coroutine) drives the client while
   the *fault plan* fires on schedule: crashes and restarts, partitions, a lossy
   network, failing and slow commits, zombie workers, clock jumps;
3. once the scenario is done and every fault has healed, the world waits (``settle``
   virtual seconds at most) until every stored run has ended and no task function
   still runs;
4. the invariants are checked on what the task functions saw and on what the store
   committed, and the verdict carries a digest of the whole trace (every message,
   delivery and fault), which the same seed reproduces exactly.

The rule of the simulation: no threads, sockets, files or wall clock inside it. Task
functions run on the Trio thread (sync ones inline), ids come from seeded sources,
the network and the store are in memory.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from ratchet._contract.status import RunStatus
from ratchet._declare.workflow import Workflow
from ratchet._worker.worker import WorkerConfig
from ratchet.actors import EngineOptions
from ratchet.actors import _names as names
from ratchet.actors.store import MemoryDatabase, MemoryStore, open_store
from ratchet.runtime import FixedEpochClock, RandomSource, Trace, run_deterministic
from ratchet.transport import LinkFaults, open_sim_network

from ._client import PushRecord, SimClient
from ._cluster import ClientProcess, Credentials, EngineProcess, WorkerProcess
from ._faults import (
    ClockJump,
    CommitFailures,
    EngineCrash,
    Fault,
    FaultPlan,
    LossyNetwork,
    Partition,
    SlowCommits,
    WorkerCrash,
    Zombie,
    fault_end,
)
from ._invariants import Observations, check_store

__all__ = ["SimResult", "WorldLog", "WorldSetup", "run_world"]


@dataclass
class SimResult:
    """What a simulation did and whether the contract held.

    Attributes:
        seed: the seed that reproduces it.
        violations: ``"<invariant>: <detail>"`` for each broken rule (empty: all held).
        digest: a digest of the whole trace; the same seed gives the same digest.
        acknowledged: runs whose trigger the engine answered with an id.
        virtual_seconds: how long the simulation ran, in virtual time.
        faults: the faults that fired, one line each, with their times.
        run_statuses: how many runs ended in each status.
        runs_by_workflow: how many runs each workflow had (children, event and cron runs too).
        attempts: task functions started.
        trace_text: the readable trace (every event, one per line).
    """

    seed: int
    violations: list[str]
    digest: str
    acknowledged: int
    virtual_seconds: float
    faults: list[str] = field(default_factory=list)
    run_statuses: dict[str, int] = field(default_factory=dict)
    runs_by_workflow: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    trace_text: str = ""

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def trace_tail(self) -> str:
        return "\n".join(self.trace_text.splitlines()[-60:])

    def verdict(self) -> str:
        """One line when every invariant held; with the violations, faults and the trace's
        last events when not."""
        head = f"seed {self.seed}: {'ok' if self.ok else 'FAILED'}"
        info = (
            f"{self.acknowledged} runs, {len(self.faults)} faults, {self.attempts} attempts, "
            f"{self.virtual_seconds:.1f}s virtual, digest {self.digest[:16]}"
        )
        lines = [f"{head} ({info})"]
        lines += [f"  violated: {v}" for v in self.violations]
        if not self.ok:
            lines += [f"  fault: {f}" for f in self.faults]
            lines += ["  trace (last events):", self.trace_tail]
        return "\n".join(lines)

    def raise_on_violation(self) -> None:
        """Raise ``AssertionError`` with the verdict if any invariant broke."""
        if not self.ok:
            raise AssertionError(self.verdict())


@dataclass(frozen=True)
class WorldLog:
    """What the world recorded besides the store, for the invariants that need it.

    Times are virtual seconds after the start.

    Attributes:
        epoch: the engine's wall time at virtual time 0 (store times are wall times).
        start: Trio's clock reading at virtual time 0.
        end: when the world stopped.
        pushes: every acknowledged push, in the order acknowledged.
        outages: ``(down, up)`` for every engine crash: when it died and when its
            successor was up (``end`` if never).
        jumps: ``(at, seconds)`` for every clock jump.
        faults: the fault plan.
        restarts: ``(down, up)`` for every time the engine's Triggers actor stopped (its
            process crashed, or its supervisor restarted it) and started again.
    """

    epoch: float
    start: float
    end: float
    pushes: tuple[PushRecord, ...]
    outages: tuple[tuple[float, float], ...]
    jumps: tuple[tuple[float, float], ...]
    faults: FaultPlan
    restarts: tuple[tuple[float, float], ...] = ()

    def slow(self) -> list[tuple[float, float]]:
        """When the store was slow: the slow-commit windows."""
        return sorted((f.at, f.at + f.duration) for f in self.faults if isinstance(f, SlowCommits))

    def at(self, wall: float) -> float:
        """A store time (wall) as virtual seconds after the start."""
        return wall - self.epoch


Scenario = Callable[[SimClient], Awaitable[None]]
UserInvariant = Callable[[SimClient], Any]
WorldCheck = Callable[[Any, WorldLog], Awaitable[list[str]]]


@dataclass
class WorldSetup:
    """Everything one simulated world needs.

    Attributes:
        seed: seeds the scheduler and every random source.
        workflows: the workflows the workers run.
        scenario: what the client does (an async function of a :class:`SimClient`).
        faults: the fault plan.
        workers: worker processes.
        slots: slots per worker.
        settle: virtual seconds allowed, after the scenario and the faults, for every run to end.
        invariants: user checks, called with the :class:`SimClient` after the runs ended;
            each returns violation texts (or raises ``AssertionError``).
        scenario_limit: virtual seconds the scenario (with the fault plan) may take.
        engine_options: the engine's knobs.
        checks: built-in checks of named invariants, called at the end with the store
            and the :class:`WorldLog`; each returns ``"<invariant>: <detail>"`` texts.
    """

    seed: int
    workflows: Sequence[Workflow]
    scenario: Scenario
    faults: FaultPlan = ()
    workers: int = 2
    slots: int = 3
    settle: float = 600.0
    invariants: Sequence[UserInvariant] = ()
    scenario_limit: float = 3600.0
    engine_options: EngineOptions = field(
        default_factory=lambda: EngineOptions(heartbeat_interval=1.0, heartbeat_misses=3, max_restarts=1000)
    )
    checks: Sequence[WorldCheck] = ()


class _World:
    def __init__(self, setup: WorldSetup, trace: Trace) -> None:
        self.setup = setup
        self.trace = trace
        self.random = RandomSource(setup.seed)
        self.clock = FixedEpochClock()
        self.database = MemoryDatabase()
        names = [getattr(check, "__name__", "user-invariant") for check in setup.invariants]
        self.observations = Observations(extra=names)
        self.faults: list[str] = []
        self.acknowledged: list[str] = []
        self.pushes: list[PushRecord] = []
        self.outages: list[list[float]] = []
        self.jumps: list[tuple[float, float]] = []
        self.network: Any = None
        self.engine: EngineProcess
        self.workers: list[WorkerProcess] = []
        self.client: ClientProcess
        self.start = 0.0
        self._restarts: trio.Nursery | None = None

    def now(self) -> float:
        return self.clock.monotonic() - self.start

    def fault(self, text: str) -> None:
        self.faults.append(f"t={self.now():.3f} {text}")
        self.trace.record(self.clock.monotonic(), "fault", "world", text)

    def acknowledge(self, run_id: str) -> None:
        self.acknowledged.append(run_id)

    def _party(self, name: str) -> Any:
        if name == "engine":
            return self.engine
        if name == "client":
            return self.client
        index = int(name.partition("-")[2])
        return self.workers[index % len(self.workers)]

    # -- faults -----------------------------------------------------------------------------------

    async def _restart_after(self, party: Any, delay: float) -> None:
        await self.clock.sleep(delay)
        assert self._restarts is not None
        await self._restarts.start(party.run)
        if party is self.engine:
            self.outages[-1][1] = self.now()

    async def _heal_after(self, delay: float, heal: Callable[[], None]) -> None:
        await self.clock.sleep(delay)
        heal()

    async def fire(self, fault: Fault, nursery: trio.Nursery) -> None:
        self.fault(repr(fault))
        if isinstance(fault, EngineCrash):
            if self.engine.up.is_set():
                self.outages.append([self.now(), float("inf")])
                await self.engine.crash(notify=fault.notify)
                nursery.start_soon(self._restart_after, self.engine, fault.down_for)
        elif isinstance(fault, WorkerCrash):
            worker = self.workers[fault.worker % len(self.workers)]
            if worker.up.is_set():
                await worker.crash(notify=fault.notify)
                nursery.start_soon(self._restart_after, worker, fault.down_for)
        elif isinstance(fault, Partition):
            a, b = self._party(fault.a), self._party(fault.b)
            if a.endpoint is not None and b.endpoint is not None and a is not b:
                ends = (a.endpoint.name, b.endpoint.name)
                self.network.partition(*ends)
                nursery.start_soon(self._heal_after, fault.duration, lambda: self.network.heal(*ends))
        elif isinstance(fault, LossyNetwork):
            self.network.update_faults(
                loss=fault.loss, duplicate=fault.duplicate, reorder=fault.reorder, jitter=fault.jitter
            )

            def mend() -> None:
                self.network.update_faults(loss=0.0, duplicate=0.0, reorder=0.0, jitter=0.0)

            nursery.start_soon(self._heal_after, fault.duration, mend)
        elif isinstance(fault, CommitFailures):
            if self.engine.store is not None:
                for _ in range(fault.count):
                    self.engine.store.fail_next_transaction()
        elif isinstance(fault, SlowCommits):
            store = self.engine.store
            if store is not None:
                store.slow_commits(fault.delay)
                nursery.start_soon(self._heal_after, fault.duration, lambda: store.slow_commits(0.0))
        elif isinstance(fault, Zombie):
            worker = self.workers[fault.worker % len(self.workers)]
            worker.set_zombie(True)
            nursery.start_soon(self._heal_after, fault.duration, lambda: worker.set_zombie(False))
        elif isinstance(fault, ClockJump):
            self.jumps.append((self.now(), fault.seconds))
            # (ignored below: the simulation runs under trio's MockClock, which has jump())
            trio.lowlevel.current_clock().jump(fault.seconds)  # type: ignore[attr-defined]

    async def run_faults(self) -> None:
        async with trio.open_nursery() as nursery:
            for fault in sorted(self.setup.faults, key=lambda f: f.at):
                await self.clock.sleep(max(0.0, self.start + fault.at - self.clock.monotonic()))
                await self.fire(fault, nursery)

    # -- settling ---------------------------------------------------------------------------------

    async def _unfinished(self) -> list[str]:
        store = MemoryStore(self.database)
        async with open_store(store):
            rows = await store.list_runs("default", limit=None)
        return [r.id for r in rows if not RunStatus(r.status).is_terminal]

    async def settle(self) -> None:
        """Wait until every stored run ended and no task function runs, at two looks a
        second apart (or time is up).

        One look is not enough: a run can start the moment it is taken (a cron tick that
        a clock jump made late fires as the jump lands).
        """
        deadline = self.clock.monotonic() + self.setup.settle
        quiet = 0
        while self.clock.monotonic() < deadline:
            if not await self._unfinished() and not self.observations.running:
                quiet += 1
                if quiet == 2:
                    return
            else:
                quiet = 0
            await self.clock.sleep(1.0)


async def _run(setup: WorldSetup, trace: Trace) -> SimResult:
    world = _World(setup, trace)
    world.start = world.clock.monotonic()
    world.clock.anchor()  # wall time 2030-01-01T00:00:00Z at virtual time 0 (crons rely on it)
    epoch = world.clock.time()
    async with open_sim_network(
        random=world.random.fork("network"), clock=world.clock, faults=LinkFaults()
    ) as network:
        world.network = network
        credentials = Credentials(world.random.fork("key").getrandbits(256).to_bytes(32, "big"))
        common = {"network": network, "clock": world.clock, "trace": trace, "credentials": credentials}
        world.engine = EngineProcess(
            world.database, setup.engine_options, random=world.random.fork("engine"), **common
        )
        for i in range(setup.workers):
            config = WorkerConfig(
                name=f"worker-{i}", workflows=list(setup.workflows), slots=setup.slots, threads=False
            )
            process = WorkerProcess(
                i, config, world.observations, random=world.random.fork(f"worker-{i}"), **common
            )
            world.workers.append(process)
        world.client = ClientProcess(random=world.random.fork("client"), **common)
        client = SimClient(world)
        async with trio.open_nursery() as processes:
            world._restarts = processes
            await processes.start(world.engine.run)
            for process in world.workers:
                await processes.start(process.run)
            await processes.start(world.client.run)
            with trio.move_on_after(setup.scenario_limit) as limit:
                async with trio.open_nursery() as activity:
                    activity.start_soon(world.run_faults)
                    activity.start_soon(setup.scenario, client)
            if limit.cancelled_caught:
                world.observations.violate(
                    "triggers-are-answered",
                    f"the scenario did not finish within {setup.scenario_limit:g} virtual seconds "
                    "(a request to the engine was never answered)",
                )
            healed = max((fault_end(f) for f in setup.faults), default=0.0)
            await world.clock.sleep(max(0.0, world.start + healed - world.clock.monotonic()))
            await world.settle()
            world.observations.check_stopped()
            violations = list(world.observations.violations)
            for check in setup.invariants:
                name = getattr(check, "__name__", "user-invariant")
                try:
                    found = await _maybe_await(check(client))
                except AssertionError as exc:
                    found = [str(exc) or "assertion failed"]
                violations += [f"{name}: {text}" for text in found or ()]
            processes.cancel_scope.cancel()
    elapsed = world.now()
    store = MemoryStore(world.database)
    specs = {wf.name: wf.spec for wf in setup.workflows}
    log = WorldLog(
        epoch=epoch,
        start=world.start,
        end=elapsed,
        pushes=tuple(world.pushes),
        outages=tuple((down, min(up, elapsed)) for down, up in world.outages),
        jumps=tuple(world.jumps),
        faults=tuple(setup.faults),
        restarts=_restarts(trace, world, elapsed),
    )
    async with open_store(store):
        violations += await check_store(store, world.acknowledged, specs, world.observations)
        for world_check in setup.checks:
            violations += await world_check(store, log)
        statuses: dict[str, int] = {}
        by_workflow: dict[str, int] = {}
        names = {wf.id: wf.name for wf in await store.list_workflows("default")}
        for run in await store.list_runs("default", limit=None):
            statuses[str(run.status)] = statuses.get(str(run.status), 0) + 1
            name = names.get(run.workflow_id, run.workflow_id)
            by_workflow[name] = by_workflow.get(name, 0) + 1
    digest = hashlib.sha256(f"{trace.digest()}:{network.trace_digest()}".encode()).hexdigest()
    return SimResult(
        seed=setup.seed,
        violations=violations,
        digest=digest,
        acknowledged=len(world.acknowledged),
        virtual_seconds=elapsed,
        faults=world.faults,
        run_statuses=statuses,
        runs_by_workflow=by_workflow,
        attempts=world.observations.attempts,
        trace_text=trace.render(),
    )


def _restarts(trace: Trace, world: _World, end: float) -> tuple[tuple[float, float], ...]:
    """When the Triggers actor was down: from a crash of its process, or its own stop,
    until it started again (``end`` if it never did)."""
    marks = [(down, "down") for down, _ in world.outages]
    for event in trace.events:
        if event.actor == names.TRIGGERS and event.kind in ("start", "stop", "exit"):
            marks.append((event.time - world.start, "up" if event.kind == "start" else "down"))
    out: list[tuple[float, float]] = []
    down: float | None = None
    for at, mark in sorted(marks):
        if mark == "down" and down is None:
            down = at
        elif mark == "up" and down is not None:
            out.append((down, at))
            down = None
    if down is not None:
        out.append((down, end))
    return tuple(out)


async def _maybe_await(value: Any) -> Any:
    if hasattr(value, "__await__"):
        return await value
    return value


class _TraceLog(logging.Handler):
    """Puts the engine's and SDK's log records into the trace instead of on stderr.

    Inside a simulation, warnings such as "peer went down" are expected; they belong in
    the trace (where a failing seed's reader wants them) rather than in the output.
    """

    def __init__(self, trace: Trace) -> None:
        super().__init__(logging.INFO)
        self.trace = trace

    def emit(self, record: logging.LogRecord) -> None:
        try:
            now = trio.current_time()
        except RuntimeError:
            now = 0.0
        self.trace.record(now, f"log-{record.levelname.lower()}", record.name, record.getMessage())


def run_world(setup: WorldSetup) -> SimResult:
    """Run one simulated world to its verdict (deterministic in ``setup.seed``)."""
    trace = Trace(keep=True)
    logger = logging.getLogger("ratchet")
    handler = _TraceLog(trace)
    propagate, level = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        return run_deterministic(_run, setup, trace, seed=setup.seed)
    finally:
        logger.removeHandler(handler)
        logger.propagate, logger.level = propagate, level
