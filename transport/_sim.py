"""The simulated network: the endpoint interface, in memory, with faults and no threads.

Theory of operation: every frame an endpoint transmits becomes a scheduled delivery in
one heap, keyed by the runtime-clock time it arrives. One task pops the heap in time
order and hands each frame to the receiving endpoint, which decodes it with the same
codec as on real sockets. Faults are decided when a frame is sent, from a
:class:`~ratchet.runtime.RandomSource` forked per directed link (so traffic on one link
never shifts the dice of another): it may be lost, delayed by latency plus jitter,
held back long enough to be overtaken (reordering), or delivered twice. A partition
drops every frame between two endpoints in either direction, including frames already
in flight when it starts.

Connections are modelled as TCP-like: a dialer connects to the listener at its address
after one link latency, and reconnects on its own (every ``reconnect_interval``) when
the connection drops. Closing or killing an endpoint resets its connections, and the
other end hears of it one latency later, unless a partition (or ``kill(...,
notify=False)``, a machine that vanished) keeps it in the dark until its heartbeats
time out.

Everything runs on the runtime clock, so under ``MockClock(autojump_threshold=0)`` a
simulated minute takes milliseconds, and with Trio's scheduler seeded
(:func:`ratchet.runtime.run_deterministic`) the same seed gives the same delivery
trace, byte for byte (:meth:`SimNetwork.trace_digest`).
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import trio

from ratchet.runtime import Clock, RandomSource

from ._endpoint import Endpoint, EndpointOptions
from ._network import Network

__all__ = ["LinkFaults", "SimEndpoint", "SimNetwork", "SimStatistics", "open_sim_network"]

logger = logging.getLogger("ratchet.transport.sim")


@dataclass(frozen=True, slots=True)
class LinkFaults:
    """How one directed link misbehaves.

    Attributes:
        latency: seconds every frame takes.
        jitter: extra seconds, uniform in ``[0, jitter]``, per frame (frames may reorder).
        loss: probability a frame is dropped.
        duplicate: probability a frame is delivered a second time (with its own delay).
        reorder: probability a frame is held back by an extra ``reorder_delay``.
        reorder_delay: how long a held-back frame waits.
    """

    latency: float = 0.0005
    jitter: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: float = 0.005

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"LinkFaults.{name} is a probability in [0, 1], got {value!r}")
        for name in ("latency", "jitter", "reorder_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"LinkFaults.{name} is a duration and cannot be negative")


@dataclass(frozen=True, slots=True)
class SimStatistics:
    """Counters of the simulated network."""

    frames_sent: int
    frames_delivered: int
    frames_lost: int
    frames_duplicated: int
    frames_partitioned: int


class _Connection:
    """A TCP-like connection between one dialer and one listener."""

    __slots__ = ("alive", "closed_lot", "dialer", "listener")

    def __init__(self, dialer: SimEndpoint, listener: SimEndpoint) -> None:
        self.dialer = dialer
        self.listener = listener
        self.alive = True
        self.closed_lot = trio.lowlevel.ParkingLot()

    def other(self, endpoint: SimEndpoint) -> SimEndpoint:
        return self.listener if endpoint is self.dialer else self.dialer

    def peer_name(self, receiver: SimEndpoint) -> str:
        """The name under which ``receiver`` knows the other end."""
        return self.dialer.name if receiver is self.listener else self.dialer.address


class SimEndpoint(Endpoint):
    """An endpoint of a :class:`SimNetwork`."""

    backend = "sim"

    def __init__(self, network: SimNetwork, *, reconnect_interval: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._network = network
        self._reconnect_interval = reconnect_interval
        self._connections: dict[str, _Connection] = {}  # by the peer's name as we know it
        self._connected_lot = trio.lowlevel.ParkingLot()
        self._notify_on_close = True

    async def _start_backend(self, nursery: trio.Nursery) -> None:
        if self.role == "listener":
            self._network._register_listener(self)
        else:
            self._ensure_peer(self.address)
            nursery.start_soon(self._connect_loop)
        await trio.lowlevel.checkpoint()

    def _close_backend(self) -> None:
        self._network._endpoint_closed(self, notify=self._notify_on_close)

    async def _connect_loop(self) -> None:
        while True:
            conn = self._connections.get(self.address)
            if conn is not None and conn.alive:
                await conn.closed_lot.park()
                continue
            if not self._network._try_connect(self):
                await self.clock.sleep(self._reconnect_interval)
                continue
            # The connection is established one latency later; wait for it, or retry.
            with trio.move_on_after(self._reconnect_interval * 4 + 1.0):
                await self._connected_lot.park()

    async def _transmit(self, peer: str, frame: bytes) -> None:
        while True:
            conn = self._connections.get(peer)
            if conn is not None and conn.alive:
                self._network._send_frame(conn, self, frame)
                await trio.lowlevel.checkpoint()
                return
            if self.role == "listener":
                logger.debug("%r: dropped a frame for %r, which is not connected", self, peer)
                await trio.lowlevel.checkpoint()
                return
            # A dialer holds frames until it reconnects, as nng's req socket does.
            await self._connected_lot.park()

    def _connection_up(self, conn: _Connection) -> None:
        peer = conn.peer_name(self)
        self._connections[peer] = conn
        self._peer_connected(peer, "connected")
        self._connected_lot.unpark_all()

    def _connection_reset(self, conn: _Connection, reason: str) -> None:
        peer = conn.peer_name(self)
        if self._connections.get(peer) is conn:
            del self._connections[peer]
            self._peer_disconnected(peer, reason)

    def _frame_arrived(self, conn: _Connection, frame: bytes) -> bool:
        delivery = self._accept_frame(conn.peer_name(self), frame)
        if delivery is None or self._closed:
            return True
        try:
            self._inbox_send.send_nowait(delivery)
        except trio.WouldBlock:
            logger.warning("%r: inbox full, dropped a frame from %r", self, delivery.peer)
            return False
        return True


class SimNetwork(Network):
    """An in-memory network with per-link faults and partitions. Use :func:`open_sim_network`.

    Args:
        nursery: where endpoints and the delivery task run.
        clock: the runtime clock deliveries are scheduled on.
        random: the seeded source every fault decision derives from.
        faults: the default :class:`LinkFaults` of every link.
        keep_trace: keep the delivery trace lines in memory (the digest is kept anyway).
    """

    def __init__(
        self,
        nursery: trio.Nursery,
        *,
        clock: Clock,
        random: RandomSource,
        faults: LinkFaults = LinkFaults(),
        keep_trace: bool = False,
    ) -> None:
        self.clock = clock
        self.random = random
        self.default_faults = faults
        self._nursery = nursery
        self._listeners: dict[str, SimEndpoint] = {}
        self._connections: list[_Connection] = []
        self._faults: dict[tuple[str, str], LinkFaults] = {}
        self._link_random: dict[tuple[str, str], RandomSource] = {}
        self._partitions: set[frozenset[str]] = set()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._wake = trio.lowlevel.ParkingLot()
        self._digest = hashlib.sha256()
        self.trace: list[str] | None = [] if keep_trace else None
        self._sent = self._delivered = self._lost = self._duplicated = self._partitioned = 0

    # -- the Network interface ------------------------------------------------------------

    async def listen(self, address: str, **options: Any) -> SimEndpoint:
        """Listen at ``address`` (any string); see :class:`EndpointOptions` for options.

        Raises:
            OSError: another live endpoint already listens there.
        """
        if address in self._listeners:
            raise OSError(f"address {address!r} is already in use by {self._listeners[address]!r}")
        return await self._open(address, "listener", options)

    async def dial(self, address: str, *, reconnect_interval: float = 0.1, **options: Any) -> SimEndpoint:
        """Dial ``address``; connects when a listener is there, and reconnects when dropped.

        Args:
            address: the listener's address.
            reconnect_interval: seconds between connection attempts.
        """
        return await self._open(address, "dialer", options, reconnect_interval)

    async def _open(
        self, address: str, role: str, options: dict[str, Any], reconnect_interval: float = 0.1
    ) -> SimEndpoint:
        options.setdefault("inbox_size", math.inf)
        endpoint = SimEndpoint(
            self,
            reconnect_interval=reconnect_interval,
            address=address,
            role=role,
            options=EndpointOptions.from_kwargs("SimNetwork", options),
            clock=self.clock,
            random=self.random,
        )
        await self._nursery.start(endpoint._run)
        return endpoint

    # -- faults -----------------------------------------------------------------------------

    def set_faults(
        self, source: str, destination: str, faults: LinkFaults, *, both_ways: bool = True
    ) -> None:
        """Set the faults of the link from endpoint ``source`` to ``destination`` (by name).

        A listener is named by its ``name``, as is a dialer.
        """
        self._faults[(source, destination)] = faults
        if both_ways:
            self._faults[(destination, source)] = faults

    def update_faults(self, **changes: Any) -> None:
        """Change fields of the default faults of every link (e.g. ``loss=0.0`` to heal losses)."""
        self.default_faults = replace(self.default_faults, **changes)

    def partition(self, a: str | Endpoint, b: str | Endpoint) -> None:
        """Cut every frame between endpoints ``a`` and ``b`` until :meth:`heal`."""
        self._partitions.add(frozenset((_name(a), _name(b))))
        self._record(f"partition {_name(a)} {_name(b)}")

    def heal(self, a: str | Endpoint | None = None, b: str | Endpoint | None = None) -> None:
        """Heal the partition between ``a`` and ``b``, or every partition when not given."""
        if a is None or b is None:
            self._partitions.clear()
            self._record("heal all")
        else:
            self._partitions.discard(frozenset((_name(a), _name(b))))
            self._record(f"heal {_name(a)} {_name(b)}")

    async def kill(self, endpoint: Endpoint, *, notify: bool = True) -> None:
        """Crash ``endpoint``: close it at once, as if its process died.

        Args:
            notify: peers learn of it one latency later (a TCP reset, which is what the
                kernel sends when a process dies); False models a machine that vanished,
                which peers notice only by missing heartbeats.
        """
        assert isinstance(endpoint, SimEndpoint)
        self._record(f"kill {endpoint.name} notify={notify}")
        endpoint._notify_on_close = notify
        await endpoint.aclose()

    def statistics(self) -> SimStatistics:
        """Counters of frames sent, delivered, lost, duplicated and cut by partitions."""
        return SimStatistics(self._sent, self._delivered, self._lost, self._duplicated, self._partitioned)

    def trace_digest(self) -> str:
        """A digest of every delivery, drop and fault event so far, in order."""
        return self._digest.hexdigest()

    # -- internals ---------------------------------------------------------------------------

    def _record(self, line: str) -> None:
        text = f"{self.clock.monotonic():.6f} {line}"
        self._digest.update(text.encode())
        self._digest.update(b"\n")
        if self.trace is not None:
            self.trace.append(text)

    def _partitioned_between(self, a: SimEndpoint, b: SimEndpoint) -> bool:
        return bool(self._partitions) and frozenset((a.name, b.name)) in self._partitions

    def _link(self, source: SimEndpoint, destination: SimEndpoint) -> tuple[LinkFaults, RandomSource]:
        key = (source.name, destination.name)
        rng = self._link_random.get(key)
        if rng is None:
            rng = self._link_random[key] = self.random.fork(f"link:{key[0]}->{key[1]}")
        return self._faults.get(key, self.default_faults), rng

    def _schedule(self, delay: float, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (self.clock.monotonic() + delay, self._seq, action))
        self._wake.unpark_all()

    async def _deliver_loop(self) -> None:
        while True:
            if not self._heap:
                await self._wake.park()
                continue
            at = self._heap[0][0]
            if at > self.clock.monotonic():
                with trio.move_on_at(at):
                    await self._wake.park()
                continue
            _, _, action = heapq.heappop(self._heap)
            action()
            await trio.lowlevel.checkpoint()

    def _register_listener(self, endpoint: SimEndpoint) -> None:
        self._listeners[endpoint.address] = endpoint
        self._record(f"listen {endpoint.name} {endpoint.address}")

    def _try_connect(self, dialer: SimEndpoint) -> bool:
        listener = self._listeners.get(dialer.address)
        if listener is None or listener._closed or self._partitioned_between(dialer, listener):
            return False
        conn = _Connection(dialer, listener)
        self._connections.append(conn)
        faults, _ = self._link(dialer, listener)
        self._record(f"connect {dialer.name} {listener.name}")

        def established() -> None:
            if not conn.alive or dialer._closed or listener._closed:
                conn.alive = False
                return
            listener._connection_up(conn)
            dialer._connection_up(conn)

        self._schedule(faults.latency, established)
        return True

    def _endpoint_closed(self, endpoint: SimEndpoint, *, notify: bool) -> None:
        if self._listeners.get(endpoint.address) is endpoint:
            del self._listeners[endpoint.address]
        self._record(f"closed {endpoint.name}")
        for conn in [c for c in self._connections if endpoint in (c.dialer, c.listener)]:
            self._connections.remove(conn)
            conn.alive = False
            conn.closed_lot.unpark_all()
            other = conn.other(endpoint)
            if notify and not self._partitioned_between(endpoint, other):
                faults, _ = self._link(endpoint, other)
                self._schedule(
                    faults.latency,
                    functools.partial(other._connection_reset, conn, "connection reset by peer"),
                )
            else:
                # Nobody tells the other end; its heartbeats will. Locally the dead
                # connection just stops carrying frames.
                other._connections.pop(conn.peer_name(other), None)

    def _send_frame(self, conn: _Connection, source: SimEndpoint, frame: bytes) -> None:
        destination = conn.other(source)
        self._sent += 1
        tag = f"{source.name}->{destination.name} {hashlib.sha1(frame).hexdigest()[:10]} {len(frame)}"
        if self._partitioned_between(source, destination):
            self._partitioned += 1
            self._record(f"cut {tag}")
            return
        faults, rng = self._link(source, destination)
        if faults.loss and rng.random() < faults.loss:
            self._lost += 1
            self._record(f"lose {tag}")
            return
        copies = 2 if faults.duplicate and rng.random() < faults.duplicate else 1
        if copies == 2:
            self._duplicated += 1
        for copy in range(copies):
            delay = faults.latency
            if faults.jitter:
                delay += rng.uniform(0.0, faults.jitter)
            if faults.reorder and rng.random() < faults.reorder:
                delay += faults.reorder_delay
            self._record(f"send{'-dup' if copy else ''} {tag} +{delay:.6f}")

            def arrive(tag: str = tag) -> None:
                if not conn.alive or destination._closed:
                    self._record(f"drop-closed {tag}")
                    return
                if self._partitioned_between(source, destination):
                    self._partitioned += 1
                    self._record(f"cut-in-flight {tag}")
                    return
                self._delivered += 1
                self._record(f"deliver {tag}")
                destination._frame_arrived(conn, frame)

            self._schedule(delay, arrive)


def _name(endpoint: str | Endpoint) -> str:
    return endpoint if isinstance(endpoint, str) else endpoint.name


@asynccontextmanager
async def open_sim_network(
    *,
    seed: int | None = None,
    random: RandomSource | None = None,
    clock: Clock | None = None,
    faults: LinkFaults = LinkFaults(),
    keep_trace: bool = False,
) -> AsyncIterator[SimNetwork]:
    """Run a :class:`SimNetwork` for the duration of the block; its endpoints close on exit.

    Args:
        seed: seeds the network's random source (ignored when ``random`` is given).
        random: the random source to derive every fault decision from.
        clock: the runtime clock (default: Trio's clock, through :class:`Clock`).
        faults: the default faults of every link.
        keep_trace: keep readable trace lines in ``network.trace``.
    """
    async with trio.open_nursery() as nursery:
        network = SimNetwork(
            nursery,
            clock=clock or Clock(),
            random=random or RandomSource(seed),
            faults=faults,
            keep_trace=keep_trace,
        )
        nursery.start_soon(network._deliver_loop)
        try:
            yield network
        finally:
            nursery.cancel_scope.cancel()
