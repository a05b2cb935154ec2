"""Encoding values for storage: strict JSON, text checks, and payload offload.

Everything a caller hands the store is checked here, before it reaches a transaction, so
a bad value fails its own caller with a message naming the mutation and field, and never
a whole batch. Text may not hold NUL characters (Postgres cannot store them; we refuse
them everywhere so that the backends agree), and JSON must be plain JSON: no NaN, no
objects the encoder does not know.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ._errors import MutationRejected
from ._objects import ObjectStore
from ._ops import Insert, Op, Update, Upsert
from ._schema import TABLES

__all__ = ["check_text", "decode_json", "encode_json", "offload_ops"]


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def encode_json(value: Any, *, mutation: str, field: str) -> str:
    """``value`` as compact JSON text.

    Raises:
        MutationRejected: the value is not plain JSON or holds a NUL character.
    """
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise MutationRejected(
            mutation, f"field {field!r} is not JSON-serializable ({exc}); pass dicts, lists, str, numbers"
        ) from None
    except RecursionError:
        raise MutationRejected(mutation, f"field {field!r} nests too deeply to store as JSON") from None
    if "\x00" in text:
        raise MutationRejected(mutation, f"field {field!r} contains a NUL character (\\x00); remove it")
    return text


def decode_json(text: str | None) -> Any:
    """The value of JSON ``text`` (``None`` stays ``None``)."""
    return None if text is None else json.loads(text)


def check_text(value: str | None, *, mutation: str, field: str) -> str | None:
    """``value`` unchanged, if it is storable text.

    Raises:
        MutationRejected: not a string, or contains a NUL character.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise MutationRejected(mutation, f"field {field!r} must be text, got {type(value).__name__}")
    if "\x00" in value:
        raise MutationRejected(
            mutation, f"field {field!r} contains a NUL character (\\x00), which the store cannot keep"
        )
    return value


async def _offload_row(
    row: dict[str, Any], table: str, threshold: int, objects: ObjectStore
) -> dict[str, Any]:
    out = dict(row)
    for col in TABLES[table].columns:
        if not col.offload or col.name not in out:
            continue
        text = out[col.name]
        if text is not None and len(text) > threshold:
            out[f"{col.name}_ref"] = await objects.put(text.encode("utf-8"))
            out[col.name] = None
        else:
            out.setdefault(f"{col.name}_ref", None)
    return out


def _too_big(op: Op, threshold: int) -> bool:
    if isinstance(op, Update):
        rows = [op.values, *(s.row for s in op.on_applied)]
    elif isinstance(op, Insert | Upsert):
        rows = [op.row]
    else:
        return False
    for row in rows:
        for v in row.values():
            if type(v) is str and len(v) > threshold:
                return True
    return False


async def offload_ops(ops: Sequence[Op], threshold: int, objects: ObjectStore) -> list[Op]:
    """The same operations with payloads longer than ``threshold`` characters moved to ``objects``.

    Every offloadable column written also writes its ``_ref`` column (NULL when inline),
    so that overwriting a big payload with a small one clears the old reference.
    """
    if not any(_too_big(op, threshold) for op in ops):
        return list(ops)
    out: list[Op] = []
    for op in ops:
        if isinstance(op, Insert):
            out.append(Insert(op.table, await _offload_row(dict(op.row), op.table, threshold, objects)))
        elif isinstance(op, Upsert):
            row = await _offload_row(dict(op.row), op.table, threshold, objects)
            extra = tuple(f"{c}_ref" for c in op.update if TABLES[op.table].by_name[c].offload)
            out.append(Upsert(op.table, row, op.conflict, op.update + extra))
        elif isinstance(op, Update):
            values = await _offload_row(dict(op.values), op.table, threshold, objects)
            side: list[Insert | Upsert] = []
            for s in op.on_applied:
                (moved,) = await offload_ops([s], threshold, objects)
                assert isinstance(moved, Insert | Upsert)  # offloading keeps an operation's kind
                side.append(moved)
            out.append(Update(op.table, op.key, values, op.expect, op.expect_in, tuple(side)))
        else:
            out.append(op)
    return out
