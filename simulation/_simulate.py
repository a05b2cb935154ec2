"""The built-in simulation: a seeded workload under a seeded fault plan.

``simulate(seed)`` draws everything from the seed: randomly shaped DAG workflows, the
runs to trigger and cancel, durable runs that sleep, wait for events and spawn
children, event-triggered workflows and the events pushed to them, crons, and one fault
of every kind at random moments. Pass a :class:`~._workload.Workload` or a fault plan to
fix either (a test, a Hypothesis example, a regression kept in the suite); the seed
still drives the scheduler and every random choice made while running.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import trio

from ratchet.runtime import RandomSource

from ._client import SimClient
from ._durables import DURABLE_WORKFLOW, DurableTrail
from ._events import listener_name
from ._faults import (
    ClockJump,
    CommitFailures,
    EngineCrash,
    FaultPlan,
    LossyNetwork,
    Partition,
    SlowCommits,
    WorkerCrash,
    Zombie,
    draw_faults,
)
from ._waiting_invariants import waiting_checks
from ._workload import Workload, build_workflows, draw_workload
from ._world import Scenario, SimResult, WorldSetup, run_world

__all__ = ["SimConfig", "simulate"]

_COUNTED = (
    "runs",
    "workflows",
    "workers",
    "slots",
    "engine_crashes",
    "worker_crashes",
    "partitions",
    "lossy_windows",
    "commit_failures",
    "slow_commit_windows",
    "zombies",
    "clock_jumps",
    "cancels",
    "durable_runs",
    "listeners",
    "pushes",
    "crons",
)
_AT_LEAST_ONE = ("runs", "workflows", "workers", "slots")
_HEAVY = {
    "runs": 40,
    "workflows": 4,
    "workers": 3,
    "slots": 2,
    "engine_crashes": 3,
    "worker_crashes": 3,
    "partitions": 2,
    "lossy_windows": 2,
    "commit_failures": 2,
    "slow_commit_windows": 2,
    "zombies": 2,
    "clock_jumps": 2,
    "cancels": 3,
    "durable_runs": 6,
    "listeners": 3,
    "pushes": 6,
    "crons": 2,
    "horizon": 40.0,
}


@dataclass(frozen=True)
class SimConfig:
    """The shape of one built-in simulation.

    Attributes:
        seed: everything random is drawn from it.
        runs: runs the client triggers.
        workflows: randomly shaped DAG workflows.
        workers: worker processes.
        slots: slots per worker.
        engine_crashes, worker_crashes, partitions, lossy_windows, commit_failures,
        slow_commit_windows, zombies, clock_jumps: faults of each kind in the plan.
        cancels: runs the client cancels from outside.
        durable_runs: runs of the durable task (steps drawn: sleeps, event waits, children).
        listeners: event-triggered workflows (key patterns, some with filters).
        pushes: events the client pushes to them (besides those durable waits wait for).
        crons: workflows on a cron ticking every few seconds within the horizon.
        horizon: virtual seconds within which triggers and faults happen.
        settle: virtual seconds allowed afterwards for every run to end.
    """

    seed: int
    runs: int = 12
    workflows: int = 3
    workers: int = 2
    slots: int = 3
    engine_crashes: int = 1
    worker_crashes: int = 1
    partitions: int = 1
    lossy_windows: int = 1
    commit_failures: int = 1
    slow_commit_windows: int = 1
    zombies: int = 1
    clock_jumps: int = 1
    cancels: int = 1
    durable_runs: int = 2
    listeners: int = 2
    pushes: int = 3
    crons: int = 1
    horizon: float = 20.0
    settle: float = 600.0

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"SimConfig.seed must be an int, got {self.seed!r}")
        for name in _COUNTED:
            value = getattr(self, name)
            least = 1 if name in _AT_LEAST_ONE else 0
            if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= 100_000:
                raise ValueError(
                    f"SimConfig.{name} must be a whole number from {least} to 100000, got {value!r}"
                )
        for name in ("horizon", "settle"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e9:
                raise ValueError(f"SimConfig.{name} must be a positive number of seconds, got {value!r}")

    @classmethod
    def heavy(cls, seed: int, **changes: Any) -> SimConfig:
        """The heavy-fault profile: two to three faults of every kind, where the default
        has one, on a busier world (40 runs of 4 workflows, 6 durable runs, 2 crons, 3
        workers of 2 slots each) over 40 virtual seconds.

        Faults then overlap: an engine crash lands during slow commits, a second crash
        follows the first before its recovery settled, a worker crashes while the engine
        is down. ``changes`` override single fields.
        """
        return cls(seed=seed, **{**_HEAVY, **changes})

    def fault_counts(self) -> dict[type, int]:
        return {
            EngineCrash: self.engine_crashes,
            WorkerCrash: self.worker_crashes,
            Partition: self.partitions,
            LossyNetwork: self.lossy_windows,
            CommitFailures: self.commit_failures,
            SlowCommits: self.slow_commit_windows,
            Zombie: self.zombies,
            ClockJump: self.clock_jumps,
        }


def workload_scenario(workload: Workload) -> Scenario:
    """The client's part of a workload: trigger each run at its time, cancel some, push
    the events, and stay until the crons' last tick has come."""

    async def scenario(client: SimClient) -> None:
        run_ids: dict[int, str] = {}
        done = trio.Event()

        async def trigger_all() -> None:
            for i, trigger in enumerate(workload.triggers):
                await client.sleep(max(0.0, trigger.at - client.now()))
                name = workload.workflows[trigger.workflow].name
                input = {"plan": trigger.plan_dict(), "work": trigger.work}
                run_ids[i] = await client.trigger(name, input, key=f"trigger-{i}")
            done.set()

        async def cancel_all() -> None:
            for cancel in workload.cancels:
                await client.sleep(max(0.0, cancel.at - client.now()))
                run_id = run_ids.get(cancel.trigger)
                if run_id is not None:
                    await client.cancel(run_id)

        async def start_durables() -> None:
            for i, run in enumerate(workload.durables):
                await client.sleep(max(0.0, run.at - client.now()))
                await client.trigger(DURABLE_WORKFLOW, run.input(i), key=f"durable-{i}")

        async def push_all() -> None:
            # an event starts runs only of the workflows registered when it is pushed
            await client.wait_registered([listener_name(i) for i in range(len(workload.listeners))])
            for at, key, payload, scope in workload.event_pushes():
                await client.sleep(max(0.0, at - client.now()))
                await client.push(key, payload, scope=scope)

        async def last_tick() -> None:
            ticks = [tick for cron in workload.crons for tick in cron.ticks()]
            await client.sleep(max(0.0, max(ticks, default=0) + 1.0 - client.now()))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trigger_all)
            nursery.start_soon(cancel_all)
            if workload.durables:
                nursery.start_soon(start_durables)
            if workload.event_pushes():
                nursery.start_soon(push_all)
            if workload.crons:
                nursery.start_soon(last_tick)

    return scenario


