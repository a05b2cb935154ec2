"""The simulated processes: an engine, workers and a client on one simulated network.

Each party is what runs in its own process in production, built from the same parts:
its own actor system (its own seeded random source, one shared virtual clock and trace),
an endpoint of the :class:`~ratchet.transport.SimNetwork` and an
:class:`~ratchet.transport.ActorNode` on it. The engine listens; workers and the client
dial it and reach its gateway through a remote ref, so every request, assignment and
result crosses the simulated wire, where faults can lose, duplicate, delay, reorder or
cut it.

A crash is abrupt: the party's endpoint is killed (its peers hear a reset, or nothing at
all), its memory store stops answering (what was not committed is gone), and its whole
actor system is cancelled mid-step. A restart builds a new incarnation from scratch on
what the store committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from ratchet._contract.spec import TaskKind
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors import EngineOptions, open_engine
from ratchet.actors import _names as names
from ratchet.actors.store import MemoryDatabase, MemoryStore, open_store
from ratchet.runtime import (
    ActorDeadError,
    ActorError,
    ActorRef,
    AskTimeout,
    Clock,
    RandomSource,
    Trace,
    open_runtime,
)
from ratchet.transport import SimEndpoint, SimNetwork, open_actor_node

from ._invariants import Observations

__all__ = ["ENGINE_ADDRESS", "ClientProcess", "Credentials", "EngineProcess", "SimWorker", "WorkerProcess"]

ENGINE_ADDRESS = "sim://engine"
_RETRYABLE = (ActorDeadError, AskTimeout)


class Credentials:
    """The engine's key (its key file, surviving its restarts) and the API token the others use.

    The engine's first incarnation that gets to it makes the token (a committed row, so it
    outlives crashes); workers and the client wait for it before they sign in, as a
    deployment hands its workers a token made once.
    """

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.token: str | None = None
        self.ready = trio.Event()

    async def sign_in(self, gateway: Any) -> None:
        """A signer for the worker and client (see :mod:`ratchet._session`)."""
        from ratchet._session import sign_in

        await self.ready.wait()
        await sign_in(gateway.node, ENGINE_ADDRESS, self.token)


class _Party:
    """What every simulated process shares: seams, a crash switch, incarnations."""

    def __init__(
        self,
        name: str,
        *,
        network: SimNetwork,
        clock: Clock,
        random: RandomSource,
        trace: Trace,
        credentials: Credentials,
    ) -> None:
        self.name = name
        self.credentials = credentials
        self.network = network
        self.clock = clock
        self.random = random
        self.trace = trace
        self.incarnation = 0
        self.endpoint: SimEndpoint | None = None
        self.up = trio.Event()
        self._scope: trio.CancelScope | None = None

    def record(self, kind: str, detail: str) -> None:
        self.trace.record(self.clock.monotonic(), kind, self.name, detail)

    def _seed(self) -> int:
        self.incarnation += 1
        return self.random.fork(f"{self.name}:{self.incarnation}").seed

    async def crash(self, *, notify: bool = True) -> None:
        """Kill the current incarnation at once (nothing graceful runs)."""
        if self._scope is None:
            return
        self.record("crash", f"incarnation {self.incarnation} notify={notify}")
        self.up = trio.Event()
        self._before_crash()
        if self.endpoint is not None:
            await self.network.kill(self.endpoint, notify=notify)
            self.endpoint = None
        self._scope.cancel()
        self._scope = None

    def _before_crash(self) -> None:
        """What dies with the process besides its endpoint and tasks."""


class EngineProcess(_Party):
    """The engine: its real actor tree on a memory store, listening at :data:`ENGINE_ADDRESS`."""

    def __init__(self, database: MemoryDatabase, options: EngineOptions, **kwargs: Any) -> None:
        super().__init__("engine", **kwargs)
        self.database = database
        self.options = options
        self.store: MemoryStore | None = None

    def _before_crash(self) -> None:
        if self.store is not None:
            self.store.crash()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run one incarnation until it crashes."""
        with trio.CancelScope() as scope:
            self._scope = scope
            self.store = MemoryStore(self.database)
            async with open_runtime(
                seed=self._seed(), clock=self.clock, trace=self.trace, max_restarts=1000, within=1.0
            ) as system:
                self.endpoint = await self.network.listen(ENGINE_ADDRESS, name="engine")
                async with (
                    open_actor_node(system, self.endpoint) as node,
                    open_store(self.store) as store,
                    open_engine(
                        system, store, self.options, node=node, secret_key=self.credentials.key
                    ) as engine,
                ):
                    if self.credentials.token is None:
                        self.credentials.token = await engine.issue_token("simulated deployment")
                        self.credentials.ready.set()
                    self.record("up", f"incarnation {self.incarnation}")
                    self.up.set()
                    task_status.started()
                    await trio.sleep_forever()


