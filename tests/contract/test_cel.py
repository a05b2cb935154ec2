"""CEL expressions: compiled once per text, plain Python results, clear errors.

The fast path for plain field paths must agree with the interpreter on every input:
a Hypothesis property feeds both random JSON-like activations and random paths.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet._contract.cel import MAX_EXPRESSION_LENGTH, CelError, CompiledCel, compile_cel

ACTIVATION = {
    "input": {"user_id": "u1", "n": 5, "f": 1.5, "ok": True, "tags": ["a", "b"], "nested": {"k": None}},
    "additional_metadata": {"tenant": "acme"},
}


def test_compile_caches_by_text() -> None:
    assert compile_cel("input.user_id") is compile_cel("input.user_id")
    assert compile_cel("input.n + 1") is not compile_cel("input.n + 2")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("input.user_id", "u1"),
        ("additional_metadata.tenant", "acme"),
        ("input.n + 1", 6),
        ("input.f * 2.0", 3.0),
        ("input.ok", True),
        ("input.n > 3", True),
        ("'user-' + input.user_id", "user-u1"),
        ("input.tags", ["a", "b"]),
        ("input.nested", {"k": None}),
        ("input.nested.k", None),
        ("size(input.tags)", 2),
        ("{'a': [1, true]}", {"a": [1, True]}),
    ],
)
def test_evaluate_returns_plain_python(text: str, expected: Any) -> None:
    result = compile_cel(text).evaluate(ACTIVATION)
    assert result == expected
    assert type(result) is type(expected)
    if isinstance(result, list):
        assert all(type(a) is type(b) for a, b in zip(result, expected, strict=True))


def test_field_paths_take_the_fast_path() -> None:
    assert compile_cel("input.user_id").path == ("input", "user_id")
    assert compile_cel(" input . nested . k ").path == ("input", "nested", "k")
    assert compile_cel("input.n + 1").path is None
    assert compile_cel("input").path == ("input",)


@pytest.mark.parametrize("text", ["input.", "(", "a b", "input.x ==", "input.true", "'unterminated"])
def test_bad_expression_names_itself_and_the_parser_message(text: str) -> None:
    with pytest.raises(CelError) as info:
        compile_cel(text)
    message = str(info.value)
    assert repr(text) in message
    assert message.startswith("bad CEL expression")
    assert "^" in message  # the parser's pointer at the offending column


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "must be a non-empty string"),
        (42, "must be a non-empty string"),
        (b"input.x", "must be a non-empty string"),
        ("", "must be a non-empty string"),
        ("   ", "must be a non-empty string"),
        ("x" * (MAX_EXPRESSION_LENGTH + 1), "the limit is"),
    ],
)
def test_garbage_is_refused(value: Any, problem: str) -> None:
    with pytest.raises(CelError, match=problem):
        compile_cel(value)


def test_cel_error_is_a_value_error() -> None:
    assert issubclass(CelError, ValueError)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("input.missing", "no such member"),
        ("input.user_id.deeper", "field selection"),
        ("nope.x", "undeclared reference to 'nope'"),
        ("1 / 0", "divide by zero"),
        ("input.missing == 1 ? 1 : 2", ""),
        ("input.n + 'x'", ""),
    ],
)
def test_evaluation_failures_name_the_expression(text: str, reason: str) -> None:
    with pytest.raises(CelError) as info:
        compile_cel(text).evaluate(ACTIVATION)
    message = str(info.value)
    assert repr(text) in message and reason in message
    assert "Activation(" not in message  # no dump of the whole activation


def test_values_cel_cannot_hold_fail_in_both_paths() -> None:
    huge = {"input": {"n": 2**70}, "additional_metadata": {"k": "v"}}
    for text in ("input.n", "input.n + 0"):
        with pytest.raises(CelError, match="'input' cannot be read in CEL: overflow"):
            compile_cel(text).evaluate(huge)
    # only expressions that read the unusable variable fail
    assert compile_cel("additional_metadata.k").evaluate(huge) == "v"
    assert compile_cel("additional_metadata.k + '!'").evaluate(huge) == "v!"


def test_a_compiled_expression_is_reusable_with_new_values() -> None:
    compiled = compile_cel("input.user_id")
    assert [compiled.evaluate({"input": {"user_id": u}}) for u in ("a", "b")] == ["a", "b"]
    assert isinstance(compiled, CompiledCel)
    assert "input.user_id" in repr(compiled)


# -- the fast path agrees with the interpreter ------------------------------------------------

NAMES = st.sampled_from(["a", "b", "user_id", "x1", "_y"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**66), max_value=2**66)
    | st.floats(allow_nan=True)
    | st.text(max_size=5)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=12,
)


def _outcome(compiled: CompiledCel, activation: dict[str, Any], *, interpret: bool) -> Any:
    try:
        value = compiled._interpret(activation) if interpret else compiled.evaluate(activation)
    except CelError:
        return "error"
    return ("ok", value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(
    activation=st.dictionaries(st.sampled_from(["input", "additional_metadata"]), JSON, max_size=2),
    path=st.lists(NAMES, min_size=0, max_size=3),
    head=st.sampled_from(["input", "additional_metadata", "other"]),
)
def test_fast_path_agrees_with_the_interpreter(
    activation: dict[str, Any], path: list[str], head: str
) -> None:
    compiled = compile_cel(".".join([head, *path]))
    assert compiled.path is not None
    fast = _outcome(compiled, activation, interpret=False)
    slow = _outcome(compiled, activation, interpret=True)
    assert _same(fast, slow), (fast, slow)
