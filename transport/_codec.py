"""The wire codec: frames of msgpack-encoded envelopes, and strict validation of what arrives.

Theory of operation: a frame is the msgpack array ``[version, [envelope, ...]]`` and
an envelope is ``[type, correlation_id, credential, [field, ...]]``. A frame batches many
envelopes, so envelopes are encoded one by one when queued (:func:`encode_envelope`)
and a frame is assembled by concatenation (:func:`assemble_frame`) without encoding
them twice.

Decoding trusts nothing. A frame that is not msgpack, not shaped like a frame, of
another protocol version or larger than the limit raises
:class:`~ratchet.transport.RemoteProtocolError`. Inside a good frame each envelope is
checked on its own: a bad one becomes an error in :attr:`DecodedFrame.errors`, carrying
its correlation id when that much could be read (so the receiver can answer the
sender's pending call), and the frame's good envelopes are still delivered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from ._errors import FrameTooLargeError, LocalProtocolError, RemoteProtocolError
from ._messages import MESSAGE_TYPES, Envelope

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "PROTOCOL_VERSION",
    "DecodedFrame",
    "assemble_frame",
    "decode_frame",
    "encode_envelope",
    "encode_frame",
]

#: The protocol version every frame carries; a frame of another version is rejected.
PROTOCOL_VERSION = 1
#: Default upper bound on a frame's size in bytes, on both the sending and receiving side.
#: Frames carry payloads (run inputs, task outputs) whole, and an engine accepts payloads
#: of up to 256 MiB; a worker's assignment may carry a task's input and its parents'
#: outputs. The bound only caps what a peer may make us allocate: nng allocates a
#: message as it arrives, never the limit up front.
DEFAULT_MAX_FRAME_SIZE = 512 * 1024 * 1024
_MAX_CORRELATION_ID = 2**64 - 1


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """What a received frame held: its valid envelopes and one error per invalid one."""

    envelopes: list[Envelope]
    errors: list[RemoteProtocolError] = field(default_factory=list)


def encode_envelope(envelope: Envelope) -> bytes:
    """Encode one envelope, ready to be placed in a frame.

    Raises:
        LocalProtocolError: a field holds a value msgpack cannot encode.
    """
    message = envelope.message
    try:
        return msgpack.packb(
            [message.TYPE, envelope.correlation_id, envelope.credential, message.fields()],
            use_bin_type=True,
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise LocalProtocolError(
            f"cannot encode {type(message).__name__} message (correlation id "
            f"{envelope.correlation_id}): {exc}; send only msgpack types "
            "(None, bool, int, float, str, bytes, list, tuple, dict)"
        ) from None


_packer = msgpack.Packer(use_bin_type=True)
_FRAME_HEAD = b"\x92" + msgpack.packb(PROTOCOL_VERSION)


def assemble_frame(encoded: Iterable[bytes]) -> bytes:
    """Join already-encoded envelopes (from :func:`encode_envelope`) into one frame."""
    parts = list(encoded)
    return b"".join([_FRAME_HEAD, _packer.pack_array_header(len(parts)), *parts])


def encode_frame(envelopes: Iterable[Envelope]) -> bytes:
    """Encode envelopes into one frame.

    Raises:
        LocalProtocolError: an envelope cannot be encoded.
    """
    return assemble_frame(encode_envelope(e) for e in envelopes)


def decode_frame(data: bytes, *, max_size: int = DEFAULT_MAX_FRAME_SIZE) -> DecodedFrame:
    """Decode and validate a frame received from a peer.

    Args:
        data: the frame's bytes.
        max_size: frames longer than this are rejected before parsing.

    Returns:
        the valid envelopes, and one :class:`RemoteProtocolError` per invalid envelope.

    Raises:
        RemoteProtocolError: the frame as a whole is unusable.
    """
    if len(data) > max_size:
        raise FrameTooLargeError(len(data), max_size)
    try:
        frame = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except Exception as exc:  # msgpack raises many types for many kinds of garbage
        raise RemoteProtocolError(
            "bad-frame", f"not a msgpack frame ({type(exc).__name__}: {exc}) in {len(data)} bytes"
        ) from None
    if type(frame) is not list or len(frame) != 2 or type(frame[1]) is not list:
        raise RemoteProtocolError("bad-frame", f"a frame is [version, [envelopes]], got {_describe(frame)}")
    version = frame[0]
    if version != PROTOCOL_VERSION or type(version) is not int:
        raise RemoteProtocolError(
            "bad-version",
            f"protocol version {version!r} is not supported (this end speaks {PROTOCOL_VERSION}); "
            "upgrade the older side",
        )
    envelopes: list[Envelope] = []
    errors: list[RemoteProtocolError] = []
    for index, raw in enumerate(frame[1]):
        try:
            envelopes.append(_decode_envelope(raw))
        except RemoteProtocolError as exc:
            exc.detail = f"envelope {index}: {exc.detail}"
            errors.append(exc)
    return DecodedFrame(envelopes, errors)


def _decode_envelope(raw: Any) -> Envelope:
    if type(raw) is not list or len(raw) != 4:
        raise RemoteProtocolError(
            "bad-frame", f"an envelope is [type, correlation_id, credential, body], got {_describe(raw)}"
        )
    name, corr, credential, body = raw
    if type(corr) is not int or not 0 <= corr <= _MAX_CORRELATION_ID:
        raise RemoteProtocolError(
            "bad-field", f"correlation id must be an unsigned int, got {_describe(corr)}"
        )
    if type(name) is not str:
        raise RemoteProtocolError(
            "bad-field", f"message type must be a str, got {_describe(name)}", correlation_id=corr
        )
    cls = MESSAGE_TYPES.get(name)
    if cls is None:
        raise RemoteProtocolError(
            "unknown-type",
            f"unknown message type {name[:64]!r}; known: {', '.join(sorted(MESSAGE_TYPES))}",
            correlation_id=corr,
        )
    if type(credential) is not str:
        raise RemoteProtocolError(
            "bad-field", f"{name}: credential must be a str, got {_describe(credential)}", correlation_id=corr
        )
    schema = cls.SCHEMA
    if type(body) is not list or len(body) != len(schema):
        raise RemoteProtocolError(
            "bad-field",
            f"{name}: body must be a list of {len(schema)} field(s) "
            f"({', '.join(f[0] for f in schema) or 'none'}), got {_describe(body)}",
            correlation_id=corr,
        )
    for (field_name, check, expected), value in zip(schema, body, strict=True):
        if not check(value):
            raise RemoteProtocolError(
                "bad-field",
                f"{name}.{field_name} must be {expected}, got {_describe(value)}",
                correlation_id=corr,
            )
    return Envelope(cls(*body), corr, credential)


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
