"""The one set of named states: task, run, worker and schedule statuses, and task event kinds.

The run machine, the store, the gateway's views and :class:`ratchet.RunDetails` all use
these; no status is spelled as a string anywhere else. They are ``StrEnum``s, so they
cross the wire and enter the database as their plain names, and a user comparing
``details.status == "COMPLETED"`` still gets the answer they expect.
"""

from __future__ import annotations

import enum

__all__ = ["RunStatus", "ScheduleStatus", "TaskEventKind", "TaskStatus", "WorkerState", "WorkerStatus"]


class _Named(enum.StrEnum):
    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class TaskStatus(_Named):
    """Where a task is. PENDING waits for parents or conditions; the rest are Hatchet's."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EVICTED = "EVICTED"

    @property
    def is_terminal(self) -> bool:
        """COMPLETED, FAILED and CANCELLED end a task; EVICTED durable tasks come back."""
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class RunStatus(_Named):
    """Where a workflow run is; derived from its tasks by the engine."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


class TaskEventKind(_Named):
    """One entry of a task's timeline."""

    CREATED = "CREATED"
    QUEUED = "QUEUED"
    ASSIGNED = "ASSIGNED"
    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    RETRYING = "RETRYING"
    REASSIGNED = "REASSIGNED"
    TIMED_OUT = "TIMED_OUT"
    SCHEDULE_TIMED_OUT = "SCHEDULE_TIMED_OUT"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"
    EVICTED = "EVICTED"
    RESUMED = "RESUMED"


class WorkerStatus(_Named):
    """A worker's registration state."""

    ACTIVE = "ACTIVE"
    DRAINING = "DRAINING"
    STOPPED = "STOPPED"


class ScheduleStatus(_Named):
    """A one-time schedule: waiting, fired (with its run), or cancelled."""

    PENDING = "PENDING"
    FIRED = "FIRED"
    CANCELLED = "CANCELLED"


class WorkerState(_Named):
    """A worker as operators see it (Hatchet's worker statuses): connected and taking work,
    connected but paused (it finishes what it runs and takes nothing new), or gone."""

    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    INACTIVE = "INACTIVE"
