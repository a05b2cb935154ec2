"""Workflow definitions as bad input: every invalid spec raises DefinitionError, and only that.

A spec arrives three ways (decorators, the wire, the store) and all of them go through
``WorkflowSpec.validate`` / ``from_dict``. These tests state each rule of a valid
definition, check that breaking it raises :class:`DefinitionError` whose message names
the workflow or task and the problem, that garbage off the wire raises nothing but
DefinitionError, and that the canonical dict form and the content ``version`` behave
like a value: round trip exactly, equal for equal specs, different for any change.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st

from ratchet._contract.spec import MAX_NAME_LENGTH, RetryPolicy, TaskKind, TaskSpec, WorkflowSpec
from ratchet._errors import DefinitionError

WF = "orders"


def wf(*tasks: TaskSpec, **options: Any) -> WorkflowSpec:
    return WorkflowSpec(WF, tasks, **options)


def t(name: str, *parents: str, **options: Any) -> TaskSpec:
    return TaskSpec(name, parents=parents, **options)


def failure(name: str = "alert", **options: Any) -> TaskSpec:
    return TaskSpec(name, kind=TaskKind.ON_FAILURE, **options)


def success(name: str = "notify", **options: Any) -> TaskSpec:
    return TaskSpec(name, kind=TaskKind.ON_SUCCESS, **options)


def short(value: object) -> str:
    """A readable test id: huge ints and long strings are cut down."""
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:10]}...({len(text)} chars)"


def message_of(build: Callable[[], object]) -> str:
    with pytest.raises(DefinitionError) as info:
        build()
    return str(info.value)


def assert_mentions(message: str, *words: str) -> None:
    for word in words:
        assert word in message, f"{word!r} missing from error message {message!r}"


# -- the DAG --------------------------------------------------------------------------------


def cycle_path(message: str) -> list[str]:
    assert "cycle" in message
    return message.split("cycle: ", 1)[1].split(" -> ")


@pytest.mark.parametrize(
    "tasks",
    [
        [t("a", "c"), t("b", "a"), t("c", "b")],
        [t("root"), t("a", "root", "c"), t("b", "a"), t("c", "b"), t("leaf", "c")],
        [t("x", "y"), t("y", "x")],
    ],
    ids=["triangle", "cycle-inside-dag", "two-cycle"],
)
def test_cycle_is_reported_with_its_path(tasks: list[TaskSpec]) -> None:
    message = message_of(lambda: wf(*tasks))
    assert_mentions(message, WF)
    path = cycle_path(message)
    parents = {task.name: task.parents for task in tasks}
    assert path[0] == path[-1], f"the path {path} does not close"
    assert len(path) >= 3
    for child, parent in itertools.pairwise(path):
        assert parent in parents[child], f"{child} -> {parent} is not an edge of the workflow"


def test_self_dependency_is_a_cycle() -> None:
    message = message_of(lambda: wf(t("a", "a")))
    assert cycle_path(message) == ["a", "a"]


def test_long_chain_declared_leaf_first_is_valid() -> None:
    # Validation must not depend on declaration order or recurse once per task: a chain
    # of 2,000 tasks declared leaf-first is a valid workflow.
    n = 2000
    tasks = [t(f"t{i}", f"t{i - 1}") if i else t("t0") for i in reversed(range(n))]
    spec = wf(*tasks)
    assert len(spec.tasks) == n


def test_long_cycle_is_reported_not_a_recursion_error() -> None:
    n = 2000
    tasks = [t(f"t{i}", f"t{(i - 1) % n}") for i in reversed(range(n))]
    message = message_of(lambda: wf(*tasks))
    assert len(cycle_path(message)) == n + 1


def test_unknown_parent_names_the_task_and_the_parent() -> None:
    message = message_of(lambda: wf(t("charge"), t("ship", "chrage")))
    assert_mentions(message, WF, "'ship'", "'chrage'", "unknown parent")


def test_duplicate_task_names() -> None:
    message = message_of(lambda: wf(t("charge"), t("ship"), t("charge", "ship")))
    assert_mentions(message, WF, "'charge'", "twice")


def test_duplicate_parent() -> None:
    message = message_of(lambda: wf(t("charge"), t("ship", "charge", "charge")))
    assert_mentions(message, WF, "'ship'", "parent twice")


@pytest.mark.parametrize("make", [failure, success], ids=["on_failure", "on_success"])
def test_two_handlers_of_one_kind(make: Callable[..., TaskSpec]) -> None:
    message = message_of(lambda: wf(t("a"), make("first"), make("second")))
    assert_mentions(message, WF, "'first'", "'second'", "two")


def test_one_handler_of_each_kind_is_fine() -> None:
    spec = wf(t("a"), failure(), success())
    assert spec.on_failure is not None and spec.on_failure.name == "alert"
    assert spec.on_success is not None and spec.on_success.name == "notify"
    assert [task.name for task in spec.dag_tasks] == ["a"]


@pytest.mark.parametrize("kind", [TaskKind.ON_FAILURE, TaskKind.ON_SUCCESS])
def test_handler_with_parents(kind: TaskKind) -> None:
    message = message_of(lambda: wf(t("a"), TaskSpec("h", kind=kind, parents=("a",))))
    assert_mentions(message, WF, "'h'", "cannot have parents", kind.value)


@pytest.mark.parametrize("make", [failure, success], ids=["on_failure", "on_success"])
def test_task_depending_on_a_handler(make: Callable[..., TaskSpec]) -> None:
    message = message_of(lambda: wf(t("a"), make("h"), t("b", "h")))
    assert_mentions(message, WF, "'b'", "'h'", "cannot depend")


def test_empty_workflow() -> None:
    assert_mentions(message_of(lambda: wf()), WF, "no tasks")


def test_workflow_with_only_handlers() -> None:
    message = message_of(lambda: wf(failure(), success()))
    assert_mentions(message, WF, "only handler")


def test_tasks_must_be_task_specs() -> None:
    message = message_of(lambda: wf(t("a"), {"name": "b"}))  # type: ignore[arg-type]
    assert_mentions(message, WF, "not a TaskSpec")


# -- names ----------------------------------------------------------------------------------

BAD_NAMES = ["", "   ", None, 5, b"bytes", "x" * (MAX_NAME_LENGTH + 1), "tab\there", "new\nline", "nul\x00"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=short)
def test_bad_workflow_name(name: object) -> None:
    message = message_of(lambda: WorkflowSpec(name, (t("a"),)))  # type: ignore[arg-type]
    assert_mentions(message, "workflow", "name")


@pytest.mark.parametrize("name", BAD_NAMES, ids=short)
def test_bad_task_name(name: object) -> None:
    message = message_of(lambda: TaskSpec(name))  # type: ignore[arg-type]
    assert_mentions(message, "task", "name")


@pytest.mark.parametrize("name", BAD_NAMES, ids=short)
def test_bad_parent_name(name: object) -> None:
    message = message_of(lambda: TaskSpec("ship", parents=(name,)))  # type: ignore[arg-type]
    assert_mentions(message, "'ship'", "parent")


@pytest.mark.parametrize("name", BAD_NAMES, ids=short)
def test_bad_event_key_and_cron(name: object) -> None:
    assert_mentions(message_of(lambda: wf(t("a"), on_events=(name,))), WF, "event key")
    assert_mentions(message_of(lambda: wf(t("a"), on_crons=(name,))), WF, "cron")


def test_longest_allowed_name() -> None:
    name = "n" * MAX_NAME_LENGTH
    assert WorkflowSpec(name, (TaskSpec(name),)).name == name


def test_parents_must_be_a_list_not_a_string() -> None:
    assert_mentions(message_of(lambda: TaskSpec("ship", parents="charge")), "'ship'", "parents")  # type: ignore[arg-type]


# -- options --------------------------------------------------------------------------------


@pytest.mark.parametrize("priority", [0, 4, -1, True, False, "2", None, 2.5])
def test_bad_priority(priority: object) -> None:
    message = message_of(lambda: wf(t("a"), default_priority=priority))
    assert_mentions(message, WF, "default_priority")


@pytest.mark.parametrize("priority", [1, 2, 3])
def test_good_priority(priority: int) -> None:
    assert wf(t("a"), default_priority=priority).default_priority == priority


def test_float_priority_is_rejected_or_means_the_same_version() -> None:
    # 2.0 == 2, so WorkflowSpec(default_priority=2.0) == WorkflowSpec(default_priority=2);
    # equal specs must share a version, or the float must be refused.
    try:
        as_float = wf(t("a"), default_priority=2.0)  # type: ignore[arg-type]
    except DefinitionError:
        return
    as_int = wf(t("a"), default_priority=2)
    assert as_float == as_int
    assert as_float.version == as_int.version


@pytest.mark.parametrize("retries", [-1, 1.5, True, 1001, "3", None, 10**400], ids=short)
def test_bad_retries(retries: object) -> None:
    assert_mentions(message_of(lambda: RetryPolicy(retries=retries)), "retries")  # type: ignore[arg-type]


@pytest.mark.parametrize("retries", [0, 1, 1000])
def test_good_retries(retries: int) -> None:
    assert RetryPolicy(retries=retries).retries == retries


@pytest.mark.parametrize(
    "factor", [0, 0.0, -1, -0.5, math.nan, math.inf, -math.inf, True, "2", 10**400], ids=short
)
def test_bad_backoff_factor(factor: object) -> None:
    message = message_of(lambda: RetryPolicy(retries=3, backoff_factor=factor))  # type: ignore[arg-type]
    assert_mentions(message, "backoff_factor")


@pytest.mark.parametrize("cap", [-1, -0.001, math.nan, math.inf, True, "60", 10**400], ids=short)
def test_bad_backoff_max(cap: object) -> None:
    message = message_of(lambda: RetryPolicy(retries=3, backoff_factor=2, backoff_max_seconds=cap))  # type: ignore[arg-type]
    assert_mentions(message, "backoff_max_seconds")


BAD_TIMEOUTS = [0, 0.0, -1, -0.5, math.nan, math.inf, -math.inf, True, "10s", None, 10**400]


@pytest.mark.parametrize("option", ["execution_timeout", "schedule_timeout"])
@pytest.mark.parametrize("value", BAD_TIMEOUTS, ids=short)
def test_bad_timeout(option: str, value: object) -> None:
    message = message_of(lambda: TaskSpec("charge", **{option: value}))
    assert_mentions(message, "'charge'", option)


def test_bad_kind() -> None:
    assert_mentions(message_of(lambda: TaskSpec("a", kind="task")), "'a'", "kind")  # type: ignore[arg-type]


def test_bad_retry_object() -> None:
    assert_mentions(message_of(lambda: TaskSpec("a", retry=3)), "'a'", "retry")  # type: ignore[arg-type]


# -- from_dict: the wire --------------------------------------------------------------------


def valid_dict() -> dict[str, Any]:
    return wf(t("charge", retry=RetryPolicy(2, 2.0, 30.0)), t("ship", "charge"), failure()).to_dict()


@pytest.mark.parametrize("data", [None, [], (), "orders", 5, 1.5, b"{}", {"x"}], ids=short)
def test_from_dict_refuses_non_mappings(data: object) -> None:
    assert_mentions(message_of(lambda: WorkflowSpec.from_dict(data)), "mapping")  # type: ignore[arg-type]


@pytest.mark.parametrize("task", [None, [], "charge", 5], ids=short)
def test_from_dict_refuses_non_mapping_tasks(task: object) -> None:
    data = valid_dict()
    data["tasks"].append(task)
    message_of(lambda: WorkflowSpec.from_dict(data))


@pytest.mark.parametrize("missing", ["name", "tasks"])
def test_from_dict_missing_workflow_field(missing: str) -> None:
    data = valid_dict()
    del data[missing]
    message_of(lambda: WorkflowSpec.from_dict(data))


def test_from_dict_task_without_name() -> None:
    data = valid_dict()
    del data["tasks"][1]["name"]
    assert_mentions(message_of(lambda: WorkflowSpec.from_dict(data)), "name")


@pytest.mark.parametrize("kind", ["weird", "", None, 3, ["task"], {"k": 1}], ids=short)
def test_from_dict_unknown_kind(kind: object) -> None:
    data = valid_dict()
    data["tasks"][0]["kind"] = kind
    assert_mentions(message_of(lambda: WorkflowSpec.from_dict(data)), "kind")


WRONG_WORKFLOW_FIELDS = [
    ("name", 5),
    ("name", None),
    ("name", ["orders"]),
    ("tasks", "charge"),
    ("tasks", {"charge": {}}),
    ("tasks", 5),
    ("tasks", None),
    ("tasks", []),
    ("on_events", 5),
    ("on_events", "order.created"),
    ("on_events", [5]),
    ("on_events", [None]),
    ("on_crons", "0 * * * *"),
    ("on_crons", 7),
    ("default_priority", "2"),
    ("default_priority", 7),
    ("default_priority", None),
]


@pytest.mark.parametrize(("field", "value"), WRONG_WORKFLOW_FIELDS, ids=short)
def test_from_dict_wrong_workflow_field(field: str, value: object) -> None:
    data = valid_dict()
    data[field] = value
    message_of(lambda: WorkflowSpec.from_dict(data))


WRONG_TASK_FIELDS = [
    ("parents", "charge"),
    ("parents", 5),
    ("parents", None),
    ("parents", {"charge": 1}),
    ("parents", [5]),
    ("retries", "2"),
    ("retries", -1),
    ("retries", 2.5),
    ("retries", None),
    ("backoff_factor", "2"),
    ("backoff_factor", 0),
    ("backoff_factor", [2]),
    ("backoff_max_seconds", -5),
    ("backoff_max_seconds", {}),
    ("execution_timeout", "10s"),
    ("execution_timeout", 0),
    ("execution_timeout", None),
    ("execution_timeout", 10**400),
    ("schedule_timeout", -1),
    ("schedule_timeout", [1]),
    ("schedule_timeout", 10**400),
]


@pytest.mark.parametrize(("field", "value"), WRONG_TASK_FIELDS, ids=short)
def test_from_dict_wrong_task_field(field: str, value: object) -> None:
    data = valid_dict()
    data["tasks"][1][field] = value
    message_of(lambda: WorkflowSpec.from_dict(data))


@pytest.mark.parametrize(
    ("field", "value"),
    [("retries", -1), ("backoff_factor", 0), ("execution_timeout", -1), ("parents", ["nope"])],
)
def test_from_dict_error_names_the_workflow_and_the_task(field: str, value: object) -> None:
    # A spec off the wire has many tasks; the error must say which one is wrong.
    data = valid_dict()
    data["tasks"][1][field] = value
    assert_mentions(message_of(lambda: WorkflowSpec.from_dict(data)), WF, "'ship'")


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["task", "on_failure", "durable", "charge", "ship", "orders", "10s"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["name", "tasks", "kind", "parents", "retries", "on_events", "default_priority", "x"]
            )
            | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
WORKFLOW_FIELDS = ["name", "tasks", "on_events", "on_crons", "default_priority", "description"]
TASK_FIELDS = [
    "name",
    "kind",
    "parents",
    "retries",
    "backoff_factor",
    "backoff_max_seconds",
    "execution_timeout",
    "schedule_timeout",
]


def from_dict_or_definition_error(data: object) -> WorkflowSpec | None:
    """Only DefinitionError may escape; anything else fails the test."""
    try:
        return WorkflowSpec.from_dict(data)  # type: ignore[arg-type]
    except DefinitionError:
        return None


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_from_dict_on_random_junk_raises_only_definition_error(data: object) -> None:
    from_dict_or_definition_error(data)


@settings(max_examples=150, deadline=None)
@given(
    workflow_junk=st.dictionaries(st.sampled_from(WORKFLOW_FIELDS), json_values, max_size=3),
    task_junk=st.dictionaries(st.sampled_from(TASK_FIELDS), json_values, max_size=3),
    task_index=st.integers(0, 2),
)
def test_from_dict_on_junk_fields_raises_only_definition_error(
    workflow_junk: dict[str, Any], task_junk: dict[str, Any], task_index: int
) -> None:
    data = valid_dict()
    data["tasks"][task_index].update(task_junk)
    data.update(workflow_junk)
    spec = from_dict_or_definition_error(data)
    if spec is not None:
        # Whatever was accepted is a proper value: it round-trips and has a version.
        assert WorkflowSpec.from_dict(spec.to_dict()) == spec
        assert len(spec.version) == 16


# -- round trip and version -----------------------------------------------------------------

names = st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S"]), min_size=1, max_size=12)
timeouts = st.floats(min_value=0.001, max_value=1e6, allow_nan=False)
policies = st.builds(
    RetryPolicy,
    retries=st.integers(0, 1000),
    backoff_factor=st.none() | st.floats(min_value=0.01, max_value=100, allow_nan=False),
    backoff_max_seconds=st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False),
)


@st.composite
def workflow_specs(draw: st.DrawFn) -> WorkflowSpec:
    """A valid random workflow: 1-8 DAG tasks, parents among earlier ones, optional handlers."""
    task_names = draw(st.lists(names, min_size=1, max_size=8, unique=True))
    tasks = []
    for i, name in enumerate(task_names):
        parents = draw(st.lists(st.sampled_from(task_names[:i]), unique=True, max_size=3)) if i else []
        tasks.append(
            TaskSpec(
                name,
                kind=draw(st.sampled_from([TaskKind.TASK, TaskKind.DURABLE])),
                parents=tuple(parents),
                retry=draw(policies),
                execution_timeout=draw(timeouts),
                schedule_timeout=draw(timeouts),
            )
        )
    for kind in (TaskKind.ON_FAILURE, TaskKind.ON_SUCCESS):
        if draw(st.booleans()):
            handler = draw(names.filter(lambda n: n not in task_names))
            task_names.append(handler)
            tasks.append(TaskSpec(handler, kind=kind, retry=draw(policies)))
    # Parents may be declared after their children: validation must not care.
    tasks = draw(st.permutations(tasks))
    return WorkflowSpec(
        draw(names),
        tuple(tasks),
        on_events=tuple(draw(st.lists(names, max_size=3))),
        on_crons=tuple(draw(st.lists(st.sampled_from(["* * * * *", "0 9 * * 1-5"]), max_size=2))),
        default_priority=draw(st.integers(1, 3)),
        description=draw(st.text(max_size=20)),
    )


@settings(max_examples=150, deadline=None)
@given(workflow_specs())
def test_round_trip_through_dict_and_json(spec: WorkflowSpec) -> None:
    assert WorkflowSpec.from_dict(spec.to_dict()) == spec
    wire = json.loads(json.dumps(spec.to_dict()))
    again = WorkflowSpec.from_dict(wire)
    assert again == spec
    assert again.version == spec.version
    assert again.to_dict() == spec.to_dict()


def _retask(spec: WorkflowSpec, index: int, **changes: Any) -> WorkflowSpec:
    tasks = list(spec.tasks)
    data = tasks[index].to_dict()
    data.update(changes)
    tasks[index] = TaskSpec.from_dict(data)
    return WorkflowSpec(
        spec.name, tuple(tasks), spec.on_events, spec.on_crons, spec.default_priority, spec.description
    )


def _rebuild(spec: WorkflowSpec, **changes: Any) -> WorkflowSpec:
    data = spec.to_dict()
    data.update(changes)
    return WorkflowSpec.from_dict(data)


MUTATIONS: list[Callable[[WorkflowSpec, int], WorkflowSpec]] = [
    lambda s, i: _rebuild(s, name=s.name + "x"),
    lambda s, i: _rebuild(s, description=s.description + "x"),
    lambda s, i: _rebuild(s, default_priority=s.default_priority % 3 + 1),
    lambda s, i: _rebuild(s, on_events=[*s.on_events, "new.event"]),
    lambda s, i: _rebuild(s, on_crons=[*s.on_crons, "5 4 * * *"]),
    lambda s, i: _rebuild(s, tasks=[t.to_dict() for t in reversed(s.tasks)]),
    lambda s, i: _retask(s, i, execution_timeout=s.tasks[i].execution_timeout + 1),
    lambda s, i: _retask(s, i, schedule_timeout=s.tasks[i].schedule_timeout * 2),
    lambda s, i: _retask(s, i, retries=(s.tasks[i].retry.retries + 1) % 1001),
    lambda s, i: _retask(s, i, backoff_factor=None if s.tasks[i].retry.backoff_factor else 1.5),
    lambda s, i: _retask(s, i, backoff_max_seconds=None if s.tasks[i].retry.backoff_max_seconds else 9.0),
    lambda s, i: _retask(s, i, kind="durable" if s.tasks[i].kind is TaskKind.TASK else "task"),
]


@settings(max_examples=200, deadline=None)
@given(workflow_specs(), st.sampled_from(range(len(MUTATIONS))), st.data())
def test_version_changes_with_any_change(spec: WorkflowSpec, which: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(spec.tasks) - 1))
    try:
        changed = MUTATIONS[which](spec, index)
    except DefinitionError:
        reject()  # the change made the spec invalid; nothing to compare
    assume(changed != spec)
    assert changed.version != spec.version


@settings(max_examples=100, deadline=None)
@given(workflow_specs())
def test_version_is_stable_for_equal_specs(spec: WorkflowSpec) -> None:
    twin = WorkflowSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert twin is not spec and twin == spec
    assert twin.version == spec.version
    assert spec.version == spec.version
    assert len(spec.version) == 16 and int(spec.version, 16) >= 0


def test_version_ignores_int_versus_float_spelling() -> None:
    # 60 == 60.0: a spec written with ints is the same spec as one written with floats.
    as_ints = wf(t("a", retry=RetryPolicy(3, 2, 60), execution_timeout=60, schedule_timeout=300))
    as_floats = wf(t("a", retry=RetryPolicy(3, 2.0, 60.0), execution_timeout=60.0, schedule_timeout=300.0))
    assert as_ints == as_floats
    assert as_ints.version == as_floats.version


def test_known_version_of_a_fixed_spec_does_not_drift_between_calls() -> None:
    first = valid_dict()
    assert WorkflowSpec.from_dict(first).version == WorkflowSpec.from_dict(valid_dict()).version


# -- RetryPolicy.delay ----------------------------------------------------------------------


def expected_delay(factor: float, cap: float | None, n: int) -> float:
    try:
        raw = float(factor) ** n
    except OverflowError:
        raw = math.inf
    return raw if cap is None else min(cap, raw)


@settings(max_examples=200, deadline=None)
@given(
    factor=st.floats(min_value=0.01, max_value=1000, allow_nan=False) | st.integers(1, 1000),
    cap=st.none() | st.floats(min_value=0, max_value=1e9, allow_nan=False) | st.integers(0, 10**6),
    n=st.integers(1, 10**6),
)
def test_delay_is_factor_to_the_n_capped(factor: float, cap: float | None, n: int) -> None:
    policy = RetryPolicy(retries=5, backoff_factor=factor, backoff_max_seconds=cap)
    assert policy.delay(n) == expected_delay(factor, cap, n)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 10**9))
def test_delay_without_factor_is_zero(n: int) -> None:
    assert RetryPolicy(retries=3).delay(n) == 0
    assert RetryPolicy(retries=3, backoff_max_seconds=60).delay(n) == 0


@pytest.mark.parametrize("factor", [2, 2.0, 10, 1.5])
@pytest.mark.parametrize("n", [1100, 10**6, 10**7, 10**18])
def test_delay_of_huge_retry_numbers_is_the_cap(factor: float, n: int) -> None:
    policy = RetryPolicy(retries=5, backoff_factor=factor, backoff_max_seconds=60)
    assert policy.delay(n) == 60


def test_delay_schedule_example() -> None:
    policy = RetryPolicy(retries=5, backoff_factor=2, backoff_max_seconds=10)
    assert [policy.delay(n) for n in range(1, 6)] == [2, 4, 8, 10, 10]


@pytest.mark.parametrize("n", [0, -1])
def test_delay_numbers_start_at_one(n: int) -> None:
    with pytest.raises(ValueError, match="start at 1"):
        RetryPolicy(retries=1, backoff_factor=2).delay(n)
