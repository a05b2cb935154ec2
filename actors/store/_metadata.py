"""Which runs' metadata holds a filter's pairs: one rule, answered alike by every backend.

Theory of operation. Metadata is a JSON object stored as JSON text. A filter's pairs are
held when each key is present and its value is *equal as JSON*: numbers by value
(``1`` and ``1.0`` are equal), ``true``/``false`` only to themselves (never to ``1`` or
``0``, as Python's ``==`` has it), strings and ``null`` as themselves, arrays element by
element in order, objects key by key. That is Postgres' ``jsonb`` equality, so Postgres
answers with a GIN index over ``additional_metadata::jsonb`` (migration 8): containment
(``@>``) finds the candidates, and equals this rule for scalar values; an array or
object value is checked for equality as well, as containment would accept a part of it.

One exception, the same everywhere: ``jsonb`` cannot hold a NUL character, so metadata
that holds one (in a key or a string, written ``\\u0000`` in its text) never matches a
filter, and neither does a filter that holds one. Postgres tells such text apart with
:data:`PG_NUL_ESCAPE` (an odd run of backslashes before ``u0000``) and leaves it out of
the index rather than failing the run's insert.

The memory and SQLite backends apply :func:`metadata_holds` (SQLite registers it as the SQL
function :data:`SQLITE_FUNCTION`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "PG_NUL_ESCAPE",
    "SQLITE_FUNCTION",
    "encode_pairs",
    "holds_text",
    "json_equal",
    "metadata_holds",
    "pairs_hold_nul",
    "pairs_object",
    "pg_metadata_jsonb",
]

#: A POSIX regex matching JSON text that escapes a NUL character (``\u0000`` not itself escaped).
PG_NUL_ESCAPE = r"(^|[^\\])(\\\\)*\\u0000"
#: The SQLite function :func:`holds_text` is registered as.
SQLITE_FUNCTION = "ratchet_metadata_holds"

_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def pg_metadata_jsonb(column: str) -> str:
    """The SQL expression of ``column``'s JSON text as ``jsonb``, NULL where it holds a NUL.

    Migration 8's index is over exactly this expression (a query must spell it alike
    for Postgres to use the index).
    """
    return f"(CASE WHEN {column} !~ '{PG_NUL_ESCAPE}' THEN {column}::jsonb END)"


def json_equal(a: Any, b: Any) -> bool:
    """Whether two decoded JSON values are equal as JSON (see the module docstring)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    if a is None or b is None:
        return a is None and b is None
    return isinstance(a, str) and isinstance(b, str) and a == b


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    return False


def metadata_holds(metadata: Any, wanted: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` (a decoded JSON object) holds every pair of ``wanted``.

    No pairs wanted: every object holds them. Anything but an object holds none.
    """
    if not wanted:
        return True
    if not isinstance(metadata, dict) or _holds_nul(metadata) or _holds_nul(dict(wanted)):
        return False
    return all(key in metadata and json_equal(metadata[key], value) for key, value in wanted.items())


def holds_text(metadata: str | None, wanted: str | None) -> int:
    """:func:`metadata_holds` over JSON texts, as SQLite calls it: 1 or 0."""
    if metadata is None or wanted is None:
        return 0
    return int(metadata_holds(json.loads(metadata), json.loads(wanted)))


def pairs_hold_nul(pairs: tuple[tuple[str, str], ...]) -> bool:
    """Whether encoded pairs (see :func:`encode_pairs`) hold a NUL character: then they match nothing."""
    return any("\x00" in key or _holds_nul(json.loads(text)) for key, text in pairs)


def pairs_object(pairs: tuple[tuple[str, str], ...]) -> str:
    """Encoded pairs as the JSON text of one object."""
    return "{" + ",".join(f"{_ENCODER.encode(key)}:{text}" for key, text in pairs) + "}"


def encode_pairs(wanted: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """``wanted`` as ``(key, value as JSON text)`` pairs, checked.

    Raises:
        ValueError: ``wanted`` is not a mapping, a key is not text, or a value is not plain
            JSON (NaN and infinities included).
    """
    if not isinstance(wanted, Mapping):
        raise ValueError(f"metadata filter must be a mapping of key to value, got {type(wanted).__name__}")
    pairs = []
    for key, value in wanted.items():
        if not isinstance(key, str):
            raise ValueError(f"metadata filter keys must be text, got {key!r}")
        try:
            pairs.append((key, _ENCODER.encode(value)))
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError(
                f"metadata filter value of {key!r} is not plain JSON ({exc}); use text, numbers, "
                "true/false, null, lists or objects"
            ) from None
    return tuple(pairs)
