"""Whatever a task function returns or raises ends its own attempt, and nothing else.

A value the engine cannot carry fails its attempt with a ``TypeError`` that names the
task and the offending type, and is not retried; an exception of any kind (BaseExceptions,
groups, a ``__str__`` that raises, megabytes of message or traceback) becomes a failure
report the wire can carry and the store can keep. The worker actor itself never crashes:
its other attempts run on, and every attempt is reported exactly once.

The executor tests call :func:`execute_attempt` directly; the worker tests run the real
:class:`WorkerActor` reporting over the simulated network (so every report goes through
the real codec and frame limit) to a gateway stand-in that records what arrives. All run
in virtual time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from functools import partial
from typing import Any

import msgpack
import pytest
import trio
import trio.testing
from attempt_strategies import Behaviour, behaviours, raised_exceptions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ratchet._declare.validation import InputValidator
from ratchet._declare.workflow import Workflow
from ratchet._worker.context import AttemptInfo, Context
from ratchet._worker.executor import (
    MAX_ERROR_MESSAGE,
    MAX_TRACEBACK,
    AttemptControl,
    TaskOutcome,
    execute_attempt,
)
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.runtime import Actor, concurrent, open_runtime, run_deterministic
from ratchet.transport import DEFAULT_MAX_FRAME_SIZE, open_actor_node, open_sim_network

LIMIT = 600.0  # virtual seconds: far longer than anything here takes


class QuietLink:
    """A context's way back to its worker, in memory: these attempts send nothing back."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, info: AttemptInfo, line: str, level: str) -> None:
        self.lines.append(line)

    def cancel_run(self, run_id: str) -> None:
        raise AssertionError("not used here")

    def refresh_timeout(self, info: AttemptInfo, seconds: float) -> None:
        raise AssertionError("not used here")

    def release_slot(self, info: AttemptInfo) -> None:
        raise AssertionError("not used here")


def new_control() -> AttemptControl:
    info = AttemptInfo(run_id="run-1", task_run_id="t1", workflow="wf", task="work", attempt=1)
    return AttemptControl(Context(info, QuietLink()), 3600.0)


def task_function(behaviour: Behaviour, is_async: bool) -> Any:
    if is_async:

        async def work(input: Any, ctx: Context) -> Any:
            await trio.sleep(0)
            return behaviour.act()

        return work

    def work_sync(input: Any, ctx: Context) -> Any:
        return behaviour.act()

    return work_sync


async def run_attempt(behaviour: Behaviour, is_async: bool, threads: bool) -> TaskOutcome:
    return await execute_attempt(
        task_function(behaviour, is_async),
        {},
        InputValidator(dict, "wf"),
        new_control(),
        is_async=is_async,
        threads=threads,
    )


def assert_reportable(report: dict[str, Any]) -> None:
    """The report crosses the wire in one frame and the store can keep it."""
    encoded = msgpack.packb(report, use_bin_type=True)
    assert len(encoded) < DEFAULT_MAX_FRAME_SIZE
    json.dumps(report, allow_nan=False)
    for field in ("error_type", "error_message", "traceback"):
        text = report.get(field)
        if text is not None:
            assert "\x00" not in text
            text.encode("utf-8")  # no lone surrogates
    assert len(report.get("error_message") or "") <= MAX_ERROR_MESSAGE + 100
    assert len(report.get("traceback") or "") <= MAX_TRACEBACK + 100


def assert_matches(outcome: dict[str, Any], behaviour: Behaviour) -> None:
    assert outcome["status"] == behaviour.status, outcome.get("error_message")
    if behaviour.status == "completed":
        assert outcome["output"] == behaviour.output
        return
    assert outcome["error_type"].rpartition(".")[2] == behaviour.error_type
    assert outcome["retryable"] is behaviour.retryable
    if behaviour.error_type == "TypeError":
        assert "task 'work'" in outcome["error_message"]
    if behaviour.label == "huge traceback":
        # the end of a long traceback (the exception that ended the attempt) is kept
        assert outcome["traceback"].rstrip().splitlines()[-1].startswith("RuntimeError: level")


# -- the executor ----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(behaviour=behaviours, is_async=st.booleans())
def test_any_return_value_or_exception_becomes_one_reportable_outcome(
    behaviour: Behaviour, is_async: bool
) -> None:
    outcome = run_deterministic(partial(run_attempt, behaviour, is_async, False), seed=0)
    report = dataclasses.asdict(outcome)
    assert_reportable(report)
    assert_matches(report, behaviour)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(behaviour=raised_exceptions())
