"""Workloads: the workflows a simulation runs and the runs its client triggers.

A :class:`Workload` is plain data (frozen dataclasses), so it can be drawn from a seed
(:func:`draw_workload`), written by hand in a test, or generated and shrunk by
Hypothesis (:mod:`ratchet.simulation.strategies`). :func:`build_workflows` turns its
shapes into real :class:`~ratchet.Workflow` objects whose task functions do what each
trigger's *plan* says, attempt by attempt:

- ``ok``: return an output that names the task and the run (children check it);
- ``fail``: raise a retryable error;
- ``fatal``: raise :class:`~ratchet.NonRetryableException`;
- ``hang``: sleep far past the execution timeout (the engine must stop it);
- ``cancel``: cancel the task's own run through ``ctx.aio_cancel()``, then wait to be
  stopped.

Sync task functions (``TaskShape.sync``) run inline on the simulation's one thread
(the rule of the simulation: no threads), so they cannot sleep; they only take the
``ok``, ``fail`` and ``fatal`` behaviours.

Besides those DAGs, a workload holds work that waits: durable runs
(:mod:`._durables`), event-triggered workflows and the events pushed to them
(:mod:`._events`), and crons (:mod:`._crons`). Each kind is optional; a workload of
DAGs alone runs exactly as it did before the other kinds existed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from ratchet._declare.workflow import Workflow
from ratchet._errors import NonRetryableException
from ratchet.runtime import RandomSource

from ._crons import CronShape, build_crons, draw_crons
from ._durables import (
    CHILD_WORKFLOW,
    DURABLE_WORKFLOW,
    DurableRun,
    DurableTrail,
    build_durable_workflows,
    draw_durables,
    wait_key,
)
from ._events import Listener, Push, build_listeners, draw_events

__all__ = [
    "ASYNC_BEHAVIOURS",
    "SYNC_BEHAVIOURS",
    "Cancel",
    "TaskShape",
    "Trigger",
    "WorkflowShape",
    "Workload",
    "build_workflows",
    "draw_workload",
]

ASYNC_BEHAVIOURS = ("ok", "fail", "fatal", "hang", "cancel")
SYNC_BEHAVIOURS = ("ok", "fail", "fatal")
# How often each behaviour is drawn for one attempt (most attempts succeed).
_WEIGHTS = {"ok": 10, "fail": 3, "fatal": 1, "hang": 1, "cancel": 1}
_RESERVED = ("sim-listener-", "sim-cron-")


@dataclass(frozen=True)
class TaskShape:
    """One task of a simulated workflow.

    Attributes:
        name: the task's name.
        parents: names of earlier tasks of the same workflow.
        retries: the task's ``retries``.
        backoff_factor: the task's ``backoff_factor`` (None: retry at once).
        backoff_max_seconds: the task's ``backoff_max_seconds`` (None: no cap).
        execution_timeout: seconds.
        sync: a plain ``def`` task instead of ``async def``.
    """

    name: str
    parents: tuple[str, ...] = ()
    retries: int = 0
    backoff_factor: float | None = None
    backoff_max_seconds: float | None = None
    execution_timeout: float = 2.0
    sync: bool = False


@dataclass(frozen=True)
class WorkflowShape:
    """A simulated workflow: a name and a DAG of tasks in declaration order."""

    name: str
    tasks: tuple[TaskShape, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for task in self.tasks:
            missing = [p for p in task.parents if p not in seen]
            if missing:
                raise ValueError(
                    f"workflow shape {self.name!r}: task {task.name!r} lists parents {missing} "
                    "that are not declared before it"
                )
            seen.add(task.name)


@dataclass(frozen=True)
class Trigger:
    """One run the client triggers.

    Attributes:
        at: virtual seconds after the simulation starts.
        workflow: index into :attr:`Workload.workflows`.
        plan: per task, the behaviour of each attempt (attempts past the plan succeed).
        work: virtual seconds an async task works before it acts out its behaviour.
    """

    at: float
    workflow: int
    plan: tuple[tuple[str, tuple[str, ...]], ...] = ()
    work: float = 0.1

    def plan_dict(self) -> dict[str, list[str]]:
        return {name: list(behaviours) for name, behaviours in self.plan}


@dataclass(frozen=True)
class Cancel:
    """The client cancels the run of trigger number ``trigger`` at time ``at``."""

    at: float
    trigger: int


@dataclass(frozen=True)
class Workload:
    """Workflows, the runs triggered of them, the runs cancelled from outside, and work
    that waits.

    Attributes:
        workflows: DAG workflows.
        triggers: runs of them.
        cancels: runs cancelled from outside.
        durables: runs of the durable task (see :mod:`._durables`).
        listeners: event-triggered workflows (see :mod:`._events`).
        pushes: events the client pushes (besides those durable waits wait for).
        crons: workflows on a cron (see :mod:`._crons`).
    """

    workflows: tuple[WorkflowShape, ...]
    triggers: tuple[Trigger, ...]
    cancels: tuple[Cancel, ...] = ()
    durables: tuple[DurableRun, ...] = ()
    listeners: tuple[Listener, ...] = ()
    pushes: tuple[Push, ...] = ()
    crons: tuple[CronShape, ...] = ()

    def __post_init__(self) -> None:
        if not (self.workflows or self.durables or self.listeners or self.crons):
            raise ValueError("a workload needs at least one workflow, durable run, listener or cron")
        names = [w.name for w in self.workflows]
        if len(set(names)) != len(names):
            raise ValueError(f"workload workflow names repeat: {names}")
        for trigger in self.triggers:
            if not 0 <= trigger.workflow < len(self.workflows):
                raise ValueError(f"trigger {trigger} names workflow {trigger.workflow}, which does not exist")
            shape = self.workflows[trigger.workflow]
            sync = {t.name for t in shape.tasks if t.sync}
            for name, behaviours in trigger.plan:
                allowed = SYNC_BEHAVIOURS if name in sync else ASYNC_BEHAVIOURS
                bad = [b for b in behaviours if b not in allowed]
                if bad:
                    raise ValueError(f"trigger plan for {shape.name}.{name}: unknown behaviours {bad}")
        for cancel in self.cancels:
            if not 0 <= cancel.trigger < len(self.triggers):
                raise ValueError(f"cancel {cancel} names trigger {cancel.trigger}, which does not exist")
        taken = [n for n in names if n in (DURABLE_WORKFLOW, CHILD_WORKFLOW) or n.startswith(_RESERVED)]
        if taken:
            raise ValueError(
                f"workload workflow names {taken} are reserved for durable runs, listeners and crons"
            )

    @property
    def horizon(self) -> float:
        """The time of the last trigger, cancel or push, or of the crons' last tick."""
        times = [t.at for t in self.triggers] + [c.at for c in self.cancels]
        times += [d.at for d in self.durables] + [p.at for p in self.pushes]
        times += [s.push_at for d in self.durables for s in d.steps if s.kind == "wait"]
        times += [float(c.last) for c in self.crons]
        return max(times, default=0.0)

    def event_pushes(self) -> list[tuple[float, str, dict[str, Any], str | None]]:
        """Every event the client pushes, in time order: ``(at, key, payload, scope)``.

        Each payload names its event (``"push"``): ``p<i>`` for :attr:`pushes`,
        ``w<run>-<step>`` for the event a durable wait waits for (``"ok": True``) and
        ``d<run>-<step>`` for its decoy (``"ok": False``), pushed a moment before it.
        """
        out = [(p.at, p.key, p.payload(i), p.scope) for i, p in enumerate(self.pushes)]
        for r, run in enumerate(self.durables):
            for k, step in enumerate(run.steps):
                if step.kind != "wait":
                    continue
                if step.decoy:
                    decoy = {"push": f"d{r}-{k}", "ok": False}
                    out.append((max(0.0, step.push_at - 0.2), wait_key(r, k), decoy, None))
                out.append((step.push_at, wait_key(r, k), {"push": f"w{r}-{k}", "ok": True}, None))
        out.sort(key=lambda e: e[0])
        return out


