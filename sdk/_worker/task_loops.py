"""Task loops: the event loops a worker runs its ``async def`` task functions on.

Theory of operation. A worker actor's own Trio loop carries its link to the engine:
registration, heartbeats, deliveries and result reports. Task code must not be able to
stall that link: an ``async def`` task that blocks (a ``time.sleep``, a synchronous
HTTP call, a long computation) would otherwise stop the heartbeats, and the engine
would give the worker up for dead and run its tasks elsewhere, again and again. So a
worker (``threads=True``, every real worker) runs its async task functions on a *task
loop*: a thread of its own running a separate Trio run (``async_backend="trio"``, the
default) or a plain asyncio event loop (``async_backend="asyncio"``).

Why not trio-asyncio, which would let asyncio tasks run on the worker's own loop:
importing it installs an asyncio event-loop policy for the whole process, so every
later ``asyncio.run`` of the application (a FastAPI app embedding an engine, say) would
get a trio-asyncio loop, and Trio code called from such a loop breaks. A plain asyncio
loop in a thread changes nothing outside it, and asyncio tasks get exactly the asyncio
they were written for.

What each part of a task sees, and how it reaches the worker:

- Starting: :meth:`TaskLoop.start_attempt` hands the function to the loop's thread
  (thread-safe, non-blocking) with :data:`~ratchet._worker.spawn.current_context` set to the
  attempt's context; the outcome comes back to the worker's loop, whose
  :meth:`AttemptOnLoop.wait` returns it. The worker waits without holding a thread.
- Cancellation: the worker's :class:`~ratchet._worker.executor.AttemptControl` cancels the
  attempt on its loop: a Trio task gets ``trio.Cancelled`` at its next checkpoint (its
  attempt runs in a cancel scope of its own), an asyncio task ``CancelledError``; the
  execution timeout works the same way. The attempt ends when the function returns, as
  before. Task code's own cancel scopes and task groups are untouched: they live on the
  task loop, inside the attempt's scope.
- Calls back (``ctx.log``, ``refresh_timeout``, ``release_slot``, ``cancel``) hop to the
  worker's loop without waiting; durable calls (``DurableContext``) are awaited across
  with :class:`~ratchet._hop.TrioHost`; child runs (``aio_run``, ``aio_run_many``) go
  through the client's connection, which takes calls from any loop. So durable tasks
  and child spawning work on both backends.
- Blocking: the worker pings each task loop; a loop that has not answered for
  :data:`BLOCKED_AFTER` seconds is reported (logger ``ratchet.worker``) with the task
  whose code holds it, found on the loop thread's stack (:func:`sys._current_frames`),
  and again when it answers. One task that blocks still holds up the other async tasks
  of its loop (that is what blocking an event loop means), never the worker.

The simulation runs workers without threads (``WorkerConfig.threads=False``): there is
no task loop, async task functions run inline on the worker's loop as they always did,
and a simulated run stays single-threaded and exactly reproducible.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import FrameType
from typing import Any

import outcome
import trio

from .._hop import HostClosedError, TrioHost
from .context import Context
from .spawn import current_context

__all__ = ["BLOCKED_AFTER", "AsyncioTaskLoop", "AttemptOnLoop", "TaskLoop", "TrioTaskLoop", "task_loop"]

BLOCKED_AFTER = 1.0
"""Seconds a task loop may go without answering the worker's ping before it is reported."""


class AttemptOnLoop:
    """One attempt of an async task function on a task loop, as the worker sees it.

    Created and waited for on the worker's loop; :meth:`cancel` may be called from there.
    """

    def __init__(self, loop: TaskLoop, fn: Callable[..., Any], value: Any, ctx: Context) -> None:
        self.loop = loop
        self.fn = fn
        self.value = value
        self.ctx = ctx
        self.cancel_requested = False
        self.frame: FrameType | None = None  # the task function's frame, while it runs
        self._finished = trio.Event()
        self._outcome: outcome.Outcome | None = None

    def label(self) -> str:
        """Which task and attempt this is, for messages."""
        ctx = self.ctx
        return (
            f"task {ctx.workflow_name}.{ctx.task_name} "
            f"(run {ctx.workflow_run_id}, attempt {ctx.attempt_number})"
        )

    def cancel(self) -> None:
        """Cancel the attempt on its loop (once; later calls do nothing)."""
        if not self.cancel_requested:
            self.cancel_requested = True
            self.loop._cancel(self)

    async def wait(self) -> outcome.Outcome:
        """The attempt's outcome once the function ended: its value or its exception.

        A cancellation the attempt honoured is ``Value(None)`` (the worker knows it
        cancelled it). If the worker itself is cancelled meanwhile (it stops), the
        attempt is cancelled too and this raises ``trio.Cancelled``.
        """
        try:
            await self._finished.wait()
        except trio.Cancelled:
            self.cancel()
            raise
        assert self._outcome is not None
        return self._outcome

    def _settle(self, result: outcome.Outcome) -> None:
        """Called on the task loop's thread when the function ended."""
        self.frame = None
        if isinstance(result, outcome.Error) and _is_cancellation(result.error):
            if self.cancel_requested:
                result = outcome.Value(None)  # the cancellation the worker asked for
            else:
                # The loop stopped under the attempt, or task code raised a cancellation of
                # its own. A loop's Cancelled must not reach the worker's loop, where it
                # would look like the worker's own cancellation.
                result = outcome.Error(
                    RuntimeError(
                        f"{self.label()} was cancelled on its event loop without the worker asking: "
                        f"its task loop stopped, or its code raised {type(result.error).__name__}"
                    )
                )

        def arrived() -> None:
            self.loop._running.discard(self)
            self._outcome = result
            self._finished.set()

        try:
            self.loop.worker.run_sync_soon(arrived)
        except HostClosedError:
            pass  # the worker is gone; nobody waits for this outcome


