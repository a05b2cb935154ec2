"""Property tests: any workload under any fault plan keeps the contract; failures shrink."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import ratchet.actors.runs._machine as run_machine
from ratchet.simulation import (
    Cancel,
    ClockJump,
    CommitFailures,
    EngineCrash,
    LossyNetwork,
    Partition,
    SimConfig,
    SlowCommits,
    TaskShape,
    Trigger,
    WorkerCrash,
    WorkflowShape,
    Workload,
    Zombie,
    simulate,
)
from ratchet.simulation.strategies import fault_plans, workflow_shapes, workloads

ONE = WorkflowShape("one", (TaskShape("a"),))
SYNC = WorkflowShape("sync", (TaskShape("s", sync=True),))
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(workloads(), fault_plans(), st.integers(0, 2**32))
def test_any_workload_under_any_fault_plan_keeps_the_contract(
    workload: Workload, faults: tuple, seed: int
) -> None:
    simulate(SimConfig(seed=seed), workload=workload, faults=faults).raise_on_violation()


@settings(max_examples=100, deadline=None)
@given(workflow_shapes())
def test_workflow_shapes_are_valid_dags(shape) -> None:  # type: ignore[no-untyped-def]
    declared: set[str] = set()
    for task in shape.tasks:
        assert set(task.parents) <= declared
        declared.add(task.name)


def test_a_planted_bug_shrinks_to_a_minimal_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_machine, "_PLANTED_IGNORE_BACKOFF", True)

    def fails(case: tuple[Workload, tuple]) -> bool:
        workload, faults = case
        return not simulate(SimConfig(seed=0), workload=workload, faults=faults).ok

    dags_only = {"max_durables": 0, "max_listeners": 0, "max_pushes": 0, "max_crons": 0}
    workload, faults = find(
        st.tuples(workloads(max_workflows=2, max_runs=3, **dags_only), fault_plans(max_faults=2)),
        fails,
        settings=settings(max_examples=100, deadline=None, database=None, derandomize=True),
    )
    # The smallest story of a retry that skips its backoff: one workflow, one run, no
    # cancels and no faults at all; the one task with a retry budget has a backoff, and
    # that is the task whose retry came too early.
    assert faults == ()
    assert len(workload.workflows) == 1 and len(workload.triggers) == 1
    assert workload.cancels == ()
    retrying = [t for t in workload.workflows[0].tasks if t.retries > 0]
    assert len(retrying) == 1 and retrying[0].backoff_factor is not None
    result = simulate(SimConfig(seed=0), workload=workload, faults=faults)
    assert {v.split(":")[0] for v in result.violations} == {"retries-wait-their-backoff"}
    assert all(f"task {retrying[0].name}:" in v for v in result.violations)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Workload((), ()), "at least one workflow"),
        (lambda: WorkflowShape("w", (TaskShape("a", parents=("b",)),)), "not declared before it"),
        (lambda: Workload((ONE, ONE), ()), "names repeat"),
        (lambda: Workload((ONE,), (Trigger(0.0, 3),)), "does not exist"),
        (lambda: Workload((ONE,), (Trigger(0.0, 0, (("a", ("explode",)),)),)), "unknown behaviours"),
        (lambda: Workload((SYNC,), (Trigger(0.0, 0, (("s", ("hang",)),)),)), "unknown behaviours"),
        (lambda: Workload((ONE,), (Trigger(0.0, 0),), (Cancel(1.0, 5),)), "does not exist"),
    ],
)
def test_bad_workloads_are_refused(make, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: EngineCrash(at=-1.0), r"EngineCrash\.at"),
        (lambda: EngineCrash(at=1.0, down_for=float("nan")), r"EngineCrash\.down_for"),
        (lambda: WorkerCrash(at=1.0, worker=-1), r"WorkerCrash\.worker"),
        (lambda: WorkerCrash(at=1.0, worker=True), r"WorkerCrash\.worker"),
        (lambda: Partition(at=1.0, a="engine", b="engine"), "from itself"),
        (lambda: Partition(at=1.0, a="engine", b="database"), "'database'"),
        (lambda: LossyNetwork(at=1.0, loss=1.5), r"LossyNetwork\.loss"),
        (lambda: LossyNetwork(at=1.0, loss=0.9), "a partition"),
        (lambda: CommitFailures(at=1.0, count=0), r"CommitFailures\.count"),
        (lambda: SlowCommits(at="soon"), r"SlowCommits\.at"),
        (lambda: Zombie(at=1.0, duration=1e9), r"Zombie\.duration"),
        (lambda: ClockJump(at=1.0, seconds=-5), r"ClockJump\.seconds"),
    ],
)
def test_bad_faults_are_refused(make, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        make()
