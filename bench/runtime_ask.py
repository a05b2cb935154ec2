"""The cost of one ask round trip between two local actors.

An actor ``Pinger`` asks ``Ponger.pong`` in a loop; we time batches of asks with the
real clock and report the median and p99 per round trip, plus tells per second
(one-way, fire-and-forget) for comparison.

Run: ``python bench/runtime_ask.py [--n 20000]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import trio

from ratchet.runtime import Actor, open_runtime


class Ponger(Actor):
    def __init__(self) -> None:
        self.count = 0

    def pong(self, n: int) -> int:
        return n

    def note(self, n: int) -> None:
        self.count += 1

    def seen(self) -> int:
        return self.count


class Pinger(Actor):
    def __init__(self, peer) -> None:  # type: ignore[no-untyped-def]
        self.peer = peer

    async def run(self, n: int, batch: int) -> list[float]:
        per_ask: list[float] = []
        pong = self.peer.pong
        for _ in range(n // batch):
            start = time.perf_counter()
            for i in range(batch):
                await pong.ask(i)
            per_ask.append((time.perf_counter() - start) / batch)
        return per_ask


async def main(n: int) -> None:
    async with open_runtime(seed=0) as system:
        ponger = await system.spawn(Ponger, name="ponger")
        pinger = await system.spawn(Pinger, ponger, name="pinger")
        await pinger.run.ask(1000, 100)  # warm up
        samples = await pinger.run.ask(n, 100)
        samples.sort()
        median = statistics.median(samples)
        p99 = samples[int(len(samples) * 0.99) - 1]
        print(
            f"ask round trip, actor to actor: median {median * 1e6:.1f} µs, "
            f"p99 {p99 * 1e6:.1f} µs (batches of 100, {n} asks)"
        )
        print(f"                                 = {1 / median:,.0f} asks/s from one caller")
        start = time.perf_counter()
        for i in range(n):
            ponger.note.tell(i)
        seen = await ponger.seen.ask()
        elapsed = time.perf_counter() - start
        print(f"tell, one way: {seen / elapsed:,.0f} messages/s ({seen} delivered)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000)
    trio.run(main, parser.parse_args().n)
