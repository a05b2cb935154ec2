"""CEL: compiled once per text, evaluated on plain values, failures named."""

from __future__ import annotations

import pytest

from ratchet._contract.cel import CelError, compile_cel


def test_an_expression_is_compiled_once_and_evaluates_to_plain_values():
    assert compile_cel("input.n * 2") is compile_cel("input.n * 2")
    assert compile_cel("input.n * 2").evaluate({"input": {"n": 21}}) == 42
    assert compile_cel("[input.a, {'k': input.b}]").evaluate({"input": {"a": "x", "b": 1.5}}) == [
        "x",
        {"k": 1.5},
    ]
    value = compile_cel("input.ok && payload.tier == 'big'").evaluate(
        {"input": {"ok": True}, "payload": {"tier": "big"}}
    )
    assert value is True


@pytest.mark.parametrize("text", ["input.(", "1 +", "'unterminated", "", "   ", None, 7])
def test_a_bad_expression_is_refused_naming_it(text):
    with pytest.raises(CelError, match="CEL expression"):
        compile_cel(text)


@pytest.mark.parametrize(
    ("text", "activation", "message"),
    [
        ("nope.x", {}, "undeclared reference to 'nope'"),
        ("input.missing", {"input": {}}, "no such member"),
        ("1 / input.zero", {"input": {"zero": 0}}, "divide by zero"),
    ],
)
def test_an_evaluation_failure_is_a_cel_error_naming_the_expression(text, activation, message):
    with pytest.raises(CelError, match=message) as info:
        compile_cel(text).evaluate(activation)
    assert repr(text) in str(info.value) and "\n" not in str(info.value)
