"""Concurrency groups under random arrivals and departures: exactly max_runs, right victims.

Each property drives one :class:`ConcurrencyGroup` with a random stream of requests
(random priorities, retries) and departures, records the facts it decided, and checks
them with the same pure checkers the simulation uses, plus an independent model of
what each strategy must do.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet._contract.flow import ConcurrencyLimitStrategy as S
from ratchet.actors.scheduling._concurrency import Admitted, Cancelled, ConcurrencyGroup
from ratchet.runtime._trace import TraceEvent
from ratchet.simulation._flow_invariants import (
    cancel_in_progress_violations,
    cancel_newest_violations,
    flow_violations,
    max_runs_violations,
)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.integers(1, 3), st.booleans()),
        st.tuples(st.just("leave"), st.integers(0, 50), st.booleans()),
    ),
    max_size=80,
)


def drive(group: ConcurrencyGroup, script: list[tuple[Any, ...]]) -> list[tuple[float, Any, str, Any]]:
    """Run ``script`` against ``group``; returns the facts, checking model rules after each step."""
    facts: list[tuple[float, Any, str, Any]] = []
    arrived: list[str] = []
    cancelled: set[str] = set()
    t = 0.0
    for op in script:
        t += 1
        if op[0] == "request":
            holder = f"h{len(arrived)}"
            arrived.append(holder)
            full_before = len(group) >= group.max_runs
            facts.append((t, "g", "arrive", holder))
            decisions = group.request(holder, arrival=len(arrived), priority=op[1], retry=op[2])
            if group.strategy is S.CANCEL_NEWEST:
                assert (
                    decisions == [Cancelled(holder, decisions[0].reason)]
                    if full_before
                    else [Admitted(holder)]
                )
        else:
            candidates = [h for h in arrived if group.holds(h) or group.is_waiting(h)]
            if not candidates:
                continue
            holder = candidates[op[1] % len(candidates)]
            if op[2] and holder not in cancelled and not group.holds(holder):
                continue  # mostly leave holders: waiting ones leave only when cancelled elsewhere
            facts.append((t, "g", "release", holder))
            decisions = group.leave(holder)
            assert all(isinstance(d, Admitted) for d in decisions)
        for decision in decisions:
            kind = "admit" if isinstance(decision, Admitted) else "cancel"
            facts.append((t, "g", kind, decision.holder))
            if kind == "cancel":
                cancelled.add(decision.holder)
                assert "g" in decision.reason
        assert len(group) <= group.max_runs
        if group.strategy is S.GROUP_ROUND_ROBIN and any(group.is_waiting(h) for h in arrived):
            assert len(group) == group.max_runs  # nobody waits while a place is free
    return facts


@settings(max_examples=300, deadline=None)
@given(strategy=st.sampled_from(list(S)), max_runs=st.integers(1, 4), script=ops)
def test_never_more_than_max_runs(strategy: S, max_runs: int, script: list[tuple[Any, ...]]) -> None:
    facts = drive(ConcurrencyGroup("g", strategy, max_runs), script)
    assert max_runs_violations(facts, max_runs) == []


@settings(max_examples=300, deadline=None)
@given(max_runs=st.integers(1, 4), script=ops)
def test_cancel_newest_cancels_exactly_arrivals_at_a_full_group(max_runs: int, script: list[Any]) -> None:
    facts = drive(ConcurrencyGroup("g", S.CANCEL_NEWEST, max_runs), script)
    assert cancel_newest_violations(facts, max_runs) == []


@settings(max_examples=300, deadline=None)
@given(max_runs=st.integers(1, 4), script=ops)
def test_cancel_in_progress_cancels_the_oldest(max_runs: int, script: list[Any]) -> None:
    facts = drive(ConcurrencyGroup("g", S.CANCEL_IN_PROGRESS, max_runs), script)
    assert cancel_in_progress_violations(facts, max_runs) == []


@settings(max_examples=200, deadline=None)
@given(
    requests=st.lists(st.tuples(st.integers(1, 3), st.booleans()), min_size=2, max_size=30),
    max_runs=st.integers(1, 3),
)
def test_round_robin_admits_waiters_by_priority_then_retry_then_arrival(
    requests: list[tuple[int, bool]], max_runs: int
) -> None:
    group = ConcurrencyGroup("g", S.GROUP_ROUND_ROBIN, max_runs)
    for i, (priority, retry) in enumerate(requests):
        group.request(f"h{i}", arrival=i, priority=priority, retry=retry)
    first = [f"h{i}" for i in range(min(max_runs, len(requests)))]
    assert sorted(group.holders()) == sorted(first)
    waiting = [(-p, 0 if r else 1, i) for i, (p, r) in enumerate(requests) if f"h{i}" not in first]
    admitted = []
    for holder in list(first):
        admitted += [d.holder for d in group.leave(holder)]
    while len(admitted) < len(waiting):
        admitted += [d.holder for d in group.leave(admitted[len(admitted) - max_runs])]
    assert admitted == [f"h{i}" for *_, i in sorted(waiting)]


def test_cancel_in_progress_example() -> None:
    group = ConcurrencyGroup("sync:alice", S.CANCEL_IN_PROGRESS, 1)
    assert group.request("sync1", arrival=1) == [Admitted("sync1")]
    (cancel,) = group.request("sync2", arrival=2)
    assert cancel == Cancelled("sync1", cancel.reason) and "CANCEL_IN_PROGRESS" in cancel.reason
    (cancel,) = group.request("sync3", arrival=3)
    assert cancel.holder == "sync2"  # waiting, older than sync3: only the latest matters
    assert group.holds("sync1")  # still winding down: its place is not given away yet
    assert group.leave("sync1") == [Admitted("sync3")]


def test_reclaim_takes_places_back_without_asking() -> None:
    group = ConcurrencyGroup("g", S.GROUP_ROUND_ROBIN, 1)
    group.reclaim("old", arrival=1)
    assert group.request("new", arrival=2) == []
    assert group.leave("old") == [Admitted("new")]


def test_resizing_admits_waiters_but_never_evicts() -> None:
    group = ConcurrencyGroup("g", S.GROUP_ROUND_ROBIN, 1)
    group.request("a", arrival=1)
    group.request("b", arrival=2)
    assert group.set_max_runs(2) == [Admitted("b")]
    assert group.set_max_runs(1) == [] and len(group) == 2


@pytest.mark.parametrize("max_runs", [0, -1])
def test_bad_max_runs_is_a_programming_error(max_runs: int) -> None:
    with pytest.raises(ValueError, match="max_runs must be >= 1"):
        ConcurrencyGroup("g", S.GROUP_ROUND_ROBIN, max_runs)


# -- the checkers catch what they must --------------------------------------------------------


def test_max_runs_checker_catches_an_overfull_group() -> None:
    facts = [(1, "g", "admit", "a"), (2, "g", "admit", "b"), (3, "g", "release", "a")]
    assert max_runs_violations(facts, 1)
    assert max_runs_violations(facts, 2) == []
    # a release logged before the admission at the same instant frees the place first
    assert (
        max_runs_violations([(1, "g", "admit", "a"), (2, "g", "release", "a"), (2, "g", "admit", "b")], 1)
        == []
    )


def test_cancel_newest_checker_catches_wrong_victims() -> None:
    admitted_when_full = [
        (1, "g", "arrive", "a"),
        (1, "g", "admit", "a"),
        (2, "g", "arrive", "b"),
        (2, "g", "admit", "b"),
    ]
    assert cancel_newest_violations(admitted_when_full, 1)
    cancelled_with_room = [(1, "g", "arrive", "a"), (1, "g", "cancel", "a")]
    assert cancel_newest_violations(cancelled_with_room, 1)
    left_waiting = [(1, "g", "arrive", "a")]
    assert cancel_newest_violations(left_waiting, 1)


def test_cancel_in_progress_checker_catches_wrong_victims() -> None:
    base = [(1, "g", "arrive", "a"), (1, "g", "admit", "a"), (2, "g", "arrive", "b"), (2, "g", "admit", "b")]
    newest_cancelled = [*base, (3, "g", "arrive", "c"), (3, "g", "cancel", "c")]
    assert cancel_in_progress_violations(newest_cancelled, 2)
    nobody_cancelled = [*base, (3, "g", "arrive", "c"), (4, "g", "arrive", "d")]
    assert cancel_in_progress_violations(nobody_cancelled, 2)
    right = [*base, (3, "g", "arrive", "c"), (3, "g", "cancel", "a")]
    assert cancel_in_progress_violations(right, 2) == []


def test_flow_violations_reads_limits_and_facts_from_a_trace() -> None:
    group = ["wf", "input.user", "CANCEL_NEWEST", "alice"]

    def event(*record: Any) -> TraceEvent:
        return TraceEvent(0.0, "flow", "scheduler", json.dumps(list(record)))

    events = [
        TraceEvent(0.0, "ask", "gateway", "trigger"),  # not a flow event: ignored
        event("restart", 0.0),
        event("group", 0.0, group, 1),
        event("arrive", 1.0, group, ["run", "r1"]),
        event("admit", 1.0, group, ["run", "r1"]),
        event("rate", 1.0, "api", 2, 2, 1.0),
        event("rate", 1.5, "api", 1, 2, 1.0),  # 3 units within one second, over the limit of 2
        event("arrive", 2.0, group, ["run", "r2"]),
        event("admit", 2.0, group, ["run", "r2"]),  # a second holder of a group of one
    ]
    problems = flow_violations(events)
    assert any("holds 2 > max_runs=1" in p for p in problems)
    assert any("admitted to the full group" in p for p in problems)
    assert any("rate limit 'api' admitted 3 units" in p for p in problems)
    assert flow_violations(events[:6]) == []
