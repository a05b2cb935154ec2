"""The simulated network: delivery, batching, peer events, faults, partitions, determinism."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from ratchet.runtime import RandomSource, run_deterministic
from ratchet.transport import (
    Delivery,
    LinkFaults,
    LocalProtocolError,
    PeerEvent,
    PeerEventKind,
    PeerUnavailableError,
    ProtocolErrorReport,
    Result,
    SimNetwork,
    Tell,
    open_sim_network,
)

FAST = {"heartbeat_interval": 0.1, "heartbeat_timeout": 0.5}
ADDR = "sim://server"


def tell(i: int) -> Tell:
    return Tell("actor", "method", [i], {})


async def connect(net: SimNetwork, *names: str, **options: object):
    options = {**FAST, **options}
    listener = await net.listen(ADDR, name="server", **options)
    dialers = [await net.dial(ADDR, name=name, **options) for name in names]
    for dialer in dialers:
        assert await dialer.next_peer_event() == PeerEvent(ADDR, PeerEventKind.UP, "connected")
        event = await listener.next_peer_event()
        assert event.kind is PeerEventKind.UP
    return listener, dialers


async def receive_values(endpoint, count: int) -> list[int]:
    got: list[int] = []
    while len(got) < count:
        delivery = await endpoint.receive()
        got.extend(e.message.args[0] for e in delivery.envelopes)
    return got


async def test_messages_flow_both_ways_in_order(autojump_clock: trio.testing.MockClock) -> None:
    async with open_sim_network(seed=1) as net:
        listener, [dialer] = await connect(net, "client")
        for i in range(10):
            dialer.send_nowait(ADDR, tell(i))
        assert await receive_values(listener, 10) == list(range(10))
        listener.send_nowait("client", Result("pong"), correlation_id=42, credential="acme")
        delivery = await dialer.receive()
        assert delivery.peer == ADDR
        [envelope] = delivery.envelopes
        assert (envelope.message, envelope.correlation_id, envelope.credential) == (
            Result("pong"),
            42,
            "acme",
        )


async def test_messages_queued_together_share_one_frame(autojump_clock: trio.testing.MockClock) -> None:
    async with open_sim_network(seed=1) as net:
        listener, [dialer] = await connect(net, "client")
        before = dialer.statistics().frames_sent
        for i in range(500):
            dialer.send_nowait(ADDR, tell(i))
        delivery = await listener.receive()
        assert len(delivery.envelopes) == 500
        assert dialer.statistics().frames_sent == before + 1


async def test_idle_message_leaves_alone_after_one_link_latency(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_sim_network(seed=1, faults=LinkFaults(latency=0.0003)) as net:
        listener, [dialer] = await connect(net, "client")
        start = trio.current_time()
        dialer.send_nowait(ADDR, tell(1))
        delivery = await listener.receive()
        assert len(delivery.envelopes) == 1
        assert trio.current_time() - start == pytest.approx(0.0003)


async def test_batches_respect_max_frame_size(autojump_clock: trio.testing.MockClock) -> None:
    async with open_sim_network(seed=1) as net:
        listener, [dialer] = await connect(net, "client", max_frame_size=1000)
        for i in range(100):
            dialer.send_nowait(ADDR, Tell("actor", "method", [i, "x" * 50], {}))
        sizes = []
        while sum(sizes) < 100:
            sizes.append(len((await listener.receive()).envelopes))
        assert len(sizes) > 1
        assert max(sizes) < 100


async def test_listener_delivers_to_the_addressed_dialer_only(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_sim_network(seed=1) as net:
        listener, [alice, bob] = await connect(net, "alice", "bob")
        listener.send_nowait("bob", tell(7))
        assert await receive_values(bob, 1) == [7]
        with trio.move_on_after(1.0):
            await alice.receive()
            pytest.fail("alice received a frame addressed to bob")


async def test_send_errors_are_local_and_explain(autojump_clock: trio.testing.MockClock) -> None:
    async with open_sim_network(seed=1) as net:
        listener, [dialer] = await connect(net, "client", max_frame_size=200)
        with pytest.raises(PeerUnavailableError, match="'nobody' is not connected"):
            listener.send_nowait("nobody", tell(1))
        with pytest.raises(LocalProtocolError, match="max_frame_size=200"):
            dialer.send_nowait(ADDR, Result("x" * 500))
        with pytest.raises(LocalProtocolError, match="cannot encode"):
            dialer.send_nowait(ADDR, Result({1, 2}))
        await dialer.aclose()
        with pytest.raises(LocalProtocolError, match="closed"):
            dialer.send_nowait(ADDR, tell(1))
        with pytest.raises(trio.EndOfChannel):
            await dialer.receive()


async def test_garbage_frame_is_answered_with_an_error_and_the_link_survives(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_sim_network(seed=1) as net:
        listener, [dialer] = await connect(net, "client")
        await dialer._transmit(ADDR, b"\x93garbage")
        delivery = await dialer.receive()
        [report] = delivery.envelopes
        assert isinstance(report.message, ProtocolErrorReport)
        assert report.message.code == "bad-frame"
        assert listener.statistics().protocol_errors == 1
        dialer.send_nowait(ADDR, tell(3))
        assert await receive_values(listener, 1) == [3]
        assert listener.is_up("client")


async def test_partition_is_seen_through_heartbeats_and_heals(autojump_clock: trio.testing.MockClock) -> None:
    async with open_sim_network(seed=1) as net:
        listener, [dialer] = await connect(net, "client")
        net.partition(listener, dialer)
        down = await dialer.next_peer_event()
        assert down.kind is PeerEventKind.DOWN
        assert "nothing received" in down.reason
        assert (await listener.next_peer_event()).kind is PeerEventKind.DOWN
        with pytest.raises(PeerUnavailableError):
            listener.send_nowait("client", tell(1))
        dialer.send_nowait(ADDR, tell(1))  # a dialer queues while its listener is away
        net.heal()
        assert (await listener.next_peer_event()).kind is PeerEventKind.UP
        assert (await dialer.next_peer_event()).kind is PeerEventKind.UP
        assert await receive_values(listener, 1) == [1]


async def test_killed_listener_resets_dialers_which_reconnect_to_its_successor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_sim_network(seed=1) as net:
        listener, [dialer] = await connect(net, "client")
        await net.kill(listener)
        assert await dialer.next_peer_event() == PeerEvent(
            ADDR, PeerEventKind.DOWN, "connection reset by peer"
        )
        dialer.send_nowait(ADDR, tell(5))
        successor = await net.listen(ADDR, name="server-2", **FAST)
        assert (await dialer.next_peer_event()).kind is PeerEventKind.UP
        assert await receive_values(successor, 1) == [5]


async def test_vanished_peer_is_noticed_only_by_missing_heartbeats(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_sim_network(seed=1) as net:
        listener, [dialer] = await connect(net, "client")
        start = trio.current_time()
        await net.kill(dialer, notify=False)
        event = await listener.next_peer_event()
        assert event.kind is PeerEventKind.DOWN
        assert "nothing received" in event.reason
        assert trio.current_time() - start >= FAST["heartbeat_timeout"]


async def test_loss_and_duplication_are_applied_per_link(autojump_clock: trio.testing.MockClock) -> None:
    faults = LinkFaults(latency=0.001, loss=0.3, duplicate=0.3)
    async with open_sim_network(seed=4, faults=faults) as net:
        listener, [dialer] = await connect(net, "client", heartbeat_interval=10.0, heartbeat_timeout=60.0)
        for i in range(200):
            dialer.send_nowait(ADDR, tell(i))
            await trio.sleep(0.01)  # one frame each
        await trio.sleep(1.0)
        got = []
        while True:
            try:
                got.extend(e.message.args[0] for e in listener._inbox_recv.receive_nowait().envelopes)
            except trio.WouldBlock:
                break
        stats = net.statistics()
        assert stats.frames_lost > 0 and stats.frames_duplicated > 0
        assert len(set(got)) < 200  # some lost
        assert len(got) > len(set(got))  # some twice


def run_scenario(seed: int) -> str:
    """Three dialers exchange messages with a listener over faulty links; returns the trace digest."""

    async def scenario() -> str:
        faults = LinkFaults(latency=0.002, jitter=0.003, loss=0.1, duplicate=0.1, reorder=0.2)
        async with open_sim_network(seed=seed, faults=faults) as net:
            listener = await net.listen(ADDR, name="server", **FAST)
            rng = RandomSource(seed).fork("workload")

            async def echo() -> None:
                while True:
                    delivery: Delivery = await listener.receive()
                    for envelope in delivery.envelopes:
                        if listener.is_up(delivery.peer):
                            listener.send_nowait(delivery.peer, envelope.message)

            async def client(name: str) -> None:
                dialer = await net.dial(ADDR, name=name, **FAST)
                for i in range(30):
                    dialer.send_nowait(ADDR, tell(i))
                    await trio.sleep(rng.uniform(0, 0.01))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(echo)
                async with trio.open_nursery() as clients:
                    for name in ("a", "b", "c"):
                        clients.start_soon(client, name)
                net.partition("server", "b")
                await trio.sleep(1.0)
                net.heal()
                await trio.sleep(1.0)
                nursery.cancel_scope.cancel()
            assert net.statistics().frames_delivered > 50
            return net.trace_digest()

    return run_deterministic(scenario, seed=seed)


def test_same_seed_gives_the_same_delivery_trace() -> None:
    assert run_scenario(11) == run_scenario(11)


def test_different_seeds_give_different_delivery_traces() -> None:
    assert run_scenario(11) != run_scenario(12)


async def test_error_reports_to_a_peer_are_rate_limited(autojump_clock: trio.testing.MockClock) -> None:
    async with open_sim_network(seed=1) as net:
        listener, [dialer] = await connect(net, "client")
        for _ in range(50):
            await dialer._transmit(ADDR, b"\xc1")
        await trio.sleep(0.5)
        reports = 0
        while True:
            try:
                delivery = dialer._inbox_recv.receive_nowait()
            except trio.WouldBlock:
                break
            reports += sum(isinstance(e.message, ProtocolErrorReport) for e in delivery.envelopes)
        assert listener.statistics().protocol_errors == 50  # every one logged and counted
        assert reports == 10  # but answered at most ten times a second
