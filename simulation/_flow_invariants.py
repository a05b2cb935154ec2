"""Flow-control invariants as pure checks over what happened, for tests and the simulation.

Each check takes plain facts in the order they happened and returns the violations it
found (an empty list when the rule held), each a sentence naming the rule, the time, the
key and the holders involved. They know nothing of the engine: the facts may come from
a property test driving the pure cores, from the engine's trace (see :func:`flow_facts`:
the scheduler records one ``flow`` trace event per admission decision when the runtime
keeps a trace), or from stored task events.

Facts:

- concurrency: ``(time, group, kind, holder)`` with ``kind`` one of ``"arrive"`` (the
  holder asked for a place), ``"admit"`` (it got one), ``"cancel"`` (the group had it
  cancelled) and ``"release"`` (it gave its place back, or stopped waiting), or
  ``(time, None, "restart", None)`` when a new scheduler took over after an engine
  restart: it starts from nothing, and the holders that held places before take them
  back first (``admit`` facts), so each incarnation is checked from its own facts;
- rate limits: ``(time, key, units)`` for every admission (they are checked across
  restarts: the windows are kept in the store).

:func:`flow_violations` reads an engine trace and runs every check, with each group's
``max_runs`` and each key's limit as the trace recorded them: the one call the
simulation needs.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ConcurrencyFact",
    "FlowTrace",
    "RateFact",
    "cancel_in_progress_violations",
    "cancel_newest_violations",
    "flow_facts",
    "flow_trace",
    "flow_violations",
    "jain_fairness",
    "max_runs_violations",
    "rate_window_violations",
]

ConcurrencyFact = tuple[float, Hashable, str, Hashable]
RateFact = tuple[float, str, int]

KINDS = frozenset({"arrive", "admit", "cancel", "release", "restart"})


def _limit(limits: Mapping[Hashable, int] | int, group: Hashable) -> int:
    return limits if isinstance(limits, int) else limits[group]


def max_runs_violations(
    facts: Iterable[ConcurrencyFact], max_runs: Mapping[Hashable, int] | int
) -> list[str]:
    """Check that no group ever has more than ``max_runs`` holders at once.

    A holder holds from its ``admit`` to its ``release``; facts are taken in the order
    given, so a release logged before an admission at the same instant frees the place
    first, and one logged after does not.
    """
    holding: dict[Hashable, set[Hashable]] = {}
    out: list[str] = []
    for time, group, kind, holder in facts:
        if kind == "restart":
            holding.clear()
            continue
        held = holding.setdefault(group, set())
        if kind == "admit":
            if holder in held:
                out.append(f"t={time:g}: {holder!r} admitted twice to concurrency group {group!r}")
            held.add(holder)
            limit = _limit(max_runs, group)
            if len(held) > limit:
                out.append(
                    f"t={time:g}: concurrency group {group!r} holds {len(held)} > max_runs={limit}: "
                    f"{sorted(map(repr, held))}"
                )
        elif kind == "release":
            held.discard(holder)
    return out


def rate_window_violations(facts: Iterable[RateFact], limits: Mapping[str, tuple[int, float]]) -> list[str]:
    """Check that in every interval ``(t - duration, t]`` a key's admitted units fit its limit.

    An admission at ``s`` counts in every window ending before ``s + duration``.

    Args:
        facts: ``(time, key, units)`` admissions, in any order.
        limits: each key's ``(limit, duration)``.
    """
    by_key: dict[str, list[tuple[float, int]]] = {}
    for time, key, units in facts:
        by_key.setdefault(key, []).append((time, units))
    out: list[str] = []
    for key, grants in by_key.items():
        limit, duration = limits[key]
        grants.sort(key=lambda g: g[0])
        window: deque[tuple[float, int]] = deque()
        used = 0
        i = 0
        while i < len(grants):
            time = grants[i][0]
            while i < len(grants) and grants[i][0] == time:  # every admission at this instant
                window.append(grants[i])
                used += grants[i][1]
                i += 1
            # an admission at s counts until s + duration (the limiter's own arithmetic:
            # ``t - duration`` and ``s + duration`` can round differently)
            while window and window[0][0] + duration <= time:
                used -= window.popleft()[1]
            if used > limit:
                out.append(
                    f"t={time:g}: rate limit {key!r} admitted {used} units in "
                    f"({time - duration:g}, {time:g}], over its limit of {limit} per {duration:g}s"
                )
    return out


def cancel_newest_violations(
    facts: Iterable[ConcurrencyFact], max_runs: Mapping[Hashable, int] | int
) -> list[str]:
    """Check CANCEL_NEWEST: a holder arriving at a full group is cancelled, and only then.

    Every arrival must be followed by the holder's admission (the group had room) or its
    cancellation (the group was full), never by waiting; no holder is cancelled otherwise.
    """
    holding: dict[Hashable, set[Hashable]] = {}
    pending: dict[tuple[Hashable, Hashable], bool] = {}  # (group, holder) -> group was full at arrival
    out: list[str] = []
    for time, group, kind, holder in facts:
        if kind == "restart":
            holding.clear()
            pending.clear()
            continue
        held = holding.setdefault(group, set())
        if kind == "arrive":
            if (group, holder) in pending:
                out.append(f"t={time:g}: {holder!r} arrived twice at {group!r} without a decision")
            pending[(group, holder)] = len(held) >= _limit(max_runs, group)
            continue
        full = pending.pop((group, holder), None)
        if kind == "admit":
            if full:
                out.append(f"t={time:g}: {holder!r} was admitted to the full group {group!r} (CANCEL_NEWEST)")
            held.add(holder)
        elif kind == "cancel":
            if full is None:
                out.append(f"t={time:g}: {holder!r} was cancelled by {group!r} though it did not just arrive")
            elif not full:
                out.append(
                    f"t={time:g}: {holder!r} was cancelled by {group!r}, which had room (CANCEL_NEWEST)"
                )
        elif kind == "release":
            held.discard(holder)
    for (group, holder), _ in pending.items():
        out.append(f"{holder!r} arrived at {group!r} and was neither admitted nor cancelled (CANCEL_NEWEST)")
    return out


def cancel_in_progress_violations(
    facts: Iterable[ConcurrencyFact], max_runs: Mapping[Hashable, int] | int
) -> list[str]:
    """Check CANCEL_IN_PROGRESS: each arrival cancels exactly the oldest members over the limit.

    A member is a holder that arrived and was neither cancelled nor released. When one
    arrives and the members number more than ``max_runs``, the oldest of them (by
    arrival) must be cancelled, exactly as many as are too many, before the next arrival
    at that group; no other holder may be cancelled.
    """
    members: dict[Hashable, dict[Hashable, int]] = {}  # group -> holder -> arrival number
    expected: dict[Hashable, set[Hashable]] = {}  # group -> victims still to cancel
    out: list[str] = []
    arrivals = 0

    def settle(group: Hashable, time: float) -> None:
        missing = expected.pop(group, set())
        if missing:
            out.append(
                f"t={time:g}: {group!r} should have cancelled {sorted(map(repr, missing))} (the oldest runs)"
            )

    for time, group, kind, holder in facts:
        if kind == "restart":
            for stale in list(expected):
                settle(stale, time)
            members.clear()
            continue
        live = members.setdefault(group, {})
        if kind == "arrive":
            settle(group, time)
            arrivals += 1
            live[holder] = arrivals
            excess = len(live) - _limit(max_runs, group)
            if excess > 0:
                expected[group] = set(sorted(live, key=live.__getitem__)[:excess])
        elif kind == "cancel":
            victims = expected.get(group, set())
            if holder not in victims:
                out.append(
                    f"t={time:g}: {group!r} cancelled {holder!r}, which was not among the oldest "
                    f"{sorted(map(repr, victims))}"
                )
            victims.discard(holder)
            live.pop(holder, None)
        elif kind == "admit" and holder not in live:
            # admitted without arriving: a place taken back after an engine restart, by a
            # holder older than anything that arrives from now on
            arrivals += 1
            live[holder] = arrivals
        elif kind == "release":
            live.pop(holder, None)
            expected.get(group, set()).discard(holder)
    for group in list(expected):
        settle(group, math.inf)
    return out


def jain_fairness(values: Sequence[float]) -> float:
    """Jain's fairness index of ``values``: 1.0 when all are equal, 1/n when one has everything."""
    if not values:
        return 1.0
    total = sum(values)
    squares = sum(v * v for v in values)
    return 1.0 if squares == 0 else total * total / (len(values) * squares)


