"""Turning a batch of row operations into few statements, without changing its meaning.

Theory of operation: the meaning of a batch is its operations applied one by one, in
submission order (the memory backend does exactly that). The SQL backends run fewer,
bigger statements, and this module groups operations only where that cannot change
the outcome.

Operations on different tables commute: there are no foreign keys or triggers, and an
update's ``on_applied`` writes (run right after its step) go to other tables. So an
operation may join an earlier step of its kind and shape (table, columns) as long as no
step in between writes any table that either of them writes; within a step operations
keep their order (the same row twice runs sequentially). A burst of ``CreateRun``
becomes three inserts (runs, tasks, task events), and a burst of task transitions and
run status changes a few ``UPDATE ... FROM unnest`` statements instead of one per
operation. A key clash fails the batch either way; the writer then isolates the culprit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._ops import Delete, Insert, Op, Update, Upsert

__all__ = ["Item", "Step", "plan"]


@dataclass(slots=True)
class Item:
    """One operation and where its result goes: ``results[unit][index]``."""

    unit: int
    index: int
    op: Op


@dataclass(slots=True)
class Step:
    """Operations of one kind and shape, to run as one statement (or one executemany)."""

    kind: str
    shape: tuple[Any, ...]
    items: list[Item] = field(default_factory=list)
    tables: set[str] = field(default_factory=set)  # every table its operations write

    def rows(self) -> list[Mapping[str, Any]]:
        """The rows of an insert or upsert step, in order.

        Raises:
            AssertionError: the step holds an operation that writes no row (an update or a delete).
        """
        rows: list[Mapping[str, Any]] = []
        for it in self.items:
            assert isinstance(it.op, Insert | Upsert), f"a {self.kind} step holds {it.op!r}"
            rows.append(it.op.row)
        return rows


def _shape(op: Op) -> tuple[str, tuple[Any, ...]]:
    if isinstance(op, Insert):
        return "insert", (op.table, tuple(op.row))
    if isinstance(op, Upsert):
        return "upsert", (op.table, tuple(op.row), op.conflict, op.update)
    if isinstance(op, Update):
        return "update", op.shape()
    if isinstance(op, Delete):
        return "delete", (op.table, tuple(op.key), tuple(op.expect))
    raise TypeError(f"not a row operation: {op!r}")


def _tables(op: Op) -> tuple[str, ...]:
    """The tables ``op`` writes, its ``on_applied`` writes included."""
    if isinstance(op, Update) and op.on_applied:
        return (op.table, *(side.table for side in op.on_applied))
    return (op.table,)


def plan(units: Sequence[Sequence[Op]]) -> list[Step]:
    """Group the operations of ``units`` (in order) into steps; see the module docstring."""
    steps: list[Step] = []
    by_shape: dict[tuple[str, tuple[Any, ...]], Step] = {}
    newest: dict[str, Step] = {}  # table -> the newest step writing it
    for u, ops in enumerate(units):
        for i, op in enumerate(ops):
            kind, shape = _shape(op)
            tables = _tables(op)
            step = by_shape.get((kind, shape))
            if step is not None:
                # joining moves the op back to ``step``: allowed only past steps that
                # write none of the tables either of them writes
                if any(newest.get(t) is not step for t in step.tables.union(tables)):
                    step = None
            if step is None:
                step = by_shape[(kind, shape)] = Step(kind, shape)
                steps.append(step)
            step.items.append(Item(u, i, op))
            step.tables.update(tables)
            for t in tables:
                newest[t] = step
    return steps


def side_units(steps_items: Sequence[Item], applied: Sequence[bool]) -> list[list[Op]]:
    """The ``on_applied`` operations of the updates that applied, as one unit, in order."""
    ops: list[Op] = []
    for item, ok in zip(steps_items, applied, strict=True):
        if ok:
            assert isinstance(item.op, Update)
            for side in item.op.on_applied:
                if side.table == item.op.table:
                    raise AssertionError("an update's on_applied must write another table")
                ops.append(side)
    return [ops] if ops else []
