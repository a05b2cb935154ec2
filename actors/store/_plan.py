"""Turning a batch of row operations into few statements, without changing its meaning.

Theory of operation: the meaning of a batch is its operations applied one by one, in
submission order (the memory backend does exactly that). The SQL backends run fewer,
bigger statements, and this module groups operations only where that cannot change
the outcome:

* a run of consecutive :class:`Insert` operations is regrouped into one statement per
  ``(table, columns)``, keeping the order within each table. Inserts into different
  tables commute (there are no foreign keys or triggers), so a burst of ``CreateRun``
  from many callers becomes three statements: runs, tasks, task events. A key clash
  fails the batch either way; the writer then isolates the culprit.
* consecutive operations of the same kind and shape (:class:`Upsert`, :class:`Update`,
  :class:`Delete`) form one step, executed in order within the step.

Anything else ends a group, so an update never jumps ahead of the insert it follows.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def plan(units: Sequence[Sequence[Op]]) -> list[Step]:
    """Group the operations of ``units`` (in order) into steps; see the module docstring."""
    steps: list[Step] = []
    window: dict[tuple[Any, ...], Step] | None = None
    for u, ops in enumerate(units):
        for i, op in enumerate(ops):
            kind, shape = _shape(op)
            item = Item(u, i, op)
            if kind == "insert":
                if window is None:
                    window = {}
                step = window.get(shape)
                if step is None:
                    step = window[shape] = Step(kind, shape)
                    steps.append(step)
                step.items.append(item)
                continue
            window = None
            last = steps[-1] if steps else None
            if last is not None and last.kind == kind and last.shape == shape:
                last.items.append(item)
            else:
                steps.append(Step(kind, shape, [item]))
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
