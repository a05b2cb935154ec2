"""Hypothesis strategies for what a task function does: the values it returns, the exceptions it raises.

Each strategy draws a :class:`Behaviour`: something a task function does (``act``), with
what the worker must report for it. Values come in three kinds: JSON-like data that must
arrive unchanged; values pydantic converts (tuples, datetimes, models, dataclasses); and
values the engine cannot carry (arbitrary objects, undecodable bytes, integers past 64
bits, NUL characters, lone surrogates, cycles, nesting past the limit, models whose
serializer raises), which must fail their attempt with a ``TypeError`` naming the task.
Exceptions range from the ordinary to the hostile: BaseExceptions such as ``SystemExit``,
exception groups, a ``__str__`` that raises or returns a non-string, messages of
megabytes, and tracebacks of hundreds of chained exceptions.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic
from hypothesis import strategies as st

from ratchet import NonRetryableException
from ratchet._contract.wire_values import MAX_DEPTH


@dataclass(frozen=True)
class Behaviour:
    """What a task function does, and what its attempt must be reported as.

    Attributes:
        act: called with no arguments by the task function: returns its output or raises.
        status: the reported status (``"completed"`` or ``"failed"``).
        output: for ``"completed"``: the reported output.
        error_type: for ``"failed"``: the reported exception type's name (without its module).
        retryable: for ``"failed"``: whether the engine may retry it.
    """

    act: Callable[[], Any]
    status: str
    output: Any = None
    error_type: str | None = None
    retryable: bool = True
    label: str = ""

    def __repr__(self) -> str:
        return f"<Behaviour {self.label or self.status}>"


def returning(value: Any, output: Any, label: str) -> Behaviour:
    return Behaviour(lambda: value, "completed", output=output, label=label)


def refused(value: Any, label: str) -> Behaviour:
    """Returns ``value``, which the engine cannot carry: a non-retryable TypeError."""
    return Behaviour(lambda: value, "failed", error_type="TypeError", retryable=False, label=label)


def raising(make: Callable[[], BaseException], error_type: str, retryable: bool, label: str) -> Behaviour:
    def act() -> Any:
        raise make()

    return Behaviour(act, "failed", error_type=error_type, retryable=retryable, label=label)


# -- values ----------------------------------------------------------------------------------------

plain_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | plain_text
)
#: JSON-like data the engine carries unchanged.
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(plain_text, inner, max_size=4),
    max_leaves=15,
)


class Point(pydantic.BaseModel):
    x: int
    label: str = "p"


@dataclasses.dataclass
class Size:
    width: int
    height: int


class Opaque:
    """An object pydantic cannot serialize, whose ``__str__`` and ``__repr__`` raise too."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class Holder:
    pass


@dataclasses.dataclass
class HoldsArbitrary:
    thing: Holder


class BrokenSerializer(pydantic.BaseModel):
    x: int = 1

    @pydantic.field_serializer("x")
    def _explode(self, value: int) -> int:
        raise LookupError("the serializer of x failed")


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def _cycle() -> list[Any]:
    loop: list[Any] = [1]
    loop.append(loop)
    return loop


CONVERTED = [
    ((1, "a"), [1, "a"], "tuple"),
    (datetime.datetime(2030, 1, 2, 3, 4, 5), "2030-01-02T03:04:05", "datetime"),
    (uuid.UUID(int=7), "00000000-0000-0000-0000-000000000007", "uuid"),
    (Point(x=3), {"x": 3, "label": "p"}, "pydantic model"),
    (Size(2, 3), {"width": 2, "height": 3}, "dataclass"),
    ({"nested": [Point(x=1)]}, {"nested": [{"x": 1, "label": "p"}]}, "model inside a dict"),
    ({1: "one"}, {"1": "one"}, "int key"),
]

UNSENDABLE: list[tuple[Callable[[], Any], str]] = [
    (object, "object"),
    (lambda: lambda: 1, "function"),
    (Opaque, "object whose str and repr raise"),
    (lambda: b"\xff\xfe", "undecodable bytes"),
    (lambda: 2**64, "integer past 64 bits"),
    (lambda: -(2**63) - 1, "negative integer past 64 bits"),
    (lambda: "nul \x00 inside", "NUL character"),
    (lambda: "lone \ud800 surrogate", "lone surrogate"),
    (lambda: HoldsArbitrary(Holder()), "dataclass with an arbitrary field"),
    (BrokenSerializer, "model whose serializer raises"),
    (lambda: _nested(MAX_DEPTH + 5), "nesting past the limit"),
    (_cycle, "a list that holds itself"),
]


