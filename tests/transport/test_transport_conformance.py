"""One interface, two backends: the same tests run on the nng network and the simulated one."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest
import trio

from ratchet.runtime import Actor, NetworkSeam, open_runtime
from ratchet.transport import (
    Endpoint,
    Network,
    PeerEventKind,
    PeerUnavailableError,
    ProtocolErrorReport,
    Result,
    Tell,
    open_actor_node,
    open_nng_network,
    open_sim_network,
)

_counter = itertools.count()
OPTIONS = {"heartbeat_interval": 0.05, "heartbeat_timeout": 2.0}

BACKENDS: dict[str, tuple[Callable[[], AbstractAsyncContextManager[Network]], str]] = {
    "nng": (open_nng_network, "inproc://conformance-{}"),
    "sim": (lambda: open_sim_network(seed=3), "sim://conformance-{}"),
}


@pytest.fixture(params=sorted(BACKENDS))
async def network(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Network, str]]:
    opener, template = BACKENDS[request.param]
    async with opener() as net:
        yield net, template.format(next(_counter))


async def pair(net: Network, address: str, *names: str) -> tuple[Endpoint, list[Endpoint]]:
    listener = await net.listen(address, name="server", **OPTIONS)
    dialers = [await net.dial(address, name=name, **OPTIONS) for name in names]
    with trio.fail_after(10):
        for dialer in dialers:
            assert (await dialer.next_peer_event()).kind is PeerEventKind.UP
        for _ in dialers:
            assert (await listener.next_peer_event()).kind is PeerEventKind.UP
    return listener, dialers


async def test_both_backends_satisfy_the_runtime_network_seam(network: tuple[Network, str]) -> None:
    net, _ = network
    assert isinstance(net, Network)
    assert isinstance(net, NetworkSeam)


async def test_exchange_and_addressing(network: tuple[Network, str]) -> None:
    net, address = network
    listener, [alice, bob] = await pair(net, address, "alice", "bob")
    for i in range(50):
        alice.send_nowait(address, Tell("a", "m", [i], {}))
    got: list[int] = []
    with trio.fail_after(10):
        while len(got) < 50:
            delivery = await listener.receive()
            assert delivery.peer == "alice"
            got.extend(e.message.args[0] for e in delivery.envelopes)
    assert got == list(range(50))
    listener.send_nowait("bob", Result("for bob"), correlation_id=3)
    with trio.fail_after(10):
        delivery = await bob.receive()
    assert [(e.message, e.correlation_id) for e in delivery.envelopes] == [(Result("for bob"), 3)]
    assert alice.statistics().queued_messages == 0


async def test_unknown_peer_and_garbage(network: tuple[Network, str]) -> None:
    net, address = network
    listener, [dialer] = await pair(net, address, "client")
    with pytest.raises(PeerUnavailableError):
        listener.send_nowait("stranger", Result(1))
    await dialer._transmit(address, b"\x92\x07garbage")
    with trio.fail_after(10):
        delivery = await dialer.receive()
    [envelope] = delivery.envelopes
    assert isinstance(envelope.message, ProtocolErrorReport)
    assert listener.is_up("client")


async def test_closing_a_dialer_is_a_down_event_at_the_listener(network: tuple[Network, str]) -> None:
    net, address = network
    listener, [dialer] = await pair(net, address, "client")
    await dialer.aclose()
    with trio.fail_after(10):
        event = await listener.next_peer_event()
    assert (event.peer, event.kind) == ("client", PeerEventKind.DOWN)


class Greeter(Actor):
    def greet(self, who: str) -> str:
        return f"hello {who}"


async def test_remote_actor_over_either_backend(network: tuple[Network, str]) -> None:
    net, address = network
    listener, [dialer] = await pair(net, address, "client")
    async with open_runtime(seed=1, network=net) as server, open_runtime(seed=2, network=net) as client:
        await server.spawn(Greeter, name="greeter")
        async with open_actor_node(server, listener), open_actor_node(client, dialer) as node:
            with trio.fail_after(10):
                assert await node.ref(address, "greeter").greet.ask("you") == "hello you"
