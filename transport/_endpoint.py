"""The machinery every endpoint shares: outboxes, adaptive batching, heartbeats, peer state.

Theory of operation: :meth:`Endpoint.send_nowait` encodes a message at once (so misuse
fails in the caller, not later in a background task) and appends it to the peer's
outbox. One flusher task per peer takes *everything* queued, up to the frame size
limit, assembles one frame and hands it to the backend's :meth:`Endpoint._transmit`.
While that transmission is in flight new messages pile up, and the next frame carries
all of them: an idle link sends a lone message at once, a busy one batches as much as
the link's round trip lets accumulate. There is no timer and no Nagle delay.

Liveness: any frame from a peer proves it alive. A heartbeat task on the runtime
clock sends a :class:`~ratchet.transport.Heartbeat` to every peer we have not sent to
for ``heartbeat_interval``, and declares a peer down when nothing came from it for
``heartbeat_timeout``. Backends also report connection-level events (an nng pipe
closing, a simulated connection reset), which are faster when they happen but are not
enough on their own: a partitioned link shows nothing but silence.

A listener forgets a peer that goes down (it cannot reach it until it hears from it
again) and drops what was queued for it; a dialer keeps its one peer, the listener,
and keeps queueing, because it reconnects by itself.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, fields
from typing import Any

import trio

from ratchet.runtime import Clock, RandomSource

from ._codec import DEFAULT_MAX_FRAME_SIZE, assemble_frame, decode_frame, encode_envelope
from ._errors import LocalProtocolError, PeerUnavailableError, RemoteProtocolError
from ._messages import Envelope, Heartbeat, Message, ProtocolErrorReport
from ._network import Delivery, EndpointStatistics, PeerEvent, PeerEventKind

__all__ = ["Endpoint", "EndpointOptions"]

logger = logging.getLogger("ratchet.transport")

# Room for the frame header (fixarray, version, array32 header) when sizing a batch.
_FRAME_OVERHEAD = 16
# Error reports sent to one peer per second at most. Two ends that cannot read each
# other (say, different protocol versions) would otherwise report each other's reports
# back and forth as fast as the link allows.
_MAX_REPORTS_PER_SECOND = 10


@dataclass(frozen=True, slots=True)
class EndpointOptions:
    """Options every backend's ``listen``/``dial`` accepts as keyword arguments.

    Attributes:
        name: this endpoint's peer name as others see it (a dialer sends it to the
            listener); drawn from the runtime's random source when not given.
        max_frame_size: the largest frame sent or accepted, in bytes; set the same on
            both ends. Larger received frames are rejected with a clear error.
        max_batch_messages: the most messages one frame carries.
        heartbeat_interval: seconds of runtime clock between heartbeats on an idle link.
        heartbeat_timeout: seconds of silence after which a peer is declared down.
        inbox_size: received frames buffered before the endpoint stops reading (and the
            peer feels backpressure).
        high_water: queued bytes per peer above which :meth:`Endpoint.send` waits.
    """

    name: str | None = None
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    max_batch_messages: int = 4096
    heartbeat_interval: float = 1.0
    heartbeat_timeout: float = 5.0
    inbox_size: int = 1024
    high_water: int = 32 * 1024 * 1024

    @classmethod
    def from_kwargs(cls, backend: str, options: dict[str, Any]) -> EndpointOptions:
        """Build options from keyword arguments, naming any unknown one.

        Raises:
            TypeError: an option this backend does not know.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(
                f"{backend}: unknown endpoint option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        made = cls(**options)
        if made.heartbeat_timeout <= made.heartbeat_interval:
            raise ValueError(
                f"{backend}: heartbeat_timeout ({made.heartbeat_timeout}) must exceed "
                f"heartbeat_interval ({made.heartbeat_interval}), or idle peers look dead"
            )
        return made


class _Peer:
    """What an endpoint knows of one peer."""

    __slots__ = (
        "forgotten",
        "last_received",
        "last_sent",
        "name",
        "outbox",
        "outbox_bytes",
        "reports",
        "reports_window",
        "space",
        "up",
        "wakeup",
    )

    def __init__(self, name: str, now: float) -> None:
        self.name = name
        self.up = False
        self.forgotten = False
        self.outbox: deque[bytes] = deque()
        self.outbox_bytes = 0
        self.wakeup = trio.lowlevel.ParkingLot()
        self.space = trio.lowlevel.ParkingLot()
        self.last_sent = now
        self.last_received = now
        self.reports = 0
        self.reports_window = now


class Endpoint:
    """One end of the network: sends batched messages to peers, receives theirs.

    Made by :meth:`Network.listen` or :meth:`Network.dial`; do not construct directly.
    A listener's peers are its dialers, named by their ``name`` option; a dialer has one
    peer, named by the address it dialed.

    Attributes:
        address: the address listened on or dialed.
        name: this endpoint's own peer name.
        role: ``"listener"`` or ``"dialer"``.
    """

    backend = "endpoint"

    def __init__(
        self, *, address: str, role: str, options: EndpointOptions, clock: Clock, random: RandomSource
    ) -> None:
        self.address = address
        self.role = role
        self.options = options
        self.clock = clock
        self.random = random
        self.name = options.name or f"{role}-{random.token_hex(6)}"
        self._peers: dict[str, _Peer] = {}
        self._inbox_send, self._inbox_recv = trio.open_memory_channel[Delivery](options.inbox_size)
        self._events_send, self._events_recv = trio.open_memory_channel[PeerEvent](math.inf)
        self._cancel_scope = trio.CancelScope()
        self._nursery: trio.Nursery | None = None
        self._closed = False
        self._finished = trio.Event()
        self._frames_sent = 0
        self._messages_sent = 0
        self._frames_received = 0
        self._messages_received = 0
        self._protocol_errors = 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.role} {self.address!r}>"

    # -- sending ------------------------------------------------------------------------

    def send_nowait(
        self, peer: str, message: Message, *, correlation_id: int = 0, credential: str = ""
    ) -> int:
        """Queue ``message`` for ``peer``; it leaves in the next frame to that peer.

        Returns:
            the message's size on the wire, in bytes.

        Raises:
            LocalProtocolError: the endpoint is closed, the message cannot be encoded, or
                it alone is larger than ``max_frame_size``.
            PeerUnavailableError: ``peer`` is not connected to this listener.
        """
        if self._closed:
            raise LocalProtocolError(f"{self!r} is closed; cannot send {type(message).__name__} to {peer!r}")
        encoded = encode_envelope(Envelope(message, correlation_id, credential))
        if len(encoded) + _FRAME_OVERHEAD > self.options.max_frame_size:
            raise LocalProtocolError(
                f"{type(message).__name__} for {peer!r} encodes to {len(encoded)} bytes, more than "
                f"max_frame_size={self.options.max_frame_size}; send less per message or raise the limit"
            )
        state = self._peers.get(peer)
        if state is None or state.forgotten:
            raise PeerUnavailableError(
                f"peer {peer!r} is not connected to {self!r} (connected: "
                f"{', '.join(sorted(self.peers())) or 'none'}); it may have gone down"
            )
        state.outbox.append(encoded)
        state.outbox_bytes += len(encoded)
        state.wakeup.unpark()
        return len(encoded)

    async def send(
        self, peer: str, message: Message, *, correlation_id: int = 0, credential: str = ""
    ) -> None:
        """Like :meth:`send_nowait`, but waits while ``peer``'s outbox is above ``high_water``."""
        self.send_nowait(peer, message, correlation_id=correlation_id, credential=credential)
        state = self._peers[peer]
        if state.outbox_bytes > self.options.high_water and not state.forgotten:
            await state.space.park()
        else:
            await trio.lowlevel.checkpoint()

    # -- receiving ----------------------------------------------------------------------

    async def receive(self) -> Delivery:
        """The next received frame's messages.

        Raises:
            trio.EndOfChannel: the endpoint was closed.
        """
        try:
            return await self._inbox_recv.receive()
        except trio.ClosedResourceError:
            raise trio.EndOfChannel from None

    async def next_peer_event(self) -> PeerEvent:
        """The next peer up/down event.

        Raises:
            trio.EndOfChannel: the endpoint was closed.
        """
        try:
            return await self._events_recv.receive()
        except trio.ClosedResourceError:
            raise trio.EndOfChannel from None

    def peers(self) -> list[str]:
        """The peers currently up."""
        return [p.name for p in self._peers.values() if p.up]

    def is_up(self, peer: str) -> bool:
        """Whether ``peer`` is currently up."""
        state = self._peers.get(peer)
        return state is not None and state.up

    def statistics(self) -> EndpointStatistics:
        """A snapshot of this endpoint's counters."""
        return EndpointStatistics(
            name=self.name,
            peers_up=sum(p.up for p in self._peers.values()),
            frames_sent=self._frames_sent,
            messages_sent=self._messages_sent,
            frames_received=self._frames_received,
            messages_received=self._messages_received,
            protocol_errors=self._protocol_errors,
            queued_messages=sum(len(p.outbox) for p in self._peers.values()),
        )

    async def aclose(self) -> None:
        """Close the endpoint: stop its tasks and release its sockets. Idempotent."""
        if not self._closed:
            self._closed = True
            self._cancel_scope.cancel()
            self._inbox_send.close()
            self._events_send.close()
        # Sockets close only once every task has left them (see _run), so that no
        # pending nng operation sees its socket vanish mid-flight.
        await self._finished.wait()

    async def __aenter__(self) -> Endpoint:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- for backends ---------------------------------------------------------------------

    async def _run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the endpoint's tasks until :meth:`aclose`; started by the network."""
        startup_error: Exception | None = None
        try:
            with self._cancel_scope:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    try:
                        await self._start_backend(nursery)
                    except Exception as exc:
                        # Raised below, outside the nursery, so that listen()/dial() raise
                        # the plain error (AddressInUse...) rather than an exception group.
                        startup_error = exc
                        nursery.cancel_scope.cancel()
                    else:
                        nursery.start_soon(self._heartbeat_loop)
                        task_status.started()
            if startup_error is not None:
                raise startup_error
        finally:
            self._closed = True
            self._inbox_send.close()
            self._events_send.close()
            try:
                self._close_backend()
            finally:
                self._finished.set()

    async def _start_backend(self, nursery: trio.Nursery) -> None:
        """Open sockets and start the backend's tasks in ``nursery``."""
        raise NotImplementedError

    def _close_backend(self) -> None:
        """Release sockets; called once, from :meth:`aclose` or when the tasks end."""

    async def _transmit(self, peer: str, frame: bytes) -> None:
        """Send one frame to ``peer``; may wait (backpressure, reconnection)."""
        raise NotImplementedError

    def _ensure_peer(self, peer: str) -> _Peer:
        state = self._peers.get(peer)
        if state is None or state.forgotten:
            state = self._peers[peer] = _Peer(peer, self.clock.monotonic())
            assert self._nursery is not None
            self._nursery.start_soon(self._flush_loop, state)
        return state

    def _peer_connected(self, peer: str, reason: str) -> None:
        """Mark ``peer`` up (an UP event if it was not); call from the Trio thread."""
        if self._closed:
            return
        state = self._ensure_peer(peer)
        state.last_received = self.clock.monotonic()
        if not state.up and not self._closed:
            state.up = True
            logger.info("%r: peer %r up (%s)", self, peer, reason)
            self._events_send.send_nowait(PeerEvent(peer, PeerEventKind.UP, reason))

    def _peer_disconnected(self, peer: str, reason: str) -> None:
        """Mark ``peer`` down (a DOWN event if it was up); a listener forgets it."""
        state = self._peers.get(peer)
        if state is None:
            return
        if state.up and not self._closed:
            logger.info("%r: peer %r down (%s)", self, peer, reason)
            self._events_send.send_nowait(PeerEvent(peer, PeerEventKind.DOWN, reason))
        state.up = False
        if self.role == "listener":
            if state.outbox:
                logger.warning(
                    "%r: dropped %d message(s) queued for peer %r, which went down (%s)",
                    self,
                    len(state.outbox),
                    peer,
                    reason,
                )
            state.forgotten = True
            state.outbox.clear()
            state.outbox_bytes = 0
            del self._peers[peer]
            state.wakeup.unpark_all()
            state.space.unpark_all()

    def _accept_frame(self, peer: str, data: bytes) -> Delivery | None:
        """Decode a frame from ``peer``: count it, report errors back, filter heartbeats.

        Returns the delivery to put in the inbox, or None when nothing is left to deliver.
        """
        self._peer_connected(peer, "frame received")
        self._frames_received += 1
        try:
            decoded = decode_frame(data, max_size=self.options.max_frame_size)
        except RemoteProtocolError as exc:
            self._report_protocol_error(exc.with_peer(peer))
            return None
        for error in decoded.errors:
            self._report_protocol_error(error.with_peer(peer))
        envelopes = [e for e in decoded.envelopes if type(e.message) is not Heartbeat]
        self._messages_received += len(envelopes)
        for envelope in envelopes:
            if type(envelope.message) is ProtocolErrorReport:
                logger.warning(
                    "%r: peer %r rejected a message of ours (correlation id %d): %s",
                    self,
                    peer,
                    envelope.correlation_id,
                    envelope.message,
                )
        return Delivery(peer, envelopes) if envelopes else None

    def _report_protocol_error(self, error: RemoteProtocolError) -> None:
        """Log a peer's protocol error and answer it with a report, if the peer is reachable."""
        self._protocol_errors += 1
        logger.warning("%r: %s", self, error)
        state = self._peers.get(error.peer) if error.peer is not None else None
        if state is None or self._closed:
            return
        now = self.clock.monotonic()
        if now - state.reports_window >= 1.0:
            state.reports_window, state.reports = now, 0
        state.reports += 1
        if state.reports <= _MAX_REPORTS_PER_SECOND:
            self.send_nowait(
                state.name,
                ProtocolErrorReport(error.code, error.detail[:1000]),
                correlation_id=error.correlation_id,
            )

    def _take_batch(self, state: _Peer) -> list[bytes]:
        budget = self.options.max_frame_size - _FRAME_OVERHEAD
        limit = self.options.max_batch_messages
        outbox = state.outbox
        batch: list[bytes] = []
        size = 0
        while outbox and len(batch) < limit and size + len(outbox[0]) <= budget:
            item = outbox.popleft()
            size += len(item)
            batch.append(item)
        state.outbox_bytes -= size
        if state.outbox_bytes <= self.options.high_water:
            state.space.unpark_all()
        return batch

    async def _flush_loop(self, state: _Peer) -> None:
        while not state.forgotten:
            if not state.outbox:
                await state.wakeup.park()
                continue
            batch = self._take_batch(state)
            state.last_sent = self.clock.monotonic()
            frame, count = assemble_frame(batch), len(batch)
            # Let the encoded messages go before the transmission: a frame of big payloads
            # would otherwise sit in memory twice (as messages and as frame) while it leaves.
            del batch
            await self._transmit(state.name, frame)
            self._frames_sent += 1
            self._messages_sent += count

    async def _heartbeat_loop(self) -> None:
        interval = self.options.heartbeat_interval
        timeout = self.options.heartbeat_timeout
        while True:
            await self.clock.sleep(interval)
            now = self.clock.monotonic()
            for state in list(self._peers.values()):
                if state.up and now - state.last_received > timeout:
                    self._peer_disconnected(
                        state.name, f"nothing received for {now - state.last_received:.3g}s"
                    )
                # A dialer keeps heartbeating a down listener: that is how it is heard again.
                elif (
                    (state.up or self.role == "dialer")
                    and not state.outbox
                    and now - state.last_sent >= interval
                ):
                    self.send_nowait(state.name, Heartbeat())
