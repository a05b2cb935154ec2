"""The built-in simulation: a seeded workload under a seeded fault plan.

``simulate(seed)`` draws everything from the seed: randomly shaped DAG workflows, the
runs to trigger and cancel, and one fault of every kind at random moments. Pass a
:class:`~._workload.Workload` or a fault plan to fix either (a test, a Hypothesis
example, a regression kept in the suite); the seed still drives the scheduler and every
random choice made while running.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from ratchet.runtime import RandomSource

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
from ._workload import Workload, build_workflows, draw_workload
from ._world import Scenario, SimClient, SimResult, WorldSetup, run_world

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
)
_AT_LEAST_ONE = ("runs", "workflows", "workers", "slots")


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
    """The client's part of a workload: trigger each run at its time, cancel some."""

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

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trigger_all)
            nursery.start_soon(cancel_all)

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
        )
    if faults is None:
        faults = draw_faults(
            random.fork("faults"), config.fault_counts(), workers=config.workers, horizon=config.horizon
        )
    setup = WorldSetup(
        seed=config.seed,
        workflows=build_workflows(workload),
        scenario=workload_scenario(workload),
        faults=faults,
        workers=config.workers,
        slots=config.slots,
        settle=config.settle,
    )
    return run_world(setup)
