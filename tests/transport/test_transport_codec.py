"""The wire codec: round trips, and a clear RemoteProtocolError for every kind of bad input."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transport_strategies import envelopes, wrong_envelopes

from ratchet.transport import (
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    ActorGone,
    Ask,
    Envelope,
    Failure,
    FrameTooLargeError,
    Heartbeat,
    LocalProtocolError,
    ProtocolErrorReport,
    RemoteProtocolError,
    Result,
    Tell,
    decode_frame,
    encode_frame,
)

CODEC_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@CODEC_SETTINGS
@given(st.lists(envelopes(), max_size=20))
def test_frame_round_trips_every_message_type(batch: list[Envelope]) -> None:
    decoded = decode_frame(encode_frame(batch))
    assert decoded.errors == []
    assert decoded.envelopes == batch


def test_a_frame_carries_a_list_of_messages_with_version_and_envelopes() -> None:
    frame = encode_frame(
        [Envelope(Ask("counter", "incr", [1], {"by": 2}, 1.5), 7, "acme"), Envelope(Heartbeat())]
    )
    assert msgpack.unpackb(frame) == [
        PROTOCOL_VERSION,
        [["ask", 7, "acme", ["counter", "incr", [1], {"by": 2}, 1.5]], ["hb", 0, "", []]],
    ]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "bad-frame"),
        (encode_frame([Envelope(Result(1))])[:-1], "bad-frame"),  # truncated
        (b"\xc1\x00\xff", "bad-frame"),  # never-used msgpack byte
        (msgpack.packb({"not": "a frame"}), "bad-frame"),
        (msgpack.packb([PROTOCOL_VERSION]), "bad-frame"),
        (msgpack.packb([PROTOCOL_VERSION, "x"]), "bad-frame"),
        (msgpack.packb([PROTOCOL_VERSION + 1, []]), "bad-version"),
        (msgpack.packb([True, []]), "bad-version"),
        (msgpack.packb([PROTOCOL_VERSION, []]) + b"\x00", "bad-frame"),  # trailing bytes
    ],
)
def test_unusable_frame_raises_remote_protocol_error(data: bytes, code: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_frame(data)
    assert info.value.code == code
    assert "invalid frame" in str(info.value)


@pytest.mark.parametrize(
    ("raw", "code", "corr"),
    [
        (["nope", 5, "", []], "unknown-type", 5),
        (["ask", 6, "", ["a", "m", [], {}]], "bad-field", 6),  # one field short
        (["ask", 7, "", ["a", "m", "not-a-list", {}, None]], "bad-field", 7),
        (["ask", 8, "", ["a", "m", [], {"x": 1}, "soon"]], "bad-field", 8),
        (["tell", 9, "", ["a", 3, [], {}]], "bad-field", 9),
        (["result", 10, 42, [1]], "bad-field", 10),  # credential not a str
        (["result", -1, "", [1]], "bad-field", 0),  # correlation id unreadable
        ([1, 2, 3], "bad-frame", 0),
        ("ask", "bad-frame", 0),
    ],
)
def test_bad_envelope_is_reported_with_its_correlation_id(raw: object, code: str, corr: int) -> None:
    good = ["hb", 0, "", []]
    decoded = decode_frame(msgpack.packb([PROTOCOL_VERSION, [good, raw, good]]))
    assert decoded.envelopes == [Envelope(Heartbeat()), Envelope(Heartbeat())]
    [error] = decoded.errors
    assert (error.code, error.correlation_id) == (code, corr)
    assert "envelope 1" in error.detail


def test_bool_is_not_accepted_where_an_int_is_expected() -> None:
    decoded = decode_frame(msgpack.packb([PROTOCOL_VERSION, [["result", True, "", [1]]]]))
    assert decoded.errors[0].code == "bad-field"


def test_kwargs_with_non_string_keys_are_rejected() -> None:
    raw = ["ask", 3, "", ["a", "m", [], {b"k": 1}, None]]
    decoded = decode_frame(msgpack.packb([PROTOCOL_VERSION, [raw]], use_bin_type=True))
    assert decoded.errors[0].code == "bad-field"
    assert "kwargs" in decoded.errors[0].detail


def test_oversized_frame_is_rejected_before_parsing() -> None:
    frame = encode_frame([Envelope(Result("x" * 1000))])
    with pytest.raises(FrameTooLargeError) as info:
        decode_frame(frame, max_size=100)
    assert info.value.code == "too-large"
    assert info.value.size == len(frame)


def test_unencodable_value_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError, match="cannot encode Result"):
        encode_frame([Envelope(Result(object()))])


def test_every_message_type_is_registered_once() -> None:
    assert {
        cls.TYPE: cls for cls in (Heartbeat, ProtocolErrorReport, Ask, Tell, Result, Failure, ActorGone)
    } == MESSAGE_TYPES


@CODEC_SETTINGS
@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_crash_the_decoder(data: bytes) -> None:
    try:
        decoded = decode_frame(data)
    except RemoteProtocolError:
        return
    for envelope in decoded.envelopes:
        assert type(envelope.message) in MESSAGE_TYPES.values()


@CODEC_SETTINGS
@given(st.lists(wrong_envelopes(), min_size=1, max_size=5))
def test_well_formed_but_wrong_messages_are_each_reported(raws: list[object]) -> None:
    decoded = decode_frame(msgpack.packb([PROTOCOL_VERSION, raws], use_bin_type=True))
    assert decoded.envelopes == []
    assert len(decoded.errors) == len(raws)
    assert all(e.code in {"bad-frame", "bad-field", "unknown-type"} for e in decoded.errors)
