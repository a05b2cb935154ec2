"""Users simulate their own workflows: faults, their own invariants, the pytest fixture."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from ratchet import Context, Ratchet
from ratchet.simulation import (
    SimClient,
    SimulationRunner,
    WorkerCrash,
    chaos,
    simulate_workflows,
)


class FakeProvider:
    """A payment provider in memory: what it charged, per order; optionally deduplicating."""

    def __init__(self, *, dedupe: bool) -> None:
        self.dedupe = dedupe
        self.reset()

    def reset(self) -> None:
        self.ledger: dict[str, int] = {}
        self.keys: set[str] = set()

    def charge(self, order: str, key: str) -> None:
        if self.dedupe and key in self.keys:
            return
        self.keys.add(key)
        self.ledger[order] = self.ledger.get(order, 0) + 1


def payment_workflow(provider: FakeProvider) -> Any:
    ratchet = Ratchet()
    payments = ratchet.workflow("payments", input_validator=dict)

    @payments.task(retries=3, execution_timeout="10s")
    async def charge(input: dict[str, Any], ctx: Context) -> dict[str, Any]:
        provider.charge(input["order"], key=ctx.workflow_run_id)
        await trio.sleep(2.0)  # talk to the bank: a crash now means the charge already happened
        return {"charged": input["order"]}

    @payments.task(parents=[charge])
    async def receipt(input: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return {"receipt": ctx.task_output(charge)["charged"]}

    return payments


ORDERS = ("o1", "o2", "o3", "o4")


async def pay_every_order(sim: SimClient) -> None:
    for order in ORDERS:
        await sim.trigger("payments", {"order": order})
        await sim.sleep(0.5)


def charged_once(provider: FakeProvider) -> Any:
    def charged_once(sim: SimClient) -> list[str]:
        return [
            f"order {o} charged {provider.ledger.get(o, 0)} times"
            for o in ORDERS
            if provider.ledger.get(o) != 1
        ]

    return charged_once


CRASHES = (WorkerCrash(at=1.0, worker=0), WorkerCrash(at=1.2, worker=1), WorkerCrash(at=4.0, worker=0))


def test_the_simulation_catches_a_payment_charged_twice() -> None:
    # Execution is at least once: a worker that dies after charging is retried elsewhere.
    provider = FakeProvider(dedupe=False)
    payments = payment_workflow(provider)
    result = simulate_workflows(
        [payments], pay_every_order, seed=1, faults=CRASHES, invariants=[charged_once(provider)]
    )
    assert not result.ok
    assert any(v.startswith("charged_once: order") and "charged 2 times" in v for v in result.violations)
    with pytest.raises(AssertionError, match="charged_once"):
        result.raise_on_violation()


def test_an_idempotent_payment_is_charged_once_whatever_crashes(ratchet_simulation: SimulationRunner) -> None:
    provider = FakeProvider(dedupe=True)
    payments = payment_workflow(provider)
    results = ratchet_simulation.run(
        [payments],
        pay_every_order,
        seeds=range(10),
        faults=chaos(horizon=8.0, worker_crashes=2, engine_crashes=1),
        invariants=[charged_once(provider)],
        setup=provider.reset,
    )
    assert len(results) == 10
    assert all(r.run_statuses.get("COMPLETED") == len(ORDERS) for r in results)


def test_the_fixture_names_the_failing_seed(ratchet_simulation: SimulationRunner) -> None:
    provider = FakeProvider(dedupe=False)
    payments = payment_workflow(provider)
    with pytest.raises(AssertionError, match=r"failed with seed 1; replay it with seed=1"):
        ratchet_simulation.run(
            [payments],
            pay_every_order,
            seeds=[1],
            faults=CRASHES,
            invariants=[charged_once(provider)],
            setup=provider.reset,
        )


def test_a_scenario_waits_for_results_and_reads_outputs() -> None:
    provider = FakeProvider(dedupe=True)
    payments = payment_workflow(provider)
    seen: list[Any] = []

    async def scenario(sim: SimClient) -> None:
        run = await sim.run(payments, {"order": "o9"})
        seen.append((run["status"], run["output"]))

    def asserts_output(sim: SimClient) -> None:
        assert seen == [("COMPLETED", {"charge": {"charged": "o9"}, "receipt": {"receipt": "o9"}})]

    result = simulate_workflows([payments], scenario, seed=3, invariants=[asserts_output])
    assert result.ok, result.verdict()
    assert result.acknowledged == 1


def test_a_failing_user_assertion_is_a_named_violation() -> None:
    payments = payment_workflow(FakeProvider(dedupe=True))

    def never_holds(sim: SimClient) -> None:
        raise AssertionError("the books do not balance")

    result = simulate_workflows([payments], pay_every_order, seed=0, invariants=[never_holds])
    assert result.violations == ["never_holds: the books do not balance"]


@pytest.mark.parametrize(
    ("workflows", "options", "match"),
    [
        ("none", {}, "non-empty list of workflows"),
        ("garbage", {}, "non-empty list of workflows"),
        ("payments", {"scenario": "not a function"}, "scenario must be an async function"),
        ("payments", {"seed": "7"}, "seed must be an int"),
        ("payments", {"workers": 0}, "workers must be a whole number"),
        ("payments", {"slots": 10**6}, "slots must be a whole number"),
        ("payments", {"invariants": [42]}, "is not callable"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(workflows: str, options: dict, match: str) -> None:
    given = {
        "none": [],
        "garbage": [object()],
        "payments": [payment_workflow(FakeProvider(dedupe=True))],
    }[workflows]
    with pytest.raises(ValueError, match=match):
        simulate_workflows(given, **{"scenario": pay_every_order, **options})


@pytest.mark.parametrize(
    "counts",
    [{"horizon": 0}, {"worker_crashes": -1}, {"earthquakes": 1}, {"zombies": 1.5}],
)
def test_chaos_refuses_bad_counts(counts: dict) -> None:
    with pytest.raises((ValueError, TypeError)):
        chaos(**counts)
