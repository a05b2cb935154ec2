"""Bad input gets a clear error and changes nothing (DESIGN.md, promise 7), end to end in
embedded mode: unknown workflows, input failing its model, oversized payloads, and
garbage sent to every gateway method. After each, the engine keeps serving and none of
its actors restarted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest
from e2e_helpers import ENGINE_ACTORS, block_until_cancelled, engine_restarts, start, wait_set

from ratchet import Context, DefinitionError, FailedTaskRunExceptionGroup, InputValidationError, Ratchet
from ratchet._connection import system_of
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors import EngineOptions
from ratchet.runtime import ActorError


class Order(pydantic.BaseModel):
    item: str
    qty: int


def _assert_healthy(r: Ratchet, hello: Any) -> None:
    """The engine still serves, and none of its actors crashed on the way."""
    assert hello.run({"name": "still here"}) == "hi still here"
    assert engine_restarts(r) == dict.fromkeys(ENGINE_ACTORS, 0)
    assert [w["name"] for w in r.connection.call("list_workers")] == ["w1"]


def _hello(r: Ratchet) -> Any:
    @r.task(input_validator=dict)
    def hello(inp, ctx):
        return "hi " + inp["name"]

    return hello


# -- unknown workflows ----------------------------------------------------------------------------


def test_trigger_of_an_unknown_workflow_is_answered_with_an_error(new_client):
    r = new_client()
    hello = _hello(r)
    start(r)

    answers = r.connection.call("trigger", [{"workflow": "nope", "input": {}}])

    assert len(answers) == 1 and "run_id" not in answers[0]
    assert "unknown workflow 'nope'" in answers[0]["error"]
    assert hello.name in answers[0]["error"]  # names what is registered
    assert r.runs.list() == []
    _assert_healthy(r, hello)


def test_embedded_mode_refuses_a_bad_database_url_and_bad_worker_options(new_client):
    r = new_client()
    _hello(r)
    with pytest.raises(ValueError, match="no store backend for 'bogus://x'"):
        r.embedded("bogus://x")
    with pytest.raises(ValueError, match="slots must be a whole number"):
        r.worker("w", slots=0)
    with pytest.raises(ValueError, match="async_backend"):
        r.worker("w", async_backend="curio")
    start(r)  # the client is still usable after the refusals
    assert r.runs.list() == []


def test_one_bad_request_in_a_batch_does_not_sink_the_others(new_client):
    r = new_client()
    hello = _hello(r)
    start(r)

    answers = r.connection.call(
        "trigger",
        [
            {"workflow": hello.name, "input": {"name": "a"}},
            {"workflow": "nope"},
            {"workflow": hello.name, "priority": 9},
            {"workflow": hello.name, "input": {"name": "b"}},
        ],
    )

    assert ["run_id" in a for a in answers] == [True, False, False, True]
    assert "priority" in answers[2]["error"]
    assert {d.run_id for d in r.runs.list()} == {answers[0]["run_id"], answers[3]["run_id"]}
    _assert_healthy(r, hello)


# -- input failing its model -----------------------------------------------------------------------


def _orders(r: Ratchet) -> tuple[Any, list[Order]]:
    received: list[Order] = []

    @r.task(input_validator=Order, retries=3)
    def place(inp: Order, ctx):
        received.append(inp)
        return inp.qty

    return place, received


def test_client_rejects_input_failing_the_model_before_anything_is_stored(new_client):
    r = new_client()
    place, received = _orders(r)
    start(r)

    with pytest.raises(InputValidationError, match="qty"):
        place.run({"item": "tea", "qty": "lots"})
    with pytest.raises(InputValidationError, match="item"):
        place.run_many([place.create_bulk_run_item({"item": "ok", "qty": 1}), place.create_bulk_run_item({})])
    with pytest.raises(InputValidationError):
        place.run_no_wait(["not", "a", "mapping"])

    assert r.runs.list() == []
    assert received == []
    assert place.run({"item": "tea", "qty": "2"}) == 2  # coerced by the model, as pydantic does


def test_client_refuses_input_it_cannot_serialize_and_stores_nothing(new_client):
    r = new_client()
    hello = _hello(r)
    start(r)

    with pytest.raises(
        InputValidationError, match=r"input for workflow 'hello' is not serializable: object at \['o'\]"
    ):
        hello.run({"name": "x", "o": object()})
    with pytest.raises(InputValidationError, match=r"integer at \['name'\] does not fit in 64 bits"):
        hello.run_no_wait({"name": 2**70})
    with pytest.raises(InputValidationError, match="is not serializable: bytes"):
        hello.run_many([hello.create_bulk_run_item({"name": b"\xff"})])

    assert r.runs.list() == []
    _assert_healthy(r, hello)


def test_engine_fails_a_run_whose_input_fails_the_model_without_running_the_task(new_client):
    r = new_client()
    place, received = _orders(r)
    start(r)

    # a client without the model (another language, an old version) sends bad input
    (answer,) = r.connection.call("trigger", [{"workflow": place.name, "input": {"item": "tea"}}])
    details = r.runs._wait(answer["run_id"])

    assert details.status == "FAILED"
    (task,) = details.tasks
    assert task.status == "FAILED"
    assert (task.attempt, task.retry_count) == (1, 0)  # not retried: the input will not improve
    assert task.error is not None
    assert task.error["type"].endswith("InputValidationError")
    assert "qty" in task.error["message"] and "Order" in task.error["message"]
    assert received == []


# -- oversized payloads ----------------------------------------------------------------------------

LIMIT = 2_000


def test_oversized_input_is_refused_and_nothing_is_stored(new_client):
    r = new_client()
    hello = _hello(r)
    start(r, options=EngineOptions(max_payload_bytes=LIMIT))

    with pytest.raises(ValueError, match="over the engine's limit of 2000 bytes"):
        hello.run({"name": "x" * (LIMIT + 1)})
    answers = r.connection.call(
        "trigger",
        [
            {"workflow": hello.name, "input": {"name": "x" * (LIMIT + 1)}},
            {"workflow": hello.name, "input": {"name": "small"}},
        ],
    )

    assert "over the engine's limit" in answers[0]["error"]
    assert [d.run_id for d in r.runs.list()] == [answers[1]["run_id"]]
    _assert_healthy(r, hello)


def test_oversized_task_output_fails_the_task_without_retrying(new_client):
    r = new_client()
    hello = _hello(r)
    attempts: list[int] = []

    @r.task(input_validator=dict, retries=2)
    def bloated(inp, ctx: Context):
        attempts.append(ctx.attempt_number)
        return "y" * (LIMIT + 1)

    start(r, options=EngineOptions(max_payload_bytes=LIMIT))
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        bloated.run({})

    (error,) = info.value.exceptions
    assert "over the engine's limit" in error.message
    assert attempts == [1]
    _assert_healthy(r, hello)


def test_input_that_is_not_plain_json_is_refused_and_nothing_is_stored(new_client):
    r = new_client()
    hello = _hello(r)
    start(r)

    answers = r.connection.call(
        "trigger",
        [
            {"workflow": hello.name, "input": {"name": b"\x00\xff"}},
            {"workflow": hello.name, "input": {"name": float("nan")}},
            {"workflow": hello.name, "input": {"name": object()}},
        ],
    )

    assert all("run_id" not in a and a["error"] for a in answers)
    assert r.runs.list() == []
    _assert_healthy(r, hello)


def test_deeply_nested_input_is_refused_without_crashing_the_engine(new_client):
    r = new_client()
    hello = _hello(r)
    start(r)
    # deep enough to overflow the json encoder, shallow enough for msgpack's limit of 1024
    nested: list[Any] = []
    inner = nested
    for _ in range(1_015):
        inner.append([])
        inner = inner[0]

    (answer,) = r.connection.call("trigger", [{"workflow": hello.name, "input": {"name": nested}}])

    assert "run_id" not in answer
    assert "StoreWriter" not in answer["error"]  # refused for what it is, not for a crash
    _assert_healthy(r, hello)


# -- garbage sent to every gateway method ----------------------------------------------------------

_GARBAGE_IDS: list[Any] = [None, 3, 1.5, True, b"\x00\xff", [1, "a"], {"bogus": 1}]
_FAKE_RESULT = {"task_id": "t", "attempt": 1, "status": "completed"}

MALFORMED: list[tuple[str, tuple[Any, ...]]] = [
    *[("register_worker", (g,)) for g in [None, 3, "x", [1], {}]],
    ("register_worker", ({"worker_id": 1, "name": "w", "actor": "a", "slots": 1, "workflows": [{}]},)),
    ("register_worker", ({"worker_id": "w", "name": "w", "actor": "a", "slots": 0, "workflows": [{}]},)),
    ("register_worker", ({"worker_id": "w", "name": "w", "actor": "a", "slots": 1, "workflows": []},)),
    (
        "register_worker",
        ({"worker_id": "w", "name": "w", "actor": "a", "slots": 1, "workflows": [{"x": 1}]},),
    ),
    *[(method, (g,)) for method in ("heartbeat", "drain_worker", "deregister_worker") for g in _GARBAGE_IDS],
    *[("task_results", (g,)) for g in [None, "x", {}, [1], [None], [{"task_id": 1}]]],
    ("task_results", ([{**_FAKE_RESULT, "attempt": 0}],)),
    ("task_results", ([{**_FAKE_RESULT, "status": "exploded"}],)),
    ("task_results", ([{**_FAKE_RESULT, "surprise": True}],)),
    ("task_results", ([_FAKE_RESULT] * 10_001,)),
    *[
        ("task_results", ([{**_FAKE_RESULT, "status": "failed", "error_code": g}],))
        for g in ["Nope", 3, [], {}]
    ],
    *[("trigger", (g,)) for g in [None, "x", {}, [], 7]],
    *[("register_workflows", (g,)) for g in [None, "x", {}, [], [{}], [{"name": "empty", "tasks": []}]]],
    ("register_workflows", ([{"name": "x", "tasks": [{"name": "a"}]}] * 1001,)),
    ("trigger", ([{"workflow": "x"}] * 10_001,)),
    *[(m, (g,)) for m in ("cancel_runs", "replay_runs") for g in [None, "run", {}, [1], [""], ["x" * 201]]],
    *[("refresh_timeout", args) for args in [(None, 1, 1.0), ("t", 0, 1.0), ("t", True, 1.0), ("t", 1, -1)]],
    *[("refresh_timeout", ("t", 1, g)) for g in [None, "1s", float("nan"), 10**9, True]],
    *[(method, (g,)) for method in ("get_run", "wait_run") for g in [None, 3, [], "", "x" * 201]],
    ("wait_run", ("some-run", "soon")),
    ("wait_run", ("some-run", True)),
    *[("list_runs", (g,)) for g in [3, "x", [1], {"bogus": 1}, {"statuses": ["NOPE"]}, {"limit": 0}]],
    ("list_runs", ({"since": "yesterday"},)),
    ("list_runs", ({"additional_metadata": "team=red"},)),
    # wrong numbers of arguments
    ("trigger", ()),
    ("get_run", ("a", "b", "c")),
    ("list_workers", (1,)),
    ("list_workflows", ("x",)),
]


@pytest.fixture(scope="module")
def shared_engine() -> Iterator[tuple[Ratchet, Any]]:
    """One engine for the many malformed-request cases (each still checks its health)."""
    r = Ratchet()
    hello = _hello(r)
    start(r)
    try:
        yield r, hello
    finally:
        r.close()


@pytest.mark.parametrize(("method", "args"), MALFORMED, ids=lambda v: repr(v)[:40])
def test_malformed_request_gets_a_clear_error_and_the_engine_keeps_serving(shared_engine, method, args):
    r, hello = shared_engine
    runs_before = len(r.runs.list())

    with pytest.raises(ActorError) as info:
        r.connection.call(method, *args, timeout=5)

    error = info.value
    assert error.actor == "gateway" and error.method == method
    assert error.error_type in ("ratchet._contract.protocol.RequestError", "TypeError")
    # one line saying what was wrong, not an internal traceback
    assert error.error_message and "\n" not in error.error_message
    assert "Traceback" not in error.error_message
    assert len(r.runs.list()) == runs_before
    _assert_healthy(r, hello)


@pytest.mark.parametrize("item", [None, 1, "hello", [], {"workflow": 5}, {"workflow": "x", "extra": 1}])
def test_malformed_run_request_in_a_batch_gets_its_own_error(shared_engine, item):
    r, hello = shared_engine
    runs_before = len(r.runs.list())

    answers = r.connection.call("trigger", [item], timeout=5)

    assert len(answers) == 1 and "run request" in answers[0]["error"]
    assert len(r.runs.list()) == runs_before
    _assert_healthy(r, hello)


def test_unknown_gateway_method_is_refused_locally(shared_engine):
    r, hello = shared_engine
    with pytest.raises(AttributeError, match="no public method 'drop_all_tables'"):
        r.connection.call("drop_all_tables")
    _assert_healthy(r, hello)


def test_a_forged_result_for_another_attempt_is_fenced_off(new_client):
    r = new_client()
    hello = _hello(r)
    running = threading.Event()

    @r.task(input_validator=dict)
    def real(inp, ctx: Context):
        running.set()
        block_until_cancelled(ctx, limit=0.3)  # a short piece of real work
        return "the real output"

    start(r)
    ref = real.run_no_wait({})
    wait_set(running, "the task to start")
    (task,) = r.runs.get(ref.run_id).tasks
    forged = [
        {"task_id": task.task_id, "attempt": 7, "status": "completed", "output": "forged"},
        {"task_id": task.task_id, "attempt": 2, "status": "failed", "error_type": "X", "error_message": "x"},
    ]
    assert r.connection.call("task_results", forged) == 2  # well-formed, so accepted...

    assert ref.result() == "the real output"  # ...and ignored: the attempt numbers are stale
    (task,) = r.runs.get(ref.run_id).tasks
    assert (task.status, task.attempt) == ("COMPLETED", 1)
    _assert_healthy(r, hello)


def test_a_result_the_store_cannot_keep_fails_its_attempt_without_crashing_the_engine(new_client):
    r = new_client()
    hello = _hello(r)
    running, release = threading.Event(), threading.Event()

    @r.task(input_validator=dict)
    def first(inp, ctx: Context):
        running.set()
        release.wait(60)
        return "too late: the forged result counted"

    start(r)
    refs = [first.run_no_wait({}), first.run_no_wait({})]
    wait_set(running, "the tasks to start")
    ids = [r.runs.get(ref.run_id).tasks[0].task_id for ref in refs]
    # a worker of another kind reports text and output the store cannot keep (NUL characters)
    reports = [
        {
            "task_id": ids[0],
            "attempt": 1,
            "status": "failed",
            "error_type": "E\x00",
            "retryable": False,
            "error_message": "bad \x00 text",
            "traceback": "t" * 1_000_000,
        },
        {"task_id": ids[1], "attempt": 1, "status": "completed", "output": {"text": "nul \x00"}},
    ]
    assert r.connection.call("task_results", reports) == 2

    failed, refused = (r.runs._wait(ref.run_id).tasks[0] for ref in refs)
    assert failed.status == "FAILED" and failed.error is not None
    assert failed.error["message"] == "bad \\x00 text"
    assert refused.status == "FAILED" and refused.error is not None
    assert refused.error["type"] == "OutputNotStorable"
    assert "['text'] holds a NUL character" in refused.error["message"]
    release.set()
    _assert_healthy(r, hello)


def test_a_failed_worker_registration_registers_no_workflow(new_client):
    r = new_client()
    hello = _hello(r)
    start(r)
    ghost = dict(hello.spec.to_dict(), name="ghost")

    with pytest.raises(ActorError, match="nope"):
        r.connection.call(
            "register_worker",
            {"worker_id": "ghost-worker", "name": "g", "actor": "nope", "slots": 1, "workflows": [ghost]},
        )

    assert "ghost" not in r.connection.call("list_workflows")
    _assert_healthy(r, hello)


@pytest.mark.parametrize("running", ["t:1", [["t"]], [["t", "one"]], [[1, 1]], [{"task_id": "t"}], 5])
def test_a_registration_with_garbage_durable_attempts_is_refused_and_registers_nothing(
    shared_engine, running
):
    r, hello = shared_engine
    ghost = dict(hello.spec.to_dict(), name="ghost-durable")
    registration = {"worker_id": "gw", "name": "g", "actor": "a", "slots": 1, "workflows": [ghost]}

    with pytest.raises(ActorError) as info:
        r.connection.call("register_worker", {**registration, "durable_running": running}, timeout=5)

    assert info.value.error_type == "ratchet._contract.protocol.RequestError"
    assert "durable_running" in info.value.error_message
    assert "ghost-durable" not in r.connection.call("list_workflows")
    _assert_healthy(r, hello)


def test_a_worker_listing_a_workflow_without_tasks_is_refused_when_declared(new_client):
    r = new_client()
    hello = _hello(r)
    empty = r.workflow("empty")

    with pytest.raises(DefinitionError, match=r"worker 'w2': workflow 'empty' has no tasks; declare"):
        r.worker("w2", workflows=[hello, empty])
    with pytest.raises(DefinitionError, match=r"worker 'w3': workflow 'empty' has no tasks"):
        r.worker("w3")  # every workflow of the client, the empty one too

    r.embedded("memory://", workers=[r.worker("w1", workflows=[hello])])
    _assert_healthy(r, hello)


def test_registering_a_workflow_without_tasks_is_refused_and_the_engine_keeps_serving(new_client):
    r = new_client()
    hello = _hello(r)
    start(r)
    empty = {"name": "empty", "tasks": []}

    with pytest.raises(ActorError, match=r"workflow 'empty' has no tasks; declare at least one"):
        r.connection.call(
            "register_worker",
            {"worker_id": "w2", "name": "w2", "actor": "nope", "slots": 1, "workflows": [empty]},
        )

    assert "empty" not in r.connection.call("list_workflows")
    _assert_healthy(r, hello)


def test_a_worker_whose_registration_is_refused_stops_trying_and_the_engine_keeps_serving(new_client):
    r = new_client()
    hello = _hello(r)
    start(r)
    system = system_of(r.connection.gateway)
    # a worker that claims to be remote, which this in-process engine cannot reach
    config = WorkerConfig("odd", [hello])

    async def spawn_and_wait() -> None:
        ref = await system.spawn(WorkerActor, config, r.connection.gateway, peer="elsewhere", name="odd")
        await ref.wait_registered.ask()

    with pytest.raises(ActorError, match=r"the engine refused worker 'odd': .*in-process workers only"):
        r.connection.run_in_portal(spawn_and_wait)
    assert system.lookup("odd").statistics().restarts == 0  # no crash, no loop
    _assert_healthy(r, hello)


def test_run_many_with_return_exceptions_puts_a_refused_run_in_its_place(new_client):
    r = new_client()
    hello = _hello(r)
    start(r, options=EngineOptions(max_payload_bytes=LIMIT))

    results = hello.run_many(
        [
            hello.create_bulk_run_item({"name": "a"}),
            hello.create_bulk_run_item({"name": "x" * (LIMIT + 1)}),
            hello.create_bulk_run_item({"name": "b"}),
        ],
        return_exceptions=True,
    )

    assert results[0] == "hi a" and results[2] == "hi b"
    assert isinstance(results[1], ValueError) and "over the engine's limit" in str(results[1])
    assert len(r.runs.list()) == 2
