"""Flow-control workloads in the deterministic simulation, with faults.

The workflows below (concurrency per key with each strategy, task-level limits, rate
limits, priorities) run through :func:`ratchet.simulation.simulate_workflows`: engine,
workers and client as separate processes on a simulated network, with engine and worker
crashes, partitions, lossy links, failing commits, zombies and clock jumps drawn from
each seed. Every seed must keep the simulation's own invariants and every flow-control
invariant the scheduler's trace can be checked for (max_runs at every instant, the
victims of CANCEL_NEWEST and CANCEL_IN_PROGRESS, rate-limit windows).
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from ratchet import ConcurrencyExpression, ConcurrencyLimitStrategy, Context, Ratchet, RateLimit
from ratchet.simulation import chaos, simulate_workflows
from ratchet.simulation._flow_invariants import flow_trace, flow_violations

SEEDS = range(24)


def workflows() -> list[Any]:
    r = Ratchet()
    per_user = r.workflow(
        "per-user", input_validator=dict, concurrency=ConcurrencyExpression("input.user", 2)
    )

    @per_user.task(retries=2)
    async def fetch(input: dict[str, Any], ctx: Context) -> str:
        await trio.sleep(0.3)
        return "fetched"

    @per_user.task(
        parents=[fetch],
        retries=1,
        concurrency=ConcurrencyExpression("input.user", 1),
        rate_limits=[RateLimit(dynamic_key="input.user", units=1, limit=2, duration="SECOND")],
    )
    async def summarise(input: dict[str, Any], ctx: Context) -> str:
        await trio.sleep(0.2)
        return "summarised"

    latest = r.workflow(
        "latest-only",
        input_validator=dict,
        concurrency=ConcurrencyExpression("input.user", 1, ConcurrencyLimitStrategy.CANCEL_IN_PROGRESS),
    )

    @latest.task()
    async def sync(input: dict[str, Any], ctx: Context) -> str:
        await trio.sleep(1.0)
        return "synced"

    once = r.workflow(
        "once", input_validator=dict, concurrency=ConcurrencyExpression("input.user", 1, "CANCEL_NEWEST")
    )

    @once.task()
    async def only(input: dict[str, Any], ctx: Context) -> str:
        await trio.sleep(0.5)
        return "only"

    return [per_user, latest, once]


async def scenario(sim: Any) -> None:
    for round_ in range(6):
        for user in ("ann", "bob", "cat"):
            await sim.trigger("per-user", {"user": user, "round": round_})
        await sim.trigger("latest-only", {"user": sim.random.choice(["ann", "bob"])})
        await sim.trigger("once", {"user": "ann"})
        await sim.sleep(sim.random.uniform(0.1, 1.0))


@pytest.mark.parametrize("seed", SEEDS)
def test_flow_control_holds_under_faults(seed: int) -> None:
    result = simulate_workflows(workflows(), scenario, seed=seed, faults=chaos(horizon=10.0))
    result.raise_on_violation()
    lines = result.trace_text.splitlines()
    trace = flow_trace(lines)
    assert trace.concurrency and trace.rates, "the workload exercised flow control"
    assert flow_violations(lines) == []
