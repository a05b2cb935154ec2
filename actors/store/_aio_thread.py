"""An asyncio event loop in a thread of its own, awaited from Trio: asyncpg's home.

asyncpg is asyncio code; the engine is Trio. Rather than bridging the two on one
thread with trio-asyncio, which installs its own asyncio event-loop policy for the whole
process as soon as it is imported (so an application that embeds an engine on Postgres
would find every later ``asyncio.run`` of its own on a trio-asyncio loop), the Postgres
store runs asyncpg on a plain asyncio loop in a daemon thread and awaits each call from
Trio. :meth:`AsyncioThread.run` hands the coroutine over with
``loop.call_soon_threadsafe`` and waits, without holding a Trio worker thread, for the
result to come back through the Trio run's token. The store crosses once per batch (a
whole transaction is one coroutine), so the hop costs nothing measurable.

Not trio-asyncio even in ``ratchet engine``, a process Ratchet owns, whose asyncio it
could change: measured against trio-asyncio's loop on the engine's own Trio thread
(``bench/pg_bridge_bench.py``: both in one run, alternating, each round in fresh
processes; medians of the rounds' trio-asyncio/thread ratios), trio-asyncio is only as
fast for big group-commit batches (100 and 500 units: 0.95 to 1.08 of the thread's
units/s) and slower for the rest of what an engine does: a 10-unit batch takes 1.5 to
1.9 times as long, ``get_run`` 1.8 times (a lone small commit too, unless the disk's
fsync hides it), 8 concurrent readers get 0.5 to 0.76 of the reads/s, and an engine
process on it serves 0.74 to 0.76 of the no-op tasks/s (every one of 11 rounds favoured
the thread; 558 vs 748 tasks/s on 2 shared cores). The likely reason: trio-asyncio runs
each asyncio callback and I/O wait as Trio work on the engine's thread, beside the
actors, where this loop is plain asyncio and waits on its sockets while the engine
works. So this is the only bridge, in every process, and trio-asyncio is not a
dependency.

Cancellation: a Trio caller cancelled while its coroutine runs cancels the asyncio task
and waits, shielded, until it has unwound (a transaction rolled back, its connection
back in the pool) before the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, TypeVarTuple

import outcome
import trio

__all__ = ["AsyncioThread"]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


class AsyncioThread:
    """A plain asyncio loop running in a daemon thread; see the module docstring.

    Args:
        name: the thread's name.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        """Start the thread and its loop; return once the loop runs."""
        token = trio.lowlevel.current_trio_token()
        ready = trio.Event()
        self._thread = threading.Thread(target=self._main, args=(token, ready), name=self.name, daemon=True)
        self._thread.start()
        await ready.wait()

    def _main(self, token: trio.lowlevel.TrioToken, ready: trio.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.call_soon(token.run_sync_soon, ready.set)
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def run(self, fn: Callable[[*_Ts], Awaitable[_T]], *args: *_Ts) -> _T:
        """``await fn(*args)`` on the asyncio loop; its result, or its exception raised."""
        loop = self._loop
        if loop is None or loop.is_closed():
            raise RuntimeError(f"the asyncio thread {self.name!r} is not running")
        token = trio.lowlevel.current_trio_token()
        finished = trio.Event()
        results: list[outcome.Outcome[_T]] = []
        tasks: list[asyncio.Task[Any]] = []

        def arrived(result: outcome.Outcome[_T]) -> None:
            results.append(result)
            finished.set()

        async def call() -> None:
            result = await outcome.acapture(fn, *args)
            try:
                token.run_sync_soon(arrived, result)
            except trio.RunFinishedError:
                pass  # the caller's run is over: nobody waits

        def begin() -> None:  # on the asyncio thread
            tasks.append(loop.create_task(call()))

        loop.call_soon_threadsafe(begin)
        try:
            await finished.wait()
        except trio.Cancelled:
            loop.call_soon_threadsafe(lambda: tasks and tasks[0].cancel())
            with trio.CancelScope(shield=True):
                await finished.wait()
            raise
        return results[0].unwrap()

    async def aclose(self) -> None:
        """Stop the loop and wait for the thread to end."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass  # closed already
        await trio.to_thread.run_sync(thread.join)
        self._loop = self._thread = None
