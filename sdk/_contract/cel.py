"""CEL expressions: compiled once per text, evaluated to plain Python values.

Concurrency keys, dynamic rate-limit keys, units and limits, and event filters are
CEL expressions over a run's ``input`` and ``additional_metadata`` (or an event's
payload). :func:`compile_cel` parses an expression once and caches it by its text, so
each distinct expression costs one parse per process however many runs use it.

Theory of operation. cel-python (``celpy``) parses with a lark grammar that it caches
process-wide, tied to the tree class of the runner kind; mixing its interpreted and
compiled runners in one process breaks that cache, so this module is the one place that
creates CEL programs, always interpreted. Evaluation converts the activation to CEL
values, runs the program, and converts the result back to plain Python (str, int,
float, bool, None, list, dict), so callers never see celpy's types.

Most keys are plain field paths (``input.user_id``). Those take a fast path: dictionary
lookups on the activation, with the same result as the interpreter (checked by a
property test), many times faster. A variable the interpreter would refuse (an integer
outside 64 bits, bytes) sends the fast path back to the interpreter, so the two never
disagree.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel

__all__ = ["CelError", "CompiledCel", "compile_cel"]

MAX_EXPRESSION_LENGTH = 4096

_ENVIRONMENT = celpy.Environment()  # interpreted runner: the one runner kind of this process
_COMPILE_LOCK = threading.Lock()  # the SDK compiles in user threads, the engine in its own

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_FIELD_PATH = re.compile(rf"\s*({_IDENT}(?:\s*\.\s*{_IDENT})*)\s*")
# CEL's reserved words cannot be field names in a path; the parser refuses them.
_RESERVED = frozenset(
    "true false null in as break const continue else for function if import let loop "
    "package namespace return var void while".split()
)
_INT64 = (-(2**63), 2**63 - 1)


class CelError(ValueError):
    """A CEL expression could not be compiled or evaluated; the message names it."""


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(exc: BaseException) -> str:
    """celpy's error, without the dump of the whole activation it sometimes appends."""
    message = str(exc.args[0]) if exc.args else str(exc)
    cut = message.find(" (in activation")
    if cut >= 0:
        message = message[:cut]
    return _short(" ".join(message.split()), 300)


def to_python(value: Any) -> Any:
    """A CEL value as plain Python (bool before int: CEL's BoolType is an int)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {to_python(k): to_python(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_python(v) for v in value]
    if isinstance(value, bytes):
        return bytes(value)
    return str(value)  # timestamps and durations: their CEL text


def _json_like(value: Any) -> bool:
    """Whether the interpreter would take ``value`` as it is (ints within 64 bits, no bytes)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, bool | str | float):
            continue
        if isinstance(item, int):
            if not _INT64[0] <= item <= _INT64[1]:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        else:
            return False
    return True


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like data, tuples as lists: what the interpreter returns."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


class CompiledCel:
    """One compiled CEL expression; get it from :func:`compile_cel`.

    Attributes:
        text: the expression as written.
        path: for a plain field path (``input.user_id``), its names; else None.
    """

    def __init__(self, text: str, program: Any, path: tuple[str, ...] | None) -> None:
        self.text = text
        self._program = program
        self.path = path

    def __repr__(self) -> str:
        return f"CompiledCel({self.text!r})"

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        """Evaluate against ``activation`` (names to JSON-like values).

        Returns:
            The result as plain Python: str, int, float, bool, None, list or dict.

        Raises:
            CelError: the expression failed for these values (a missing field, a type
                mismatch, ...), naming the expression and the reason.
        """
        # The interpreter takes a variable whole or not at all (one integer beyond 64 bits
        # anywhere in ``input`` makes ``input`` unreadable), so the fast path does too.
        if self.path is not None and _json_like(activation.get(self.path[0])):
            found, value = self._lookup(activation)
            if found:
                return _copy(value)
            raise CelError(f"CEL expression {self.text!r} failed: {value}")
        return self._interpret(activation)

    def _lookup(self, activation: Mapping[str, Any]) -> tuple[bool, Any]:
        assert self.path is not None
        head, *fields = self.path
        if head not in activation:
            return False, f"undeclared reference to {head!r}"
        value = activation[head]
        for name in fields:
            if not isinstance(value, dict):
                return False, f"{type(value).__name__} value does not support field selection of {name!r}"
            if name not in value:
                return False, f"no such member in mapping: {name!r}"
            value = value[name]
        return True, value

    def _interpret(self, activation: Mapping[str, Any]) -> Any:
        # A variable CEL cannot hold (an integer beyond 64 bits somewhere in it) is left
        # out rather than failing every expression: only one that reads it fails.
        context: dict[str, Any] = {}
        unusable: list[str] = []
        for name, value in activation.items():
            try:
                context[name] = json_to_cel(value)
            except (ValueError, TypeError, OverflowError) as exc:
                unusable.append(f"{name!r} cannot be read in CEL: {_describe(exc)}")
        try:
            result = self._program.evaluate(context)
        except Exception as exc:  # celpy raises CELEvalError and plain Python errors alike
            result = exc
        if isinstance(result, Exception):
            reason = "; ".join([_describe(result), *unusable])
            raise CelError(f"CEL expression {self.text!r} failed: {reason}")
        return to_python(result)


def _field_path(text: str) -> tuple[str, ...] | None:
    match = _FIELD_PATH.fullmatch(text)
    if match is None:
        return None
    names = tuple(part.strip() for part in match.group(1).split("."))
    if any(name in _RESERVED for name in names):
        return None
    return names


@functools.lru_cache(maxsize=4096)
def _compile(text: str) -> CompiledCel:
    try:
        with _COMPILE_LOCK:
            program = _ENVIRONMENT.program(_ENVIRONMENT.compile(text))
    except Exception as exc:  # CELParseError, and lark's own errors on odd input
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise CelError(f"bad CEL expression {_short(text)!r}: {_short(detail, 300)}") from None
    return CompiledCel(text, program, _field_path(text))


def compile_cel(text: str) -> CompiledCel:
    """Compile a CEL expression, or return the one compiled earlier for the same text.

    Args:
        text: the expression, e.g. ``"input.user_id"`` or ``"'user-' + input.user_id"``.

    Raises:
        CelError: ``text`` is not a string, is empty or too long, or does not parse
            ("bad CEL expression ..."); the message names the expression and gives the
            parser's message.
    """
    if not isinstance(text, str) or not text.strip():
        shown = repr(text) if isinstance(text, str) else type(text).__name__
        raise CelError(f"a CEL expression must be a non-empty string, got {_short(shown, 40)}")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise CelError(
            f"CEL expression {_short(text, 40)!r} is {len(text)} characters long; "
            f"the limit is {MAX_EXPRESSION_LENGTH}"
        )
    return _compile(text)
