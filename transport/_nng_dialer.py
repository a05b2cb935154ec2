"""The dialing end of the nng backend: one Req0 socket, a long poll, acked data frames.

See :mod:`ratchet.transport._nng` for the protocol and why it is Req0/Rep0. Over
``tls+tcp://`` the dialer also watches nng's count of failed TLS handshakes while it
has no connection, because nng retries them silently: see :meth:`NngDialer.wait_refused`.
"""

from __future__ import annotations

import logging
from typing import Any

import pynng
import trio

from ._endpoint import Endpoint
from ._nng_stats import dialer_counters
from ._nng_tls import DialerTls, TlsHandshakeError
from ._nng_wire import ACK, DATA, FRAME, HEADER, POLL, ContextPool, hard_limit

__all__ = ["NngDialer"]

logger = logging.getLogger("ratchet.transport.nng")

# Seconds between looks at nng's count of failed TLS handshakes, while disconnected.
HANDSHAKE_CHECK_INTERVAL = 0.2


class NngDialer(Endpoint):
    """A dialing nng endpoint (Req0): one peer, the listener, named by its address.

    Attributes:
        tls: how it verifies the listener (None: no TLS).
        refusal: while TLS handshakes fail and no connection is up, the error that says
            so; None otherwise (and always without TLS).
    """

    backend = "nng"

    def __init__(
        self,
        *,
        polls: int,
        ack_timeout: float | None,
        reconnect_time_min: float,
        reconnect_time_max: float,
        tls: DialerTls | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(role="dialer", **kwargs)
        if len(self.name.encode()) > 255:
            raise ValueError(f"nng dialer name {self.name[:40]!r}... is longer than 255 bytes")
        self._poll_count = polls
        self._ack_timeout = ack_timeout if ack_timeout is not None else self.options.heartbeat_timeout
        self._reconnect = (reconnect_time_min, reconnect_time_max)
        self._socket: pynng.Req0 | None = None
        self._pipes: set[int] = set()
        self._incarnation = self.random.getrandbits(64)
        self._seq = 0
        self._pool = ContextPool()
        self.retransmissions = 0
        self.tls = tls
        self.refusal: TlsHandshakeError | None = None
        self._refused = trio.Event()

    async def _start_backend(self, nursery: trio.Nursery) -> None:
        token = trio.lowlevel.current_trio_token()

        def forward(fn: Any) -> Any:
            def on_pipe_event(pipe: pynng.Pipe) -> None:  # runs on an nng thread
                pipe_id = pipe.id
                try:
                    token.run_sync_soon(fn, pipe_id)
                except trio.RunFinishedError:
                    pass

            return on_pipe_event

        # nng keeps its own reference to the TLS config; ours can go with this call.
        tls = {} if self.tls is None else {"tls_config": self.tls.nng_config(self.address)}
        sock = self._pool.open(
            lambda: pynng.Req0(
                resend_time=-1,  # infinite: no blind resend; we retry with our own sequence numbers
                recv_max_size=hard_limit(self.options),
                reconnect_time_min=int(self._reconnect[0] * 1000),
                reconnect_time_max=int(self._reconnect[1] * 1000),
                async_backend="trio",
                **tls,
            )
        )
        sock.add_post_pipe_connect_cb(forward(self._pipe_added))
        sock.add_post_pipe_remove_cb(forward(self._pipe_removed))
        self._socket = sock
        self._ensure_peer(self.address)
        try:
            dialer = sock.dial(self.address, block=False)
        except pynng.NNGException:
            self._pool.close()
            raise
        if self.tls is not None:
            nursery.start_soon(self._watch_handshakes, dialer)
        for _ in range(self._poll_count):
            nursery.start_soon(self._poll_loop)
        await trio.lowlevel.checkpoint()

    def _close_backend(self) -> None:
        self._pool.close()

    def _new_context(self) -> pynng.Context:
        return self._pool.new()

    def _drop_context(self, ctx: pynng.Context) -> None:
        self._pool.drop(ctx)

    def _pipe_added(self, pipe_id: int) -> None:
        self._pipes.add(pipe_id)
        if self.refusal is not None:
            self.refusal = None
            self._refused = trio.Event()
        self._peer_connected(self.address, f"connected (nng pipe {pipe_id})")

    async def wait_refused(self) -> TlsHandshakeError:
        """Wait until TLS handshakes with the listener fail while no connection is up.

        The dialer keeps trying (a listener may yet get a certificate that fits); this
        tells a caller waiting for the connection that it is not coming by itself.
        Without TLS it never returns.

        Returns:
            The :class:`TlsHandshakeError` that says what was refused and what to check.
        """
        while self.refusal is None:
            await self._refused.wait()
        await trio.lowlevel.checkpoint()
        return self.refusal

    async def _watch_handshakes(self, dialer: pynng.Dialer) -> None:
        """Turn nng's count of failed TLS handshakes into :attr:`refusal`."""
        assert self.tls is not None
        seen = 0
        while True:
            await self.clock.sleep(HANDSHAKE_CHECK_INTERVAL)
            counters = dialer_counters(dialer)
            if counters is None:
                return  # no statistics in this nng: callers wait for their own timeouts
            failures = counters.get("auth", 0)
            if failures > seen and not self._pipes:
                first = self.refusal is None
                self.refusal = TlsHandshakeError(self.address, failures, self.tls.describe(self.address))
                if first:
                    logger.warning("%r: %s; still trying", self, self.refusal)
                    self._refused.set()
            seen = failures

    def _pipe_removed(self, pipe_id: int) -> None:
        self._pipes.discard(pipe_id)
        if not self._pipes:
            self._peer_disconnected(self.address, f"connection lost (nng pipe {pipe_id})")

    def _header(self, kind: bytes, seq: int) -> bytes:
        name = self.name.encode()
        return HEADER.pack(kind, len(name), self._incarnation, seq) + name

    async def _poll_loop(self) -> None:
        request = self._header(POLL, 0)
        ctx = self._new_context()
        reply: bytes | None = None
        try:
            while True:
                try:
                    await ctx.asend(request)
                except pynng.NNGException as exc:
                    logger.debug("%r: poll failed (%s); polling again", self, exc)
                    self._drop_context(ctx)
                    await self.clock.sleep(0.01)
                    ctx = self._new_context()
                    continue
                # The next poll is already on its way, so the listener can push the next
                # frame while this one is delivered.
                if reply is not None:
                    await self._handle_reply(reply)
                    reply = None
                try:
                    reply = await ctx.arecv()
                except pynng.NNGException as exc:
                    logger.debug("%r: poll failed (%s); polling again", self, exc)
                    self._drop_context(ctx)
                    await self.clock.sleep(0.01)
                    ctx = self._new_context()
        finally:
            self._drop_context(ctx)

    async def _handle_reply(self, reply: bytes) -> None:
        if reply[:1] == FRAME:
            delivery = self._accept_frame(self.address, reply[1:])
            if delivery is not None and not self._closed:
                await self._inbox_send.send(delivery)
        elif reply[:1] == ACK:
            self._peer_connected(self.address, "frame received")
        else:
            self._protocol_errors += 1
            logger.warning("%r: listener %r sent a reply of unknown kind %r", self, self.address, reply[:1])

    async def _transmit(self, peer: str, frame: bytes) -> None:
        self._seq += 1
        request = self._header(DATA, self._seq) + frame
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1:
                self.retransmissions += 1
            ctx = self._new_context()
            try:
                with trio.move_on_after(self._ack_timeout):
                    await ctx.asend(request)
                    reply = await ctx.arecv()
                    await self._handle_reply(reply)
                    return
                logger.debug("%r: no ack for frame %d (attempt %d); sending again", self, self._seq, attempt)
            except pynng.NNGException as exc:
                logger.debug("%r: frame %d failed (%s); sending again", self, self._seq, exc)
                await self.clock.sleep(min(0.01 * attempt, 0.5))
            finally:
                self._drop_context(ctx)
