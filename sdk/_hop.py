"""Calls into a Trio run from other threads and their event loops, without blocking a loop.

Theory of operation. A :class:`TrioHost` is a Trio run (the client's portal, a worker's
actor loop, a task loop) that takes work from other threads. :meth:`TrioHost.submit`
hands it an async function through ``TrioToken.run_sync_soon`` (thread-safe, never
blocks), runs it in a cancel scope of its own, and calls ``done(outcome)`` on the host's
thread when it ends. The caller waits in whatever way fits where it is:

- :meth:`TrioHost.call` from async code: inside the host itself it just awaits; from
  another Trio run it waits on a :class:`trio.Event` that the host sets through the
  caller's token; from asyncio, on a future the host completes with
  ``loop.call_soon_threadsafe``. No thread is held while waiting, so thousands of
  concurrent waits (``aio_result`` in a web server) cost nothing but memory.
- :meth:`TrioHost.call_blocking` from a plain thread: waits on a queue.

Cancelling the waiting caller cancels the job on the host (through the host's token);
the caller does not wait for that to finish. A job the host stops under its caller
(the host is closing) ends with :class:`HostClosedError`, unless the host was
:meth:`silenced <TrioHost.silence>` first (at interpreter exit).
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Awaitable, Callable
from typing import Any

import outcome
import sniffio
import trio

__all__ = ["HostClosedError", "Job", "TrioHost", "running_event_loop"]


class HostClosedError(RuntimeError):
    """The Trio run a call was sent to stopped before the call finished, or had stopped already."""


def running_event_loop() -> str | None:
    """The event loop running in this thread (``"trio"`` or ``"asyncio"``), or None."""
    if trio.lowlevel.in_trio_run():
        return "trio"
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return None
    return "asyncio"


class Job:
    """One async call running on a host; :meth:`cancel` stops it from any thread."""

    __slots__ = ("_done", "_host", "afn", "args", "scope")

    def __init__(
        self, host: TrioHost, afn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], done: Any
    ) -> None:
        self._host = host
        self._done: Callable[[outcome.Outcome], None] = done
        self.afn = afn
        self.args = args
        self.scope = trio.CancelScope()

    def cancel(self) -> None:
        """Cancel the call (safe from any thread, and after it ended)."""
        try:
            self._host.run_sync_soon(self.scope.cancel)
        except HostClosedError:
            pass  # the host stopped: the call stopped with it

    async def _run(self) -> None:
        with self.scope:
            result = await outcome.acapture(self.afn, *self.args)
        if isinstance(result, outcome.Error) and _is_cancellation(result.error):
            # The host cancelled it (closing) or the caller gave up: a Cancelled must not
            # travel to another run, where it would mean nothing.
            result = outcome.Error(HostClosedError(f"{self._host.name} stopped while the call ran"))
        if not self._host.silenced:
            self._done(result)


def _is_cancellation(exc: BaseException) -> bool:
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(trio.Cancelled)[1] is None
    return False


class TrioHost:
    """A Trio run that takes calls from other threads; see the module docstring.

    Args:
        name: says which run this is in error messages ("the Ratchet client", ...).
        token: the run's token.
        start_soon: starts a background task in the run (called on the run's thread).
    """

    def __init__(self, name: str, token: trio.lowlevel.TrioToken, start_soon: Callable[[Any], None]) -> None:
        self.name = name
        self.token = token
        self.silenced = False
        self._start_soon = start_soon

    def silence(self) -> None:
        """From now on, calls that end are reported to nobody: their callers keep waiting.

        For interpreter exit: daemon threads still waiting on a host that is being shut
        down must not wake up into it (and print errors) while the interpreter finishes.
        """
        self.silenced = True

    @property
    def here(self) -> bool:
        """Whether the calling code runs inside this host's Trio run."""
        try:
            return trio.lowlevel.current_trio_token() is self.token
        except RuntimeError:
            return False

    def run_sync_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` on the host's thread: now if already there, else soon.

        Raises:
            HostClosedError: the host's run has ended.
        """
        if self.here:
            fn(*args)
            return
        try:
            self.token.run_sync_soon(fn, *args)
        except trio.RunFinishedError:
            raise HostClosedError(f"{self.name} has stopped") from None

    def submit(
        self, afn: Callable[..., Awaitable[Any]], *args: Any, done: Callable[[outcome.Outcome], None]
    ) -> Job:
        """Run ``await afn(*args)`` on the host; ``done(outcome)`` is called there when it ends.

        Raises:
            HostClosedError: the host's run has ended (``done`` is not called).
        """
        job = Job(self, afn, args, done)
        self.run_sync_soon(self._start_soon, job._run)
        return job

    async def call(self, afn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """``await afn(*args)`` on the host, from async code on any Trio run or asyncio loop."""
        if self.here:
            return await afn(*args)
        library = sniffio.current_async_library()
        if library == "trio":
            return await self._call_from_trio(afn, args)
        if library == "asyncio":
            return await self._call_from_asyncio(afn, args)
        raise RuntimeError(f"{self.name} is reached from Trio or asyncio, not from {library!r}")

    async def _call_from_trio(self, afn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> Any:
        caller = trio.lowlevel.current_trio_token()
        finished = trio.Event()
        results: list[outcome.Outcome] = []

        def arrived(result: outcome.Outcome) -> None:
            results.append(result)
            finished.set()

        def done(result: outcome.Outcome) -> None:  # on the host's thread
            try:
                caller.run_sync_soon(arrived, result)
            except trio.RunFinishedError:
                pass  # the caller's run ended meanwhile: nobody waits

        job = self.submit(afn, *args, done=done)
        try:
            await finished.wait()
        except trio.Cancelled:
            job.cancel()
            raise
        return results[0].unwrap()

    async def _call_from_asyncio(self, afn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[outcome.Outcome] = loop.create_future()

        def arrived(result: outcome.Outcome) -> None:
            if not future.done():
                future.set_result(result)

        def done(result: outcome.Outcome) -> None:  # on the host's thread
            try:
                loop.call_soon_threadsafe(arrived, result)
            except RuntimeError:
                pass  # the caller's loop closed meanwhile: nobody waits

        job = self.submit(afn, *args, done=done)
        try:
            result = await future
        except asyncio.CancelledError:
            job.cancel()
            raise
        return result.unwrap()

    def call_blocking(
        self, afn: Callable[..., Awaitable[Any]], *args: Any, deliver: Callable[[], bool] = lambda: True
    ) -> Any:
        """``await afn(*args)`` on the host, from a thread that runs no event loop.

        Args:
            deliver: asked on the host's thread when the call ends; False keeps the
                result from the waiting thread, which then waits forever (for daemon
                threads at interpreter exit, which must not wake into a closing client).
        """
        answers: queue.SimpleQueue[outcome.Outcome] = queue.SimpleQueue()

        def done(result: outcome.Outcome) -> None:
            if deliver():
                answers.put(result)

        job = self.submit(afn, *args, done=done)
        try:
            result = answers.get()
        except BaseException:  # KeyboardInterrupt in the main thread
            job.cancel()
            raise
        return result.unwrap()
