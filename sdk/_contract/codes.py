"""Codes that say why a task attempt failed, as a worker reports them to the engine.

A worker's report carries the exception's type name and message for people to read; when
the failure means something to the engine (it decides the timeline's event kind from it),
the report also carries a code from here. The engine matches codes, never sentences:
rewording a message changes no recorded timeline.
"""

from __future__ import annotations

import enum

__all__ = ["EXECUTION_TIMEOUT_MESSAGE", "TaskErrorCode"]


class TaskErrorCode(enum.StrEnum):
    """What a failed attempt's report means to the engine, whatever its message says."""

    #: the worker stopped the attempt when it ran past its execution timeout
    EXECUTION_TIMEOUT = "ExecutionTimeout"


EXECUTION_TIMEOUT_MESSAGE = "task exceeded its execution timeout of {timeout:g}s"
"""The message of an execution timeout (``TimeoutError``), whichever side noticed it first."""
