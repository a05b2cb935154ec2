"""Calls into a Trio run on another thread (:class:`ratchet._hop.TrioHost`), from every kind of caller.

The host is a real Trio run in a thread; callers are a plain thread, an asyncio loop
and another Trio run. Waits are on events, with generous deadlines.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import trio

from ratchet._hop import HostClosedError, TrioHost, running_event_loop

DEADLINE = 10.0


class HostThread:
    """A Trio run in a thread, reachable through ``host`` until :meth:`stop`."""

    def __init__(self) -> None:
        self.host: TrioHost | None = None
        self.cancelled = threading.Event()  # set when a call running here was cancelled
        self._ready = threading.Event()
        self._stop: trio.Event | None = None
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)
        self._thread.start()
        assert self._ready.wait(DEADLINE)

    async def _main(self) -> None:
        async with trio.open_nursery() as nursery:
            self._stop = trio.Event()
            self.host = TrioHost("the test host", trio.lowlevel.current_trio_token(), nursery.start_soon)
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    def stop(self) -> None:
        if self.host is not None and self._thread.is_alive():
            assert self._stop is not None
            self.host.run_sync_soon(self._stop.set)
        self._thread.join(DEADLINE)

    async def double(self, n: int) -> int:
        await trio.sleep(0)
        return 2 * n

    async def fail(self) -> None:
        await trio.sleep(0)
        raise ValueError("no good")

    async def hang(self, started: threading.Event) -> None:
        started.set()
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            self.cancelled.set()
            raise


@pytest.fixture
def hosted() -> Iterator[HostThread]:
    h = HostThread()
    yield h
    h.stop()


def test_calls_arrive_from_a_thread_asyncio_and_another_trio_run(hosted: HostThread) -> None:
    host = hosted.host
    assert host is not None
    assert host.call_blocking(hosted.double, 1) == 2
    with pytest.raises(ValueError, match="no good"):
        host.call_blocking(hosted.fail)

    async def from_asyncio() -> list[int]:
        assert running_event_loop() == "asyncio"
        return list(await asyncio.gather(*(host.call(hosted.double, n) for n in range(50))))

    async def from_trio() -> int:
        assert running_event_loop() == "trio"
        with pytest.raises(ValueError, match="no good"):
            await host.call(hosted.fail)
        return await host.call(hosted.double, 21)

    assert asyncio.run(from_asyncio()) == [2 * n for n in range(50)]
    assert trio.run(from_trio) == 42
    assert running_event_loop() is None


def test_a_cancelled_caller_cancels_its_call_on_the_host(hosted: HostThread) -> None:
    host = hosted.host
    assert host is not None

    async def from_asyncio() -> None:
        started = threading.Event()
        waiting = asyncio.ensure_future(host.call(hosted.hang, started))
        await asyncio.to_thread(started.wait, DEADLINE)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    async def from_trio() -> None:
        started = threading.Event()
        with trio.move_on_after(DEADLINE):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(host.call, hosted.hang, started)
                await trio.to_thread.run_sync(started.wait, DEADLINE)
                nursery.cancel_scope.cancel()

    for caller in (lambda: asyncio.run(from_asyncio()), lambda: trio.run(from_trio)):
        hosted.cancelled.clear()
        caller()
        assert hosted.cancelled.wait(DEADLINE), "the call kept running on the host"


def test_a_host_that_stops_under_a_call_says_so() -> None:
    hosted = HostThread()
    host = hosted.host
    assert host is not None
    started = threading.Event()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            host.call_blocking(hosted.hang, started)
        except HostClosedError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert started.wait(DEADLINE)
    hosted.stop()
    caller.join(DEADLINE)
    assert [str(e) for e in errors] == ["the test host stopped while the call ran"]
    with pytest.raises(HostClosedError, match="the test host has stopped"):
        host.call_blocking(hosted.double, 1)


@pytest.mark.parametrize("silenced", [False, True])
def test_a_silenced_host_reports_no_call_that_ends(silenced: bool) -> None:
    hosted = HostThread()
    host = hosted.host
    assert host is not None
    started = threading.Event()
    reported: list[object] = []
    host.submit(hosted.hang, started, done=reported.append)
    assert started.wait(DEADLINE)
    if silenced:
        host.silence()  # at interpreter exit: waiting daemon threads must stay asleep
    hosted.stop()  # the host thread has ended: whatever it was to report, it has
    assert hosted.cancelled.is_set()  # the call was stopped with the host either way
    assert len(reported) == (0 if silenced else 1)
