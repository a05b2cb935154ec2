"""The rule of what reaches the engine: the fast check and the one that explains agree.

Every task output and run input goes through a fast check that builds no paths; only a
value it rejects is walked again to say what is wrong and where. Both must apply the
same rule, or a value would be refused with no reason given, or let through.
"""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet._contract.wire_values import MAX_DEPTH, _clean, _describe_problem, bounded_text

scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # some past 64 bits
    | st.floats()  # NaN and infinities included
    | st.text()
    | st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3)  # lone surrogates
    | st.sampled_from(["nul \x00", b"bytes", (1, 2), object()])
)
keys = st.text(max_size=5) | st.integers(0, 3) | st.just("k\x00")
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@settings(max_examples=500, deadline=None)
@given(value=values | st.integers(MAX_DEPTH - 2, MAX_DEPTH + 2).map(nested))
def test_the_fast_check_and_the_explanation_agree(value: Any) -> None:
    problem = _describe_problem(value)
    assert _clean(value) is (problem is None), problem
    if problem is None:
        msgpack.packb(value, use_bin_type=True)  # what passes, the wire carries


@given(text=st.text(), limit=st.integers(10, 200))
def test_bounded_text_is_storable_and_keeps_both_ends(text: str, limit: int) -> None:
    bounded = bounded_text(text + "\x00\ud800", limit)
    assert "\x00" not in bounded
    bounded.encode("utf-8")
    assert len(bounded) <= limit + 60
    if len(text) + 2 > limit:
        assert "characters left out" in bounded