@st.composite
def _wrapped(draw: st.DrawFn, leaf: Any) -> Any:
    """``leaf`` placed somewhere inside JSON-like containers."""
    value = leaf
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            value = [*draw(st.lists(json_values, max_size=2)), value]
        else:
            value = {**draw(st.dictionaries(plain_text, json_values, max_size=2)), "bad": value}
    return value


@st.composite
def _refused_values(draw: st.DrawFn) -> Behaviour:
    make, label = draw(st.sampled_from(UNSENDABLE))
    return refused(draw(_wrapped(make())), label)


returned_values = (
    json_values.map(lambda v: returning(v, v, "json"))
    | st.sampled_from(CONVERTED).map(lambda c: returning(c[0], c[1], c[2]))
    | _refused_values()
)


# -- exceptions ------------------------------------------------------------------------------------


class BadStr(Exception):
    def __str__(self) -> str:
        raise ValueError("__str__ is broken")


class NonStrStr(Exception):
    def __str__(self) -> Any:
        return 42


class Custom(BaseException):
    """A BaseException of the application's own."""


class Nameless(Exception):
    pass


Nameless.__module__ = None  # type: ignore[assignment]


def _chain(length: int, size: int) -> BaseException:
    """An exception at the end of ``length`` chained ones, each raised in its own frame."""

    def level(n: int) -> None:
        if n == 0:
            raise KeyError("x" * size)
        try:
            level(n - 1)
        except Exception as exc:
            raise RuntimeError(f"level {n} " + "y" * size) from exc

    try:
        level(length)
    except RuntimeError as exc:
        return exc
    raise AssertionError("unreachable")


@st.composite
def raised_exceptions(draw: st.DrawFn) -> Behaviour:
    text = draw(st.text(max_size=50))  # NUL and any other character included
    kind = draw(st.sampled_from(range(14)))
    if kind == 0:
        return raising(lambda: ValueError(text), "ValueError", True, "ValueError")
    if kind == 1:
        return raising(lambda: NonRetryableException(text), "NonRetryableException", False, "nr")
    if kind == 2:
        return raising(lambda: SystemExit(3), "SystemExit", True, "SystemExit")
    if kind == 3:
        return raising(KeyboardInterrupt, "KeyboardInterrupt", True, "KeyboardInterrupt")
    if kind == 4:
        return raising(GeneratorExit, "GeneratorExit", True, "GeneratorExit")
    if kind == 5:
        return raising(lambda: Custom(text), "Custom", True, "BaseException subclass")
    if kind == 6:
        return raising(
            lambda: ExceptionGroup("several", [ValueError(text), KeyError(text)]),
            "ExceptionGroup",
            True,
            "ExceptionGroup",
        )
    if kind == 7:
        return raising(
            lambda: BaseExceptionGroup("several", [SystemExit(1), ValueError(text)]),
            "BaseExceptionGroup",
            True,
            "BaseExceptionGroup",
        )
    if kind == 8:
        return raising(BadStr, "BadStr", True, "__str__ raises")
    if kind == 9:
        return raising(NonStrStr, "NonStrStr", True, "__str__ returns an int")
    if kind == 10:
        return raising(Nameless, "Nameless", True, "class without a module")
    if kind == 11:
        size = draw(st.integers(100_000, 2_000_000))
        return raising(lambda: RuntimeError("m" * size), "RuntimeError", True, "huge message")
    if kind == 12:
        length, size = draw(st.integers(50, 300)), draw(st.integers(10, 2000))
        return raising(lambda: _chain(length, size), "RuntimeError", True, "huge traceback")
    return raising(lambda: ValueError(f"{text}\x00\ud800"), "ValueError", True, "NUL and surrogate")


#: Anything a task function may do: return a value or raise.
behaviours = returned_values | raised_exceptions()