def _is_cancellation(exc: BaseException) -> bool:
    if isinstance(exc, trio.Cancelled | asyncio.CancelledError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return exc.split((trio.Cancelled, asyncio.CancelledError))[1] is None
    return False


def _start_coroutine(attempt: AttemptOnLoop) -> Any:
    """Call the task function (on the loop's thread), keeping its frame for the watchdog."""
    coro = attempt.fn(attempt.value, attempt.ctx)
    attempt.frame = getattr(coro, "cr_frame", None)
    return coro


class TaskLoop(ABC):
    """A thread running an event loop for a worker's async task functions.

    Args:
        worker_name: the worker's name, for the thread's name and messages.
        worker: the worker's loop, where outcomes and pings are reported.
    """

    backend: str

    def __init__(self, worker_name: str, worker: TrioHost) -> None:
        self.worker_name = worker_name
        self.worker = worker
        self._running: set[AttemptOnLoop] = set()
        self._thread: threading.Thread | None = None

    @property
    def thread_name(self) -> str:
        return f"ratchet-tasks-{self.backend}:{self.worker_name}"

    @abstractmethod
    async def start(self) -> None:
        """Start the thread; return once it accepts attempts."""

    @abstractmethod
    def stop(self) -> None:
        """Cancel what runs on the loop and let the thread end (does not wait for it)."""

    @abstractmethod
    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` on the loop's thread (from any thread, without waiting)."""

    @abstractmethod
    def _begin(self, attempt: AttemptOnLoop) -> None:
        """On the loop's thread: start running ``attempt``."""

    @abstractmethod
    def _cancel(self, attempt: AttemptOnLoop) -> None:
        """Ask the loop to cancel ``attempt`` (from the worker's thread)."""

    def start_attempt(self, fn: Callable[..., Any], value: Any, ctx: Context) -> AttemptOnLoop:
        """Run ``await fn(value, ctx)`` on the loop; wait for it with :meth:`AttemptOnLoop.wait`."""
        attempt = AttemptOnLoop(self, fn, value, ctx)
        self._running.add(attempt)
        self.call_soon(self._begin, attempt)
        return attempt

    def blocker(self) -> str:
        """What holds the loop's thread now: the attempt whose code is on its stack."""
        thread = self._thread
        frame = sys._current_frames().get(thread.ident) if thread and thread.ident else None
        running = {id(a.frame): a for a in list(self._running) if a.frame is not None}
        while frame is not None:
            attempt = running.get(id(frame))
            if attempt is not None and attempt.frame is frame:
                code = frame.f_code
                return f"{attempt.label()} at {code.co_filename}:{frame.f_lineno} in {code.co_name}"
            frame = frame.f_back
        labels = sorted(a.label() for a in list(self._running))
        return "code outside any task attempt" + (f" (running: {', '.join(labels)})" if labels else "")


class TrioTaskLoop(TaskLoop):
    """A separate Trio run in a thread, for Trio task functions."""

    backend = "trio"

    def __init__(self, worker_name: str, worker: TrioHost) -> None:
        super().__init__(worker_name, worker)
        self._host: TrioHost | None = None
        self._nursery: trio.Nursery | None = None
        self._stop: trio.Event | None = None
        self._scopes: dict[AttemptOnLoop, trio.CancelScope] = {}

    async def start(self) -> None:
        ready = trio.Event()
        self._thread = threading.Thread(
            target=trio.run, args=(self._main, ready), name=self.thread_name, daemon=True
        )
        self._thread.start()
        await ready.wait()

    async def _main(self, ready: trio.Event) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._stop = trio.Event()
            token = trio.lowlevel.current_trio_token()
            self._host = TrioHost(f"the task loop of worker {self.worker_name!r}", token, nursery.start_soon)
            self.worker.run_sync_soon(ready.set)
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    def stop(self) -> None:
        host, stop = self._host, self._stop
        if host is not None and stop is not None:
            try:
                host.run_sync_soon(stop.set)
            except HostClosedError:
                pass

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._host is not None, "start() the task loop first"
        self._host.run_sync_soon(fn, *args)

    def _begin(self, attempt: AttemptOnLoop) -> None:
        scope = self._scopes[attempt] = trio.CancelScope()
        if attempt.cancel_requested:
            scope.cancel()
        assert self._nursery is not None
        self._nursery.start_soon(self._run, attempt, scope)

    async def _run(self, attempt: AttemptOnLoop, scope: trio.CancelScope) -> None:
        current_context.set(attempt.ctx)  # this task's own context: runs started here are children
        result: outcome.Outcome = outcome.Error(HostClosedError("the attempt never started"))
        try:
            with scope:
                try:
                    result = outcome.Value(await _start_coroutine(attempt))
                except BaseException as exc:  # every ending is the attempt's outcome, reported below
                    result = outcome.Error(exc)
        finally:
            self._scopes.pop(attempt, None)
            attempt._settle(result)

    def _cancel(self, attempt: AttemptOnLoop) -> None:
        def cancel() -> None:
            scope = self._scopes.get(attempt)
            if scope is not None:
                scope.cancel()

        try:
            self.call_soon(cancel)
        except HostClosedError:
            pass  # the loop stopped: nothing runs there any more


class AsyncioTaskLoop(TaskLoop):
    """A plain asyncio event loop in a thread, for asyncio task functions."""

    backend = "asyncio"

    def __init__(self, worker_name: str, worker: TrioHost) -> None:
        super().__init__(worker_name, worker)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: dict[AttemptOnLoop, asyncio.Task[Any]] = {}

    async def start(self) -> None:
        ready = trio.Event()
        self._thread = threading.Thread(target=self._main, args=(ready,), name=self.thread_name, daemon=True)
        self._thread.start()
        await ready.wait()

    def _main(self, ready: trio.Event) -> None:
        # Made on its own thread, by the application's event-loop policy (uvloop, if it
        # installed that): the loop asyncio code would get anywhere else in the process.
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.call_soon(self.worker.run_sync_soon, ready.set)
            loop.run_forever()
            # stopped: cancel what still runs and let it unwind, then close
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def stop(self) -> None:
        try:
            self.call_soon(self._stop_loop)
        except HostClosedError:
            pass  # closed already

    def _stop_loop(self) -> None:
        assert self._loop is not None
        self._loop.stop()

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._loop is not None, "start() the task loop first"
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            raise HostClosedError(f"the task loop of worker {self.worker_name!r} has stopped") from None

    def _begin(self, attempt: AttemptOnLoop) -> None:
        context = contextvars.copy_context()
        context.run(current_context.set, attempt.ctx)  # runs started from the task are its children
        assert self._loop is not None
        task = self._loop.create_task(self._run(attempt), context=context)
        self._tasks[attempt] = task
        if attempt.cancel_requested:
            task.cancel()
        task.add_done_callback(lambda done: self._ended(attempt, done))

    async def _run(self, attempt: AttemptOnLoop) -> outcome.Outcome:
        try:
            return outcome.Value(await _start_coroutine(attempt))
        except BaseException as exc:  # every ending is the attempt's outcome (SystemExit too)
            return outcome.Error(exc)

    def _ended(self, attempt: AttemptOnLoop, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(attempt, None)
        if task.cancelled():  # cancelled before the function began
            attempt._settle(outcome.Error(asyncio.CancelledError()))
        else:
            attempt._settle(task.result())

    def _cancel(self, attempt: AttemptOnLoop) -> None:
        def cancel() -> None:
            task = self._tasks.get(attempt)
            if task is not None:
                task.cancel()

        try:
            self.call_soon(cancel)
        except HostClosedError:
            pass


def task_loop(backend: str, worker_name: str, worker: TrioHost) -> TaskLoop:
    """A task loop for ``backend`` (``"trio"`` or ``"asyncio"``); :meth:`TaskLoop.start` it."""
    if backend == "asyncio":
        return AsyncioTaskLoop(worker_name, worker)
    return TrioTaskLoop(worker_name, worker)
