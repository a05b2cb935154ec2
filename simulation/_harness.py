"""Simulating *your* workflows: the function and the pytest fixture users call.

Write the scenario your application plays (trigger runs, wait for them, cancel some),
pick faults, state what must hold, and run it over as many seeds as you like::

    from ratchet.simulation import chaos, simulate_workflows

    provider = FakePaymentProvider()  # in memory; charges are deduplicated by key

    @payments.task(retries=3)
    async def charge(input: dict, ctx) -> dict:
        # execution is at least once: a crashed worker's attempt runs again, so charge
        # with an idempotency key the provider honours
        return provider.charge(input["order"], input["amount"], key=ctx.workflow_run_id)

    async def scenario(sim):
        for order in ("o1", "o2", "o3"):
            await sim.trigger(payments, {"order": order, "amount": 10})

    def charged_once(sim):
        return [f"{order} charged {n} times" for order, n in provider.charges().items() if n != 1]

    for seed in range(50):
        provider.reset()
        simulate_workflows(
            [payments], scenario, seed=seed, faults=chaos(), invariants=[charged_once]
        ).raise_on_violation()

Or, in pytest, the ``ratchet_simulation`` fixture runs the seeds and fails the test with
the first failing seed's verdict (``ratchet_simulation.run([payments], scenario,
faults=chaos(), invariants=[charged_once], setup=provider.reset)``).

A scenario can push events too (``await sim.push("order:paid", {"order": "o1"})``) to
start workflows declared with ``on_events``; ``push_events`` takes no idempotency key,
so a push whose answer a crash lost is pushed again and may be stored twice: let your
invariants allow for an event delivered twice, as your application must.

The built-in invariants of :data:`~ratchet.simulation.INVARIANTS` are checked too, but
for the four about durable runs, events and crons, which need to know what the
built-in workload meant to happen (state yours as your own invariants). The
rule of the simulation holds for your code: no threads (sync task functions run inline),
no sockets, files or wall clock; use ``trio.sleep`` for time, and keep whatever your
tasks touch in memory, reset per seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ratchet._declare.workflow import Workflow
from ratchet.runtime import RandomSource

from ._faults import FaultPlan, draw_faults
from ._simulate import SimConfig
from ._world import Scenario, SimResult, UserInvariant, WorldSetup, run_world

__all__ = ["FaultSource", "SimulationRunner", "chaos", "simulate_workflows"]

FaultSource = Callable[[RandomSource, int], FaultPlan]
"""Draws a fault plan from a seeded random source, for a cluster of ``workers`` workers."""


def chaos(*, horizon: float = 20.0, **counts: int) -> FaultSource:
    """A fault source: faults of every kind at moments drawn from the seed.

    Args:
        horizon: virtual seconds after the start within which faults fire.
        counts: how many faults of each kind, by :class:`SimConfig` field name
            (``engine_crashes``, ``worker_crashes``, ``partitions``, ``lossy_windows``,
            ``commit_failures``, ``slow_commit_windows``, ``zombies``, ``clock_jumps``);
            one of each by default.

    Raises:
        ValueError: an unknown kind or a bad count.
    """
    config = SimConfig(seed=0, horizon=horizon, **counts)  # validates names and counts

    def draw(random: RandomSource, workers: int) -> FaultPlan:
        return draw_faults(random, config.fault_counts(), workers=workers, horizon=horizon)

    return draw


def simulate_workflows(
    workflows: Sequence[Workflow],
    scenario: Scenario,
    *,
    seed: int = 0,
    faults: FaultPlan | FaultSource = (),
    invariants: Iterable[UserInvariant] = (),
    workers: int = 2,
    slots: int = 4,
    settle: float = 600.0,
) -> SimResult:
    """Run ``scenario`` against ``workflows`` in a simulated cluster, with faults.

    Args:
        workflows: the workflows (and standalone tasks) the simulated workers run.
        scenario: ``async def scenario(sim: SimClient)``: what your application does.
        seed: reproduces the whole run; a failing seed replays exactly.
        faults: a fault plan, or a fault source such as :func:`chaos` (drawn from the seed).
        invariants: your checks, each called with the :class:`SimClient` once every run
            has ended; each returns a list of violation texts (empty when it holds) or
            raises ``AssertionError``. Its function name is the invariant's name.
        workers: simulated worker processes.
        slots: slots per worker.
        settle: virtual seconds allowed, after the scenario and the faults, for every run to end.

    Returns:
        The verdict: ``result.ok``, ``result.violations``, ``result.verdict()``, and
        ``result.raise_on_violation()`` for tests.

    Raises:
        ValueError: bad arguments (nothing runs).
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"simulate_workflows: seed must be an int, got {seed!r}")
    workflows = list(workflows)
    if not workflows or not all(isinstance(wf, Workflow) for wf in workflows):
        raise ValueError("simulate_workflows: give a non-empty list of workflows or standalone tasks")
    if not callable(scenario):
        raise ValueError(f"simulate_workflows: scenario must be an async function, got {scenario!r}")
    for name, value in (("workers", workers), ("slots", slots)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
            raise ValueError(
                f"simulate_workflows: {name} must be a whole number from 1 to 1000, got {value!r}"
            )
    checks = list(invariants)
    for check in checks:
        if not callable(check):
            raise ValueError(f"simulate_workflows: invariant {check!r} is not callable")
    plan = faults(RandomSource(seed).fork("faults"), workers) if callable(faults) else tuple(faults)
    return run_world(
        WorldSetup(
            seed=seed,
            workflows=workflows,
            scenario=scenario,
            faults=plan,
            workers=workers,
            slots=slots,
            settle=settle,
            invariants=checks,
        )
    )


@dataclass
class SimulationRunner:
    """What the ``ratchet_simulation`` fixture gives a test: :func:`simulate_workflows`
    over many seeds, failing the test with the first failing seed's verdict."""

    seeds: Iterable[int] = range(20)

    def run(
        self,
        workflows: Sequence[Workflow],
        scenario: Scenario,
        *,
        seeds: Iterable[int] | None = None,
        **options: Any,
    ) -> list[SimResult]:
        """Simulate every seed; raise ``AssertionError`` naming the first that fails.

        ``options`` are those of :func:`simulate_workflows`. Whatever your task
        functions keep (a fake provider's ledger, say) must be reset per seed: pass
        ``setup=`` a function called before each seed to do that.
        """
        setup: Callable[[], Any] | None = options.pop("setup", None)
        results = []
        for seed in self.seeds if seeds is None else seeds:
            if setup is not None:
                setup()
            result = simulate_workflows(workflows, scenario, seed=seed, **options)
            if not result.ok:
                raise AssertionError(
                    f"the simulation failed with seed {seed}; replay it with seed={seed}\n{result.verdict()}"
                )
            results.append(result)
        return results
