"""Conditions for durable waits and DAG tasks: sleeps, user events, parent outputs, ``or_``.

``ctx.aio_wait_for("approval", SleepCondition(timedelta(hours=1)), or_(...))`` in a
durable task, and ``wait_for=[...]``, ``skip_if=[...]``, ``cancel_if=[...]`` on a DAG
task, take a list whose items must all hold (AND); an ``or_(a, b)`` item holds when
any of its conditions does. The names follow hatchet-sdk's ``hatchet_sdk.conditions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._contract.durations import Duration, parse_duration
from .._errors import DefinitionError

__all__ = [
    "Condition",
    "OrGroup",
    "ParentCondition",
    "SleepCondition",
    "UserEventCondition",
    "condition_groups",
    "or_",
]


@dataclass(frozen=True)
class SleepCondition:
    """Holds once ``duration`` has passed since the wait began."""

    duration: Duration

    def to_dict(self) -> dict[str, Any]:
        """The condition as the engine takes it."""
        return {"kind": "sleep", "seconds": parse_duration(self.duration, what="SleepCondition duration")}


@dataclass(frozen=True)
class UserEventCondition:
    """Holds once an event with ``event_key`` (and ``scope``, if given) arrives for which
    the CEL ``expression`` (over ``input``, the event payload) is true."""

    event_key: str
    expression: str | None = None
    scope: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The condition as the engine takes it."""
        return {
            "kind": "event",
            "event_key": self.event_key,
            "expression": self.expression,
            "scope": self.scope,
        }


@dataclass(frozen=True)
class ParentCondition:
    """Holds when the CEL ``expression`` is true of a parent task's output (``output``)."""

    parent: Any
    expression: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The condition as the engine takes it."""
        name = self.parent if isinstance(self.parent, str) else getattr(self.parent, "name", self.parent)
        return {"kind": "parent", "parent": name, "expression": self.expression}


Condition = SleepCondition | UserEventCondition | ParentCondition


@dataclass(frozen=True)
class OrGroup:
    """Conditions of which any one suffices (made by :func:`or_`)."""

    conditions: tuple[Condition, ...]


def or_(*conditions: Condition) -> OrGroup:
    """Any one of ``conditions`` suffices."""
    return OrGroup(tuple(conditions))


def condition_groups(items: Sequence[Any], where: str) -> list[list[dict[str, Any]]]:
    """Conditions as the engine takes them: a list of OR-groups, each a list of mappings.

    Raises:
        DefinitionError: an item is not a condition or ``or_`` group, or a condition is
            malformed (a negative sleep, a bad CEL expression, ...).
    """
    from ratchet._contract.conditions import ConditionError, check_groups

    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise DefinitionError(f"{where}: expected a list of conditions, got {items!r}")
    groups = []
    for item in items:
        members = item.conditions if isinstance(item, OrGroup) else (item,)
        group = []
        for cond in members:
            if not isinstance(cond, SleepCondition | UserEventCondition | ParentCondition):
                raise DefinitionError(f"{where}: {cond!r} is not a condition (SleepCondition, ...)")
            try:
                group.append(cond.to_dict())
            except (TypeError, ValueError) as exc:
                raise DefinitionError(f"{where}: {exc}") from None
        groups.append(group)
    try:
        return check_groups(groups, where)
    except ConditionError as exc:
        raise DefinitionError(str(exc)) from None
