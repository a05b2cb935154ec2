"""Running one task attempt on a worker: the function, its timeout, its cancellation.

Two kinds of task function, one rule each:

- ``async def``: run on the worker's task loop (:mod:`ratchet._worker.task_loops`), a thread
  running Trio or, on an ``async_backend="asyncio"`` worker, a plain asyncio loop, so
  task code can never stall the worker's link to the engine. Cancelling the attempt
  cancels it there: ``trio.Cancelled`` or ``asyncio.CancelledError`` at its next
  checkpoint;
- plain ``def``: run in a worker thread (so it cannot block the worker's heartbeats);
  Python cannot interrupt a thread, so cancellation sets ``ctx.is_cancelled`` and the
  function should check it.

In a simulation (``threads=False``) both run inline on the worker's Trio loop, async
ones in a cancel scope that cancelling the attempt cancels: that keeps the simulation
single-threaded and exact.

The execution timeout is enforced here too (the engine enforces it authoritatively):
a watchdog cancels the attempt when it runs out, and ``ctx.refresh_timeout`` moves it.
The outcome is classified for the engine: completed with a JSON-safe output, failed
(retryable or not) with the exception's type, message and traceback, or cancelled.
"""

from __future__ import annotations

import logging
import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import trio

from .._contract.codes import EXECUTION_TIMEOUT_MESSAGE, TaskErrorCode
from .._contract.wire_values import bounded_text, qualified_name, safe_str, to_wire
from .._declare.validation import InputValidationError, InputValidator
from .._errors import NonRetryableException
from .context import Context, TaskCancelledError
from .durable_context import EvictedError
from .spawn import current_context
from .task_loops import AttemptOnLoop, TaskLoop

__all__ = ["AttemptControl", "TaskOutcome", "execute_attempt", "holds_cancellation"]

Status = Literal["completed", "failed", "cancelled", "evicted"]
log = logging.getLogger("ratchet.worker")

#: Longest exception message reported, in characters (a longer one keeps both ends).
MAX_ERROR_MESSAGE = 16_000
#: Longest traceback reported, in characters (a longer one keeps both ends).
MAX_TRACEBACK = 64_000


@dataclass(frozen=True)
class TaskOutcome:
    """How an attempt ended, as reported to the engine."""

    status: Status
    output: Any = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    retryable: bool = True
    evicted_at: int | None = None  # for "evicted": the log position of the call that waits
    error_code: TaskErrorCode | None = None  # what the failure means to the engine

    @classmethod
    def failure(cls, exc: BaseException, *, retryable: bool) -> TaskOutcome:
        """The outcome of an attempt that raised ``exc``; never raises itself.

        Whatever the exception does (a ``__str__`` that raises, a message of megabytes,
        a traceback thousands of frames long), the report is built: a text that cannot be
        read gets a stand-in, and a long one is cut down to both its ends.
        """
        return cls(
            "failed",
            error_type=qualified_name(type(exc)),
            error_message=bounded_text(safe_str(exc), MAX_ERROR_MESSAGE),
            traceback=bounded_text(_format_traceback(exc), MAX_TRACEBACK),
            retryable=retryable,
        )


def _format_traceback(exc: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(exc))
    except Exception as problem:  # formatting reads attributes an exception may have broken
        return f"(the traceback could not be formatted: {safe_str(problem)})"


