"""Measure the two sound nng patterns under Trio, to choose one for ``ratchet.transport``.

Compares Req0/Rep0 with contexts against Push0/Pull0 pairs (one socket per direction),
one nng message per application message (no batching), with the echo side in a second
process started by exec (nng is not fork-safe). Prints round-trip p50/p99 with one
message in flight and messages/s with several in flight.

Run: ``/work/venv/bin/python bench/transport_patterns.py``
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import pynng
import trio

PAYLOAD = b"x" * 100
ROUNDS = 3000
CONCURRENCY = 8


async def reqrep_server(address: str) -> None:
    with pynng.Rep0(listen=address, async_backend="trio") as sock:

        async def serve(ctx: pynng.Context) -> None:
            while True:
                data = await ctx.arecv()
                await ctx.asend(data)

        async with trio.open_nursery() as nursery:
            for _ in range(CONCURRENCY * 2):
                nursery.start_soon(serve, sock.new_context())


async def pushpull_server(address_in: str, address_out: str) -> None:
    with (
        pynng.Pull0(listen=address_in, async_backend="trio") as pull,
        pynng.Push0(listen=address_out, async_backend="trio") as push,
    ):
        send, recv = trio.open_memory_channel(1000)

        async def sender() -> None:
            async for data in recv:
                await push.asend(data)

        async with trio.open_nursery() as nursery:
            for _ in range(CONCURRENCY):
                nursery.start_soon(sender)
            while True:
                await send.send(await pull.arecv())


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def measure_reqrep(address: str) -> tuple[float, float, float]:
    with pynng.Req0(dial=address, async_backend="trio", resend_time=-1) as sock:
        await trio.sleep(0.2)
        ctx = sock.new_context()
        rtts: list[float] = []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            await ctx.asend(PAYLOAD)
            await ctx.arecv()
            rtts.append(time.perf_counter() - t0)
        count = 0

        async def worker() -> None:
            nonlocal count
            c = sock.new_context()
            for _ in range(ROUNDS // CONCURRENCY * 2):
                await c.asend(PAYLOAD)
                await c.arecv()
                count += 1

        t0 = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(CONCURRENCY):
                nursery.start_soon(worker)
        elapsed = time.perf_counter() - t0
        return percentile(rtts, 0.5), percentile(rtts, 0.99), count / elapsed


async def measure_pushpull(address_in: str, address_out: str) -> tuple[float, float, float]:
    with (
        pynng.Push0(dial=address_in, async_backend="trio") as push,
        pynng.Pull0(dial=address_out, async_backend="trio") as pull,
    ):
        await trio.sleep(0.2)
        rtts = []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            await push.asend(PAYLOAD)
            await pull.arecv()
            rtts.append(time.perf_counter() - t0)
        total = ROUNDS * 2

        async def sender() -> None:
            for _ in range(total // CONCURRENCY):
                await push.asend(PAYLOAD)

        t0 = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(CONCURRENCY):
                nursery.start_soon(sender)
            for _ in range(total // CONCURRENCY * CONCURRENCY):
                await pull.arecv()
        elapsed = time.perf_counter() - t0
        return percentile(rtts, 0.5), percentile(rtts, 0.99), total / elapsed


def spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, *args])


def main() -> None:
    if len(sys.argv) > 1:
        role, *addresses = sys.argv[1:]
        trio.run(reqrep_server if role == "reqrep" else pushpull_server, *addresses)
        return
    tmp = tempfile.mkdtemp()
    results = {}
    for transport in ("tcp", "ipc"):
        if transport == "tcp":
            a, b = "tcp://127.0.0.1:47311", "tcp://127.0.0.1:47312"
        else:
            a, b = f"ipc://{tmp}/a.sock", f"ipc://{tmp}/b.sock"
        proc = spawn("reqrep", a)
        time.sleep(0.5)
        try:
            results[f"req/rep+contexts {transport}"] = trio.run(measure_reqrep, a)
        finally:
            proc.kill()
            proc.wait()
        proc = spawn("pushpull", a, b)
        time.sleep(0.5)
        try:
            results[f"push/pull pair   {transport}"] = trio.run(measure_pushpull, a, b)
        finally:
            proc.kill()
            proc.wait()
    print(f"{'pattern':28} {'rtt p50 us':>10} {'rtt p99 us':>10} {'msgs/s':>10}  (cores={os.cpu_count()})")
    for name, (p50, p99, rate) in results.items():
        print(f"{name:28} {p50 * 1e6:10.0f} {p99 * 1e6:10.0f} {rate:10.0f}")


if __name__ == "__main__":
    main()
