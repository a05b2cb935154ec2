"""Recovery races the simulation found, as regression tests.

- A workflow version whose registration failed to commit must not stay in the engine's
  memory: runs created against it could never be rebuilt after a restart.
- A coordinator that restarts must not read the store before the commits its previous
  incarnation handed the writer have landed, or a run created just then is never driven.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from flow_engine import Cluster, run_engine

from ratchet import Context, Ratchet
from ratchet.runtime import ActorError
from ratchet.simulation import chaos, simulate_workflows


def test_a_version_whose_registration_failed_is_forgotten(tmp_path: Any) -> None:
    def workflows(cluster: Cluster) -> list[Any]:
        r = Ratchet()
        wf = r.workflow("late", input_validator=dict)

        @wf.task()
        async def step(input: dict[str, Any], ctx: Context) -> str:
            return "done"

        return [wf]

    async def scenario(cluster: Cluster) -> Any:
        spec = cluster.workflows[0].spec.to_dict()
        request = {"worker_id": "w2", "name": "w2", "actor": "timers", "slots": 1, "workflows": [spec]}
        assert cluster.store is not None
        cluster.store.fail_next_transaction()
        with pytest.raises(ActorError):
            await cluster.call("register_worker", request)
        await trio.sleep(0.01)
        known_after_failure = "late" in await cluster.call("list_workflows")
        await cluster.call("register_worker", request)  # registers it for good this time
        stored = await cluster.store.list_workflows("default")
        return known_after_failure, [w.name for w in stored]

    _, (known_after_failure, stored) = run_engine(workflows, scenario, workers=())
    assert not known_after_failure
    assert stored == ["late"]


def shapes() -> list[Any]:
    r = Ratchet()
    pipeline = r.workflow("pipeline", input_validator=dict)

    @pipeline.task(retries=2)
    async def fetch(input: dict[str, Any], ctx: Context) -> str:
        await trio.sleep(0.3)
        return "fetched"

    @pipeline.task(parents=[fetch], retries=1)
    async def summarise(input: dict[str, Any], ctx: Context) -> str:
        await trio.sleep(0.2)
        return "summarised"

    single = r.workflow("single", input_validator=dict)

    @single.task()
    async def sync(input: dict[str, Any], ctx: Context) -> str:
        await trio.sleep(1.0)
        return "synced"

    return [pipeline, single]


async def scenario(sim: Any) -> None:
    for round_ in range(6):
        for user in ("ann", "bob", "cat"):
            await sim.trigger("pipeline", {"user": user, "round": round_})
        await sim.trigger("single", {"round": round_})
        await sim.sleep(sim.random.uniform(0.1, 1.0))


@pytest.mark.parametrize("seed", [97, 121, 156])
def test_runs_created_while_the_coordinator_restarts_are_driven(seed: int) -> None:
    # with these seeds a run stayed QUEUED for ever before the coordinator waited for
    # earlier commits and forgot failed registrations
    simulate_workflows(shapes(), scenario, seed=seed, faults=chaos(horizon=10.0)).raise_on_violation()
