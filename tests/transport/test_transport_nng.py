"""The nng backend over inproc, tcp and ipc: addressing, reconnection, peer events, bad input."""

from __future__ import annotations

import itertools
import socket
import struct
import tempfile

import msgpack
import pynng
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transport_strategies import wrong_envelopes

from ratchet.transport import (
    PROTOCOL_VERSION,
    Envelope,
    NngNetwork,
    PeerEventKind,
    ProtocolErrorReport,
    Tell,
    decode_frame,
    encode_frame,
    open_nng_network,
)

FAST = {"heartbeat_interval": 0.05, "heartbeat_timeout": 2.0}
_counter = itertools.count()


def free_tcp_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def address_for(kind: str) -> str:
    if kind == "tcp":
        return free_tcp_address()
    if kind == "ipc":
        return f"ipc://{tempfile.mkdtemp(prefix='rt-')}/ep.sock"
    return f"inproc://ratchet-test-{next(_counter)}"


def tell(i: int) -> Tell:
    return Tell("actor", "method", [i], {})


async def wait_event(endpoint, kind: PeerEventKind):
    with trio.fail_after(10):
        while True:
            event = await endpoint.next_peer_event()
            if event.kind is kind:
                return event


async def receive_values(endpoint, count: int) -> list[int]:
    got: list[int] = []
    with trio.fail_after(10):
        while len(got) < count:
            delivery = await endpoint.receive()
            got.extend(e.message.args[0] for e in delivery.envelopes)
    return got


async def connect(net: NngNetwork, address: str, *names: str, **options: object):
    options = {**FAST, **options}
    listener = await net.listen(address, name="server", **options)
    dialers = [await net.dial(address, name=name, **options) for name in names]
    for dialer in dialers:
        await wait_event(dialer, PeerEventKind.UP)
    for _ in dialers:
        await wait_event(listener, PeerEventKind.UP)
    return listener, dialers


@pytest.mark.parametrize("kind", ["inproc", "tcp", "ipc"])
async def test_one_listener_many_dialers_with_addressed_delivery(kind: str) -> None:
    address = address_for(kind)
    async with open_nng_network() as net:
        listener, [alice, bob] = await connect(net, address, "alice", "bob")
        assert sorted(listener.peers()) == ["alice", "bob"]
        alice.send_nowait(address, tell(1))
        bob.send_nowait(address, tell(2))
        senders = {}
        with trio.fail_after(10):
            while len(senders) < 2:
                delivery = await listener.receive()
                for envelope in delivery.envelopes:
                    senders[delivery.peer] = envelope.message.args[0]
        assert senders == {"alice": 1, "bob": 2}
        for i in range(100):
            listener.send_nowait("bob", tell(i))
        assert await receive_values(bob, 100) == list(range(100))
        with trio.move_on_after(0.2):
            await alice.receive()
            pytest.fail("alice received frames addressed to bob")


async def test_dialer_reconnects_when_the_listener_comes_back() -> None:
    address = free_tcp_address()
    async with open_nng_network() as net:
        listener, [dialer] = await connect(net, address, "client")
        await listener.aclose()
        down = await wait_event(dialer, PeerEventKind.DOWN)
        assert "connection lost" in down.reason
        dialer.send_nowait(address, tell(9))  # queued until the listener is back
        successor = await net.listen(address, name="server-2", **FAST)
        await wait_event(dialer, PeerEventKind.UP)
        assert await receive_values(successor, 1) == [9]
        successor.send_nowait("client", tell(10))
        assert await receive_values(dialer, 1) == [10]


async def test_listener_sees_a_closed_dialer_go_down() -> None:
    address = address_for("ipc")
    async with open_nng_network() as net:
        listener, [dialer] = await connect(net, address, "client")
        await dialer.aclose()
        event = await wait_event(listener, PeerEventKind.DOWN)
        assert event.peer == "client"
        assert "connection closed" in event.reason


