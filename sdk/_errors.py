"""The errors a Ratchet user meets: in task code, in declarations, and from runs.

They are public under ``ratchet`` (``ratchet/__init__`` gives each public exception that
module, so tracebacks and pickles name ``ratchet.TaskRunError``, not this private module).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "AuthenticationError",
    "DefinitionError",
    "EngineUnreachableError",
    "FailedTaskRunExceptionGroup",
    "NonDeterminismError",
    "NonRetryableException",
    "PermissionDeniedError",
    "RunCancelledError",
    "TaskRunError",
    "TenantLimitError",
]


class DefinitionError(ValueError):
    """A task or workflow declaration is invalid (cycle, unknown parent, bad option, ...)."""


class EngineUnreachableError(ConnectionError):
    """The client kept trying to reach its engine for ``reconnect_timeout`` and could not.

    Raised by any call that needs the engine, instead of waiting for it forever. A wait
    the engine is answering (``run``, ``result``) is not bounded by it: only the time
    the engine stays out of reach is.

    Attributes:
        address: the engine's address, as the client dials it.
        seconds: how long the client tried.
        call: the engine call that gave up (``wait_run``, ``trigger``, ...).
    """

    def __init__(self, address: str, seconds: float, call: str) -> None:
        self.address = address
        self.seconds = seconds
        self.call = call
        super().__init__(
            f"could not reach the Ratchet engine at {address} for {seconds:g}s (calling {call!r}); "
            f"check that the engine is running and listening there (ratchet engine --listen {address}), "
            "that RATCHET_ENGINE (or Ratchet(engine=...)) names that address, and that this process "
            "can reach it; Ratchet(reconnect_timeout=...) sets how long a call keeps trying"
        )

    def __reduce__(self) -> tuple[type, tuple[str, float, str]]:
        return (type(self), (self.address, self.seconds, self.call))


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
    """A run failed: one :class:`TaskRunError` per failed task.

    Attributes:
        run_id: the run that failed (None if unknown); kept by ``split``, ``subgroup``
            and pickling (as an instance attribute, pickled with the exception's state).
    """

    run_id: str | None

    def __new__(
        cls, message: str, errors: Sequence[TaskRunError], *, run_id: str | None = None
    ) -> FailedTaskRunExceptionGroup:
        self = super().__new__(cls, message, list(errors))
        self.run_id = run_id
        return self

    def __init__(self, message: str, errors: Sequence[TaskRunError], *, run_id: str | None = None) -> None:
        super().__init__(message, list(errors))

    # (ignored below: narrows ExceptionGroup.derive to this group type, as the stdlib docs advise)
    def derive(self, excs: Sequence[Exception]) -> FailedTaskRunExceptionGroup:  # type: ignore[override]
        # (ignored below: the group holds only TaskRunErrors)
        return FailedTaskRunExceptionGroup(self.message, excs, run_id=self.run_id)  # type: ignore[arg-type]


class RunCancelledError(Exception):
    """The run was cancelled before it could produce a result.

    Attributes:
        run_id: the cancelled run.
        reason: why, as the engine recorded it: ``"cancelled by request"`` (``runs.cancel``,
            ``ctx.cancel``), a task's schedule timeout or ``cancel_if``, a concurrency
            group's CANCEL_IN_PROGRESS or CANCEL_NEWEST; None if the engine recorded none.
    """

    def __init__(self, run_id: str, reason: str | None = None) -> None:
        self.run_id = run_id
        self.reason = reason
        super().__init__(f"run {run_id} was cancelled" + (f": {reason}" if reason else ""))

    def __reduce__(self) -> tuple[type, tuple[str, str | None]]:
        return (type(self), (self.run_id, self.reason))


class AuthenticationError(Exception):
    """A request came without a valid API token: none, malformed, wrongly signed, expired or revoked.

    The message says which, and never echoes the token.
    """


class PermissionDeniedError(Exception):
    """The request's token is valid, but its role may not do this (a viewer triggering a run, ...).

    Attributes:
        role: the token's role.
        needed: the least role that may.
    """

    def __init__(self, message: str, role: str = "", needed: str = "") -> None:
        self.role = role
        self.needed = needed
        super().__init__(message)

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        return (type(self), (str(self), self.role, self.needed))


# The tail every TenantLimitError message ends with: across a process boundary only an
# error's message travels, so the attributes ride in it, written and read by the class.
_LIMIT_TAIL = re.compile(r" \[limit=(?P<limit>[a-z_]+) value=(?P<value>\S+) retry_after=(?P<retry>\S+)\]$")


class TenantLimitError(Exception):
    """The tenant is over one of its limits (runs a second, queued tasks, workers, ...).

    Nothing was done: no run, event or worker was written for the refused request, and
    the tenant's other requests and other tenants are unaffected. Over HTTP it is a 429
    with a ``Retry-After`` header when waiting helps.

    Attributes:
        limit: which limit (``runs_per_second``, ``events_per_second``,
            ``webhook_calls_per_second``, ``max_queued_tasks``, ``max_workers``,
            ``max_payload_bytes``).
        value: that limit's value for the tenant.
        retry_after: seconds after which the same request would be admitted, if nothing
            else takes the room first; None when waiting alone does not help (a count
            that only falls as work finishes, or a batch bigger than the limit allows).
    """

    def __init__(
        self, message: str, limit: str = "", value: float | None = None, retry_after: float | None = None
    ) -> None:
        self.limit = limit
        self.value = value
        self.retry_after = retry_after
        if limit and not _LIMIT_TAIL.search(message):
            shown = "none" if value is None else repr(value)
            retry = "none" if retry_after is None else repr(retry_after)
            message = f"{message} [limit={limit} value={shown} retry_after={retry}]"
        super().__init__(message)

    @classmethod
    def from_message(cls, message: str) -> TenantLimitError:
        """The error whose ``str()`` is ``message`` (as it crossed the wire), attributes read back."""
        found = _LIMIT_TAIL.search(message)
        if found is None:
            return cls(message)
        value = None if found["value"] == "none" else float(found["value"])
        retry = None if found["retry"] == "none" else float(found["retry"])
        return cls(message, found["limit"], value, retry)

    def __reduce__(self) -> tuple[type, tuple[str, str, float | None, float | None]]:
        return (type(self), (str(self), self.limit, self.value, self.retry_after))
