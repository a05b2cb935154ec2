"""Flow-control declarations as values: valid ones round-trip, bad ones fail at once.

Concurrency expressions, rate limits, desired worker labels, sticky strategies and
priorities are checked when declared (a bad CEL expression names itself and the parser's
message), travel inside workflow specs through ``to_dict``/``from_dict`` unchanged (same
version), and garbage off the wire raises :class:`DefinitionError` and nothing else.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    DefinitionError,
    DesiredWorkerLabel,
    Priority,
    Ratchet,
    RateLimit,
    RateLimitDuration,
    StickyStrategy,
    WorkerLabel,
    WorkerLabelComparator,
)
from ratchet._contract.flow import check_rate_limit_put, check_worker_labels
from ratchet._contract.spec import TaskSpec, WorkflowSpec


def message_of(build: Any) -> str:
    with pytest.raises(DefinitionError) as info:
        build()
    return str(info.value)


# -- concurrency ---------------------------------------------------------------------------------


def test_concurrency_expression_defaults_to_round_robin() -> None:
    c = ConcurrencyExpression("input.user_id", 5)
    assert c.limit_strategy is ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN
    assert ConcurrencyExpression("input.user_id", 5, "CANCEL_NEWEST").limit_strategy.name == "CANCEL_NEWEST"


@pytest.mark.parametrize("expression", ["input.", "input.user_id ==", "(", "", "   ", None, 5])
def test_bad_concurrency_expression_names_expression_and_parser_message(expression: Any) -> None:
    message = message_of(lambda: ConcurrencyExpression(expression, 1))
    assert "concurrency expression" in message
    if isinstance(expression, str) and expression.strip():
        assert repr(expression) in message and "^" in message


@pytest.mark.parametrize("max_runs", [0, -1, 100_001, 1.5, "2", None, True])
def test_bad_max_runs_is_refused(max_runs: Any) -> None:
    message = message_of(lambda: ConcurrencyExpression("input.user_id", max_runs))
    assert "max_runs" in message and "input.user_id" in message


@pytest.mark.parametrize("strategy", ["ROUND_ROBIN", 3, None, "cancel_newest"])
def test_bad_limit_strategy_is_refused(strategy: Any) -> None:
    assert "limit_strategy" in message_of(lambda: ConcurrencyExpression("input.k", 1, strategy))


@pytest.mark.parametrize("value", ["input.user_id", True, 0, [1, "x"], {"max_runs": 1}, 1.5])
def test_bad_concurrency_option_on_a_workflow_is_refused(value: Any) -> None:
    client = Ratchet()
    with pytest.raises(DefinitionError):
        client.workflow("w", concurrency=value)


def test_int_concurrency_means_one_group() -> None:
    wf = Ratchet().workflow("w", concurrency=4)
    (c,) = wf.concurrency
    assert c.max_runs == 4 and c.limit_strategy is ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN


# -- rate limits ------------------------------------------------------------------------------------


def test_rate_limit_forms() -> None:
    static = RateLimit(static_key="openai", units=2)
    assert static.key == "openai" and static.limit is None
    dynamic = RateLimit(dynamic_key="input.user_id", units="input.tokens", limit=10, duration="HOUR")
    assert dynamic.duration is RateLimitDuration.HOUR and dynamic.key == "input.user_id"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({}, "exactly one of static_key and dynamic_key"),
        ({"static_key": "a", "dynamic_key": "input.k", "limit": 1}, "exactly one"),
        ({"dynamic_key": "input.k"}, "needs limit="),
        ({"static_key": "a", "limit": 5}, "takes its limit from ratchet.rate_limits.put"),
        ({"static_key": ""}, "static_key must be a non-empty string"),
        ({"static_key": 5}, "static_key must be a non-empty string"),
        ({"dynamic_key": "input.", "limit": 1}, "bad CEL expression 'input.'"),
        ({"dynamic_key": "input.k", "limit": 0}, "limit must be from 1"),
        ({"dynamic_key": "input.k", "limit": "input.("}, "bad CEL expression 'input.('"),
        ({"static_key": "a", "units": 0}, "units must be from 1"),
        ({"static_key": "a", "units": -3}, "units must be from 1"),
        ({"static_key": "a", "units": 2.5}, "units must be a whole number"),
        ({"static_key": "a", "units": "input..n"}, "bad CEL expression"),
        ({"static_key": "a", "duration": "FORTNIGHT"}, "duration must be one of SECOND"),
        ({"static_key": "a", "duration": 60}, "duration must be one of"),
    ],
)
def test_bad_rate_limits_are_refused(kwargs: dict[str, Any], problem: str) -> None:
    assert problem in message_of(lambda: RateLimit(**kwargs))


def test_a_task_cannot_name_a_rate_limit_key_twice() -> None:
    wf = Ratchet().workflow("w")
    limits = [RateLimit(static_key="a"), RateLimit(static_key="a", units=2)]
    with pytest.raises(DefinitionError, match="names a key twice"):

        @wf.task(rate_limits=limits)
        def t(input: Any, ctx: Any) -> None: ...


@pytest.mark.parametrize("value", [RateLimit(static_key="a"), "a", [{"static_key": "a"}], [None]])
def test_rate_limits_option_takes_a_list_of_rate_limits(value: Any) -> None:
    wf = Ratchet().workflow("w")
    with pytest.raises(DefinitionError, match="rate_limits"):

        @wf.task(rate_limits=value)
        def t(input: Any, ctx: Any) -> None: ...


def test_durations_span_second_to_year() -> None:
    seconds = [d.seconds for d in RateLimitDuration]
    assert seconds[0] == 1 and seconds[-1] == 365 * 86400 and seconds == sorted(seconds)


@pytest.mark.parametrize(
    ("key", "limit", "duration", "problem"),
    [
        ("", 1, "SECOND", "key must be a non-empty string"),
        (None, 1, "SECOND", "key must be a non-empty string"),
        ("k" * 201, 1, "SECOND", "at most 200"),
        ("k", 0, "SECOND", "limit must be from 1"),
        ("k", -5, "SECOND", "limit must be from 1"),
        ("k", 10**10, "SECOND", "limit must be from 1"),
        ("k", "10", "SECOND", "whole number"),
        ("k", True, "SECOND", "whole number"),
        ("k", 1, "EON", "duration must be one of"),
        ("k", 1, None, "duration must be one of"),
    ],
)
def test_rate_limit_put_arguments_are_checked(key: Any, limit: Any, duration: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_rate_limit_put(key, limit, duration)


def test_rate_limits_put_refuses_garbage_before_reaching_the_engine() -> None:
    client = Ratchet(engine="tcp://127.0.0.1:1")  # never dialled: the check comes first
    with pytest.raises(ValueError, match="limit must be from 1"):
        client.rate_limits.put("openai", 0, RateLimitDuration.MINUTE)
    assert client._connection is None


# -- priorities, labels, sticky --------------------------------------------------------------------


def test_priority_values() -> None:
    assert [int(p) for p in Priority] == [1, 2, 3]
    wf = Ratchet().workflow("w", default_priority=Priority.HIGH)

    @wf.task()
    def t(input: Any, ctx: Any) -> None: ...

    assert wf.spec.default_priority == 3 and type(wf.spec.default_priority) is int


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"value": 1.5}, "string or a whole number"),
        ({"value": True}, "string or a whole number"),
        ({"value": None}, "string or a whole number"),
        ({"value": "x", "required": "yes"}, "required must be True or False"),
        ({"value": "x", "weight": -1}, "weight must be from 0"),
        ({"value": "x", "weight": 2.0}, "weight must be a whole number"),
        ({"value": "x", "comparator": 9}, "comparator must be one of"),
        ({"value": "gpu", "comparator": WorkerLabelComparator.GREATER_THAN}, "compares whole numbers"),
        ({"value": 2**64}, "fit in 64 bits"),
    ],
)
def test_bad_desired_worker_labels_are_refused(kwargs: dict[str, Any], problem: str) -> None:
    assert problem in message_of(lambda: DesiredWorkerLabel(**kwargs))


@pytest.mark.parametrize(
    "labels",
    [["model"], "model", {"": "x"}, {"model": 1.5}, {"model": None}, {5: "x"}, {"m": "x" * 300}],
)
def test_bad_desired_labels_on_a_task_are_refused(labels: Any) -> None:
    wf = Ratchet().workflow("w")
    with pytest.raises(DefinitionError):

        @wf.task(desired_worker_labels=labels)
        def t(input: Any, ctx: Any) -> None: ...


@pytest.mark.parametrize(
    "labels",
    [{"model": 1.5}, {"model": True}, {"": "x"}, {"model": None}, "model=x", [("model", "x")], {"m": "\n"}],
)
def test_bad_worker_labels_are_refused(labels: Any) -> None:
    client = Ratchet()
    wf = client.workflow("w")

    @wf.task()
    def t(input: Any, ctx: Any) -> None: ...

    with pytest.raises(ValueError, match="worker 'w1'"):
        client.worker("w1", labels=labels)


def test_worker_labels_as_dict_or_list() -> None:
    assert check_worker_labels({"model": "m", "memory": 512}, "w") == {"model": "m", "memory": 512}
    assert check_worker_labels([WorkerLabel("model", "m")], "w") == {"model": "m"}
    with pytest.raises(ValueError, match="given twice"):
        check_worker_labels([WorkerLabel("a", 1), WorkerLabel("a", 2)], "w")


@pytest.mark.parametrize("slots", [0, -1, 1.5, True])
def test_bad_slots_are_refused(slots: Any) -> None:
    client = Ratchet()
    client.workflow("w").task()(lambda input, ctx: None)
    with pytest.raises(ValueError, match="slots"):
        client.worker("w1", slots=slots)


@pytest.mark.parametrize("durable_slots", [-1, 1.5, "10", None])
def test_bad_durable_slots_are_refused(durable_slots: Any) -> None:
    client = Ratchet()
    client.workflow("w").task()(lambda input, ctx: None)
    with pytest.raises(ValueError, match="durable_slots"):
        client.worker("w1", durable_slots=durable_slots)


@pytest.mark.parametrize("sticky", ["soft", "ALWAYS", 1, True])
def test_bad_sticky_is_refused(sticky: Any) -> None:
    with pytest.raises(DefinitionError, match="sticky"):
        Ratchet().workflow("w", sticky=sticky)


def test_sticky_by_name_or_value() -> None:
    assert Ratchet().workflow("a", sticky="HARD").sticky is StickyStrategy.HARD
    assert Ratchet().workflow("b", sticky=StickyStrategy.SOFT).sticky is StickyStrategy.SOFT


# -- specs: the wire and the store ------------------------------------------------------------------


def flow_spec() -> WorkflowSpec:
    client = Ratchet()
    wf = client.workflow(
        "flows",
        concurrency=[ConcurrencyExpression("input.user_id", 2, "CANCEL_IN_PROGRESS"), 10],
        sticky="SOFT",
        default_priority=2,
    )

    @wf.task(
        concurrency=ConcurrencyExpression("additional_metadata.tenant", 3),
        rate_limits=[
            RateLimit(static_key="openai", units=2),
            RateLimit(dynamic_key="input.user_id", units="input.n", limit="input.cap", duration="DAY"),
        ],
        desired_worker_labels={
            "model": "llama",
            "memory": DesiredWorkerLabel(256, required=True, comparator=WorkerLabelComparator.GREATER_THAN),
        },
    )
    def first(input: Any, ctx: Any) -> None: ...

    @wf.task(parents=[first])
    def second(input: Any, ctx: Any) -> None: ...

    return wf.spec


def test_flow_options_round_trip_through_json() -> None:
    spec = flow_spec()
    again = WorkflowSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.version == spec.version
    assert again.flow_controlled and again.task("first").flow_controlled
    assert not again.task("second").flow_controlled


def test_specs_without_flow_options_keep_their_dict_form() -> None:
    spec = WorkflowSpec("plain", (TaskSpec("a"),))
    data = spec.to_dict()
    for field in ("concurrency", "sticky"):
        assert field not in data
    for field in ("concurrency", "rate_limits", "desired_worker_labels"):
        assert field not in data["tasks"][0]
    assert not spec.flow_controlled


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("concurrency",), [{"expression": "input.", "max_runs": 1}], "bad CEL expression 'input.'"),
        (("concurrency",), [{"expression": "input.k"}], "missing the field 'max_runs'"),
        (("concurrency",), [{"expression": "input.k", "max_runs": 0}], "max_runs"),
        (("concurrency",), "input.k", "must be a list"),
        (("sticky",), "MEDIUM", "sticky"),
        (("tasks", 0, "concurrency"), [{"expression": "((", "max_runs": 1}], "task 'first'"),
        (("tasks", 0, "rate_limits"), [{"dynamic_key": "input.x"}], "needs limit="),
        (("tasks", 0, "rate_limits"), [{"static_key": "a", "bogus": 1}], "unknown fields"),
        (("tasks", 0, "rate_limits"), [{"dynamic_key": "1 +", "limit": 1}], "bad CEL expression '1 +'"),
        (("tasks", 0, "desired_worker_labels"), ["x"], "must be a mapping"),
        (("tasks", 0, "desired_worker_labels"), {"k": {"required": True}}, "with a value"),
        (("tasks", 0, "desired_worker_labels"), {"k": {"value": "x", "comparator": "LESS_THAN"}}, "whole"),
    ],
)
def test_registration_refuses_bad_flow_fields(path: tuple[Any, ...], value: Any, problem: str) -> None:
    data = flow_spec().to_dict()
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    message = message_of(lambda: WorkflowSpec.from_dict(data))
    assert problem in message and "workflow 'flows'" in message


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
FLOW_FIELDS = ["concurrency", "rate_limits", "desired_worker_labels"]


@settings(max_examples=200, deadline=None)
@given(
    workflow_junk=st.dictionaries(st.sampled_from(["concurrency", "sticky"]), junk, max_size=2),
    task_junk=st.dictionaries(st.sampled_from(FLOW_FIELDS), junk, max_size=3),
    entry_junk=st.dictionaries(
        st.sampled_from(["static_key", "dynamic_key", "units", "limit", "duration"]),
        junk,
        max_size=3,
    ),
)
def test_junk_flow_fields_raise_only_definition_error(
    workflow_junk: dict[str, Any], task_junk: dict[str, Any], entry_junk: dict[str, Any]
) -> None:
    data = flow_spec().to_dict()
    data.update(workflow_junk)
    data["tasks"][0].update(task_junk)
    if isinstance(data["tasks"][0].get("rate_limits"), list) and data["tasks"][0]["rate_limits"]:
        entry = data["tasks"][0]["rate_limits"][0]
        if isinstance(entry, dict):
            entry.update(entry_junk)
    try:
        spec = WorkflowSpec.from_dict(data)
    except DefinitionError:
        return
    assert WorkflowSpec.from_dict(spec.to_dict()) == spec
