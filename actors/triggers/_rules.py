"""Which runs an event starts: key patterns and filters, as pure functions.

Rules (Hatchet's semantics for events):

* a workflow listens to event keys given as patterns, where ``*`` matches any run of
  characters (``order:*`` matches ``order:paid``; ``*`` matches every key) and every
  other character matches itself;
* a listening workflow with **no filters** starts one run per matching event;
* a listening workflow **with filters** starts one run per filter whose scope equals the
  event's scope and whose CEL expression is true for the event; an event without a
  scope, or one no filter of its scope accepts, starts nothing;
* a filter whose expression fails to evaluate on an event (a missing field, a type
  mismatch) does not accept it.

The expression sees ``input`` (the event's payload), ``additional_metadata``,
``payload`` (the filter's own payload), ``event_key`` and ``scope``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ratchet._contract.cel import CelError, compile_cel

__all__ = [
    "EventMatch",
    "FilterRule",
    "Subscription",
    "check_key_pattern",
    "filter_activation",
    "key_matches",
    "runs_for_event",
]

# A planted bug for the simulation's own tests (tests/simulation), proving the simulation
# finds a real class of bug: filters that ignore the event's scope. Never set outside them.
_PLANTED_FILTERS_IGNORE_SCOPE = False


@dataclass(frozen=True)
class FilterRule:
    """One filter of a workflow: stored (by ``create_filter``) or declared on the workflow."""

    id: str
    scope: str
    expression: str
    payload: Any = None


@dataclass(frozen=True)
class Subscription:
    """A workflow's event triggers: its key patterns and its filters."""

    workflow: str
    patterns: tuple[str, ...]
    filters: tuple[FilterRule, ...] = field(default=())


@dataclass(frozen=True)
class EventMatch:
    """One run an event starts: the workflow, and the filter that accepted it (if any)."""

    workflow: str
    filter: FilterRule | None = None


def check_key_pattern(pattern: object) -> str:
    """Validate an ``on_events`` pattern.

    Raises:
        ValueError: not a non-empty printable string of at most 200 characters.
    """
    if not isinstance(pattern, str) or not pattern.strip() or len(pattern) > 200 or not pattern.isprintable():
        raise ValueError(
            f"an event key pattern must be a non-empty printable string of at most 200 characters, "
            f"got {pattern!r}"
        )
    return pattern


@functools.lru_cache(maxsize=4096)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def key_matches(pattern: str, key: str) -> bool:
    """Whether the event key ``key`` matches ``pattern`` (``*`` matches any characters)."""
    if "*" not in pattern:
        return pattern == key
    return _pattern_regex(pattern).fullmatch(key) is not None


def filter_activation(
    key: str, payload: Any, metadata: Mapping[str, Any], scope: str | None, filter_payload: Any
) -> dict[str, Any]:
    """The names a filter's expression can use."""
    return {
        "input": payload,
        "additional_metadata": dict(metadata),
        "payload": filter_payload,
        "event_key": key,
        "scope": scope,
    }


def accepts(rule: FilterRule, key: str, payload: Any, metadata: Mapping[str, Any], scope: str | None) -> bool:
    """Whether ``rule`` accepts the event (its scope, then its expression)."""
    if (scope is None or rule.scope != scope) and not _PLANTED_FILTERS_IGNORE_SCOPE:
        return False
    try:
        value = compile_cel(rule.expression).evaluate(
            filter_activation(key, payload, metadata, scope, rule.payload)
        )
    except CelError:
        return False
    return value is True


def runs_for_event(
    subscriptions: Iterable[Subscription],
    key: str,
    payload: Any,
    metadata: Mapping[str, Any] | None = None,
    scope: str | None = None,
) -> list[EventMatch]:
    """The runs one event starts, in subscription then filter order (see the module docstring)."""
    metadata = metadata or {}
    out: list[EventMatch] = []
    for sub in subscriptions:
        if not any(key_matches(p, key) for p in sub.patterns):
            continue
        if not sub.filters:
            out.append(EventMatch(sub.workflow))
            continue
        out.extend(
            EventMatch(sub.workflow, f) for f in sub.filters if accepts(f, key, payload, metadata, scope)
        )
    return out


def matches_wait(
    expression: str | None,
    scope: str | None,
    key: str,
    payload: Any,
    metadata: Mapping[str, Any],
    event_scope: str | None,
) -> bool:
    """Whether an event satisfies a wait on its key with ``expression`` and ``scope``.

    A wait without a scope takes events of any scope; one with a scope takes only
    events of that scope. A failing expression does not match.
    """
    if scope is not None and scope != event_scope:
        return False
    if expression is None:
        return True
    activation = {
        "input": payload,
        "additional_metadata": dict(metadata),
        "event_key": key,
        "scope": event_scope,
    }
    try:
        return compile_cel(expression).evaluate(activation) is True
    except CelError:
        return False


def pattern_list(patterns: Sequence[str]) -> tuple[str, ...]:
    """Validated patterns as a tuple."""
    return tuple(check_key_pattern(p) for p in patterns)
