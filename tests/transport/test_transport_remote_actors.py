"""Remote actors: a ref to an actor in another process behaves like a local one.

Over the simulated network (with faults) and between two real processes over tcp and ipc.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest
import trio
import trio.testing
from remote_actor_server import Counter

from ratchet.runtime import (
    Actor,
    ActorDeadError,
    ActorError,
    AskTimeout,
    Trace,
    open_runtime,
    run_deterministic,
)
from ratchet.transport import (
    LinkFaults,
    LocalProtocolError,
    RemoteActorRef,
    SimNetwork,
    open_actor_node,
    open_nng_network,
    open_sim_network,
)

ADDR = "sim://server"
FAST = {"heartbeat_interval": 0.1, "heartbeat_timeout": 1.0}


class Odd(Actor):
    """Returns what msgpack cannot carry."""

    async def thing(self) -> object:
        return object()


class Slow(Actor):
    """Takes five seconds per call, and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def work(self) -> int:
        self.calls += 1
        await trio.sleep(5.0)
        return self.calls


class Watcher(Actor):
    """Crashes when told a peer went down, so that its supervisor restarts it."""

    def peer_down(self, peer: str, reason: str) -> None:
        raise ConnectionError(f"lost {peer}: {reason}")


@asynccontextmanager
async def connected_pair(net: SimNetwork, **server_options: object) -> AsyncIterator[SimpleNamespace]:
    """A server system serving a Counter, and a client system with a node to reach it."""
    async with open_runtime(seed=1) as server, open_runtime(seed=2) as client:
        await server.spawn(Counter, 0, name="counter")
        await server.spawn(Odd, name="odd")
        await server.spawn(Slow, name="slow")
        listener = await net.listen(ADDR, name="server", **FAST)
        dialer = await net.dial(ADDR, name="client", **FAST)
        async with (
            open_actor_node(server, listener, retry_interval=0.05, **server_options) as server_node,
            open_actor_node(client, dialer, retry_interval=0.05) as node,
        ):
            await node.wait_peer_up(ADDR)
            yield SimpleNamespace(
                client=client,
                listener=listener,
                dialer=dialer,
                server_node=server_node,
                node=node,
                counter=node.ref(ADDR, "counter"),
            )


async def test_remote_ask_tell_and_options_behave_like_local(autojump_clock: trio.testing.MockClock) -> None:
    async with open_sim_network(seed=1) as net, connected_pair(net) as pair:
        assert isinstance(pair.counter, RemoteActorRef)
        assert await pair.counter.incr.ask(5) == 5
        pair.counter.incr.tell(2)
        assert await pair.counter.incr.options(timeout=1.0).ask(by=3) == 10
        assert repr(pair.counter) == "<RemoteActorRef 'counter' at peer 'sim://server'>"


