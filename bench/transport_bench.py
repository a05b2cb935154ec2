"""Transport benchmark: messages/s unbatched vs batched, and one-message round trip, over tcp.

An echo server runs in a second process (started by exec: nng is not fork-safe); it
sends every message it receives straight back. The client measures:

* **throughput**: ``COUNT`` messages sent as fast as backpressure allows while the
  echoes are counted, once with ``max_batch_messages=1`` on both ends (every message its
  own frame, as without batching) and once with the default adaptive batching;
* **round trip**: one message, wait for its echo, ``ROUNDS`` times (an idle link: each
  frame carries one message), p50 and p99.

Run: ``/work/venv/bin/python bench/transport_bench.py`` (numbers depend on the machine;
nothing here is asserted).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import trio

from ratchet.transport import Delivery, Endpoint, Tell, open_nng_network

COUNT = 20_000
ROUNDS = 2_000
OPTIONS = {"heartbeat_interval": 1.0, "heartbeat_timeout": 10.0}


async def serve(address: str, max_batch: int) -> None:
    async with open_nng_network() as network:
        listener = await network.listen(address, name="echo", max_batch_messages=max_batch, **OPTIONS)
        print("ready", flush=True)
        while True:
            delivery: Delivery = await listener.receive()
            for envelope in delivery.envelopes:
                await listener.send(delivery.peer, envelope.message, correlation_id=envelope.correlation_id)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def throughput(dialer: Endpoint, address: str) -> tuple[float, float]:
    """Messages/s through the echo (each counted once, on its way back) and messages per frame."""
    message = Tell("echo", "m", [b"x" * 64], {})
    before = dialer.statistics()
    start = time.perf_counter()
    async with trio.open_nursery() as nursery:

        async def produce() -> None:
            for i in range(COUNT):
                await dialer.send(address, message, correlation_id=i + 1)

        nursery.start_soon(produce)
        received = 0
        while received < COUNT:
            received += len((await dialer.receive()).envelopes)
    elapsed = time.perf_counter() - start
    after = dialer.statistics()
    frames = after.frames_sent - before.frames_sent
    return COUNT / elapsed, (after.messages_sent - before.messages_sent) / max(frames, 1)


async def round_trips(dialer: Endpoint, address: str) -> list[float]:
    message = Tell("echo", "m", [b"x" * 64], {})
    samples = []
    for i in range(ROUNDS):
        start = time.perf_counter()
        dialer.send_nowait(address, message, correlation_id=i + 1)
        await dialer.receive()
        samples.append(time.perf_counter() - start)
    return samples


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


async def client(address: str, max_batch: int, measure_rtt: bool) -> dict[str, float]:
    async with open_nng_network() as network:
        dialer = await network.dial(address, name="bench", max_batch_messages=max_batch, **OPTIONS)
        await dialer.next_peer_event()
        await round_trips(dialer, address)  # warm up
        result: dict[str, float] = {}
        result["msgs_per_s"], result["msgs_per_frame"] = await throughput(dialer, address)
        if measure_rtt:
            samples = await round_trips(dialer, address)
            result["p50_us"] = percentile(samples, 0.5) * 1e6
            result["p99_us"] = percentile(samples, 0.99) * 1e6
        await dialer.aclose()
        return result


def run(max_batch: int, measure_rtt: bool) -> dict[str, float]:
    address = free_address()
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", address, str(max_batch)], stdout=subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == b"ready"
        return trio.run(client, address, max_batch, measure_rtt)
    finally:
        server.kill()
        server.wait()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        trio.run(serve, sys.argv[2], int(sys.argv[3]))
        return
    unbatched = run(1, measure_rtt=False)
    batched = run(4096, measure_rtt=True)
    print(f"transport over tcp, {COUNT} echoed messages of ~80 bytes, echo server in a second process")
    print(
        f"unbatched (1 msg/frame): {unbatched['msgs_per_s']:10.0f} msgs/s "
        f"({unbatched['msgs_per_frame']:.1f} msgs/frame)"
    )
    gain = batched["msgs_per_s"] / unbatched["msgs_per_s"]
    print(
        f"batched (adaptive):      {batched['msgs_per_s']:10.0f} msgs/s "
        f"({batched['msgs_per_frame']:.1f} msgs/frame)  x{gain:.1f}"
    )
    print(f"one-message round trip:  p50 {batched['p50_us']:.0f} us   p99 {batched['p99_us']:.0f} us")


if __name__ == "__main__":
    main()
