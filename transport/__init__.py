"""Ratchet transport: the wire codec, protocol messages, nng endpoints and the simulated network.

Code talks to a :class:`Network` (nng in production, :class:`SimNetwork` in simulation):
``await network.listen(address)`` and ``await network.dial(address)`` return
:class:`Endpoint` objects that ``send_nowait(peer, message)`` (batched into frames),
``receive()`` :class:`Delivery` records and report :class:`PeerEvent` records. On top,
:class:`ActorNode` serves local actors to peers and hands out :class:`RemoteActorRef`
handles that behave like local refs::

    # the serving process
    async with open_nng_network() as network, open_runtime(network=network) as system:
        await system.spawn(Counter, name="counter")
        endpoint = await network.listen("tcp://0.0.0.0:7077", name="engine")
        async with open_actor_node(system, endpoint):
            await trio.sleep_forever()

    # a calling process
    async with open_nng_network() as network, open_runtime(network=network) as system:
        endpoint = await network.dial("tcp://engine-host:7077")
        async with open_actor_node(system, endpoint) as node:
            counter = node.ref("tcp://engine-host:7077", "counter")
            await counter.incr.ask(2)

Between machines, listen and dial ``tls+tcp://`` with certificate settings
(:class:`ListenerTls`, :class:`DialerTls`).

Swap :func:`open_nng_network` for :func:`open_sim_network` (any address string) and the
same code runs in memory, under a mock clock, with faults, reproducibly.
"""

from ._codec import DEFAULT_MAX_FRAME_SIZE as DEFAULT_MAX_FRAME_SIZE
from ._codec import PROTOCOL_VERSION as PROTOCOL_VERSION
from ._codec import DecodedFrame as DecodedFrame
from ._codec import assemble_frame as assemble_frame
from ._codec import decode_frame as decode_frame
from ._codec import encode_envelope as encode_envelope
from ._codec import encode_frame as encode_frame
from ._endpoint import Endpoint as Endpoint
from ._endpoint import EndpointOptions as EndpointOptions
from ._errors import FrameTooLargeError as FrameTooLargeError
from ._errors import LocalProtocolError as LocalProtocolError
from ._errors import PeerRejectedError as PeerRejectedError
from ._errors import PeerUnavailableError as PeerUnavailableError
from ._errors import RemoteProtocolError as RemoteProtocolError
from ._errors import TransportError as TransportError
from ._messages import MESSAGE_TYPES as MESSAGE_TYPES
from ._messages import ActorGone as ActorGone
from ._messages import Ask as Ask
from ._messages import Envelope as Envelope
from ._messages import Failure as Failure
from ._messages import Heartbeat as Heartbeat
from ._messages import Message as Message
from ._messages import ProtocolErrorReport as ProtocolErrorReport
from ._messages import Result as Result
from ._messages import Tell as Tell
from ._messages import message_type as message_type
from ._network import Delivery as Delivery
from ._network import EndpointStatistics as EndpointStatistics
from ._network import Network as Network
from ._network import PeerEvent as PeerEvent
from ._network import PeerEventKind as PeerEventKind
from ._nng import NngDialer as NngDialer
from ._nng import NngListener as NngListener
from ._nng import NngNetwork as NngNetwork
from ._nng import open_nng_network as open_nng_network
from ._nng_lifetime import release_nng as release_nng
from ._nng_tls import DialerTls as DialerTls
from ._nng_tls import ListenerTls as ListenerTls
from ._nng_tls import TlsHandshakeError as TlsHandshakeError
from ._nng_tls import TlsSettingError as TlsSettingError
from ._nng_tls import is_tls_address as is_tls_address
from ._remote import MAX_REMEMBERED_REPLY as MAX_REMEMBERED_REPLY
from ._remote import ActorNode as ActorNode
from ._remote import ActorNodeStatistics as ActorNodeStatistics
from ._remote import RemoteActorRef as RemoteActorRef
from ._remote import open_actor_node as open_actor_node
from ._sim import LinkFaults as LinkFaults
from ._sim import SimEndpoint as SimEndpoint
from ._sim import SimNetwork as SimNetwork
from ._sim import SimStatistics as SimStatistics
from ._sim import open_sim_network as open_sim_network

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "MAX_REMEMBERED_REPLY",
    "MESSAGE_TYPES",
    "PROTOCOL_VERSION",
    "ActorGone",
    "ActorNode",
    "ActorNodeStatistics",
    "Ask",
    "DecodedFrame",
    "Delivery",
    "DialerTls",
    "Endpoint",
    "EndpointOptions",
    "EndpointStatistics",
    "Envelope",
    "Failure",
    "FrameTooLargeError",
    "Heartbeat",
    "LinkFaults",
    "ListenerTls",
    "LocalProtocolError",
    "Message",
    "Network",
    "NngDialer",
    "NngListener",
    "NngNetwork",
    "PeerEvent",
    "PeerEventKind",
    "PeerRejectedError",
    "PeerUnavailableError",
    "ProtocolErrorReport",
    "RemoteActorRef",
    "RemoteProtocolError",
    "Result",
    "SimEndpoint",
    "SimNetwork",
    "SimStatistics",
    "Tell",
    "TlsHandshakeError",
    "TlsSettingError",
    "TransportError",
    "assemble_frame",
    "decode_frame",
    "encode_envelope",
    "encode_frame",
    "is_tls_address",
    "message_type",
    "open_actor_node",
    "open_nng_network",
    "open_sim_network",
    "release_nng",
]
