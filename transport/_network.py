"""The network seam: what every backend (nng, simulated) offers the runtime.

A :class:`Network` listens on or dials an address and returns an
:class:`~ratchet.transport.Endpoint`. An endpoint sends messages to a named peer (they are
batched into frames), receives :class:`Delivery` records (one frame's messages, with the
peer that sent them) and reports :class:`PeerEvent` records when a peer comes up or goes
down. Both backends implement exactly this, so code written against it runs unchanged on
real sockets and in the deterministic simulation.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._messages import Envelope

if TYPE_CHECKING:
    from ._endpoint import Endpoint

__all__ = ["Delivery", "EndpointStatistics", "Network", "PeerEvent", "PeerEventKind"]


class PeerEventKind(enum.Enum):
    """Whether a peer came up or went down."""

    UP = "up"
    DOWN = "down"

    def __repr__(self) -> str:
        return f"PeerEventKind.{self.name}"


@dataclass(frozen=True, slots=True)
class PeerEvent:
    """A peer came up or went down.

    Attributes:
        peer: the peer's name (a dialer's name, or the address a dialer dialed).
        kind: up or down.
        reason: why, for logs ("connected", "pipe closed", "no heartbeat for 3s"...).
    """

    peer: str
    kind: PeerEventKind
    reason: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """The valid messages of one received frame, and who sent it."""

    peer: str
    envelopes: list[Envelope]


@dataclass(frozen=True, slots=True)
class EndpointStatistics:
    """A snapshot of an endpoint's counters."""

    name: str
    peers_up: int
    frames_sent: int
    messages_sent: int
    frames_received: int
    messages_received: int
    protocol_errors: int
    queued_messages: int


class Network(ABC):
    """A transport backend: makes endpoints that listen on or dial addresses.

    Implementations satisfy :class:`ratchet.runtime.NetworkSeam`.
    """

    @abstractmethod
    async def listen(self, address: str, **options: Any) -> Endpoint:
        """Accept peers at ``address``; see :class:`~ratchet.transport.EndpointOptions`."""

    @abstractmethod
    async def dial(self, address: str, **options: Any) -> Endpoint:
        """Connect to the listener at ``address``, reconnecting whenever the link drops."""
