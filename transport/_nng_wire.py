"""The nng wire format under the frames: request kinds, the request header, socket limits.

A dialer's request is ``header + name + payload``: the header packs the kind (``D`` data,
``P`` poll), the length of the dialer's name, the dialer's incarnation (random per dial)
and the data frame's sequence number. A listener's reply is one kind byte (``A`` ack,
``F`` frame) and, for ``F``, a frame. See :mod:`ratchet.transport._nng` for the protocol.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import pynng

from ._endpoint import EndpointOptions
from ._nng_lifetime import socket_closed, socket_opened

__all__ = [
    "ACK",
    "DATA",
    "FRAME",
    "HEADER",
    "MAX_PARKED_POLLS",
    "POLL",
    "ContextPool",
    "close_quietly",
    "hard_limit",
]

# kind (D data / P poll), name length, dialer incarnation, sequence number; then the name.
HEADER = struct.Struct("!cBQQ")
DATA, POLL = b"D", b"P"
ACK, FRAME = b"A", b"F"
# Largest parked polls per dialer; a dialer asking for more is answered with a bare ack.
MAX_PARKED_POLLS = 16


def hard_limit(options: EndpointOptions) -> int:
    """The ``recv_max_size`` to give an nng socket for these endpoint options."""
    # nng drops the whole connection on a message over recv_max_size. Allow twice our
    # own limit at the socket, so that a frame a little over it reaches the codec and
    # gets a clear error and a reply instead of a silent disconnect.
    return 2 * options.max_frame_size + HEADER.size + 256


def close_quietly(obj: pynng.Context | pynng.Socket) -> None:
    """Close an nng context or socket, ignoring that it (or its socket) is already closed."""
    try:
        obj.close()
    except pynng.NNGException:
        pass


class ContextPool:
    """An nng socket and the contexts opened on it, closed together (and counted, see
    :mod:`ratchet.transport._nng_lifetime`)."""

    def __init__(self) -> None:
        self.socket: pynng.Socket | None = None
        self._contexts: set[pynng.Context] = set()

    def open(self, make: Callable[[], pynng.Socket]) -> pynng.Socket:
        """Open the pool's socket with ``make()``; :meth:`close` closes it."""
        assert self.socket is None
        socket_opened()
        try:
            self.socket = make()
        except BaseException:
            socket_closed()
            raise
        return self.socket

    def new(self) -> pynng.Context:
        assert self.socket is not None
        ctx = self.socket.new_context()
        self._contexts.add(ctx)
        return ctx

    def drop(self, ctx: pynng.Context) -> None:
        self._contexts.discard(ctx)
        close_quietly(ctx)

    def close(self) -> None:
        for ctx in list(self._contexts):
            close_quietly(ctx)
        self._contexts.clear()
        if self.socket is not None:
            close_quietly(self.socket)
            self.socket = None
            socket_closed()
