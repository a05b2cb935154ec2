"""The wire contract: method names, limits, request builders, error codes, idempotency keys."""

from __future__ import annotations

import inspect

import pytest

from ratchet._contract import keys
from ratchet._contract.cel import CelError
from ratchet._contract.cron import CronError
from ratchet._contract.protocol import (
    IDEMPOTENT,
    MAX_ID_LENGTH,
    ErrorCode,
    Method,
    PushEventRequest,
    RequestError,
    TriggerRequest,
    check_id,
    error_code,
    event_request,
    parse,
    trigger_request,
)
from ratchet.actors.auth._roles import METHOD_ROLES
from ratchet.actors.durable._tasks import NonDeterminismError
from ratchet.actors.gateway._gateway import IN_PROCESS_ONLY, Gateway
from ratchet.actors.triggers._crons import TriggerError
from ratchet.runtime import Actor


def _gateway_methods() -> set[str]:
    base = set(dir(Actor))
    return {
        name
        for name, value in inspect.getmembers(Gateway)
        if not name.startswith("_") and name not in base and callable(value)
    }


def test_the_method_names_are_the_gateways_methods() -> None:
    assert {str(m) for m in Method} == _gateway_methods() - IN_PROCESS_ONLY


def test_in_process_gateway_methods_are_never_served_to_peers() -> None:
    assert IN_PROCESS_ONLY <= _gateway_methods()
    assert not IN_PROCESS_ONLY & set(METHOD_ROLES)


def test_idempotent_methods_are_gateway_methods_that_only_read_or_repeat() -> None:
    assert IDEMPOTENT <= set(Method)
    assert Method.TRIGGER not in IDEMPOTENT  # a trigger without a key would start a second run
    assert Method.PUSH_EVENTS not in IDEMPOTENT


def test_a_method_is_its_plain_name() -> None:
    assert Method.TRIGGER == "trigger"
    assert str(Method.GET_RUN) == "get_run"
    assert f"{Method.WAIT_RUN}" == "wait_run"


@pytest.mark.parametrize("value", ["r", "x" * MAX_ID_LENGTH])
def test_check_id_accepts_one_to_max_characters(value: str) -> None:
    assert check_id(value, "get_run") == value


@pytest.mark.parametrize("value", ["", "x" * (MAX_ID_LENGTH + 1), 7, None, ["r"]])
def test_check_id_refuses_anything_else_naming_the_call_and_the_kind(value: object) -> None:
    with pytest.raises(RequestError, match=r"^cancel_runs: .* is not a run id$"):
        check_id(value, "cancel_runs", "a run id")


def _wire_name(cls: type) -> str:
    """What the runtime sends as an ActorError's error_type for an exception of ``cls``."""
    return f"{cls.__module__}.{cls.__qualname__}"


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (RequestError, ErrorCode.REQUEST),
        (NonDeterminismError, ErrorCode.NON_DETERMINISM),
        (TriggerError, ErrorCode.TRIGGER),
        (CronError, ErrorCode.CRON),
        (CelError, ErrorCode.CEL),
    ],
)
def test_each_error_the_engine_raises_across_the_wire_has_its_code(cls: type, code: ErrorCode) -> None:
    assert error_code(_wire_name(cls)) is code


@pytest.mark.parametrize(
    "error_type", ["ValueError", "myapp.errors.RequestError", "RequestError", "ratchet.NoSuchError", ""]
)
def test_errors_that_are_not_ratchets_own_have_no_code(error_type: str) -> None:
    assert error_code(error_type) is None


def test_the_public_module_of_an_error_keeps_its_code() -> None:
    assert error_code("ratchet.NonDeterminismError") is ErrorCode.NON_DETERMINISM


def _fields(fn: object) -> set[str]:
    return set(inspect.signature(fn).parameters)  # type: ignore[arg-type]


def test_trigger_request_speaks_the_trigger_models_fields() -> None:
    assert _fields(trigger_request) == set(TriggerRequest.model_fields)
    full = trigger_request(
        "wf",
        {"a": 1},
        {"m": 2},
        priority=3,
        key="k",
        parent_task_id="t",
        desired_worker_labels={"gpu": {"value": 1}},
    )
    req = parse(TriggerRequest, full, "run request")
    assert (req.workflow, req.priority, req.key, req.parent_task_id) == ("wf", 3, "k", "t")
    assert trigger_request("wf", None, {}) == {"workflow": "wf", "input": None, "additional_metadata": {}}


def test_event_request_speaks_the_event_models_fields() -> None:
    assert _fields(event_request) == set(PushEventRequest.model_fields)
    req = parse(PushEventRequest, event_request("user:created", {"id": 1}, {"m": 1}, "s", 2), "event")
    assert (req.key, req.payload, req.scope, req.priority) == ("user:created", {"id": 1}, "s", 2)
    assert event_request("k", None) == {"key": "k", "payload": None}


def test_the_idempotency_key_grammar() -> None:
    assert keys.child_key("t1", "mine") == "child:t1:key:mine"
    assert keys.spawn_index_key("t1", 3, "wf") == "child:t1:3:wf"
    assert keys.durable_spawn_key("t1", 7, 2) == "durable:t1:7:2"
    assert keys.cron_key("w1", "nightly", 1700000000) == "cron:w1:nightly:1700000000"
    assert keys.event_key("e1", "f1", "wf") == "event:e1:f1:wf"
    assert keys.event_key("e1", None, "w:f") == "event:e1:-:w:f"


def test_the_event_of_a_run_is_read_back_from_its_key() -> None:
    assert keys.event_key("e1", "f1", "wf").startswith(keys.event_key_prefix("e1"))
    assert not keys.event_key("e10", None, "wf").startswith(keys.event_key_prefix("e1"))
    assert keys.event_of_key(keys.event_key("e-1", None, "a:b")) == "e-1"
    for other in (
        None,
        "",
        "event:",
        "event::x",
        "event:e1",
        keys.cron_key("w", "n", 1),
        "child:t:key:event:e",
    ):
        assert keys.event_of_key(other) is None


def test_a_user_key_never_collides_with_a_spawn_index_key() -> None:
    # an index key's second field is a number; a user key's is the word "key"
    assert keys.child_key("t1", "3:wf") != keys.spawn_index_key("t1", 3, "wf")