async def test_idle_link_stays_up_on_heartbeats() -> None:
    address = address_for("inproc")
    async with open_nng_network() as net:
        listener, [dialer] = await connect(
            net, address, "client", heartbeat_interval=0.02, heartbeat_timeout=0.4
        )
        await trio.sleep(1.0)  # over two heartbeat timeouts of silence from the application
        assert listener.is_up("client") and dialer.is_up(address)
        assert dialer.statistics().frames_sent >= 5  # heartbeats went out...
        assert listener.statistics().messages_received == 0  # ...and were not delivered


def request(kind: bytes, name: bytes, payload: bytes, seq: int = 1) -> bytes:
    """A raw dialer request, as the nng wire protocol frames it."""
    return struct.pack("!cBQQ", kind, len(name), 99, seq) + name + payload


GARBAGE = {
    "random bytes": (b"\x00\xffhello", "bad-header"),
    "unknown request kind": (request(b"X", b"raw", b""), "bad-header"),
    "name not utf-8": (request(b"D", b"\xff\xfe", b""), "bad-header"),
    "truncated frame": (request(b"D", b"raw", encode_frame([Envelope(tell(1))])[:-2]), "bad-frame"),
    "random frame": (request(b"D", b"raw", b"\xc1\xc1"), "bad-frame"),
    "wrong version": (request(b"D", b"raw", msgpack.packb([PROTOCOL_VERSION + 1, []])), "bad-version"),
    "unknown type": (
        request(b"D", b"raw", msgpack.packb([PROTOCOL_VERSION, [["zap", 5, "", []]]])),
        "unknown-type",
    ),
    "field of wrong type": (
        request(b"D", b"raw", msgpack.packb([PROTOCOL_VERSION, [["tell", 6, "", ["a", 1, [], {}]]]])),
        "bad-field",
    ),
    "oversized frame": (
        request(b"D", b"raw", encode_frame([Envelope(Tell("a", "m", ["x" * 3000], {}))])),
        "too-large",
    ),
}


async def expect_error_report(ctx: pynng.Context, data: bytes, *, via_poll: pynng.Context | None) -> str:
    """Send ``data``; return the code of the ProtocolErrorReport that comes back."""
    with trio.fail_after(10):
        await ctx.asend(data)
        reply = await ctx.arecv()
        if reply[:1] == b"A":  # a data request is acked; its error report comes through a poll
            assert via_poll is not None
            reply = await via_poll.arecv()
    assert reply[:1] == b"F"
    [envelope] = decode_frame(reply[1:]).envelopes
    assert isinstance(envelope.message, ProtocolErrorReport)
    return envelope.message.code


@pytest.mark.parametrize("case", sorted(GARBAGE))
async def test_bad_input_at_a_live_listener_is_answered_and_survived(case: str) -> None:
    data, code = GARBAGE[case]
    address = address_for("inproc")
    async with open_nng_network() as net:
        listener, [dialer] = await connect(net, address, "client", max_frame_size=2048)
        with (
            pynng.Req0(dial=address, resend_time=-1, async_backend="trio") as raw,
            raw.new_context() as poll,
            raw.new_context() as ctx,
        ):
            await poll.asend(request(b"P", b"raw", b"", seq=0))
            assert await expect_error_report(ctx, data, via_poll=poll) == code
        assert listener.statistics().protocol_errors >= 1
        dialer.send_nowait(address, tell(4))
        assert await receive_values(listener, 1) == [4]


async def test_frame_beyond_the_socket_limit_drops_only_that_connection() -> None:
    address = address_for("tcp")
    async with open_nng_network() as net:
        listener, [dialer] = await connect(net, address, "client", max_frame_size=1024)
        with pynng.Req0(dial=address, resend_time=-1, async_backend="trio") as raw, raw.new_context() as ctx:
            await ctx.asend(request(b"D", b"raw", b"\x00" * 10_000))
            with trio.fail_after(10), pytest.raises(pynng.ConnectionReset):
                await ctx.arecv()
        assert listener.is_up("client")
        dialer.send_nowait(address, tell(5))
        assert await receive_values(listener, 1) == [5]


