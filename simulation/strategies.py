"""Hypothesis strategies for workloads and fault plans.

A property test draws a workload and a fault plan, simulates them, and demands that the
contract held; when it did not, Hypothesis shrinks both towards the smallest failing
case: fewer workflows and tasks, fewer triggers, attempts that succeed, fewer and later
faults. Every strategy shrinks towards "nothing happens", so a minimal counterexample
reads like a bug report::

    from hypothesis import given, settings
    from ratchet.simulation import SimConfig, simulate
    from ratchet.simulation.strategies import fault_plans, workloads

    @settings(max_examples=50, deadline=None)
    @given(workloads(), fault_plans())
    def test_the_contract_holds(workload, faults):
        simulate(SimConfig(seed=0), workload=workload, faults=faults).raise_on_violation()
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

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
)
from ._workload import ASYNC_BEHAVIOURS, SYNC_BEHAVIOURS, Cancel, TaskShape, Trigger, WorkflowShape, Workload

__all__ = ["fault_plans", "faults", "task_plans", "workflow_shapes", "workloads"]

_BACKOFFS = st.one_of(st.none(), st.sampled_from([0.5, 1.0, 1.5, 2.0]))


@st.composite
def workflow_shapes(draw: Any, name: str = "wf", max_tasks: int = 5) -> WorkflowShape:
    """A DAG of one to ``max_tasks`` tasks; each may depend on any earlier one."""
    count = draw(st.integers(1, max_tasks))
    tasks: list[TaskShape] = []
    for i in range(count):
        earlier = [t.name for t in tasks]
        parents = (
            draw(st.lists(st.sampled_from(earlier), unique=True, max_size=len(earlier))) if earlier else []
        )
        backoff = draw(_BACKOFFS)
        tasks.append(
            TaskShape(
                name=f"t{i}",
                parents=tuple(sorted(parents)),
                retries=draw(st.integers(0, 3)),
                backoff_factor=backoff,
                backoff_max_seconds=draw(st.one_of(st.none(), st.sampled_from([1.0, 3.0])))
                if backoff
                else None,
                execution_timeout=draw(st.sampled_from([2.0, 1.0, 5.0])),
                sync=draw(st.booleans()),
            )
        )
    return WorkflowShape(name, tuple(tasks))


def task_plans(shape: WorkflowShape) -> st.SearchStrategy[tuple[tuple[str, tuple[str, ...]], ...]]:
    """Per task of ``shape``, the behaviour of each of its attempts (shrinks to all ``ok``)."""
    per_task = [
        st.tuples(
            st.just(task.name),
            st.lists(
                st.sampled_from(SYNC_BEHAVIOURS if task.sync else ASYNC_BEHAVIOURS),
                max_size=task.retries + 1,
            ).map(tuple),
        )
        for task in shape.tasks
    ]
    return st.tuples(*per_task)


@st.composite
def workloads(draw: Any, max_workflows: int = 3, max_runs: int = 10, horizon: float = 20.0) -> Workload:
    """Workflows, runs triggered at times within ``horizon``, and runs cancelled from outside."""
    shapes = tuple(
        draw(workflow_shapes(name=f"sim-wf-{i}")) for i in range(draw(st.integers(1, max_workflows)))
    )
    triggers = []
    for _ in range(draw(st.integers(1, max_runs))):
        index = draw(st.integers(0, len(shapes) - 1))
        triggers.append(
            Trigger(
                at=draw(st.floats(0, horizon, allow_nan=False)),
                workflow=index,
                plan=draw(task_plans(shapes[index])),
                work=draw(st.sampled_from([0.1, 0.01, 0.5, 1.5])),
            )
        )
    triggers.sort(key=lambda t: t.at)
    cancels = draw(
        st.lists(
            st.builds(
                Cancel, at=st.floats(0, horizon, allow_nan=False), trigger=st.integers(0, len(triggers) - 1)
            ),
            max_size=3,
        )
    )
    return Workload(shapes, tuple(triggers), tuple(sorted(cancels, key=lambda c: c.at)))


def faults(workers: int = 2, horizon: float = 20.0) -> st.SearchStrategy[Fault]:
    """One fault of any kind, firing within ``horizon``."""
    at = st.floats(0, horizon, allow_nan=False)
    worker = st.integers(0, workers - 1)
    parties = ["engine", "client", *(f"worker-{i}" for i in range(workers))]
    pairs = st.tuples(st.sampled_from(parties), st.sampled_from(parties)).filter(lambda p: p[0] != p[1])
    seconds = st.floats(0.1, 10.0, allow_nan=False)
    probability = st.floats(0.0, 0.3, allow_nan=False)
    return st.one_of(
        st.builds(EngineCrash, at=at, down_for=st.floats(0.0, 3.0, allow_nan=False), notify=st.booleans()),
        st.builds(
            WorkerCrash,
            at=at,
            worker=worker,
            down_for=st.floats(0.0, 3.0, allow_nan=False),
            notify=st.booleans(),
        ),
        pairs.flatmap(
            lambda p: st.builds(Partition, at=at, a=st.just(p[0]), b=st.just(p[1]), duration=seconds)
        ),
        st.builds(
            LossyNetwork,
            at=at,
            duration=seconds,
            loss=probability,
            duplicate=probability,
            reorder=probability,
            jitter=st.floats(0.0, 0.05, allow_nan=False),
        ),
        st.builds(CommitFailures, at=at, count=st.integers(1, 3)),
        st.builds(SlowCommits, at=at, duration=seconds, delay=st.floats(0.0, 1.0, allow_nan=False)),
        st.builds(Zombie, at=at, worker=worker, duration=st.floats(0.5, 15.0, allow_nan=False)),
        st.builds(ClockJump, at=at, seconds=st.floats(0.0, 5.0, allow_nan=False)),
    )


def fault_plans(workers: int = 2, horizon: float = 20.0, max_faults: int = 8) -> st.SearchStrategy[FaultPlan]:
    """Up to ``max_faults`` faults of any kinds, in time order (shrinks to no faults)."""
    return st.lists(faults(workers, horizon), max_size=max_faults).map(
        lambda plan: tuple(sorted(plan, key=lambda f: (f.at, type(f).__name__)))
    )
