"""Durable runs: durable tasks that sleep, wait for events and spawn children, as data.

A :class:`DurableRun` is one run of the simulation's durable task
(:data:`DURABLE_WORKFLOW`). Its *steps* are durable calls made one after another:

- ``sleep``: ``ctx.aio_sleep_for(seconds)``;
- ``wait``: ``ctx.aio_wait_for_event(key, "input.ok == true", lookback_window=...)`` for
  an event the client pushes at ``push_at`` (virtual seconds after the start), which
  may be before the run even starts: the look-back must find it. With ``decoy``, an
  event of the same key that the expression refuses is pushed just before it;
- ``spawn``: ``child.aio_run_many(...)`` of ``children`` child runs (a fan-out, as in
  the document orchestrator), waited for in one durable call;
- ``child``: ``child.aio_run(...)``: one child, spawned and waited for.

``failures`` says, per try (retry 0, 1, ...), after how many steps it fails with a
retryable error; the next try replays the log (children are not spawned again, sleeps
that ended return at once, waits return the same event) and goes on. Tries past the
list succeed. Children of a ``flaky`` step fail their first attempt and retry.

The steps travel in the run's input, so one task function plays every run, the same
way on every replay. Every execution of it records in a :class:`DurableTrail` when it
reached and passed each step and what the step returned; the invariants of
:mod:`._waiting_invariants` compare that with the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from ratchet._client import Ratchet
from ratchet._declare.workflow import Workflow
from ratchet._worker.durable_context import DurableContext
from ratchet.runtime import RandomSource

__all__ = [
    "CHILD_WORKFLOW",
    "DURABLE_WORKFLOW",
    "LOOKBACK",
    "STEP_KINDS",
    "DurableRun",
    "DurableStep",
    "DurableTrail",
    "Execution",
    "build_durable_workflows",
    "draw_durables",
    "wait_key",
]

DURABLE_WORKFLOW = "sim-durable"
CHILD_WORKFLOW = "sim-child"
STEP_KINDS = ("sleep", "wait", "spawn", "child")
LOOKBACK = 3600.0
"""The look-back of every durable wait: longer than any simulation, so an event pushed
at any moment before the wait is found (and none is found without a look-back)."""
EVICTION_DELAY = 0.3
DURABLE_RETRIES = 2


def wait_key(run: int, step: int) -> str:
    """The event key that step ``step`` of durable run ``run`` waits for."""
    return f"sim-wait-{run}-{step}"


@dataclass(frozen=True)
class DurableStep:
    """One durable call of a durable run (see the module docstring).

    Attributes:
        kind: ``sleep``, ``wait``, ``spawn`` or ``child``.
        seconds: a sleep's length.
        push_at: when the client pushes a wait's event (virtual seconds after the start).
        decoy: a wait's key also gets an event the wait must not take, pushed just before.
        children: a spawn's fan-out.
        flaky: the children fail their first attempt.
    """

    kind: str
    seconds: float = 1.0
    push_at: float = 0.0
    decoy: bool = False
    children: int = 1
    flaky: bool = False

    def __post_init__(self) -> None:
        if self.kind not in STEP_KINDS:
            raise ValueError(f"durable step kind {self.kind!r} is not one of {STEP_KINDS}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int | float):
            raise ValueError(f"durable sleep: seconds must be a number, got {self.seconds!r}")
        if not 0 <= self.seconds <= 3600 or not 0 <= self.push_at < 1e6:
            raise ValueError(f"durable step {self}: seconds must be 0 to 3600, push_at 0 to 1e6")
        if (
            isinstance(self.children, bool)
            or not isinstance(self.children, int)
            or not 1 <= self.children <= 50
        ):
            raise ValueError(f"durable spawn: children must be 1 to 50, got {self.children!r}")

    def as_input(self) -> dict[str, Any]:
        return {"kind": self.kind, "seconds": self.seconds, "children": self.children, "flaky": self.flaky}


@dataclass(frozen=True)
class DurableRun:
    """One run of the durable task: triggered at ``at``, making ``steps``, failing as ``failures`` says."""

    at: float
    steps: tuple[DurableStep, ...]
    failures: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.at < 1e6:
            raise ValueError(f"durable run: at must be 0 to 1e6 seconds, got {self.at!r}")
        if len(self.failures) > DURABLE_RETRIES + 1 or any(
            isinstance(f, bool) or not isinstance(f, int) or f < 0 for f in self.failures
        ):
            raise ValueError(
                f"durable run: failures lists, per try, the steps done before it fails "
                f"(at most {DURABLE_RETRIES + 1} tries), got {self.failures!r}"
            )

    def input(self, index: int) -> dict[str, Any]:
        """The run's input: its number, its steps and its failures."""
        return {"run": index, "steps": [s.as_input() for s in self.steps], "failures": list(self.failures)}


@dataclass
class Execution:
    """One execution of the durable task function (a first run, a replay or a retry):
    when it reached and passed each step (Trio's clock), what each step returned, and how
    it ended."""

    serial: int
    run_id: str
    task_id: str
    run: int
    retry: int
    attempt: int
    started: float
    reached: dict[int, float] = field(default_factory=dict)
    passed: dict[int, float] = field(default_factory=dict)
    results: dict[int, Any] = field(default_factory=dict)
    ended: str = ""  # "completed", or the exception that ended it ("EvictedError", ...)


