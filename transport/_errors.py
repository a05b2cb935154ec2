"""Errors raised by the transport, in three families (as in h11).

* :class:`RemoteProtocolError`: a peer sent something we cannot accept (garbage bytes,
  a frame of the wrong version, an unknown message type, a field of the wrong type,
  an oversized frame). It is the peer's fault: we log it, answer with an error report
  where a reply is possible, and keep the connection and the process running.
* :class:`LocalProtocolError`: this process misused the transport (a value msgpack
  cannot encode, a message larger than a frame, sending on a closed endpoint).
* :class:`PeerRejectedError` and :class:`PeerUnavailableError`: what a peer told us
  about *our* message, and a peer that is down or unknown.
"""

from __future__ import annotations

__all__ = [
    "FrameTooLargeError",
    "LocalProtocolError",
    "PeerRejectedError",
    "PeerUnavailableError",
    "RemoteProtocolError",
    "TransportError",
]


class TransportError(Exception):
    """Base class of every error :mod:`ratchet.transport` raises."""


class RemoteProtocolError(TransportError):
    """A peer sent bytes or a message that break the protocol.

    Attributes:
        code: a short machine-readable reason (``"bad-frame"``, ``"bad-version"``,
            ``"unknown-type"``, ``"bad-field"``, ``"too-large"``, ``"bad-header"``).
        detail: what exactly was wrong, for humans.
        peer: the peer that sent it, when known.
        correlation_id: the correlation id of the offending message, when it could be
            read (so that the sender's pending call can be failed), else 0.
    """

    def __init__(self, code: str, detail: str, *, peer: str | None = None, correlation_id: int = 0) -> None:
        self.code = code
        self.detail = detail
        self.peer = peer
        self.correlation_id = correlation_id
        super().__init__(code, detail)

    def with_peer(self, peer: str) -> RemoteProtocolError:
        """This error, attributed to ``peer`` (for errors found before the peer was known)."""
        self.peer = peer
        return self

    def __str__(self) -> str:
        who = f"peer {self.peer!r}" if self.peer else "a peer"
        corr = f" (correlation id {self.correlation_id})" if self.correlation_id else ""
        return (
            f"{who} sent an invalid frame [{self.code}]{corr}: {self.detail}; "
            "the message was dropped and the connection kept"
        )


class FrameTooLargeError(RemoteProtocolError):
    """A received frame is larger than this endpoint's ``max_frame_size``."""

    def __init__(self, size: int, limit: int, *, peer: str | None = None) -> None:
        super().__init__(
            "too-large",
            f"frame of {size} bytes exceeds max_frame_size={limit}; "
            "the sender should split its batches or both ends raise the limit",
            peer=peer,
        )
        self.size = size
        self.limit = limit


class LocalProtocolError(TransportError):
    """This process misused the transport; nothing was sent."""


class PeerRejectedError(TransportError):
    """A peer reported that a message *we* sent was invalid.

    Attributes:
        peer: the peer that rejected it.
        code: the peer's reason code (see :class:`RemoteProtocolError`).
        detail: the peer's explanation.
    """

    def __init__(self, peer: str, code: str, detail: str) -> None:
        self.peer = peer
        self.code = code
        self.detail = detail
        super().__init__(peer, code, detail)

    def __str__(self) -> str:
        return (
            f"peer {self.peer!r} rejected our message [{self.code}]: {self.detail}; "
            "check that both ends run the same protocol version and send encodable values"
        )


class PeerUnavailableError(TransportError):
    """The peer is unknown to this endpoint, or down; the message was not queued."""
