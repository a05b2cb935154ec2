"""The listening end of the nng backend: one Rep0 socket, many dialers, addressed replies.

See :mod:`ratchet.transport._nng` for the protocol and why it is Req0/Rep0.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import pynng
import trio

from ._codec import encode_frame
from ._endpoint import Endpoint
from ._errors import RemoteProtocolError
from ._messages import Envelope, ProtocolErrorReport
from ._nng_tls import ListenerTls
from ._nng_wire import (
    ACK,
    DATA,
    FRAME,
    HEADER,
    MAX_PARKED_POLLS,
    POLL,
    ContextPool,
    hard_limit,
)

__all__ = ["NngListener"]

logger = logging.getLogger("ratchet.transport.nng")


class NngListener(Endpoint):
    """A listening nng endpoint (Rep0): many dialers, addressed replies through parked polls."""

    backend = "nng"

    def __init__(self, *, receivers: int, tls: ListenerTls | None = None, **kwargs: Any) -> None:
        super().__init__(role="listener", **kwargs)
        self._receivers = receivers
        self._tls = tls
        self._socket: pynng.Rep0 | None = None
        self._pipe_peer: dict[int, str] = {}
        self._polls: dict[str, deque[tuple[int, pynng.Context]]] = {}
        self._poll_lots: dict[str, trio.lowlevel.ParkingLot] = {}
        self._last_seq: dict[tuple[str, int], int] = {}
        self._pool = ContextPool()
        self.duplicates_dropped = 0

    async def _start_backend(self, nursery: trio.Nursery) -> None:
        token = trio.lowlevel.current_trio_token()

        def on_pipe_removed(pipe: pynng.Pipe) -> None:  # runs on an nng thread
            pipe_id = pipe.id
            try:
                token.run_sync_soon(self._pipe_removed, pipe_id)
            except trio.RunFinishedError:
                pass

        limit = hard_limit(self.options)
        # nng keeps its own reference to the TLS config; ours can go with this call.
        tls = {} if self._tls is None else {"tls_config": self._tls.nng_config()}
        sock = self._pool.open(lambda: pynng.Rep0(recv_max_size=limit, async_backend="trio", **tls))
        sock.add_post_pipe_remove_cb(on_pipe_removed)
        try:
            sock.listen(self.address)
        except pynng.NNGException:
            self._pool.close()
            raise
        self._socket = sock
        for _ in range(self._receivers):
            nursery.start_soon(self._receive_loop)
        await trio.lowlevel.checkpoint()

    def _close_backend(self) -> None:
        self._polls.clear()
        self._pool.close()

    def _new_context(self) -> pynng.Context:
        return self._pool.new()

    def _drop_context(self, ctx: pynng.Context) -> None:
        self._pool.drop(ctx)

    def _pipe_removed(self, pipe_id: int) -> None:
        peer = self._pipe_peer.pop(pipe_id, None)
        if peer is None:
            return
        polls = self._polls.get(peer)
        if polls:
            for item in [p for p in polls if p[0] == pipe_id]:
                polls.remove(item)
                self._drop_context(item[1])
        if peer not in self._pipe_peer.values():
            self._peer_disconnected(peer, f"connection closed (nng pipe {pipe_id})")

    def _peer_disconnected(self, peer: str, reason: str) -> None:
        super()._peer_disconnected(peer, reason)
        for _, ctx in self._polls.pop(peer, ()):
            self._drop_context(ctx)
        lot = self._poll_lots.pop(peer, None)
        if lot is not None:
            lot.unpark_all()

    def _parse(self, data: bytes) -> tuple[bytes, str, int, int, bytes]:
        if len(data) < HEADER.size:
            raise RemoteProtocolError(
                "bad-header", f"request of {len(data)} bytes is shorter than its header"
            )
        kind, name_len, incarnation, seq = HEADER.unpack_from(data)
        end = HEADER.size + name_len
        if kind not in (DATA, POLL) or name_len == 0 or len(data) < end:
            raise RemoteProtocolError(
                "bad-header", f"request kind {kind!r} with a {name_len}-byte name in {len(data)} bytes"
            )
        try:
            name = data[HEADER.size : end].decode()
        except UnicodeDecodeError:
            raise RemoteProtocolError("bad-header", "the dialer's name is not UTF-8") from None
        return kind, name, incarnation, seq, data[end:]

    async def _receive_loop(self) -> None:
        ctx = self._new_context()
        while True:
            try:
                msg = await ctx.arecv_msg()
            except pynng.NNGException as exc:
                logger.debug("%r: receive failed (%s); new context", self, exc)
                self._drop_context(ctx)
                await trio.sleep(0)
                ctx = self._new_context()
                continue
            data = msg.bytes
            pipe_id = msg.pipe.id if msg.pipe is not None else -1
            try:
                kind, name, incarnation, seq, frame = self._parse(data)
            except RemoteProtocolError as exc:
                self._protocol_errors += 1
                logger.warning("%r: from nng pipe %d: %s", self, pipe_id, exc)
                report = encode_frame([Envelope(ProtocolErrorReport(exc.code, exc.detail))])
                await self._reply(ctx, FRAME + report)
                continue
            if pipe_id >= 0:
                self._pipe_peer[pipe_id] = name
            if kind == POLL:
                self._peer_connected(name, "connected")
                polls = self._polls.setdefault(name, deque())
                if len(polls) >= MAX_PARKED_POLLS:
                    await self._reply(ctx, ACK)
                    continue
                polls.append((pipe_id, ctx))
                lot = self._poll_lots.get(name)
                if lot is not None:
                    lot.unpark()
                ctx = self._new_context()
                continue
            key = (name, incarnation)
            if seq <= self._last_seq.get(key, 0):
                self.duplicates_dropped += 1
                self._peer_connected(name, "frame received")
            else:
                self._last_seq[key] = seq
                delivery = self._accept_frame(name, frame)
                if delivery is not None and not self._closed:
                    # Waiting here (full inbox) holds the ack back: that is the backpressure.
                    await self._inbox_send.send(delivery)
            await self._reply(ctx, ACK)

    async def _reply(self, ctx: pynng.Context, data: bytes) -> None:
        try:
            await ctx.asend(data)
        except pynng.NNGException as exc:
            logger.debug("%r: reply failed (%s)", self, exc)

    async def _transmit(self, peer: str, frame: bytes) -> None:
        while True:
            polls = self._polls.get(peer)
            if polls:
                _, ctx = polls.popleft()
                try:
                    await ctx.asend(FRAME + frame)
                except pynng.NNGException as exc:
                    logger.debug("%r: frame to %r lost (%s)", self, peer, exc)
                finally:
                    self._drop_context(ctx)
                return
            if not self.is_up(peer):
                logger.debug("%r: dropped a frame for %r, which is down", self, peer)
                await trio.lowlevel.checkpoint()
                return
            lot = self._poll_lots.setdefault(peer, trio.lowlevel.ParkingLot())
            await lot.park()
