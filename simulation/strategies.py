"""Hypothesis strategies for workloads and fault plans.

A property test draws a workload and a fault plan, simulates them, and demands that the
contract held; when it did not, Hypothesis shrinks both towards the smallest failing
case: fewer workflows and tasks, fewer triggers, attempts that succeed, fewer durable
runs with fewer steps, fewer listeners, events and crons, fewer and later faults. Every
strategy shrinks towards "nothing happens", so a minimal counterexample reads like a
bug report::

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

from ._crons import CronShape
from ._durables import DURABLE_RETRIES, DurableRun, DurableStep
from ._events import EVENT_KEYS, PATTERNS, SCOPES, FilterShape, Listener, Push
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

__all__ = [
    "cron_shapes",
    "durable_runs",
    "durable_steps",
    "fault_plans",
    "faults",
    "listeners",
    "pushes",
    "task_plans",
    "workflow_shapes",
    "workloads",
]

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


def durable_steps(at: float, horizon: float = 20.0) -> st.SearchStrategy[DurableStep]:
    """One step of a durable run triggered at ``at``: a sleep, an event wait (its event pushed
    up to 5 seconds before the run starts, or later), a fan-out, or one child."""
    return st.one_of(
        st.builds(DurableStep, kind=st.just("sleep"), seconds=st.sampled_from([0.5, 0.0, 1.0, 3.0, 8.0])),
        st.builds(
            DurableStep,
            kind=st.just("wait"),
            push_at=st.floats(max(0.0, at - 5.0), max(at, horizon) + 5.0, allow_nan=False),
            decoy=st.booleans(),
        ),
        st.builds(DurableStep, kind=st.just("spawn"), children=st.integers(1, 4), flaky=st.booleans()),
        st.builds(DurableStep, kind=st.just("child"), flaky=st.booleans()),
    )


@st.composite
def durable_runs(draw: Any, horizon: float = 20.0, max_steps: int = 4) -> DurableRun:
    """A durable run of one to ``max_steps`` steps; some tries fail after some steps."""
    at = draw(st.floats(0, horizon, allow_nan=False))
    steps = tuple(draw(st.lists(durable_steps(at, horizon), min_size=1, max_size=max_steps)))
    failures = tuple(draw(st.lists(st.integers(0, len(steps)), max_size=DURABLE_RETRIES + 1)))
    return DurableRun(at, steps, failures)


def listeners() -> st.SearchStrategy[Listener]:
    """An event-triggered workflow: one or two key patterns, maybe filters, a retry budget."""
    filters = st.integers(1, 3).flatmap(
        lambda m: st.builds(
            FilterShape, scope=st.sampled_from(SCOPES), modulus=st.just(m), remainder=st.integers(0, m - 1)
        )
    )
    return st.builds(
        Listener,
        patterns=st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2, unique=True).map(tuple),
        filters=st.lists(filters, max_size=2).map(tuple),
        retries=st.integers(0, 2),
    )


def pushes(horizon: float = 20.0) -> st.SearchStrategy[Push]:
    """An event pushed within ``horizon``; the runs it starts may fail their attempts."""
    return st.builds(
        Push,
        at=st.floats(0, horizon, allow_nan=False),
        key=st.sampled_from(EVENT_KEYS),
        n=st.integers(0, 9),
        scope=st.one_of(st.none(), st.sampled_from(SCOPES)),
        plan=st.lists(st.sampled_from(["ok", "fail", "fatal"]), max_size=2).map(tuple),
    )


@st.composite
def cron_shapes(draw: Any, horizon: float = 20.0) -> CronShape:
    """A cron ticking every 1 to 5 seconds within ``horizon`` (and the first minute)."""
    last_possible = int(min(59, max(1, horizon)))
    first = draw(st.integers(1, last_possible))
    return CronShape(draw(st.integers(1, 5)), first, draw(st.integers(first, last_possible)))


@st.composite
def workloads(
    draw: Any,
    max_workflows: int = 3,
    max_runs: int = 10,
    horizon: float = 20.0,
    *,
    max_durables: int = 2,
    max_listeners: int = 2,
    max_pushes: int = 3,
    max_crons: int = 1,
) -> Workload:
    """Workflows, runs triggered at times within ``horizon``, runs cancelled from outside,
    durable runs, event-triggered workflows and the events pushed to them, and crons
    (``max_*`` of each; 0 leaves a kind out)."""
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
    return Workload(
        shapes,
        tuple(triggers),
        tuple(sorted(cancels, key=lambda c: c.at)),
        durables=tuple(
            sorted(draw(st.lists(durable_runs(horizon), max_size=max_durables)), key=lambda r: r.at)
        ),
        listeners=tuple(draw(st.lists(listeners(), max_size=max_listeners))),
        pushes=tuple(sorted(draw(st.lists(pushes(horizon), max_size=max_pushes)), key=lambda p: p.at)),
        crons=tuple(draw(st.lists(cron_shapes(horizon), max_size=max_crons))),
    )


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
