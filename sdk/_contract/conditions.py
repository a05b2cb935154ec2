"""Conditions: sleeps and events grouped as an AND of OR-groups, as plain data.

``aio_wait_for(key, a, or_(b, c))`` and a task's ``wait_for``/``skip_if``/``cancel_if``
hold conditions: ``{"kind": "sleep", "seconds": s}``, ``{"kind": "event", "event_key":
k, "expression": e, "scope": s}`` or ``{"kind": "parent", "parent": name, "expression":
e}``. Each top-level item is a group (a single condition is a group of one; ``or_``
makes a larger one); the whole is satisfied when every group has one satisfied
condition. :class:`ConditionSet` tracks that, purely; the actors arm the timers and
event waits and feed it what happened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .cel import CelError, compile_cel

__all__ = ["ConditionError", "ConditionSet", "check_groups", "parent_holds"]

MAX_CONDITIONS = 100
MAX_SLEEP_SECONDS = 366 * 24 * 3600


class ConditionError(ValueError):
    """Conditions are malformed; the message says which and why."""


def _check(cond: Any, where: str) -> dict[str, Any]:
    if not isinstance(cond, Mapping):
        raise ConditionError(f"{where}: a condition must be a mapping, got {type(cond).__name__}")
    kind = cond.get("kind")
    if kind == "sleep":
        seconds = cond.get("seconds")
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 <= seconds <= MAX_SLEEP_SECONDS
        ):
            raise ConditionError(f"{where}: a sleep lasts 0 to {MAX_SLEEP_SECONDS} seconds, got {seconds!r}")
        return {"kind": "sleep", "seconds": float(seconds)}
    if kind == "event":
        key = cond.get("event_key")
        if not isinstance(key, str) or not key.strip() or len(key) > 200:
            raise ConditionError(f"{where}: an event condition needs an event_key, got {key!r}")
        scope = cond.get("scope")
        if scope is not None and (not isinstance(scope, str) or not scope or len(scope) > 200):
            raise ConditionError(f"{where}: scope must be a non-empty string or None, got {scope!r}")
        expression = _expression(cond.get("expression"), where)
        return {"kind": "event", "event_key": key, "expression": expression, "scope": scope}
    if kind == "parent":
        parent = cond.get("parent")
        if not isinstance(parent, str) or not parent:
            raise ConditionError(f"{where}: a parent condition names a parent task, got {parent!r}")
        expression = _expression(cond.get("expression"), where)
        return {"kind": "parent", "parent": parent, "expression": expression}
    raise ConditionError(f"{where}: unknown condition kind {kind!r}; use sleep, event or parent")


def _expression(expression: Any, where: str) -> str | None:
    if expression is None:
        return None
    try:
        compile_cel(expression)
    except CelError as exc:
        raise ConditionError(f"{where}: {exc}") from None
    return str(expression)


def check_groups(groups: Any, where: str) -> list[list[dict[str, Any]]]:
    """Validated groups (a list of lists of conditions).

    Raises:
        ConditionError: not a list of non-empty lists of valid conditions, or too many.
    """
    if not isinstance(groups, list | tuple) or not groups:
        raise ConditionError(f"{where}: expected at least one condition")
    out = []
    total = 0
    for g, group in enumerate(groups):
        if not isinstance(group, list | tuple) or not group:
            raise ConditionError(f"{where}: condition group #{g + 1} must be a non-empty list")
        out.append([_check(c, f"{where}, group #{g + 1}") for c in group])
        total += len(group)
    if total > MAX_CONDITIONS:
        raise ConditionError(f"{where}: {total} conditions; at most {MAX_CONDITIONS}")
    return out


def parent_holds(cond: Mapping[str, Any], output: Any) -> bool:
    """Whether a parent condition holds for the parent's ``output`` (a failing expression: no)."""
    expression = cond.get("expression")
    if expression is None:
        return True
    try:
        return compile_cel(expression).evaluate({"output": output, "input": output}) is True
    except CelError:
        return False


@dataclass
class ConditionSet:
    """Which groups are satisfied so far, and by what."""

    groups: Sequence[Sequence[Mapping[str, Any]]]
    satisfied: dict[int, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """Whether every group is satisfied."""
        return len(self.satisfied) == len(self.groups)

    def satisfy(self, group: int, result: Any) -> bool:
        """Group ``group`` is satisfied by ``result`` (the first one counts); returns :attr:`done`."""
        if 0 <= group < len(self.groups):
            self.satisfied.setdefault(group, result)
        return self.done

    def result(self) -> list[Any]:
        """What satisfied each group, in group order."""
        return [self.satisfied.get(g) for g in range(len(self.groups))]
