"""A payload's msgpack size is measured exactly without encoding it, and bad payloads fail alike."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratchet._contract.payload_size import PayloadTooDeep, packed_size

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
)
payloads = st.recursive(
    scalars,
    lambda children: (
        st.lists(children) | st.tuples(children, children) | st.dictionaries(st.text(), children)
    ),
    max_leaves=200,
)


@given(payloads)
def test_packed_size_is_the_length_of_the_msgpack_encoding(value: Any) -> None:
    assert packed_size(value, max_depth=1000) == len(msgpack.packb(value, use_bin_type=True))


@pytest.mark.parametrize(
    "value",
    ["x" * 70_000, "é" * 40_000, b"\x00" * 70_000, list(range(70_000)), {str(i): i for i in range(70_000)}],
    ids=["str32", "non-ascii", "bin32", "array32", "map32"],
)
def test_packed_size_counts_the_long_headers_too(value: Any) -> None:
    assert packed_size(value, max_depth=10) == len(msgpack.packb(value, use_bin_type=True))


@pytest.mark.parametrize(
    ("value", "error"),
    [(object(), TypeError), (2**64, OverflowError), (-(2**63) - 1, OverflowError), ("\ud800", ValueError)],
    ids=["unknown type", "too big", "too small", "lone surrogate"],
)
def test_what_msgpack_cannot_encode_is_refused_alike(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        msgpack.packb({"v": value}, use_bin_type=True)
    with pytest.raises(error):
        packed_size({"v": value}, max_depth=10)


def test_nesting_beyond_the_depth_is_refused() -> None:
    deep: Any = "leaf"
    for _ in range(5):
        deep = [deep]
    assert packed_size(deep, max_depth=5) == len(msgpack.packb(deep))
    with pytest.raises(PayloadTooDeep, match="more than 4 levels"):
        packed_size(deep, max_depth=4)
