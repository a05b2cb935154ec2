"""The durable log's replay rules, checked on arbitrary call sequences."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.actors.durable import _log as dl

calls = st.lists(
    st.tuples(st.sampled_from(["event", "conditions", "spawn", "wait_runs", "now"]), st.sampled_from("abc")),
    max_size=8,
)


def first_run(seq_calls, now=100.0):
    """Run the calls once, resolving each right after it is appended; return the log."""
    log = dl.DurableLog("t")
    for seq, (kind, key) in enumerate(seq_calls):
        decision = dl.step(log, seq, kind, key, {"k": key}, now)
        assert isinstance(decision, dl.Append)
        dl.append(log, decision.entry)
        if not decision.entry.resolved:
            assert dl.resolve(log, seq, f"result-{seq}") is not None
    return log


@settings(max_examples=200)
@given(calls)
def test_a_replay_of_the_same_calls_returns_the_logged_results_and_appends_nothing(seq_calls):
    log = first_run(seq_calls)
    before = dict(log.entries)
    for seq, (kind, key) in enumerate(seq_calls):
        decision = dl.step(log, seq, kind, key, {"ignored": True}, 999.0)
        assert isinstance(decision, dl.Replay)
        assert decision.entry.result == before[seq].result  # "now" keeps its first time too
    assert log.entries == before


@settings(max_examples=200)
@given(calls, calls)
def test_a_replay_that_differs_diverges_at_the_first_differing_entry(logged, replayed):
    log = first_run(logged)
    for seq, (kind, key) in enumerate(replayed):
        decision = dl.step(log, seq, kind, key, None, 5.0)
        if seq >= len(logged):
            assert isinstance(decision, dl.Append)  # past the log: new calls
            break
        if (kind, key) != logged[seq]:
            assert isinstance(decision, dl.Diverged)
            assert f"entry {seq} of the log is {dl.describe(*logged[seq])}" in decision.message
            break
        assert isinstance(decision, dl.Replay)


@given(st.floats(0, 1000), st.floats(0, 1000), st.floats(0, 1000))
def test_a_sleep_is_over_exactly_when_its_deadline_has_passed(start, length, later):
    log = dl.DurableLog("t")
    decision = dl.step(log, 0, "sleep", "s", {"until": start + length}, start)
    dl.append(log, decision.entry)
    assert decision.entry.resolved == (start >= start + length)
    again = dl.step(log, 0, "sleep", "s", None, start + later)
    assert isinstance(again, dl.Replay if start + later >= start + length else dl.Pending)


@given(st.integers(1, 5))
def test_a_call_past_the_end_of_the_log_is_refused(gap):
    log = dl.DurableLog("t")
    decision = dl.step(log, gap, "now", "now", None, 0.0)
    assert isinstance(decision, dl.Diverged) and "one at a time" in decision.message


def test_an_unresolved_entry_is_pending_and_resolves_once():
    log = dl.DurableLog("t")
    dl.append(log, dl.step(log, 0, "event", "k", {}, 0.0).entry)  # type: ignore[union-attr]
    assert isinstance(dl.step(log, 0, "event", "k", {}, 1.0), dl.Pending)
    assert dl.resolve(log, 0, {"id": "e1"}) is not None
    assert dl.resolve(log, 0, {"id": "e2"}) is None  # the first result stands
    assert dl.step(log, 0, "event", "k", {}, 2.0).entry.result == {"id": "e1"}  # type: ignore[union-attr]