def test_a_sync_task_raising_anything_in_its_thread_fails_only_its_attempt(behaviour: Behaviour) -> None:
    outcome = trio.run(run_attempt, behaviour, False, True)  # a real thread, on the real clock
    report = dataclasses.asdict(outcome)
    assert_reportable(report)
    assert_matches(report, behaviour)


async def test_an_unserializable_output_names_the_task_and_type_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    behaviour = Behaviour(lambda: {"o": object()}, "failed")
    with caplog.at_level(logging.WARNING, logger="ratchet"):
        outcome = await run_attempt(behaviour, True, False)
    assert (outcome.status, outcome.error_type, outcome.retryable) == ("failed", "TypeError", False)
    assert outcome.error_message is not None
    assert outcome.error_message.startswith("the output of task 'work' of workflow 'wf' is not serializable")
    assert "object at ['o']" in outcome.error_message
    (record,) = [r for r in caplog.records if r.name == "ratchet.worker"]
    assert record.levelno == logging.ERROR
    assert "run run-1, attempt 1" in record.getMessage() and "object at ['o']" in record.getMessage()


# -- the worker actor ------------------------------------------------------------------------------

ENGINE = "sim://engine"
HUGE_OUTPUT = Behaviour(
    lambda: "x" * (DEFAULT_MAX_FRAME_SIZE + 1000),
    "failed",
    error_type="UndeliverableResult",
    retryable=False,
    label="an output larger than a frame",
)


class RecordingGateway(Actor):
    """Answers the worker as the engine's gateway does, and records the results it reports."""

    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []
        self._changed = trio.Event()

    def register_worker(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"heartbeat_interval": 1.0, "versions": {}, "epoch": ["engine-1", 1]}

    def heartbeat(self, worker_id: str) -> bool:
        return True

    def task_results(self, results: list[dict[str, Any]]) -> int:
        self.results.extend(results)
        self._changed.set()
        self._changed = trio.Event()
        return len(results)

    @concurrent
    async def wait_results(self, count: int) -> list[dict[str, Any]]:
        while len(self.results) < count:
            await self._changed.wait()
        return list(self.results)


def assignment(task_id: str, task: str) -> dict[str, Any]:
    return {"task_id": task_id, "attempt": 1, "run_id": f"run-{task_id}", "workflow": "wf", "task": task}


async def run_on_a_worker(plan: dict[str, Behaviour]) -> tuple[list[dict[str, Any]], Any]:
    """Deliver one attempt per entry of ``plan``, plus a healthy 5-second one, to a real worker."""
    wf = Workflow(None, "wf")

    @wf.task()
    async def work(input: Any, ctx: Context) -> Any:
        await trio.sleep(0)
        return plan[ctx.task_run_id].act()

    @wf.task()
    async def healthy(input: Any, ctx: Context) -> str:
        await trio.sleep(5)
        return "fine"

    async with (
        open_sim_network(seed=1) as network,
        open_runtime(seed=1) as engine_side,
        open_runtime(seed=2) as worker_side,
    ):
        gateway = await engine_side.spawn(RecordingGateway, name="gateway")
        listener = await network.listen(ENGINE, name="engine")
        dialer = await network.dial(ENGINE, name="worker-1")
        async with open_actor_node(engine_side, listener), open_actor_node(worker_side, dialer) as node:
            config = WorkerConfig("w", [wf], slots=len(plan) + 1, threads=False)
            worker = await worker_side.spawn(
                WorkerActor, config, node.ref(ENGINE, "gateway"), peer="worker-1", worker_id="w1", name="w"
            )
            with trio.fail_after(LIMIT):
                await worker.wait_registered.ask()
                payloads = [assignment("healthy", "healthy")] + [assignment(t, "work") for t in plan]
                assert await worker.deliver.ask(payloads, [], ["engine-1", 1]) is True
                await gateway.wait_results.ask(len(plan) + 1)
                await trio.testing.wait_all_tasks_blocked()
            return await gateway.wait_results.ask(0), worker.statistics()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=st.lists(behaviours | st.just(HUGE_OUTPUT), min_size=1, max_size=6))
def test_no_return_value_or_exception_crashes_the_worker_or_touches_its_other_attempts(
    plan: list[Behaviour],
) -> None:
    by_task = {f"t{i}": behaviour for i, behaviour in enumerate(plan)}
    results, statistics = run_deterministic(partial(run_on_a_worker, by_task), seed=0)

    assert (statistics.failures, statistics.restarts) == (0, 0)
    assert sorted(r["task_id"] for r in results) == sorted(["healthy", *by_task])  # each once
    for result in results:
        assert_reportable(result)
        if result["task_id"] == "healthy":
            assert (result["status"], result["output"]) == ("completed", "fine")
        else:
            assert_matches(result, by_task[result["task_id"]])
