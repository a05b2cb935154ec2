"""The errors a Ratchet user meets: in task code, in declarations, and from runs."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "DefinitionError",
    "FailedTaskRunExceptionGroup",
    "NonDeterminismError",
    "NonRetryableException",
    "TaskRunError",
]


class DefinitionError(ValueError):
    """A task or workflow declaration is invalid (cycle, unknown parent, bad option, ...)."""


class NonRetryableException(Exception):
    """Raise from a task to fail it at once, skipping any retries it has left."""


class NonDeterminismError(NonRetryableException):
    """A durable task's replay made a different call than its log holds at that position.

    The message names the entry. Retrying would diverge again, so it is not retried.
    """


class TaskRunError(Exception):
    """One task's failure, as recorded by the engine.

    Attributes:
        task_name: the task that failed.
        task_run_id: the id of the failed task run.
        exc_type: the qualified name of the exception the task raised.
        message: its message.
        traceback_text: the traceback as the worker formatted it.
    """

    def __init__(
        self, task_name: str, task_run_id: str, exc_type: str, message: str, traceback_text: str = ""
    ) -> None:
        self.task_name = task_name
        self.task_run_id = task_run_id
        self.exc_type = exc_type
        self.message = message
        self.traceback_text = traceback_text
        super().__init__(task_name, task_run_id, exc_type, message, traceback_text)

    def __str__(self) -> str:
        return f"task {self.task_name!r} failed with {self.exc_type}: {self.message}"

    def __reduce__(self) -> tuple[type, tuple[str, str, str, str, str]]:
        return (
            type(self),
            (self.task_name, self.task_run_id, self.exc_type, self.message, self.traceback_text),
        )


class FailedTaskRunExceptionGroup(ExceptionGroup):
    """A run failed: one :class:`TaskRunError` per failed task."""

    def __new__(cls, message: str, errors: Sequence[TaskRunError]) -> FailedTaskRunExceptionGroup:
        return super().__new__(cls, message, list(errors))

    def derive(self, excs: Sequence[Exception]) -> FailedTaskRunExceptionGroup:  # type: ignore[override]
        return FailedTaskRunExceptionGroup(self.message, excs)  # type: ignore[arg-type]