frames_and_bytes = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=200).map(lambda b: request(b"D", b"fuzz", b)),
    st.binary(max_size=200).map(
        lambda b: request(b"D", b"fuzz", msgpack.packb([PROTOCOL_VERSION, []])[:-1] + b)
    ),
    st.lists(wrong_envelopes(), min_size=1, max_size=3).map(
        lambda raws: request(b"D", b"fuzz", msgpack.packb([PROTOCOL_VERSION, raws], use_bin_type=True))
    ),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames_and_bytes, min_size=1, max_size=8))
async def test_arbitrary_requests_at_a_live_listener_never_break_it(payloads: list[bytes]) -> None:
    address = address_for("inproc")
    async with open_nng_network() as net:
        listener, [dialer] = await connect(net, address, "client")
        with pynng.Req0(dial=address, resend_time=-1, async_backend="trio") as raw, raw.new_context() as ctx:
            for seq, data in enumerate(payloads, start=1):
                if data[:1] == b"D" and len(data) >= 18:  # a fresh sequence number, or it is a duplicate
                    data = data[:10] + struct.pack("!Q", seq) + data[18:]
                with trio.fail_after(10):
                    await ctx.asend(data)
                    reply = await ctx.arecv()  # every request is answered: ack or error report
                assert reply[:1] in (b"A", b"F")
        dialer.send_nowait(address, tell(6))
        while True:  # fuzz frames may have decoded into valid tells; ours comes last
            delivery = await listener.receive()
            if delivery.peer == "client":
                assert [e.message.args[0] for e in delivery.envelopes] == [6]
                break


async def test_listening_twice_on_one_address_fails_and_bad_options_are_named() -> None:
    address = free_tcp_address()
    async with open_nng_network() as net:
        await net.listen(address)
        with pytest.raises(pynng.AddressInUse):
            await net.listen(address)
        with pytest.raises(TypeError, match="unknown endpoint option"):
            await net.dial(address, heartbeat=1)
        with pytest.raises(ValueError, match="must exceed"):
            await net.dial(address, heartbeat_interval=2.0, heartbeat_timeout=1.0)


async def test_frames_keep_their_order_in_both_directions() -> None:
    address = address_for("tcp")
    async with open_nng_network() as net:
        listener, [dialer] = await connect(net, address, "client", max_batch_messages=7)

        async def produce(endpoint, peer: str) -> None:
            for i in range(300):
                await endpoint.send(peer, tell(i))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(produce, dialer, address)
            nursery.start_soon(produce, listener, "client")
            assert await receive_values(listener, 300) == list(range(300))
            assert await receive_values(dialer, 300) == list(range(300))
        assert dialer.statistics().frames_sent >= 300 / 7  # many frames, each in order


async def test_a_dialer_survives_garbage_from_its_listener_and_reports_it() -> None:
    address = address_for("inproc")
    async with open_nng_network() as net:
        with pynng.Rep0(listen=address, async_backend="trio") as raw, raw.new_context() as ctx:
            dialer = await net.dial(address, name="client", heartbeat_interval=10.0, heartbeat_timeout=60.0)
            with trio.fail_after(10):
                for bad_reply in (b"F\xc1\xc1", b"Zzz"):  # a garbage frame, an unknown reply kind
                    while (await ctx.arecv())[:1] != b"P":  # answer the dialer's poll with garbage
                        await ctx.asend(b"A")
                    await ctx.asend(bad_reply)
                while True:  # the dialer reports the bad frame back in a data request
                    request = await ctx.arecv()
                    await ctx.asend(b"A")
                    if request[:1] == b"D":
                        break
            name_len = request[1]
            decoded = decode_frame(request[18 + name_len :])
            [envelope] = decoded.envelopes
            assert isinstance(envelope.message, ProtocolErrorReport)
            assert envelope.message.code == "bad-frame"
            with trio.fail_after(10):
                while dialer.statistics().protocol_errors < 2:  # both were noticed, and it lives on
                    await trio.sleep(0.01)
            await dialer.aclose()
