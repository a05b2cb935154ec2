"""Building checked rows for a table from Python values."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any

from ._errors import MutationRejected
from ._payloads import check_text, encode_json
from ._schema import TABLES

__all__ = ["build_row"]


def _value(kind: str, nullable: bool, value: Any, *, mutation: str, field: str) -> Any:
    # Fast paths first: this runs for every column of every row on the hot path.
    tv = type(value)
    if kind == "text" and tv is str:
        if "\x00" in value:
            return check_text(value, mutation=mutation, field=field)
        return value
    if kind == "float" and tv is float and math.isfinite(value):
        return value
    if kind == "int" and tv is int and -(2**63) <= value < 2**63:
        return value
    if kind == "json":
        return encode_json(value, mutation=mutation, field=field)
    if value is None:
        if not nullable:
            raise MutationRejected(mutation, f"field {field!r} is required (got None)")
        return None
    if isinstance(value, enum.Enum):
        value = value.value
    if kind == "text":
        return check_text(value, mutation=mutation, field=field)
    if kind == "int":
        if isinstance(value, bool):
            return int(value)
        if not isinstance(value, int):
            raise MutationRejected(mutation, f"field {field!r} must be an int, got {type(value).__name__}")
        if not -(2**63) <= value < 2**63:
            raise MutationRejected(mutation, f"field {field!r} = {value} does not fit in 64 bits")
        return value
    if kind == "float":
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise MutationRejected(mutation, f"field {field!r} must be a finite number, got {value!r}")
        return float(value)
    raise AssertionError(f"unknown column kind {kind!r}")


def build_row(
    table: str, mutation: str, values: Mapping[str, Any], *, partial: bool = False
) -> dict[str, Any]:
    """A row for ``table`` from ``values``, every value checked and encoded.

    Args:
        table: the table name.
        mutation: the mutation's name, for error messages.
        values: column name to Python value (JSON columns take any JSON-able value).
        partial: allow missing columns (for updates); otherwise every non-``seq`` column is needed.

    Raises:
        MutationRejected: a value cannot be stored.
    """
    spec = _SPECS.get(table)
    if spec is None:
        spec = _SPECS[table] = [
            (c.name, c.kind, c.nullable, f"{c.name}_ref" if c.offload else None)
            for c in TABLES[table].columns
            if c.kind != "seq"
        ]
    row: dict[str, Any] = {}
    matched = 0
    for name, kind, nullable, ref in spec:
        if name not in values:
            if partial:
                continue
            raise AssertionError(f"{mutation}: column {table}.{name} was not given")
        matched += 1
        row[name] = _value(kind, nullable, values[name], mutation=mutation, field=name)
        if ref is not None:
            # Written with its value, so that a small payload replacing a big one clears the old reference.
            row[ref] = None
    if matched != len(values):
        unknown = set(values) - set(row)
        raise AssertionError(f"{mutation}: table {table!r} has no column(s) {sorted(unknown)}")
    return row


_SPECS: dict[str, list[tuple[str, str, bool, str | None]]] = {}