def _behaviour(random: RandomSource, allowed: tuple[str, ...]) -> str:
    total = sum(_WEIGHTS[b] for b in allowed)
    pick = random.uniform(0, total)
    for b in allowed:
        pick -= _WEIGHTS[b]
        if pick <= 0:
            return b
    return allowed[-1]


def draw_workload(
    random: RandomSource,
    *,
    workflows: int,
    runs: int,
    cancels: int,
    horizon: float,
    durables: int = 0,
    listeners: int = 0,
    pushes: int = 0,
    crons: int = 0,
) -> Workload:
    """A random workload: DAGs of one to five tasks, triggers and cancels spread over
    ``horizon``, and ``durables`` durable runs, ``listeners`` event-triggered workflows
    with ``pushes`` events, and ``crons`` crons (each kind drawn from its own stream, so
    the DAGs of a seed do not depend on the other counts)."""
    shapes = []
    for w in range(workflows):
        tasks: list[TaskShape] = []
        for t in range(random.randint(1, 5)):
            backoff = random.random() < 0.5
            tasks.append(
                TaskShape(
                    name=f"t{t}",
                    parents=tuple(p.name for p in tasks if random.random() < 0.5),
                    retries=random.randint(0, 2),
                    backoff_factor=random.choice((0.5, 1.5, 2.0)) if backoff else None,
                    backoff_max_seconds=random.choice((None, 1.0, 3.0)) if backoff else None,
                    sync=random.random() < 0.2,
                )
            )
        shapes.append(WorkflowShape(f"sim-wf-{w}", tuple(tasks)))
    triggers = []
    for _ in range(runs):
        index = random.randint(0, len(shapes) - 1)
        plan = tuple(
            (
                task.name,
                tuple(
                    _behaviour(random, SYNC_BEHAVIOURS if task.sync else ASYNC_BEHAVIOURS)
                    for _ in range(task.retries + 1)
                ),
            )
            for task in shapes[index].tasks
        )
        triggers.append(Trigger(random.uniform(0, horizon), index, plan, random.uniform(0.01, 0.5)))
    triggers.sort(key=lambda t: t.at)
    cancel_list = [Cancel(random.uniform(0, horizon), random.randint(0, runs - 1)) for _ in range(cancels)]
    cancel_list.sort(key=lambda c: c.at)
    listener_shapes, push_list = draw_events(
        random.fork("events"), listeners=listeners, pushes=pushes, horizon=horizon
    )
    return Workload(
        tuple(shapes),
        tuple(triggers),
        tuple(cancel_list),
        durables=draw_durables(random.fork("durables"), count=durables, horizon=horizon),
        listeners=listener_shapes,
        pushes=push_list,
        crons=draw_crons(random.fork("crons"), count=crons, horizon=horizon),
    )


