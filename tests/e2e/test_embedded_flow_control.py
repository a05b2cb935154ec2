"""Flow control through the public SDK and an embedded engine, with real threads.

Tasks report that they started on events the test waits for; no sleeps. Covers what a
user sees: ``concurrency=`` holding back runs of a busy key while other keys run,
CANCEL_NEWEST, ``ratchet.rate_limits.put`` and static keys, a key that fails to evaluate,
worker labels, ``ctx.release_slot()``, and garbage sent to the new gateway methods.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import ENGINE_ACTORS, GATE_TIMEOUT, engine_restarts, eventually, start, wait_set

from ratchet import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    DesiredWorkerLabel,
    FailedTaskRunExceptionGroup,
    Ratchet,
    RateLimit,
    RateLimitDuration,
    RunCancelledError,
)
from ratchet.runtime import ActorError


def test_a_busy_key_waits_while_other_keys_run(new_client):
    r = new_client()
    wf = r.workflow("per-user", input_validator=dict, concurrency=ConcurrencyExpression("input.user", 1))
    started = {name: threading.Event() for name in ("a1", "a2", "b1")}
    release = threading.Event()

    @wf.task()
    def work(input: dict[str, Any], ctx: Context) -> str:
        started[input["name"]].set()
        release.wait(GATE_TIMEOUT)
        return input["name"]

    start(r, slots=4)
    a1 = wf.run_no_wait({"user": "a", "name": "a1"})
    wait_set(started["a1"], "the first run of key a")
    a2 = wf.run_no_wait({"user": "a", "name": "a2"})
    b1 = wf.run_no_wait({"user": "b", "name": "b1"})
    wait_set(started["b1"], "the run of key b, though a run of key a waits")
    assert r.runs.get_status(a2.workflow_run_id) == "QUEUED"
    assert not started["a2"].is_set()
    release.set()
    assert [ref.result() for ref in (a1, a2, b1)] == [{"work": n} for n in ("a1", "a2", "b1")]


def test_cancel_newest_refuses_a_second_run_of_a_key(new_client):
    r = new_client()
    wf = r.workflow(
        "once",
        input_validator=dict,
        concurrency=ConcurrencyExpression("input.user", 1, ConcurrencyLimitStrategy.CANCEL_NEWEST),
    )
    running = threading.Event()
    release = threading.Event()

    @wf.task()
    def work(input: dict[str, Any], ctx: Context) -> str:
        running.set()
        release.wait(GATE_TIMEOUT)
        return "done"

    start(r)
    first = wf.run_no_wait({"user": "a"})
    wait_set(running, "the first run")
    with pytest.raises(RunCancelledError):
        wf.run({"user": "a"})
    release.set()
    assert first.result() == {"work": "done"}


def test_static_rate_limit_put_by_the_client(new_client):
    r = new_client()
    limited = threading.Event()

    @r.task(rate_limits=[RateLimit(static_key="partner-api", units=1)])
    def call_partner(input: Any, ctx: Context) -> str:
        limited.set()
        return "called"

    start(r)
    r.rate_limits.put("partner-api", 5, RateLimitDuration.MINUTE)
    assert [
        ref.result() for ref in call_partner.run_many_no_wait([call_partner.create_bulk_run_item()] * 3)
    ] == ["called"] * 3
    # a sixth start within the minute waits (it is neither failed nor run)
    refs = call_partner.run_many_no_wait([call_partner.create_bulk_run_item()] * 3)
    assert [ref.result() for ref in refs[:2]] == ["called", "called"]
    eventually(lambda: r.runs.get_status(refs[2].workflow_run_id) == "QUEUED", "the over-limit run to wait")
    r.rate_limits.put("partner-api", 6, RateLimitDuration.MINUTE)  # room for one more
    assert refs[2].result() == "called"


def test_a_concurrency_key_failing_for_one_run_fails_that_run_only(new_client):
    r = new_client()
    wf = r.workflow("keyed", input_validator=dict, concurrency=ConcurrencyExpression("input.tenant.id", 2))

    @wf.task()
    def work(input: dict[str, Any], ctx: Context) -> str:
        return "ok"

    start(r)
    assert wf.run({"tenant": {"id": "acme"}}) == {"work": "ok"}
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        wf.run({"tenant": "not a mapping"})
    (error,) = info.value.exceptions
    assert error.exc_type == "FlowControlError"
    assert "'input.tenant.id'" in error.message and "could not be evaluated" in error.message
    assert wf.run({"tenant": {"id": "other"}}) == {"work": "ok"}
    assert engine_restarts(r) == dict.fromkeys(ENGINE_ACTORS, 0)


def test_required_labels_route_tasks_to_the_right_worker(new_client):
    r = new_client()
    wf = r.workflow("gpu", input_validator=dict)

    @wf.task(desired_worker_labels={"gpu": DesiredWorkerLabel("a100", required=True)})
    def infer(input: dict[str, Any], ctx: Context) -> str:
        return "inferred"

    r.embedded(
        "memory://",
        workers=[
            r.worker("cpu", slots=4, labels={"gpu": "none"}),
            r.worker("gpu-box", slots=1, labels={"gpu": "a100"}),
        ],
    )
    refs = wf.run_many_no_wait([wf.create_bulk_run_item({})] * 3)
    for ref in refs:
        assert ref.result() == {"infer": "inferred"}
        details = r.runs.get(ref.workflow_run_id)
        workers = {w["id"]: w["name"] for w in r.connection.call("list_workers")}
        assert workers[details.tasks[0].worker_id] == "gpu-box"


def test_release_slot_frees_the_worker_for_the_next_task(new_client):
    r = new_client()
    wf = r.workflow("releasing", input_validator=dict)
    opened = threading.Event()

    @wf.task()
    def holder(input: dict[str, Any], ctx: Context) -> str:
        ctx.release_slot()
        wait_set(opened, "the other task, which needs this task's slot")
        return "released"

    @wf.task()
    def opener(input: dict[str, Any], ctx: Context) -> str:
        opened.set()
        return "opened"

    start(r, slots=1)
    assert wf.run({}) == {"holder": "released", "opener": "opened"}


# -- bad input ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flow_engine() -> Iterator[tuple[Ratchet, Any]]:
    r = Ratchet()

    @r.task(input_validator=dict)
    def hello(inp: dict[str, Any], ctx: Context) -> str:
        return "hi " + inp["name"]

    start(r)
    try:
        yield r, hello
    finally:
        r.close()


MALFORMED: list[tuple[str, tuple[Any, ...]]] = [
    *[
        ("put_rate_limit", args)
        for args in [(None, 1, "SECOND"), ("", 1, "SECOND"), ("k" * 201, 1, "SECOND")]
    ],
    *[("put_rate_limit", ("k", g, "SECOND")) for g in [0, -1, 1.5, "10", True, None, 10**12]],
    *[("put_rate_limit", ("k", 1, g)) for g in ["FORTNIGHT", 60, None, [1], "second"]],
    *[
        ("release_slot", args)
        for args in [(None, 1), ("", 1), ("t", 0), ("t", True), ("t", "1"), ("x" * 201, 1)]
    ],
    ("put_rate_limit", ("k", 1)),
]


@pytest.mark.parametrize(("method", "args"), MALFORMED, ids=lambda v: repr(v)[:40])
def test_garbage_to_the_flow_control_methods_gets_a_clear_error(flow_engine, method, args):
    r, hello = flow_engine
    with pytest.raises(ActorError) as info:
        r.connection.call(method, *args, timeout=5)
    error = info.value
    assert error.error_type in ("ratchet._contract.protocol.RequestError", "TypeError")
    assert error.error_message and "\n" not in error.error_message
    assert hello.run({"name": "still here"}) == "hi still here"
    assert engine_restarts(r) == dict.fromkeys(ENGINE_ACTORS, 0)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"concurrency": [{"expression": "input.", "max_runs": 1}]}, "bad CEL expression 'input.'"),
        ({"concurrency": [{"expression": "input.k", "max_runs": 0}]}, "max_runs"),
        ({"sticky": "STICKIER"}, "sticky"),
    ],
)
def test_registration_with_a_bad_flow_definition_is_refused(flow_engine, change, problem):
    r, hello = flow_engine
    spec = dict(hello.spec.to_dict(), name="bad-flow", **change)
    request = {"worker_id": "bad", "name": "bad", "actor": "nope", "slots": 1, "workflows": [spec]}
    with pytest.raises(ActorError) as info:
        r.connection.call("register_worker", request, timeout=5)
    assert problem in info.value.error_message and "bad-flow" in info.value.error_message
    assert "bad-flow" not in r.connection.call("list_workflows")


@pytest.mark.parametrize("labels", [{"gpu": 1.5}, {"gpu": True}, {"": "x"}, {"gpu": None}, {"gpu": [1]}])
def test_registration_with_bad_worker_labels_is_refused(flow_engine, labels):
    r, hello = flow_engine
    request = {
        "worker_id": "bad",
        "name": "bad",
        "actor": "nope",
        "slots": 1,
        "labels": labels,
        "workflows": [hello.spec.to_dict()],
    }
    with pytest.raises(ActorError, match="worker 'bad'"):
        r.connection.call("register_worker", request, timeout=5)
    assert [w["name"] for w in r.connection.call("list_workers")] == ["w1"]