async def test_remote_exception_arrives_as_actor_error_with_traceback(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_sim_network(seed=1) as net, connected_pair(net) as pair:
        with pytest.raises(ActorError) as info:
            await pair.counter.fail.ask("nope")
        error = info.value
        assert (error.actor, error.method, error.error_type) == ("counter", "fail", "ValueError")
        assert error.error_message == "refused: nope"
        assert "remote_actor_server.py" in error.traceback_text
        assert "in fail" in error.traceback_text
        assert await pair.counter.incr.ask() == 1  # the actor carried on


async def test_missing_actor_method_and_private_names_are_refused(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_sim_network(seed=1) as net, connected_pair(net) as pair:
        with pytest.raises(ActorDeadError, match="no actor named 'ghost'"):
            await pair.node.ref(ADDR, "ghost").anything.ask()
        with pytest.raises(ActorError, match="no public method 'explode'"):
            await pair.counter.explode.ask()
        with pytest.raises(ActorError, match="private method"):
            await pair.node._ask(ADDR, "counter", "__init__", (), {}, None)


async def test_values_msgpack_cannot_carry_fail_clearly(autojump_clock: trio.testing.MockClock) -> None:
    async with open_sim_network(seed=1) as net, connected_pair(net) as pair:
        with pytest.raises(LocalProtocolError, match="cannot encode Ask"):
            await pair.counter.incr.ask({1, 2})
        with pytest.raises(ActorError) as info:
            await pair.node.ref(ADDR, "odd").thing.ask()
        assert info.value.error_type == "LocalProtocolError"


async def test_remote_ask_times_out(autojump_clock: trio.testing.MockClock) -> None:
    async with open_sim_network(seed=1) as net, connected_pair(net) as pair:
        with pytest.raises(AskTimeout, match="did not answer 'hang' within 2s"):
            await pair.counter.hang.options(timeout=2.0).ask()


async def test_asks_run_exactly_once_despite_loss_duplication_and_reordering(
    autojump_clock: trio.testing.MockClock,
) -> None:
    faults = LinkFaults(latency=0.002, jitter=0.004, loss=0.25, duplicate=0.25, reorder=0.25)
    async with open_sim_network(seed=7, faults=faults) as net, connected_pair(net) as pair:
        results = [await pair.counter.incr.ask() for _ in range(60)]
        assert results == list(range(1, 61))
        assert pair.node.statistics().ask_retries > 0
        assert pair.server_node.statistics().duplicates_dropped > 0
        assert pair.server_node.statistics().calls_served == 60


async def test_pending_asks_fail_promptly_when_the_remote_process_dies(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_sim_network(seed=1) as net, connected_pair(net) as pair:
        failures: list[BaseException] = []

        async def ask_forever() -> None:
            try:
                await pair.counter.hang.ask()
            except ActorDeadError as exc:
                failures.append(exc)

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(ask_forever)
            await trio.sleep(0.1)
            killed_at = trio.current_time()
            await net.kill(pair.listener)
        assert len(failures) == 3
        assert "peer 'sim://server' went down (connection reset by peer)" in str(failures[0])
        # The connection reset told us, not the heartbeat timeout.
        assert trio.current_time() - killed_at < FAST["heartbeat_timeout"]


async def test_pending_asks_fail_after_heartbeat_timeout_when_the_peer_vanishes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_sim_network(seed=1) as net, connected_pair(net) as pair:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(net.kill, pair.listener, notify=False))
            with pytest.raises(ActorDeadError, match="nothing received"):
                await pair.counter.hang.ask()


async def test_local_supervisor_restarts_an_actor_that_monitors_a_dying_peer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_sim_network(seed=1) as net, connected_pair(net) as pair:
        watcher = await pair.client.spawn(Watcher, name="watcher")
        pair.node.monitor(ADDR, watcher)
        await net.kill(pair.listener)
        with trio.fail_after(5):
            while watcher.statistics().restarts < 1:
                await trio.sleep(0.01)
        assert watcher.is_alive


# -- two real processes ---------------------------------------------------------------------

SERVER = Path(__file__).with_name("remote_actor_server.py")


def server_address(kind: str) -> str:
    if kind == "ipc":
        return f"ipc://{tempfile.mkdtemp(prefix='rt-')}/actors.sock"
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("kind", ["tcp", "ipc"])
async def test_remote_actor_in_another_process(kind: str) -> None:
    address = server_address(kind)
    # exec, not fork: nng is not fork-safe.
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), address],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(SERVER.parent)},
    )
    try:
        assert proc.stdout is not None
        line = await trio.to_thread.run_sync(proc.stdout.readline)
        assert line.strip() == b"ready"
        async with open_nng_network() as network, open_runtime(network=network) as system:
            dialer = await network.dial(address, name="client", heartbeat_interval=0.1, heartbeat_timeout=2.0)
            async with open_actor_node(system, dialer) as node:
                counter = node.ref(address, "counter")
                with trio.fail_after(20):
                    assert await counter.incr.ask() == 11
                    counter.incr.tell(5)
                    assert await counter.incr.ask(by=2) == 18
                    with pytest.raises(ActorError) as info:
                        await counter.fail.ask("x")
                    assert "refused: x" in info.value.traceback_text
                    with pytest.raises(AskTimeout):
                        await counter.hang.options(timeout=0.2).ask()

                    sent_before = dialer.statistics().messages_sent

                    async def kill_server() -> None:
                        # Once the frame carrying the ask is acked, the server has it.
                        while dialer.statistics().messages_sent == sent_before:
                            await trio.sleep(0.005)
                        proc.send_signal(signal.SIGKILL)

                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(kill_server)
                        with pytest.raises(ActorDeadError, match="went down"):
                            await counter.hang.ask()  # pending when the process dies
    finally:
        proc.kill()
        proc.wait()