@dataclass
class FlowTrace:
    """The flow-control facts of an engine trace, and the limits in force.

    Attributes:
        concurrency: admission facts, in order.
        rates: rate-limit admissions.
        max_runs: each group's ``max_runs`` (the largest, if a newer version resized it).
        strategies: each group's strategy.
        rate_limits: each key's ``(limit, duration)`` (the most lenient, if it changed).
    """

    concurrency: list[ConcurrencyFact] = field(default_factory=list)
    rates: list[RateFact] = field(default_factory=list)
    max_runs: dict[Hashable, int] = field(default_factory=dict)
    strategies: dict[Hashable, str] = field(default_factory=dict)
    rate_limits: dict[str, tuple[int, float]] = field(default_factory=dict)


def flow_trace(trace_events: Iterable[Any]) -> FlowTrace:
    """Read the scheduler's ``flow`` events out of an engine trace.

    Args:
        trace_events: :class:`~ratchet.runtime.TraceEvent` values (or anything with
            ``kind`` and ``detail``), or the trace's rendered lines
            (``"<time> <kind> <actor> <detail>"``, as a simulation's ``trace_text``
            holds them), in trace order.

    Group keys and holders come back as tuples (they are lists in the trace's JSON).
    """
    out = FlowTrace()
    for event in trace_events:
        if isinstance(event, str):
            parts = event.split(" ", 3)
            if len(parts) < 4 or parts[1] != "flow":
                continue
            detail = parts[3]
        elif event.kind != "flow":
            continue
        else:
            detail = event.detail
        record = json.loads(detail)
        kind = record[0]
        if kind == "rate":
            _, at, key, units, limit, duration = record
            out.rates.append((float(at), str(key), int(units)))
            old = out.rate_limits.get(key)
            if old is None or limit / duration > old[0] / old[1]:
                out.rate_limits[key] = (int(limit), float(duration))
        elif kind == "group":
            _, _, group, max_runs = record
            group = _tuple(group)
            out.max_runs[group] = max(max_runs, out.max_runs.get(group, 0))
            out.strategies[group] = group[2]
        elif kind == "restart":
            out.concurrency.append((float(record[1]), None, "restart", None))
        elif kind in KINDS:
            _, at, group, holder = record
            out.concurrency.append((float(at), _tuple(group), kind, _tuple(holder)))
    return out


def flow_facts(trace_events: Iterable[Any]) -> tuple[list[ConcurrencyFact], list[RateFact]]:
    """The concurrency and rate facts of an engine trace (see :func:`flow_trace`)."""
    trace = flow_trace(trace_events)
    return trace.concurrency, trace.rates


def flow_violations(trace_events: Iterable[Any]) -> list[str]:
    """Every flow-control violation in an engine trace: max_runs, victims, rate windows.

    Groups and keys take the limits the trace recorded for them.
    """
    trace = flow_trace(trace_events)
    out = max_runs_violations(trace.concurrency, trace.max_runs)
    for strategy, check in (
        ("CANCEL_NEWEST", cancel_newest_violations),
        ("CANCEL_IN_PROGRESS", cancel_in_progress_violations),
    ):
        facts = [f for f in trace.concurrency if f[1] is None or trace.strategies.get(f[1]) == strategy]
        out += check(facts, trace.max_runs)
    out += rate_window_violations(trace.rates, trace.rate_limits)
    return out


def _tuple(value: Any) -> Any:
    return tuple(_tuple(v) for v in value) if isinstance(value, list) else value
