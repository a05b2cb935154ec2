"""Properties of event routing: key patterns and filters against a plain reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.actors.triggers._rules import (
    FilterRule,
    Subscription,
    key_matches,
    matches_wait,
    runs_for_event,
)

ALPHABET = "ab:*."
keys = st.text(alphabet="ab:.", min_size=0, max_size=6)
patterns = st.text(alphabet=ALPHABET, min_size=1, max_size=6)


def reference_match(pattern: str, key: str) -> bool:
    """Wildcard matching by dynamic programming: ``*`` is any run of characters."""
    m, n = len(pattern), len(key)
    table = [[False] * (n + 1) for _ in range(m + 1)]
    table[0][0] = True
    for i in range(1, m + 1):
        table[i][0] = table[i - 1][0] and pattern[i - 1] == "*"
        for j in range(1, n + 1):
            if pattern[i - 1] == "*":
                table[i][j] = table[i - 1][j] or table[i][j - 1]
            else:
                table[i][j] = table[i - 1][j - 1] and pattern[i - 1] == key[j - 1]
    return table[m][n]


@given(patterns, keys)
def test_key_patterns_match_like_the_reference(pattern, key):
    assert key_matches(pattern, key) == reference_match(pattern, key)


# filters: "input.n <op> k" with a Python twin
OPS = {">": lambda a, b: a > b, "==": lambda a, b: a == b, "<=": lambda a, b: a <= b}
conditions = st.tuples(st.sampled_from(sorted(OPS)), st.integers(-3, 3))
scopes = st.sampled_from(["s1", "s2"])
filters = st.lists(st.tuples(scopes, conditions), max_size=3)
subscriptions = st.lists(st.tuples(st.lists(patterns, min_size=1, max_size=2), filters), max_size=3)


def build(subs):
    out = []
    for number, (pats, fs) in enumerate(subs):
        rules = tuple(
            FilterRule(f"f{number}.{i}", scope, f"input.n {op} {k}", {"i": i})
            for i, (scope, (op, k)) in enumerate(fs)
        )
        out.append(Subscription(f"wf{number}", tuple(pats), rules))
    return out


def reference_runs(subs, key, n, scope):
    expected = []
    for number, (pats, fs) in enumerate(subs):
        if not any(reference_match(p, key) for p in pats):
            continue
        if not fs:
            expected.append((f"wf{number}", None))
            continue
        for i, (fscope, (op, k)) in enumerate(fs):
            if scope is not None and fscope == scope and OPS[op](n, k):
                expected.append((f"wf{number}", f"f{number}.{i}"))
    return expected


@settings(max_examples=200, deadline=None)
@given(subscriptions, keys, st.integers(-4, 4), st.none() | scopes)
def test_an_event_starts_one_run_per_unfiltered_workflow_or_accepting_filter(subs, key, n, scope):
    got = runs_for_event(build(subs), key, {"n": n}, {}, scope)
    assert [(m.workflow, m.filter.id if m.filter else None) for m in got] == reference_runs(
        subs, key, n, scope
    )


@settings(deadline=None)
@given(
    st.none() | st.sampled_from(["input.n > 0", "input.n == 2"]),
    st.none() | scopes,
    scopes,
    st.integers(-2, 3),
)
def test_a_wait_takes_an_event_of_its_scope_whose_expression_holds(expression, scope, event_scope, n):
    expected = (scope is None or scope == event_scope) and (
        expression is None or (n > 0 if expression == "input.n > 0" else n == 2)
    )
    assert matches_wait(expression, scope, "k", {"n": n}, {}, event_scope) == expected


def test_a_filter_that_fails_to_evaluate_accepts_nothing():
    sub = Subscription("wf", ("k",), (FilterRule("f", "s", "input.missing.deeper > 1"),))
    assert runs_for_event([sub], "k", {"n": 1}, {}, "s") == []
