"""Row operations: the small instruction set every backend executes.

Typed mutations (:mod:`._mutations`) compile to these; a backend only has to run four
kinds of operation and one kind of query, which keeps the three backends identical in
behaviour and small in code.

* :class:`Insert` adds a row; a primary or unique key clash fails the transaction.
* :class:`Upsert` inserts or, on a key clash, overwrites ``update`` columns (or does nothing).
* :class:`Update` changes one row by key, only if every ``expect`` column equals its value
  and every ``expect_in`` column holds one of its values. This is how attempt fencing
  works: a late message for an old attempt simply matches no row. It reports whether it
  applied, and only then runs its ``on_applied`` inserts (the task's timeline event).
* :class:`Delete` removes one row by key under the same conditions.

Values are already encoded: JSON columns hold JSON text (see :mod:`._payloads`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Cond", "Delete", "Insert", "Op", "Update", "Upsert"]


@dataclass(frozen=True, slots=True)
class Insert:
    """Insert ``row`` into ``table``."""

    table: str
    row: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Upsert:
    """Insert ``row``; on a clash of ``conflict`` columns overwrite ``update`` (empty: keep the old row)."""

    table: str
    row: Mapping[str, Any]
    conflict: tuple[str, ...]
    update: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Update:
    """Set ``values`` on the row whose key columns equal ``key``, if the expectations hold."""

    table: str
    key: Mapping[str, Any]
    values: Mapping[str, Any]
    expect: Mapping[str, Any] = field(default_factory=dict)
    expect_in: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    on_applied: tuple[Insert | Upsert, ...] = ()

    def shape(self) -> tuple[Any, ...]:
        """Updates of equal shape can run as one statement."""
        return (
            self.table,
            tuple(self.key),
            tuple(self.values),
            tuple(self.expect),
            tuple(self.expect_in),
        )


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete the row whose key columns equal ``key``, if the expectations hold."""

    table: str
    key: Mapping[str, Any]
    expect: Mapping[str, Any] = field(default_factory=dict)


Op = Insert | Upsert | Update | Delete


@dataclass(frozen=True, slots=True)
class Cond:
    """One condition of a query: ``column op value``.

    ``op`` is one of ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in`` (value: a tuple), or
    ``holds``: the column's JSON object holds every ``(key, value as JSON text)`` pair of the
    value (a tuple of pairs), equal as JSON (see :mod:`._metadata`).
    A ``None`` value with ``=`` means IS NULL.
    """

    column: str
    op: str
    value: Any