def simulate(
    config: SimConfig | int, *, workload: Workload | None = None, faults: FaultPlan | None = None
) -> SimResult:
    """Run one built-in simulation and check its invariants.

    Args:
        config: a :class:`SimConfig`, or just a seed.
        workload: the workflows and runs (default: drawn from the seed).
        faults: the fault plan (default: drawn from the seed).
    """
    if not isinstance(config, SimConfig):
        config = SimConfig(seed=config)
    random = RandomSource(config.seed)
    if workload is None:
        workload = draw_workload(
            random.fork("workload"),
            workflows=config.workflows,
            runs=config.runs,
            cancels=config.cancels,
            horizon=config.horizon,
            durables=config.durable_runs,
            listeners=config.listeners,
            pushes=config.pushes,
            crons=config.crons,
        )
    if faults is None:
        faults = draw_faults(
            random.fork("faults"), config.fault_counts(), workers=config.workers, horizon=config.horizon
        )
    trail = DurableTrail()
    setup = WorldSetup(
        seed=config.seed,
        workflows=build_workflows(workload, trail),
        scenario=workload_scenario(workload),
        faults=faults,
        workers=config.workers,
        slots=config.slots,
        settle=config.settle,
        checks=waiting_checks(workload, trail),
    )
    return run_world(setup)
