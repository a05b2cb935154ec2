"""Hypothesis strategies for transport tests: valid envelopes, and well-formed-but-wrong ones."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from ratchet.transport import (
    MESSAGE_TYPES,
    ActorGone,
    Ask,
    Envelope,
    Failure,
    Heartbeat,
    ProtocolErrorReport,
    Result,
    Tell,
)

text = st.text(max_size=20)

#: msgpack values that survive a round trip unchanged (lists, not tuples; str keys).
values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | text
    | st.binary(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)

args = st.lists(values, max_size=4)
kwargs = st.dictionaries(text, values, max_size=4)

#: One valid message of each type.
messages = st.one_of(
    st.builds(Heartbeat),
    st.builds(ProtocolErrorReport, text, text),
    st.builds(Ask, text, text, args, kwargs, st.none() | st.floats(0, 1e6)),
    st.builds(Tell, text, text, args, kwargs),
    st.builds(Result, values),
    st.builds(Failure, text, text, text, text, text),
    st.builds(ActorGone, text, text),
)


def envelopes() -> st.SearchStrategy[Envelope]:
    """Valid envelopes of every message type."""
    return st.builds(Envelope, messages, st.integers(0, 2**64 - 1), text)


def _wrong_body(name: str) -> st.SearchStrategy[list[Any]]:
    arity = len(MESSAGE_TYPES[name].SCHEMA)
    wrong_length = st.lists(values, max_size=6).filter(lambda body: len(body) != arity)
    # Right length, but every field drawn from types none of the schema checks accept
    # for all fields at once: at least one field must then be wrong, unless every field
    # of the schema accepts anything (Result.value), which the filter removes.
    wrong_types = st.lists(
        st.binary(max_size=4) | st.lists(st.integers(-1000, 1000), max_size=2), min_size=arity, max_size=arity
    )
    strategies = [wrong_length]
    if name not in ("hb", "result"):
        strategies.append(wrong_types)
    return st.one_of(strategies)


def wrong_envelopes() -> st.SearchStrategy[Any]:
    """Msgpack values shaped roughly like envelopes, each wrong in at least one way."""
    known = sorted(MESSAGE_TYPES)
    unknown_type = st.tuples(text.filter(lambda t: t not in MESSAGE_TYPES), st.integers(0, 99), text, args)
    bad_body = st.sampled_from(known).flatmap(
        lambda name: st.tuples(st.just(name), st.integers(0, 99), text, _wrong_body(name))
    )
    bad_corr = st.tuples(st.sampled_from(known), values.filter(lambda v: type(v) is not int), text, args)
    bad_credential = st.tuples(
        st.sampled_from(known), st.integers(0, 99), values.filter(lambda v: type(v) is not str), args
    )
    not_an_envelope = values.filter(lambda v: not (isinstance(v, list) and len(v) == 4))
    return st.one_of(
        unknown_type.map(list),
        bad_body.map(list),
        bad_corr.map(list),
        bad_credential.map(list),
        not_an_envelope,
    )