def remote_scenario(seed: int) -> tuple[str, str, list[int]]:
    """Asks over a lossy simulated network; returns the runtime and network trace digests."""

    async def scenario() -> tuple[str, str, list[int]]:
        faults = LinkFaults(latency=0.002, jitter=0.003, loss=0.2, duplicate=0.2, reorder=0.2)
        trace = Trace(keep=False)
        async with (
            open_sim_network(seed=seed, faults=faults) as net,
            open_runtime(seed=seed, trace=trace) as server,
            open_runtime(seed=seed + 1, trace=trace) as client,
        ):
            await server.spawn(Counter, 0, name="counter")
            listener = await net.listen(ADDR, name="server", **FAST)
            dialer = await net.dial(ADDR, name="client", **FAST)
            async with (
                open_actor_node(server, listener, retry_interval=0.05),
                open_actor_node(client, dialer, retry_interval=0.05) as node,
            ):
                counter = node.ref(ADDR, "counter")
                results = []
                async with trio.open_nursery() as nursery:

                    async def ask(by: int) -> None:
                        results.append(await counter.incr.ask(by))

                    for by in range(1, 11):
                        nursery.start_soon(ask, by)
                return trace.digest(), net.trace_digest(), results

    return run_deterministic(scenario, seed=seed)


def test_remote_actors_over_the_simulated_network_replay_exactly() -> None:
    first, again, other = remote_scenario(5), remote_scenario(5), remote_scenario(6)
    assert first == again
    assert first[0] != other[0] and first[1] != other[1]
    assert max(first[2]) == sum(range(1, 11))  # every ask ran exactly once


async def test_the_listening_side_can_call_actors_of_a_dialer(autojump_clock: trio.testing.MockClock) -> None:
    async with open_sim_network(seed=1) as net, connected_pair(net) as pair:
        await pair.client.spawn(Counter, 100, name="worker-counter")
        worker_counter = pair.server_node.ref("client", "worker-counter")
        assert await worker_counter.incr.ask(1) == 101


async def test_a_long_call_runs_once_however_many_retries_and_other_calls_pass(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_sim_network(seed=1) as net, connected_pair(net, dedup_window=2) as pair:
        slow = pair.node.ref(ADDR, "slow")
        async with trio.open_nursery() as nursery:
            results: list[int] = []

            async def ask_slow() -> None:
                results.append(await slow.work.ask())

            nursery.start_soon(ask_slow)
            for _ in range(20):  # enough finished calls to evict everything but the running one
                await pair.counter.incr.ask()
        assert results == [1]
        assert pair.node.statistics().ask_retries > 20


async def test_an_ask_waits_for_its_peer_to_come_up_then_gives_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with (
        open_sim_network(seed=1) as net,
        open_runtime(seed=1) as server,
        open_runtime(seed=2) as client,
    ):
        await server.spawn(Counter, 0, name="counter")
        dialer = await net.dial(ADDR, name="client", **FAST)
        async with open_actor_node(client, dialer, connect_timeout=2.0) as node:
            counter = node.ref(ADDR, "counter")
            with pytest.raises(ActorDeadError, match="did not come up within 2s"):
                await counter.incr.ask()
            async with trio.open_nursery() as nursery:

                async def start_server_later() -> None:
                    await trio.sleep(1.0)
                    listener = await net.listen(ADDR, name="server", **FAST)
                    nursery.start_soon(serve, listener)

                async def serve(listener) -> None:
                    async with open_actor_node(server, listener):
                        await trio.sleep_forever()

                nursery.start_soon(start_server_later)
                assert await counter.incr.ask() == 1
                nursery.cancel_scope.cancel()


class Blob(Actor):
    """Answers with as many bytes as asked for."""

    async def make(self, size: int) -> bytes:
        return b"x" * size


async def test_a_big_reply_reaches_its_caller_and_is_not_kept_for_repeats(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from ratchet.transport import MAX_REMEMBERED_REPLY

    # every frame is delivered twice: each ask is repeated after it was answered
    async with open_sim_network(seed=3, faults=LinkFaults(duplicate=1.0)) as net, connected_pair(net) as pair:
        await pair.server_node.system.spawn(Blob, name="blob")
        blob = pair.node.ref(ADDR, "blob")
        assert await blob.make.ask(1000) == b"x" * 1000
        assert pair.server_node.statistics().replies_not_kept == 0  # small replies are kept
        big = MAX_REMEMBERED_REPLY + 1
        for _ in range(3):
            assert await blob.make.ask(big) == b"x" * big
        stats = pair.server_node.statistics()
        assert stats.replies_not_kept == 3
        assert stats.calls_served == 4 and stats.duplicates_dropped >= 4
