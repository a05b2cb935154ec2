"""Ratchet: a durable task queue and workflow engine for Python, built on a Trio actor runtime.

Declare work with a :class:`Ratchet` client (``ratchet.workflow(...)``,
``@ratchet.task(...)``), run it on workers, and trigger runs from your apps. The names
follow hatchet-sdk, so porting is a matter of imports.
"""

from typing import Any

from ._client import Ratchet as Ratchet
from ._client import Settings as Settings
from ._clients.run_filters import BulkCancelReplayOpts as BulkCancelReplayOpts
from ._clients.run_filters import RunFilter as RunFilter
from ._clients.runs import RunCancelledError as RunCancelledError
from ._clients.runs import RunDetails as RunDetails
from ._clients.runs import TaskRunDetails as TaskRunDetails
from ._clients.runs import TriggerWorkflowOptions as TriggerWorkflowOptions
from ._clients.runs import WorkflowRunRef as WorkflowRunRef
from ._clients.triggers import BulkPushEvent as BulkPushEvent
from ._clients.triggers import CronWorkflow as CronWorkflow
from ._clients.triggers import Event as Event
from ._clients.triggers import EventFilter as EventFilter
from ._clients.triggers import ScheduledWorkflow as ScheduledWorkflow
from ._contract.flow import ConcurrencyExpression as ConcurrencyExpression
from ._contract.flow import ConcurrencyLimitStrategy as ConcurrencyLimitStrategy
from ._contract.flow import DesiredWorkerLabel as DesiredWorkerLabel
from ._contract.flow import Priority as Priority
from ._contract.flow import RateLimit as RateLimit
from ._contract.flow import RateLimitDuration as RateLimitDuration
from ._contract.flow import StickyStrategy as StickyStrategy
from ._contract.flow import WorkerLabel as WorkerLabel
from ._contract.flow import WorkerLabelComparator as WorkerLabelComparator
from ._contract.status import RunStatus as RunStatus
from ._contract.status import TaskEventKind as TaskEventKind
from ._contract.status import TaskStatus as TaskStatus
from ._declare.conditions import OrGroup as OrGroup
from ._declare.conditions import ParentCondition as ParentCondition
from ._declare.conditions import SleepCondition as SleepCondition
from ._declare.conditions import UserEventCondition as UserEventCondition
from ._declare.conditions import or_ as or_
from ._declare.trigger_options import DefaultFilter as DefaultFilter
from ._declare.validation import EmptyModel as EmptyModel
from ._declare.validation import InputValidationError as InputValidationError
from ._declare.workflow import Standalone as Standalone
from ._declare.workflow import Task as Task
from ._declare.workflow import Workflow as Workflow
from ._errors import AuthenticationError as AuthenticationError
from ._errors import DefinitionError as DefinitionError
from ._errors import EngineUnreachableError as EngineUnreachableError
from ._errors import FailedTaskRunExceptionGroup as FailedTaskRunExceptionGroup
from ._errors import NonDeterminismError as NonDeterminismError
from ._errors import NonRetryableException as NonRetryableException
from ._errors import PermissionDeniedError as PermissionDeniedError
from ._errors import TaskRunError as TaskRunError
from ._errors import TenantLimitError as TenantLimitError
from ._worker.context import Context as Context
from ._worker.context import TaskCancelledError as TaskCancelledError
from ._worker.durable_context import DurableContext as DurableContext


def _publish_exceptions(namespace: dict[str, object]) -> None:
    """Give every public exception this module as its ``__module__``.

    They are defined in private modules, but users import, catch and read them as
    ``ratchet.X``: tracebacks then print ``ratchet.TaskRunError``, a task's recorded error
    type says ``ratchet.NonRetryableException``, and pickles refer to ``ratchet.X``
    (which this module exports, so they still load).
    """
    # (ignored below: __all__ of a module namespace, read dynamically)
    for name in namespace["__all__"]:  # type: ignore[attr-defined]
        obj = namespace.get(name)  # (__version__ is read when first asked for)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            obj.__module__ = __name__


def __getattr__(name: str) -> Any:
    """``ratchet.__version__``, read from the installed metadata when first asked for.

    Reading package metadata costs about a tenth of ``import ratchet``; few programs
    ever ask for the version, so they do not pay for it.
    """
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("ratchet")
        except PackageNotFoundError:  # running from a source tree that was never installed
            found = "0.0.0"
        globals()["__version__"] = found
        return found
    raise AttributeError(f"module 'ratchet' has no attribute {name!r}")


__all__ = [
    "AuthenticationError",
    "BulkCancelReplayOpts",
    "BulkPushEvent",
    "ConcurrencyExpression",
    "ConcurrencyLimitStrategy",
    "Context",
    "CronWorkflow",
    "DefaultFilter",
    "DefinitionError",
    "DesiredWorkerLabel",
    "DurableContext",
    "EmptyModel",
    "EngineUnreachableError",
    "Event",
    "EventFilter",
    "FailedTaskRunExceptionGroup",
    "InputValidationError",
    "NonDeterminismError",
    "NonRetryableException",
    "OrGroup",
    "ParentCondition",
    "PermissionDeniedError",
    "Priority",
    "Ratchet",
    "RateLimit",
    "RateLimitDuration",
    "RunCancelledError",
    "RunDetails",
    "RunFilter",
    "RunStatus",
    "ScheduledWorkflow",
    "Settings",
    "SleepCondition",
    "Standalone",
    "StickyStrategy",
    "Task",
    "TaskCancelledError",
    "TaskEventKind",
    "TaskRunDetails",
    "TaskRunError",
    "TaskStatus",
    "TenantLimitError",
    "TriggerWorkflowOptions",
    "UserEventCondition",
    "WorkerLabel",
    "WorkerLabelComparator",
    "Workflow",
    "WorkflowRunRef",
    "__version__",
    "or_",
]

_publish_exceptions(globals())
