"""What a run's transition writes to the store: its facts, turned into store mutations.

Theory of operation. The run machine (:mod:`ratchet.actors.runs._machine`) reports what
an event did as typed facts: one :class:`~ratchet.actors.runs._machine.TaskChanged` per
task whose status or attempt moved, with its event kind already decided, and a
:class:`~ratchet.actors.runs._machine.RunChanged` when the run's status moved.
:func:`mutations_for` maps them one to one onto fenced
:class:`~ratchet.actors.store.TransitionTask` and :class:`~ratchet.actors.store.SetRunStatus`
mutations. It decides nothing about meaning (no message is read here); it only translates
the machine's numbering and values into the store's: the store keeps a PENDING task's
next attempt, errors as JSON, and retry due times as wall-clock instants.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..store import SetRunStatus, TransitionTask
from . import _machine as m

__all__ = ["StoredRun", "error_from_json", "error_json", "mutations_for"]


class StoredRun(Protocol):
    """The identity of a run as the store knows it."""

    @property
    def tenant_id(self) -> str: ...

    @property
    def run_id(self) -> str: ...

    @property
    def task_ids(self) -> Mapping[str, str]: ...


def mutations_for(
    run: StoredRun, changes: Sequence[m.Command], now: float
) -> list[TransitionTask | SetRunStatus]:
    """The store mutations that record ``changes`` (other commands are passed over).

    Args:
        run: the run the changes belong to.
        changes: an event's commands as :func:`~ratchet.actors.runs._machine.apply`
            returned them; only its facts are read.
        now: the wall-clock time of the transition.
    """
    mutations: list[TransitionTask | SetRunStatus] = []
    for change in changes:
        if isinstance(change, m.TaskChanged):
            mutations.append(task_transition(run, change, now))
        elif isinstance(change, m.RunChanged):
            mutations.append(run_status(run, change, now))
    return mutations


def task_transition(run: StoredRun, change: m.TaskChanged, now: float) -> TransitionTask:
    """The fenced move of one task, with its timeline entry."""
    attempt = m.recorded_attempt(change.from_status, change.from_attempt)
    new_attempt: int | None = None
    if change.to_status is m.TaskStatus.PENDING:  # replayed: its next attempt waits for its parents
        new_attempt = change.attempt + 1
    elif change.new_attempt:
        new_attempt = change.attempt
    values: dict[str, Any] = {}
    if change.to_status is m.TaskStatus.COMPLETED:
        values["output"] = change.output
    if change.error is not None and (change.to_status is m.TaskStatus.FAILED or new_attempt is not None):
        values["error"] = error_json(change.error)
    if change.to_status is m.TaskStatus.RUNNING and change.worker is not None:
        values["worker_id"] = change.worker
    if new_attempt is not None:
        values["clear_worker"] = True
        values["retry_count"] = change.retry_count
        values["internal_retry_count"] = change.internal_retries
        values["timeout_at"] = None if change.retry_delay is None else now + change.retry_delay
    return TransitionTask(
        tenant_id=run.tenant_id,
        task_id=run.task_ids[change.task],
        run_id=run.run_id,
        attempt=attempt,
        to_status=change.to_status,
        event=change.kind,
        at=now,
        from_statuses=(change.from_status,),
        new_attempt=new_attempt,
        message=change.detail or None,
        attempt_outcome=change.outcome,
        **values,
    )


def run_status(run: StoredRun, change: m.RunChanged, now: float) -> SetRunStatus:
    """The run's new status; a replay reopens a finished run (fenced on its old status)."""
    extra: dict[str, Any] = {}
    if change.from_status.is_terminal:
        extra["from_statuses"] = (change.from_status,)
        extra["reopen"] = True
    return SetRunStatus(
        tenant_id=run.tenant_id,
        run_id=run.run_id,
        status=change.to_status,
        at=now,
        error=change.error,
        **extra,
    )


def error_json(error: m.ErrorInfo) -> str:
    """A task error as the store keeps it."""
    return json.dumps({"type": error.type, "message": error.message, "traceback": error.traceback})


def error_from_json(text: str | None) -> m.ErrorInfo | None:
    """A stored task error (None for none; a text that is not JSON becomes its message)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        return m.ErrorInfo(str(data["type"]), str(data["message"]), str(data.get("traceback", "")))
    except (ValueError, KeyError, TypeError):
        return m.ErrorInfo("Error", text)
