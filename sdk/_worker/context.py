"""The ``Context`` a task function receives: its run, its parents' outputs, its controls.

A context is built by the worker for one attempt. What it reports back (log lines,
a request to cancel the run, a refreshed timeout, an early slot release) goes through a
:class:`WorkerLink`, which the worker implements over the wire and tests implement in
memory. Cancellation reaches task code in two ways: async functions run inside a Trio
cancel scope that the worker cancels; sync functions (running in a thread) poll
:attr:`Context.is_cancelled`, or use :meth:`Context.check_cancelled`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .._errors import TaskRunError

__all__ = ["AttemptInfo", "Context", "TaskCancelledError", "WorkerLink"]


class TaskCancelledError(Exception):
    """Raised by :meth:`Context.check_cancelled` in a sync task whose attempt was cancelled."""


class WorkerLink(Protocol):
    """What a context needs from its worker."""

    def log(self, info: AttemptInfo, line: str, level: str) -> None: ...

    def cancel_run(self, run_id: str) -> None: ...

    def refresh_timeout(self, info: AttemptInfo, seconds: float) -> None: ...

    def release_slot(self, info: AttemptInfo) -> None: ...


@dataclass(frozen=True)
class AttemptInfo:
    """Who this attempt is: the data an assignment carries besides the input."""

    run_id: str
    task_run_id: str
    workflow: str
    task: str
    attempt: int
    retry_count: int = 0
    parent_outputs: Mapping[str, Any] = field(default_factory=dict)
    additional_metadata: Mapping[str, Any] = field(default_factory=dict)
    failed_tasks: tuple[TaskRunError, ...] = ()
    filter_payload: Any = None


class Context:
    """What a task function receives as ``ctx``.

    Attributes:
        workflow_run_id: the run this task belongs to.
        task_run_id: this task's id within the run.
        retry_count: retries so far (0 on the first attempt).
        attempt_number: 1 on the first attempt, then 2, 3, ...
        additional_metadata: the run's metadata, as given when it was triggered.
        filter_payload: for a run an event started through a filter, that filter's payload.
    """

    def __init__(self, info: AttemptInfo, link: WorkerLink) -> None:
        self._info = info
        self._link = link
        self._cancelled = threading.Event()
        self._superseded = False
        self._timeout_listeners: list[Any] = []
        self.workflow_run_id = info.run_id
        self.task_run_id = info.task_run_id
        self.retry_count = info.retry_count
        self.attempt_number = info.attempt
        self.additional_metadata: dict[str, Any] = dict(info.additional_metadata)
        self.filter_payload: Any = info.filter_payload
        self._spawned = 0

    def _next_spawn_index(self) -> int:
        """The index of the next child run this attempt spawns (0, 1, 2, ...)."""
        index = self._spawned
        self._spawned += 1
        return index

    @property
    def task_name(self) -> str:
        return self._info.task

    @property
    def workflow_name(self) -> str:
        return self._info.workflow

    def task_output(self, task: Any) -> Any:
        """The output of a parent task (pass the task object or its name).

        Raises:
            ValueError: ``task`` is not a parent of this task, so its output is not here.
        """
        name = task if isinstance(task, str) else getattr(task, "name", None)
        outputs = self._info.parent_outputs
        if name is None or name not in outputs:
            raise ValueError(
                f"task {self._info.task!r} has no output of {name!r}: only the outputs of completed "
                f"upstream tasks are available ({sorted(outputs) or 'none'})"
            )
        return outputs[name]

    def was_skipped(self, task: Any) -> bool:
        """Whether an upstream task was skipped (by its ``skip_if`` conditions)."""
        name = task if isinstance(task, str) else getattr(task, "name", None)
        # (ignored below: a missing name (None) simply finds nothing)
        return self._info.parent_outputs.get(name) == {"skipped": True}  # type: ignore[arg-type]

    @property
    def task_run_errors(self) -> dict[str, TaskRunError]:
        """In an on-failure task: the failed tasks of the run, by task name."""
        return {e.task_name: e for e in self._info.failed_tasks}

    def fetch_task_run_error(self, task: Any) -> TaskRunError | None:
        """The failure of one task of the run (in an on-failure task), or None."""
        name = task if isinstance(task, str) else getattr(task, "name", None)
        # (ignored below: a missing name (None) simply finds nothing)
        return self.task_run_errors.get(name)  # type: ignore[arg-type]

    # -- cancellation ---------------------------------------------------------------------

    @property
    def is_cancelled(self) -> bool:
        """True once this attempt was cancelled (run cancelled, timeout, ...)."""
        return self._cancelled.is_set()

    def check_cancelled(self) -> None:
        """For sync tasks: raise :class:`TaskCancelledError` if the attempt was cancelled."""
        if self._cancelled.is_set():
            raise TaskCancelledError(f"task {self._info.task!r} of run {self._info.run_id!r} was cancelled")

    def _mark_cancelled(self) -> None:
        self._cancelled.set()

    @property
    def is_superseded(self) -> bool:
        """True once the engine gave this attempt to another worker.

        That happens when this attempt's worker could not be reached for longer than its
        session lasts (a frozen or cut-off process): the engine runs the task again
        elsewhere. The attempt is then cancelled too (:attr:`is_cancelled`), and whatever
        it returns is not recorded; the newer attempt's outcome counts.
        """
        return self._superseded

    def _mark_superseded(self) -> None:
        self._superseded = True

    def cancel(self) -> None:
        """Cancel this task's whole run (this attempt included)."""
        self._link.cancel_run(self._info.run_id)

    async def aio_cancel(self) -> None:
        """Cancel this task's whole run."""
        self.cancel()

    # -- reporting ------------------------------------------------------------------------

    def log(self, line: object, level: str = "info") -> None:
        """Attach a log line to this task run (shown with the run's details)."""
        self._link.log(self._info, str(line), level)

    def refresh_timeout(self, increment_by: float | str | Any) -> None:
        """Extend this attempt's execution timeout by ``increment_by`` from now."""
        from .._contract.durations import parse_duration

        seconds = parse_duration(increment_by, what="refresh_timeout")
        self._link.refresh_timeout(self._info, seconds)
        for listener in self._timeout_listeners:
            listener(seconds)

    def release_slot(self) -> None:
        """Give this task's worker slot back early (the task keeps running)."""
        self._link.release_slot(self._info)

    def __repr__(self) -> str:
        info = self._info
        return f"<Context {info.workflow}.{info.task} run={info.run_id} attempt={info.attempt}>"