class DurableTrail:
    """What every execution of the durable task did, in the order they started.

    Times are Trio's (virtual) clock readings.
    """

    def __init__(self) -> None:
        self.executions: list[Execution] = []

    def begin(self, ctx: DurableContext, run: int) -> Execution:
        execution = Execution(
            len(self.executions),
            ctx.workflow_run_id,
            ctx.task_run_id,
            run,
            ctx.retry_count,
            ctx.attempt_number,
            trio.current_time(),
        )
        self.executions.append(execution)
        return execution

    def reached(self, execution: Execution, step: int) -> None:
        execution.reached[step] = trio.current_time()

    def passed(self, execution: Execution, step: int, result: Any) -> None:
        execution.passed[step] = trio.current_time()
        execution.results[step] = result


async def _page(input: dict[str, Any], ctx: Any) -> dict[str, Any]:
    await trio.sleep(input.get("work", 0.1))
    if input.get("flaky") and ctx.retry_count == 0:
        raise RuntimeError(f"planned failure of child {input['step']}.{input['index']} of run {input['run']}")
    return {"run": input["run"], "step": input["step"], "index": input["index"]}


def _durable_fn(child: Workflow, trail: DurableTrail) -> Callable[..., Any]:
    async def orchestrate(input: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
        run, steps, failures = input["run"], input["steps"], input.get("failures", [])
        fail_after = failures[ctx.retry_count] if ctx.retry_count < len(failures) else None
        execution = trail.begin(ctx, run)
        results = []
        try:
            for k, step in enumerate(steps):
                if fail_after == k:
                    break
                trail.reached(execution, k)
                result = await _carry_out(child, ctx, run, k, step)
                trail.passed(execution, k, result)
                results.append(result)
            if fail_after is not None:
                raise RuntimeError(f"planned failure of durable run {run} after {fail_after} steps")
        except BaseException as exc:  # evicted, cancelled, failed: the invariants tell them apart
            execution.ended = type(exc).__name__
            raise
        execution.ended = "completed"
        return {"run": run, "results": results}

    return orchestrate


async def _carry_out(child: Workflow, ctx: DurableContext, run: int, k: int, step: dict[str, Any]) -> Any:
    kind = step["kind"]
    if kind == "sleep":
        await ctx.aio_sleep_for(step["seconds"])
        return None
    if kind == "wait":
        event = await ctx.aio_wait_for_event(wait_key(run, k), "input.ok == true", lookback_window=LOOKBACK)
        return {"id": event["id"], "payload": event["payload"]}
    items = [
        {"run": run, "step": k, "index": j, "flaky": step["flaky"], "work": 0.05 * (j + 1)}
        for j in range(step["children"] if kind == "spawn" else 1)
    ]
    if kind == "child":
        return [await child.aio_run(items[0])]
    return await child.aio_run_many([child.create_bulk_run_item(item) for item in items])


def build_durable_workflows(trail: DurableTrail) -> list[Workflow]:
    """The durable task and the child workflow it spawns."""
    # a durable task's child refs need a client object; nothing here ever connects
    client = Ratchet(namespace="")
    child = Workflow(client, CHILD_WORKFLOW, input_validator=dict)
    child.task(name="page", retries=1, execution_timeout=5.0, schedule_timeout=3600.0)(_page)
    durable = Workflow(client, DURABLE_WORKFLOW, input_validator=dict)
    durable.durable_task(
        name="orchestrate",
        retries=DURABLE_RETRIES,
        execution_timeout=30.0,
        schedule_timeout=3600.0,
        eviction_delay=EVICTION_DELAY,
    )(_durable_fn(child, trail))
    return [child, durable]


def draw_durables(random: RandomSource, *, count: int, horizon: float) -> tuple[DurableRun, ...]:
    """``count`` durable runs of one to four steps, triggered within ``horizon``."""
    runs = []
    for _ in range(count):
        at = random.uniform(0, horizon)
        steps = []
        for _ in range(random.randint(1, 4)):
            kind = random.choice(STEP_KINDS)
            if kind == "sleep":
                steps.append(DurableStep("sleep", seconds=random.choice((0.5, 1.0, 3.0, 8.0))))
            elif kind == "wait":
                # sometimes well before the run starts (only the look-back finds it)
                push_at = max(0.0, at + random.uniform(-5.0, 10.0))
                steps.append(DurableStep("wait", push_at=push_at, decoy=random.random() < 0.3))
            else:
                children = random.randint(1, 3) if kind == "spawn" else 1
                steps.append(DurableStep(kind, children=children, flaky=random.random() < 0.3))
        failures = tuple(random.randint(0, len(steps)) for _ in range(random.choice((0, 0, 1, 2))))
        runs.append(DurableRun(at, tuple(steps), failures))
    runs.sort(key=lambda r: r.at)
    return tuple(runs)
