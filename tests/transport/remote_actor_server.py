"""A process serving a Counter actor over nng, for the two-process remote actor tests.

Run: ``python remote_actor_server.py ADDRESS``; prints ``ready`` once it listens, then
serves until killed. Started with exec (subprocess), never fork: nng is not fork-safe.
"""

from __future__ import annotations

import sys

import trio

from ratchet.runtime import Actor, open_runtime
from ratchet.transport import open_actor_node, open_nng_network


class Counter(Actor):
    """Counts; can fail and hang on demand."""

    def __init__(self, start: int = 0) -> None:
        self.n = start

    async def incr(self, by: int = 1) -> int:
        self.n += by
        return self.n

    async def fail(self, text: str) -> None:
        raise ValueError(f"refused: {text}")

    async def hang(self) -> None:
        await trio.sleep_forever()


async def main(address: str) -> None:
    async with open_nng_network() as network, open_runtime(network=network) as system:
        await system.spawn(Counter, 10, name="counter")
        endpoint = await network.listen(address, name="server", heartbeat_interval=0.1, heartbeat_timeout=2.0)
        async with open_actor_node(system, endpoint):
            print("ready", flush=True)
            await trio.sleep_forever()


if __name__ == "__main__":
    trio.run(main, sys.argv[1])
