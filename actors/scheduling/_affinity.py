"""Worker affinity: which workers may take a task, and which it would rather have.

A task's desired worker labels are :class:`LabelWish` values. A wish compares the
worker's label with the wished value (``worker <comparator> wished``, as hatchet-sdk
does): a *required* wish that fails rules the worker out; every wish that holds adds its
weight to the worker's score. A HARD sticky run adds one more rule: only the worker that
ran its first task.

The rules that rule workers out form a task's :class:`Constraint`, a small hashable
value: tasks with the same constraint wait in the same lane of the scheduler, and a
worker with a free slot looks only at the lanes whose constraint it fits (cached per
worker), so affinity never costs a scan of the queue. Weights only choose among free
workers when a task arrives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ratchet._contract.flow import DesiredWorkerLabel, WorkerLabelComparator

__all__ = ["Constraint", "LabelWish", "constraint_for", "score", "wishes_from_spec"]

Labels = Mapping[str, "str | int"]


@dataclass(frozen=True, slots=True)
class LabelWish:
    """One desired label: ``key`` compared with ``value`` by ``comparator``."""

    key: str
    value: str | int
    required: bool = False
    weight: int = 100
    comparator: WorkerLabelComparator = WorkerLabelComparator.EQUAL

    def holds(self, labels: Labels) -> bool:
        """Whether a worker with ``labels`` satisfies this wish."""
        if self.key not in labels:
            return False
        have = labels[self.key]
        c = self.comparator
        if c is WorkerLabelComparator.EQUAL:
            return type(have) is type(self.value) and have == self.value
        if c is WorkerLabelComparator.NOT_EQUAL:
            return type(have) is not type(self.value) or have != self.value
        if not isinstance(have, int) or not isinstance(self.value, int):
            return False
        if c is WorkerLabelComparator.GREATER_THAN:
            return have > self.value
        if c is WorkerLabelComparator.GREATER_THAN_OR_EQUAL:
            return have >= self.value
        if c is WorkerLabelComparator.LESS_THAN:
            return have < self.value
        return have <= self.value


def wishes_from_spec(labels: Sequence[tuple[str, DesiredWorkerLabel]]) -> tuple[LabelWish, ...]:
    """A task spec's ``desired_worker_labels`` as wishes."""
    return tuple(LabelWish(key, d.value, d.required, d.weight, d.comparator) for key, d in labels)


def score(wishes: Sequence[LabelWish], labels: Labels) -> int | None:
    """A worker's score for a task: None if a required wish fails, else the matched weights."""
    total = 0
    for wish in wishes:
        if wish.holds(labels):
            total += wish.weight
        elif wish.required:
            return None
    return total


@dataclass(frozen=True, slots=True)
class Constraint:
    """The workers a task may run on: those with every required label, or one worker.

    Attributes:
        required: the wishes a worker must satisfy.
        worker: the only worker allowed (a HARD sticky run's), or None.
    """

    required: tuple[LabelWish, ...] = ()
    worker: str | None = None

    def fits(self, worker: str, labels: Labels) -> bool:
        if self.worker is not None and worker != self.worker:
            return False
        return all(wish.holds(labels) for wish in self.required)


def constraint_for(wishes: Sequence[LabelWish], sticky_worker: str | None = None) -> Constraint | None:
    """The constraint of a task, or None when any worker of its action may take it."""
    required = tuple(w for w in wishes if w.required)
    if not required and sticky_worker is None:
        return None
    return Constraint(required, sticky_worker)
