"""Values that travel to the engine: task outputs, run inputs, and error texts.

The engine carries values as msgpack and stores them as JSON, so a value must be plain
JSON-like data: ``None``, bools, integers that fit in 64 bits, finite floats, strings of
valid Unicode without NUL characters, lists, and dicts with string keys, nested at most
:data:`MAX_DEPTH` deep. :func:`to_wire` turns what a task returns or a caller passes
(pydantic models, dataclasses, tuples, datetimes, ...) into such data with pydantic and
then checks it, so a value that cannot make the trip fails where it was made, with a
message that says what it is and where it sits, rather than downstream, as a frame the
transport cannot encode or a row the store refuses. :func:`bounded_text` does the same
for free text (exception messages and tracebacks), which is repaired and shortened
rather than refused, because it describes a failure that must be reported anyway.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from typing import Any

import pydantic

__all__ = ["MAX_DEPTH", "bounded_text", "qualified_name", "safe_str", "to_wire", "wire_problem"]

#: How deep lists and dicts may nest (the engine refuses deeper payloads).
MAX_DEPTH = 256
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what msgpack can encode
_SURROGATE = re.compile("[\ud800-\udfff]")
_HINT = (
    "return or pass JSON-like data (dict with str keys, list, str, int, float, bool, None), "
    "a pydantic model or a dataclass of such data"
)
_ANY = pydantic.TypeAdapter(Any)


def to_wire(value: Any, what: str) -> Any:
    """``value`` as JSON-like data the engine can carry and store.

    Args:
        value: a task's return value or a run's input.
        what: what the value is, for the error (``"task 'wf.t' output"``).

    Raises:
        TypeError: ``value`` cannot be serialized or holds something the engine cannot
            carry; the message names ``what``, the offending type and where it sits.
    """
    try:
        data = _dump(value)
    except Exception as exc:  # a model's own serializer may raise anything
        raise TypeError(f"{what} is not serializable: {_locate(value, exc)}; {_HINT}") from None
    problem = wire_problem(data)
    if problem is not None:
        raise TypeError(f"{what} cannot be sent to the engine: {problem}; {_HINT}")
    return data


def _dump(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _adapter(type(value)).dump_python(value, mode="json")
    return _ANY.dump_python(value, mode="json")


@functools.lru_cache(maxsize=256)
def _adapter(kind: type) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(kind)


def _locate(value: Any, exc: BaseException) -> str:
    """Which part of ``value`` failed to serialize, and why (for the error message)."""
    reason = bounded_text(safe_str(exc), 500)
    try:
        path, part = _first_unserializable(value)
    except Exception:  # a container that cannot even be walked: name the whole value
        path, part = "", value
    where = f" at {path}" if path else ""
    return f"{_type_name(part)}{where} ({reason})"


def _first_unserializable(value: Any) -> tuple[str, Any]:
    """The path to the innermost part of a container that fails alone, and that part."""
    path = ""
    for _ in range(MAX_DEPTH):
        if isinstance(value, dict):
            items: list[tuple[str, Any]] = [(f"[{_safe_repr(k)}]", v) for k, v in value.items()]
        elif isinstance(value, list | tuple | set | frozenset):
            items = [(f"[{i}]", v) for i, v in enumerate(value)]
        else:
            break
        for step, child in items:
            try:
                _dump(child)
            except Exception:
                path, value = path + step, child
                break
        else:
            break  # every part serializes alone: the container as a whole is the problem
    return path, value


def wire_problem(data: Any) -> str | None:
    """What in JSON-like ``data`` the engine cannot carry or store, and where, or None."""
    if _clean(data):
        return None
    return _describe_problem(data)


def _clean(data: Any) -> bool:
    """The fast check of :func:`wire_problem`: True when ``data`` needs no closer look.

    It runs on every task output and run input, so it builds no paths and keeps the
    checks of scalars inline; only a value it rejects is walked again for the message.
    """
    stack: list[tuple[Any, int]] = [([data], -1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if depth >= MAX_DEPTH:
            return False
        if type(item) is dict:
            for key in item:
                if type(key) is not str or _text_problem(key):
                    return False
            item = item.values()
        depth += 1
        for child in item:
            kind = type(child)
            if kind is str:
                if "\x00" in child or (not child.isascii() and _SURROGATE.search(child)):
                    return False
            elif kind is int:
                if not _INT_MIN <= child <= _INT_MAX:
                    return False
            elif kind is dict or kind is list:
                push((child, depth))
            elif kind is float:
                if child != child or child in (math.inf, -math.inf):
                    return False
            elif child is not None and kind is not bool:
                return False
    return True


def _describe_problem(data: Any) -> str | None:
    """Where in ``data`` the first thing the engine cannot carry sits, and what it is."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        kind = type(item)
        if kind is str:
            problem = _text_problem(item)
            if problem:
                return f"the string at {path or 'the top'} {problem}"
        elif kind is int:
            if not _INT_MIN <= item <= _INT_MAX:
                return f"the integer at {path or 'the top'} does not fit in 64 bits"
        elif kind is float:
            if item != item or item in (math.inf, -math.inf):
                return f"the number at {path or 'the top'} is not finite"
        elif kind is list or kind is dict:
            if depth >= MAX_DEPTH:
                return f"it nests lists and dicts more than {MAX_DEPTH} levels deep"
            if kind is dict:
                for key, child in item.items():
                    if type(key) is not str or _text_problem(key):
                        return f"the key {_safe_repr(key)} at {path or 'the top'} is not a plain string"
                    stack.append((child, f"{path}[{key!r}]", depth + 1))
            else:
                stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
        elif item is not None and kind is not bool:
            return f"{_type_name(item)} at {path or 'the top'} is not JSON-like"
    return None


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "holds a NUL character (\\x00), which the engine cannot store"
    if not text.isascii() and _SURROGATE.search(text):
        return "holds a lone surrogate, which is not valid Unicode"
    return None


def qualified_name(kind: type) -> str:
    """A type's name as reported: bare for builtins, else with its module (``app.models.Order``)."""
    try:
        module, name = kind.__module__, kind.__qualname__
    except Exception:
        module, name = None, None
    if type(module) is not str or type(name) is not str:
        return str.__str__(kind.__name__)
    return name if module == "builtins" else f"{module}.{name}"


def _type_name(value: Any) -> str:
    return qualified_name(type(value))


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        return f"<{_type_name(value)}>"
    return bounded_text(str.__str__(text), 200)


def safe_str(obj: object) -> str:
    """``str(obj)``, or a stand-in when ``obj.__str__`` raises or returns something else."""
    try:
        text = str(obj)
    except Exception as exc:
        return f"<str() of {_type_name(obj)} failed: {_type_name(exc)}>"
    if type(text) is not str:  # a str subclass with its own behaviour: keep the characters only
        text = str.__str__(text)
    return text


def bounded_text(text: str, limit: int) -> str:
    """``text`` made storable and at most about ``limit`` characters long.

    NUL characters and lone surrogates are written as escapes; a text over ``limit``
    keeps its beginning and its end (a traceback's last lines say what failed) with a
    note of how much was left out.
    """
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if not text.isascii() and _SURROGATE.search(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    left_out = len(text) - head - tail
    return f"{text[:head]}\n... ({left_out} characters left out) ...\n{text[-tail:]}"
