"""CEL expressions: compiled once per text, evaluated on plain Python values.

Event filters, durable event waits and task conditions are CEL expressions
(``input.amount > 100``). cel-python parses slowly and evaluates quickly, so an
expression is compiled once and cached by its text; one :class:`celpy.Environment`
serves the whole process (its parser is shared anyway). Activations and results are
plain Python values: JSON-like data in, ``bool``/``int``/``str``/``list``/``dict`` out.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import celpy
from celpy import celtypes

__all__ = ["CelError", "CompiledCel", "compile_cel"]

_MAX_MESSAGE = 300
_ENV = celpy.Environment()


class CelError(ValueError):
    """A CEL expression failed to parse or to evaluate; the message names the expression."""


def _message(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else str(exc)
    text = " ".join(text.split()).split(" (in activation", 1)[0]
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


class CompiledCel:
    """One compiled expression; see :func:`compile_cel`."""

    __slots__ = ("_program", "text")

    def __init__(self, text: str, program: Any) -> None:
        self.text = text
        self._program = program

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        """The expression's value for ``activation`` (names to plain values).

        Raises:
            CelError: evaluation failed (an unknown name or field, a type mismatch).
        """
        try:
            values = {name: celpy.json_to_cel(value) for name, value in activation.items()}
            result = self._program.evaluate(values)
        except Exception as exc:
            raise CelError(f"CEL expression {self.text!r} failed: {_message(exc)}") from None
        if isinstance(result, BaseException):
            raise CelError(f"CEL expression {self.text!r} failed: {_message(result)}")
        return _plain(result)

    def __repr__(self) -> str:
        return f"CompiledCel({self.text!r})"


@functools.lru_cache(maxsize=4096)
def compile_cel(text: str) -> CompiledCel:
    """Compile ``text`` (cached by text).

    Raises:
        CelError: ``text`` is not a string or does not parse, with the parser's message.
    """
    if not isinstance(text, str) or not text.strip():
        raise CelError(f"a CEL expression must be a non-empty string, got {text!r}")
    try:
        program = _ENV.program(_ENV.compile(text))
    except Exception as exc:
        raise CelError(f"bad CEL expression {text!r}: {_message(exc)}") from None
    return CompiledCel(text, program)


def _plain(value: Any) -> Any:
    """A CEL value as a plain Python value."""
    if isinstance(value, celtypes.BoolType | bool):
        return bool(value)
    if isinstance(value, celtypes.IntType | celtypes.UintType):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, celtypes.BytesType):
        return bytes(value)
    if isinstance(value, celtypes.MapType | dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, celtypes.ListType | list | tuple):
        return [_plain(v) for v in value]
    return value