def build_workflows(workload: Workload, trail: DurableTrail | None = None) -> list[Workflow]:
    """Real workflows for ``workload``'s shapes, their tasks acting out each trigger's plan.

    Durable runs record their executions in ``trail`` (when given).
    """
    out = []
    for shape in workload.workflows:
        wf = Workflow(None, shape.name, input_validator=dict)
        for task in shape.tasks:
            options: dict[str, Any] = {
                "retries": task.retries,
                "execution_timeout": task.execution_timeout,
                "schedule_timeout": 3600.0,
            }
            if task.backoff_factor is not None:
                options["backoff_factor"] = task.backoff_factor
            if task.backoff_max_seconds is not None:
                options["backoff_max_seconds"] = task.backoff_max_seconds
            fn = _sync_task(task.name) if task.sync else _async_task(task.name)
            wf.task(name=task.name, parents=list(task.parents), **options)(fn)
        out.append(wf)
    if workload.durables:
        out += build_durable_workflows(trail or DurableTrail())
    out += build_listeners(workload.listeners)
    out += build_crons(workload.crons)
    return out


def _planned(input: dict[str, Any], name: str, attempt: int) -> str:
    plan = input.get("plan", {}).get(name, [])
    return plan[attempt - 1] if attempt <= len(plan) else "ok"


def _async_task(name: str) -> Callable[..., Any]:
    async def fn(input: dict[str, Any], ctx: Any) -> dict[str, Any]:
        behaviour = _planned(input, name, ctx.attempt_number)
        await trio.sleep(input.get("work", 0.1))
        if behaviour == "fail":
            raise RuntimeError(f"planned failure of {name} attempt {ctx.attempt_number}")
        if behaviour == "fatal":
            raise NonRetryableException(f"planned fatal failure of {name}")
        if behaviour in ("hang", "cancel"):
            if behaviour == "cancel":
                await ctx.aio_cancel()
            await trio.sleep(3600)
        return {"task": name, "run": ctx.workflow_run_id}

    fn.__name__ = name
    return fn


def _sync_task(name: str) -> Callable[..., Any]:
    def fn(input: dict[str, Any], ctx: Any) -> dict[str, Any]:
        behaviour = _planned(input, name, ctx.attempt_number)
        if behaviour == "fail":
            raise RuntimeError(f"planned failure of {name} attempt {ctx.attempt_number}")
        if behaviour == "fatal":
            raise NonRetryableException(f"planned fatal failure of {name}")
        return {"task": name, "run": ctx.workflow_run_id}

    fn.__name__ = name
    return fn
