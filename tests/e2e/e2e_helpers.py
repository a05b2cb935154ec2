"""Helpers shared by the end-to-end tests of embedded mode.

Every test declares its workflows on a fresh :class:`~ratchet.Ratchet` (names are
unique per client), starts the engine and a worker inside the test's process, and waits
on events and results, never on sleeps: a task that must be "running" sets a
:class:`threading.Event` the test waits for; a task that must block until cancelled
waits on its context.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import trio

from ratchet import Context, Ratchet, Workflow
from ratchet._clients.runs import RunDetails, TaskRunDetails
from ratchet._connection import system_of

__all__ = [
    "ENGINE_ACTORS",
    "GATE_TIMEOUT",
    "TERMINAL_EVENTS",
    "block_until_cancelled",
    "deploy_build",
    "engine_restarts",
    "event_kinds",
    "eventually",
    "sleep_until_cancelled",
    "start",
    "tasks_by_name",
    "terminal_events",
    "wait_set",
]

GATE_TIMEOUT = 10.0
"""The longest a test waits for something that should happen within milliseconds."""

TERMINAL_EVENTS = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT", "SCHEDULE_TIMED_OUT"})
"""Timeline kinds that record a task's outcome."""

ENGINE_ACTORS = (
    "store-writer",
    "timers",
    "scheduler",
    "dispatcher",
    "coordinator",
    "triggers",
    "durable",
    "gateway",
)


def start(
    r: Ratchet,
    database: str = "memory://",
    *,
    slots: int = 4,
    options: Any = None,
    worker: str = "w1",
    async_backend: str = "trio",
) -> Ratchet:
    """Run ``r``'s engine embedded, with one worker running every workflow of ``r``."""
    return r.embedded(
        database, workers=[r.worker(worker, slots=slots, async_backend=async_backend)], options=options
    )


def wait_set(event: threading.Event, what: str) -> None:
    """Wait for ``event`` (set by a task), failing the test if it never comes."""
    if not event.wait(GATE_TIMEOUT):
        raise AssertionError(f"gave up waiting for {what} after {GATE_TIMEOUT:g}s")


def block_until_cancelled(ctx: Context, limit: float = GATE_TIMEOUT) -> bool:
    """In a sync task: poll ``ctx.is_cancelled`` (the documented way) until it turns true.

    Returns whether it did; ``limit`` only keeps a broken engine from hanging the thread.
    """
    deadline = time.monotonic() + limit
    while not ctx.is_cancelled and time.monotonic() < deadline:
        time.sleep(0.002)
    return ctx.is_cancelled


async def sleep_until_cancelled(seen: threading.Event, limit: float = GATE_TIMEOUT) -> None:
    """In a Trio task: sleep until the attempt's cancel scope is cancelled; set ``seen`` then."""
    try:
        await trio.sleep(limit)
    except trio.Cancelled:
        seen.set()
        raise
    raise AssertionError("the attempt was never cancelled")


def eventually(predicate: Callable[[], bool], what: str) -> None:
    """Wait until the engine's recorded state satisfies ``predicate`` (checked every few ms).

    For states no task can signal, such as "waiting out a retry's backoff".
    """
    deadline = time.monotonic() + GATE_TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {GATE_TIMEOUT:g}s")
        time.sleep(0.005)


def event_kinds(task: TaskRunDetails) -> list[str]:
    return [e.kind for e in task.events]


def terminal_events(task: TaskRunDetails) -> list[str]:
    return [e.kind for e in task.events if e.kind in TERMINAL_EVENTS]


def tasks_by_name(details: RunDetails) -> dict[str, TaskRunDetails]:
    return {t.name: t for t in details.tasks}


def engine_restarts(r: Ratchet) -> dict[str, int]:
    """Restarts of each engine actor of ``r``'s embedded engine (all 0 when nothing crashed)."""
    system = system_of(r.connection.gateway)  # type: ignore[arg-type]
    assert system is not None, "engine_restarts needs an embedded engine"
    return {name: system.lookup(name).statistics().restarts for name in ENGINE_ACTORS}


def deploy_build(name: str, *, with_c: bool, client: Ratchet | None = None) -> Workflow:
    """Workflow ``name`` as one build of the code declares it (v1: a, b; v2 adds c after b)."""
    wf = (client or Ratchet()).workflow(name, input_validator=dict)

    @wf.task()
    def a(inp: dict, ctx: Context) -> str:
        return "a"

    @wf.task(parents=[a])
    def b(inp: dict, ctx: Context) -> str:
        return "b"

    if with_c:

        @wf.task(parents=[b])
        def c(inp: dict, ctx: Context) -> str:
            return "c"

    return wf