def holds_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` is, or carries, Trio's cancellation of a scope around the attempt."""
    if isinstance(exc, trio.Cancelled):
        return True
    return isinstance(exc, BaseExceptionGroup) and exc.split(trio.Cancelled)[0] is not None


class AttemptControl:
    """The worker's handle on a running attempt: cancel it, or move its deadline."""

    def __init__(self, ctx: Context, timeout: float) -> None:
        self.ctx = ctx
        self.timeout = timeout
        self.cancel_reason: str | None = None
        self._scope = trio.CancelScope()
        self._watchdog = trio.CancelScope()
        self._on_loop: AttemptOnLoop | None = None  # set while it runs on a task loop
        self.timed_out = False

    def cancel(self, reason: str = "cancelled") -> None:
        """Cancel the attempt (safe to call more than once)."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self.ctx._mark_cancelled()
        if self._on_loop is not None:
            self._on_loop.cancel()  # the function stops there; the worker waits for it to end
        else:
            self._scope.cancel()

    def supersede(self) -> None:
        """The engine gave this attempt to another worker: cancel it, and tell its context."""
        self.ctx._mark_superseded()
        self.cancel("superseded: the engine gave this attempt to another worker while this one was away")

    def extend(self, seconds: float) -> None:
        """Set the deadline to ``seconds`` from now (on the worker's loop)."""
        self._watchdog.deadline = trio.current_time() + seconds


async def _on_task_loop(
    task_loop: TaskLoop, fn: Callable[..., Any], value: Any, control: AttemptControl
) -> Any:
    """Run ``fn`` on the worker's task loop and wait for it; its value, or its exception raised."""
    if control.cancel_reason is not None:  # cancelled before it started: it never does
        return None
    control._on_loop = task_loop.start_attempt(fn, value, control.ctx)
    return (await control._on_loop.wait()).unwrap()


async def execute_attempt(
    fn: Callable[..., Any],
    raw_input: Any,
    validator: InputValidator,
    control: AttemptControl,
    *,
    is_async: bool,
    threads: bool = True,
    task_loop: TaskLoop | None = None,
) -> TaskOutcome:
    """Run one attempt to its outcome; never raises for the task's own failures.

    Args:
        fn: the task function, called as ``fn(input, ctx)``.
        raw_input: the run's input as stored.
        validator: turns ``raw_input`` into what ``fn`` expects.
        control: cancellation and deadline of this attempt.
        is_async: ``fn`` is a coroutine function.
        threads: run sync functions in a thread (False only inside a simulation).
        task_loop: where async functions run (None: inline, inside a simulation).
    """
    ctx = control.ctx
    try:
        value = validator.validate(raw_input)
    except InputValidationError as exc:
        log.warning("%s: %s", _attempt_name(ctx), safe_str(exc))
        return TaskOutcome.failure(exc, retryable=False)

    worker_token = trio.lowlevel.current_trio_token()

    def on_refresh(seconds: float) -> None:
        try:
            here = trio.lowlevel.current_trio_token() is worker_token
        except RuntimeError:
            here = False
        if here:
            control.extend(seconds)
        else:  # from the task's thread or task loop: the deadline lives on the worker's loop
            worker_token.run_sync_soon(control.extend, seconds)

    ctx._timeout_listeners.append(on_refresh)
    result: Any = None
    error: BaseException | None = None
    evicted = False
    evicted_at: int | None = None
    async with trio.open_nursery() as nursery:
        control._watchdog.deadline = trio.current_time() + control.timeout

        async def watchdog() -> None:
            with control._watchdog:
                await trio.sleep_forever()
            if control._watchdog.deadline <= trio.current_time() and control.cancel_reason is None:
                control.timed_out = True
                control.cancel(f"execution timeout of {control.timeout:g}s")

        nursery.start_soon(watchdog)
        token = current_context.set(ctx)  # runs triggered from here are ctx's children
        # Whatever the function raises is its attempt's failure, BaseExceptions included
        # (SystemExit, KeyboardInterrupt, a group from its own nursery): nothing it does
        # may escape into the worker. Only Trio's cancellations pass: this attempt's
        # scope absorbs its own, and any other belongs to the worker, which is stopping.
        try:
            with control._scope:
                try:
                    if is_async and task_loop is not None:
                        result = await _on_task_loop(task_loop, fn, value, control)
                    elif is_async:
                        result = await fn(value, ctx)
                    elif threads:
                        result = await trio.to_thread.run_sync(fn, value, ctx, abandon_on_cancel=False)
                    else:
                        await trio.lowlevel.checkpoint()
                        result = fn(value, ctx)
                except EvictedError as exc:
                    evicted = True
                    evicted_at = exc.seq
        except BaseException as exc:
            if holds_cancellation(exc):
                raise
            error = exc
        finally:
            current_context.reset(token)
        control._watchdog.deadline = -math.inf
        nursery.cancel_scope.cancel()

    if evicted and control.cancel_reason is None:
        return TaskOutcome("evicted", evicted_at=evicted_at)
    if control.timed_out:
        return TaskOutcome(
            "failed",
            error_type="TimeoutError",
            error_message=EXECUTION_TIMEOUT_MESSAGE.format(timeout=control.timeout),
            retryable=True,
            error_code=TaskErrorCode.EXECUTION_TIMEOUT,
        )
    if control.cancel_reason is not None and (error is None or isinstance(error, TaskCancelledError)):
        return TaskOutcome("cancelled", error_message=control.cancel_reason)
    if error is not None:
        return TaskOutcome.failure(error, retryable=not isinstance(error, NonRetryableException))
    try:
        output = to_wire(result, f"the output of {_task_name(ctx)}")
    except TypeError as exc:
        # Retrying cannot help: the function would return the same kind of value again.
        log.error("%s: %s", _attempt_name(ctx), exc)
        return TaskOutcome.failure(exc, retryable=False)
    return TaskOutcome("completed", output=output)


def _task_name(ctx: Context) -> str:
    task, workflow = ctx.task_name, ctx.workflow_name
    return f"task {task!r}" if task == workflow else f"task {task!r} of workflow {workflow!r}"


def _attempt_name(ctx: Context) -> str:
    return f"{_task_name(ctx)}, run {ctx.workflow_run_id}, attempt {ctx.attempt_number}"