class SimWorker(WorkerActor):
    """The real worker actor, watched by the simulation, with one switch: heartbeats can stall.

    Every attempt it starts and stops is reported to the world's
    :class:`~._invariants.Observations` (with how many attempts of its kind it runs at
    that instant, and the slots for them: durable tasks take durable slots, the others
    ordinary ones). A zombie worker (its heartbeat loop stuck, say) keeps running and
    reporting its tasks; the engine must give its work to others without recording
    anything twice.
    """

    def __init__(self, *args: Any, observations: Observations, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.observations = observations
        self.awake = trio.Event()
        self.awake.set()
        self._durable: set[tuple[str, int]] = set()  # running attempts of durable tasks

    async def _heartbeat(self) -> None:
        await self.awake.wait()
        await super()._heartbeat()

    def _report(self, key: tuple[str, int], outcome: Any) -> None:
        self.observations.reported(key[0], key[1], outcome.status)
        self.context.runtime.record(
            "attempt-end", self.context.name, f"{key[0][:8]}#{key[1]} {outcome.status}"
        )
        super()._report(key, outcome)

    def deliver(self, assign: list[dict[str, Any]], cancel: list[Any], epoch: Any = None) -> bool:
        accepted = super().deliver(assign, cancel, epoch)
        keys = " ".join(f"{p['task_id'][:8]}#{p['attempt']}" for p in assign)
        stops = " ".join(f"{c[0][:8]}#{c[1]}" for c in cancel)
        self.context.runtime.record(
            "delivered",
            self.context.name,
            f"epoch={epoch} accepted={accepted} assign=[{keys}] cancel=[{stops}]",
        )
        return accepted

    def assign(self, payloads: list[dict[str, Any]]) -> None:
        for p in payloads:
            task = self.tasks.get((p["workflow"], p["task"]))
            if task is not None and task.spec.kind is TaskKind.DURABLE:
                self._durable.add((p["task_id"], p["attempt"]))
        super().assign(payloads)
        self._durable &= set(self.running)

    async def _run_attempt(self, task: Any, payload: dict[str, Any], key: Any, control: Any) -> None:
        durable = key in self._durable
        running = sum(1 for k in self.running if (k in self._durable) == durable)
        slots = self.config.durable_slots if durable else self.config.slots
        attempt = self.observations.started(
            self.context.name, payload, self.context.clock.monotonic(), running, slots
        )
        self.context.runtime.record(
            "attempt-start", self.context.name, f"{key[0][:8]}#{key[1]} running={sorted(self.running)}"
        )
        try:
            await super()._run_attempt(task, payload, key, control)
        finally:
            self.observations.stopped(attempt)
            self._durable.discard(key)


class WorkerProcess(_Party):
    """Worker number ``index``: a :class:`SimWorker` dialing the engine."""

    def __init__(self, index: int, config: WorkerConfig, observations: Observations, **kwargs: Any) -> None:
        super().__init__(f"worker-{index}", **kwargs)
        self.config = config
        self.observations = observations
        self.actor: SimWorker | None = None

    def set_zombie(self, zombie: bool) -> None:
        if self.actor is None:
            return
        if zombie:
            self.actor.awake = trio.Event()
        else:
            self.actor.awake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run one incarnation until it crashes."""
        with trio.CancelScope() as scope:
            self._scope = scope
            async with open_runtime(seed=self._seed(), clock=self.clock, trace=self.trace) as system:
                peer = f"{self.name}.{self.incarnation}"
                self.endpoint = await self.network.dial(ENGINE_ADDRESS, name=peer)
                async with open_actor_node(system, self.endpoint) as node:
                    gateway = node.ref(ENGINE_ADDRESS, names.GATEWAY)
                    ref = await system.spawn(
                        SimWorker,
                        self.config,
                        gateway,
                        peer=peer,
                        observations=self.observations,
                        name=peer,
                        signer=self.credentials.sign_in,
                    )
                    instance = ref._cell.instance
                    assert isinstance(instance, SimWorker)
                    self.actor = instance
                    self.record("up", f"incarnation {self.incarnation} as {peer}")
                    self.up.set()
                    task_status.started()
                    try:
                        await trio.sleep_forever()
                    finally:
                        self.actor = None


class ClientProcess(_Party):
    """An application calling the engine's gateway, retrying what faults interrupt."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("client", **kwargs)
        self.gateway: ActorRef | None = None
        self._signed_in = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with trio.CancelScope() as scope:
            self._scope = scope
            async with open_runtime(seed=self._seed(), clock=self.clock, trace=self.trace) as system:
                self.endpoint = await self.network.dial(ENGINE_ADDRESS, name="client")
                async with open_actor_node(system, self.endpoint) as node:
                    self.gateway = node.ref(ENGINE_ADDRESS, names.GATEWAY)
                    self._signed_in = False
                    self.up.set()
                    task_status.started()
                    await trio.sleep_forever()

    async def call(self, method: str, *args: Any, retry_on: Callable[[Any], bool] | None = None) -> Any:
        """Ask the gateway, retrying while the engine is unreachable or restarting.

        Only idempotent calls come here: reads, cancellations, and triggers that carry
        an idempotency key. ``retry_on(answer)`` may ask for another try on an answer.
        """
        while True:
            await self.up.wait()
            assert self.gateway is not None
            try:
                if not self._signed_in:
                    await self.credentials.sign_in(self.gateway)
                    self._signed_in = True
                answer = await getattr(self.gateway, method).options(timeout=30.0).ask(*args)
            except _RETRYABLE:
                await self.clock.sleep(0.5)
                continue
            except ActorError as exc:
                if "RequestError" in exc.error_type:
                    raise
                await self.clock.sleep(0.5)  # the gateway went down under the call
                continue
            if retry_on is not None and retry_on(answer):
                await self.clock.sleep(0.5)
                continue
            return answer
