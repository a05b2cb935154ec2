"""The nng backend: endpoints over real sockets (tcp, ipc, inproc) with pynng under Trio.

Theory of operation — Req0/Rep0 with contexts. The listener holds one Rep0 socket; each
dialer holds one Req0 socket and names itself in every request. Two kinds of request
travel dialer -> listener:

* **data** (``D``): carries a frame, and a per-dialer sequence number. The listener puts
  the frame in its inbox, then replies ``A`` (the ack). The dialer keeps one data
  request in flight; while it waits for the ack, its outbox fills, and the next
  request carries everything (adaptive batching, see :mod:`ratchet.transport._endpoint`).
  A request not acked within ``ack_timeout``, or failed by a dropped connection, is sent
  again with the *same* sequence number, and the listener drops the duplicate: retries,
  acks and duplicate suppression are ours. Req0's blind resend is disabled
  (``resend_time=-1``); with it off, nng fails a request whose pipe closes
  (``ConnectionReset``) instead of silently re-sending it, which is what lets us own
  the retry.
* **poll** (``P``): a long poll. The listener parks its context; when it has frames for
  that dialer it answers the oldest parked poll with ``F`` + frame, which is *addressed
  delivery*: Rep0 routes a reply to the pipe the request came on. The dialer sends its
  next poll before it delivers the frame it just got, so a poll is parked again after
  half a round trip. Heartbeats keep idle polls turning over.

Order: one data request and one poll in flight per dialer means frames arrive in the
order they were sent, in both directions (per-peer FIFO, which actor semantics need).
More in flight would raise the unbatched rate, but Trio may wake the tasks that
received two replies in either order, so it would need a reorder buffer; under load
batching makes up the difference (one frame carries hundreds of messages).

Why this pattern, by measurement (``bench/transport_patterns.py``, this 2-core box,
100-byte messages, one nng message per application message, the other side in a second
process)::

    pattern                 rtt p50  rtt p99   msgs/s (8 in flight)
    req/rep+contexts tcp     449 us   624 us   4280 exchanges/s (each one acked)
    push/pull pair   tcp     379 us   601 us   4982 one-way, unacked
    req/rep+contexts ipc     345 us   565 us   4805 exchanges/s
    push/pull pair   ipc     314 us   569 us   4116 one-way, unacked

Per nng message the two cost the same (~200 us: an aio and a thread hop), so raw speed
does not decide. Req/Rep wins on everything else: the reply *is* the ack (Push/Pull
would need a second socket and message per ack, halving its rate), a reply is routed to
one peer (Push0 load-balances and cannot address a peer, so each peer would need its own
listening socket that the engine dials back — impossible behind NAT), and one
connection per peer means one pipe to watch for liveness. Batching then makes the
per-message cost small (``bench/transport_bench.py``, tcp, echo server in a second
process, while other test suites shared the box)::

    unbatched (1 msg/frame)    945 msgs/s
    batched (adaptive)       23484 msgs/s   (~380 msgs/frame, x25)
    one-message round trip   p50 703 us, p99 1591 us

TLS: ``tls+tcp://`` addresses take certificate settings, ``tls=ListenerTls(...)`` to
listen and ``tls=DialerTls(...)`` to dial (see :mod:`ratchet.transport._nng_tls`); the
protocol above is the same inside the TLS connection.

Pipe events arrive on nng's threads; they are forwarded into Trio with
``TrioToken.run_sync_soon`` and never touch Trio objects directly. nng is not
fork-safe: start processes that use this backend with ``spawn`` or exec.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from ratchet.runtime import Clock, RandomSource

from ._endpoint import EndpointOptions
from ._network import Network
from ._nng_dialer import NngDialer
from ._nng_listener import NngListener
from ._nng_tls import DialerTls, ListenerTls, check_tls_for

__all__ = ["NngDialer", "NngListener", "NngNetwork", "open_nng_network"]


class NngNetwork(Network):
    """The production network: endpoints over nng. Use :func:`open_nng_network`.

    Args:
        nursery: where endpoint tasks run.
        clock: the runtime clock (heartbeats, ack timeouts).
        random: the random source (endpoint names, dialer incarnations).
    """

    def __init__(self, nursery: trio.Nursery, *, clock: Clock, random: RandomSource) -> None:
        self.clock = clock
        self.random = random
        self._nursery = nursery

    async def listen(
        self, address: str, *, receivers: int = 4, tls: ListenerTls | None = None, **options: Any
    ) -> NngListener:
        """Listen at an nng URL (``tcp://host:port``, ``tls+tcp://host:port``, ``ipc:///path``,
        ``inproc://name``).

        Args:
            address: the URL.
            receivers: requests received concurrently.
            tls: the certificate to present at a ``tls+tcp://`` address (required there,
                refused elsewhere).
            options: see :class:`EndpointOptions`.

        Raises:
            pynng.AddressInUse: the address is taken.
            ValueError: a ``tls+tcp://`` address without ``tls``, or ``tls`` elsewhere.
        """
        check_tls_for(address, tls, role="listen at", settings="ListenerTls")
        endpoint = NngListener(
            receivers=receivers,
            tls=tls,
            address=address,
            options=EndpointOptions.from_kwargs("NngNetwork.listen", options),
            clock=self.clock,
            random=self.random,
        )
        await self._nursery.start(endpoint._run)
        return endpoint

    async def dial(
        self,
        address: str,
        *,
        polls: int = 1,
        ack_timeout: float | None = None,
        reconnect_time_min: float = 0.01,
        reconnect_time_max: float = 0.5,
        tls: DialerTls | None = None,
        **options: Any,
    ) -> NngDialer:
        """Dial an nng URL; connects in the background and reconnects whenever dropped.

        Args:
            address: the URL.
            polls: long polls kept open. More than one lets the listener push frames
                concurrently, but frames answered on different polls may then be
                delivered out of order; the default, 1, keeps per-peer FIFO order.
            ack_timeout: seconds to wait for a data frame's ack before sending it again
                (default: ``heartbeat_timeout``).
            reconnect_time_min: first reconnection delay, seconds.
            reconnect_time_max: reconnection backoff cap, seconds.
            tls: how to verify the listener at a ``tls+tcp://`` address (required there,
                refused elsewhere); see :meth:`NngDialer.wait_refused` for handshakes that fail.
            options: see :class:`EndpointOptions`.

        Raises:
            ValueError: a ``tls+tcp://`` address without ``tls``, or ``tls`` elsewhere.
        """
        check_tls_for(address, tls, role="dial", settings="DialerTls")
        endpoint = NngDialer(
            polls=polls,
            tls=tls,
            ack_timeout=ack_timeout,
            reconnect_time_min=reconnect_time_min,
            reconnect_time_max=reconnect_time_max,
            address=address,
            options=EndpointOptions.from_kwargs("NngNetwork.dial", options),
            clock=self.clock,
            random=self.random,
        )
        await self._nursery.start(endpoint._run)
        return endpoint


@asynccontextmanager
async def open_nng_network(
    *, clock: Clock | None = None, random: RandomSource | None = None
) -> AsyncIterator[NngNetwork]:
    """Run an :class:`NngNetwork` for the duration of the block; its endpoints close on exit.

    Args:
        clock: the runtime clock (default: Trio's clock).
        random: the random source (default: seeded from the OS).
    """
    async with trio.open_nursery() as nursery:
        network = NngNetwork(nursery, clock=clock or Clock(), random=random or RandomSource())
        try:
            yield network
        finally:
            nursery.cancel_scope.cancel()
