"""Workflow and task specifications: what a declaration means, as plain values.

The SDK's decorators build these; workers send them to the engine when they register;
the engine stores them as immutable versions and runs against them. A spec is a frozen
value with a canonical dict form (for the wire and the store) and a content-derived
``version``, so the same declaration always has the same version and a changed one gets
a new one. :meth:`WorkflowSpec.validate` is the single check for every way a spec
arrives (decorators, the wire, the store) and raises :class:`DefinitionError` saying
exactly what is wrong.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import reprlib
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .._errors import DefinitionError
from .flow import (
    ConcurrencyExpression,
    DesiredWorkerLabel,
    RateLimit,
    StickyStrategy,
    concurrency_list,
    desired_labels,
    rate_limit_list,
    sticky_strategy,
)

__all__ = [
    "CONDITION_OPTIONS",
    "DEFAULT_EXECUTION_TIMEOUT",
    "DEFAULT_SCHEDULE_TIMEOUT",
    "MAX_EVICTION_DELAY",
    "MAX_NAME_LENGTH",
    "RetryPolicy",
    "TaskKind",
    "TaskSpec",
    "WorkflowSpec",
]

DEFAULT_EXECUTION_TIMEOUT = 60.0
DEFAULT_SCHEDULE_TIMEOUT = 300.0
# The longest a durable task's waiting call keeps its worker slot before the task is
# evicted; the engine holds the call open that long. An hour of an idle slot is already
# generous: longer waits cost nothing evicted, and the task resumes when they are over.
MAX_EVICTION_DELAY = 3600.0
MAX_NAME_LENGTH = 200
MAX_RETRIES = 1000
CONDITION_OPTIONS = ("wait_for", "skip_if", "cancel_if")


class TaskKind(enum.Enum):
    """What part a task plays in its workflow."""

    TASK = "task"
    DURABLE = "durable"
    ON_FAILURE = "on_failure"
    ON_SUCCESS = "on_success"

    def __repr__(self) -> str:
        return f"TaskKind.{self.name}"


def _show(value: object) -> str:
    """A short repr of user input for an error message.

    Garbage can be huge (a 10 MB string) or unprintable by ``repr`` (an int of more than
    4300 digits raises ValueError), and a bad value must never turn its own error message
    into a different error.
    """
    try:
        return reprlib.repr(value)
    except ValueError:
        return f"<{type(value).__name__} too large to show>"


def check_name(name: object, what: str) -> str:
    """Validate a workflow or task name and return it."""
    if not isinstance(name, str) or not name.strip():
        raise DefinitionError(f"{what} name must be a non-empty string, got {_show(name)}")
    if len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise DefinitionError(
            f"{what} name {name[:40]!r} must be printable and at most {MAX_NAME_LENGTH} characters"
        )
    return name


def _sequence(value: object, what: str) -> tuple[Any, ...]:
    """``value`` as a tuple, if it is an ordered collection (list, tuple, generator).

    A string or a mapping would iterate into characters or keys, and a set has no stable
    order (so the spec's ``version`` would change from one process to the next): all three
    are refused rather than silently turned into something else.
    """
    if isinstance(value, str | bytes | bytearray | Mapping | Set) or not isinstance(value, Iterable):
        raise DefinitionError(f"{what} must be a list, got {_show(value)}")
    return tuple(value)


def _number(value: object, what: str, *, minimum: float = 0.0, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DefinitionError(f"{what} must be a finite number, got {_show(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise DefinitionError(f"{what} must be a finite number, got {_show(value)} (too large)") from None
    if not math.isfinite(number):
        raise DefinitionError(f"{what} must be a finite number, got {_show(value)}")
    if number < minimum:
        raise DefinitionError(f"{what} must be >= {minimum:g}, got {_show(value)}")
    # -0.0 == 0.0, but json spells them differently: equal specs must share a version.
    return number + 0.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failed task is retried, and how long to wait in between.

    The n-th retry (n from 1) waits ``min(backoff_max_seconds, backoff_factor ** n)``
    seconds; without a factor, retries are immediate.
    """

    retries: int = 0
    backoff_factor: float | None = None
    backoff_max_seconds: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int):
            raise DefinitionError(f"retries must be a whole number, got {_show(self.retries)}")
        if not 0 <= self.retries <= MAX_RETRIES:
            raise DefinitionError(f"retries must be between 0 and {MAX_RETRIES}, got {_show(self.retries)}")
        factor = _number(self.backoff_factor, "backoff_factor", minimum=0.0, allow_none=True)
        if factor is not None and factor <= 0:
            raise DefinitionError(f"backoff_factor must be > 0, got {_show(self.backoff_factor)}")
        cap = _number(self.backoff_max_seconds, "backoff_max_seconds", allow_none=True)
        object.__setattr__(self, "retries", int(self.retries))
        object.__setattr__(self, "backoff_factor", factor)
        object.__setattr__(self, "backoff_max_seconds", cap)

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry)."""
        if retry_number < 1:
            raise ValueError(f"retry numbers start at 1, got {retry_number}")
        if self.backoff_factor is None:
            return 0.0
        cap = math.inf if self.backoff_max_seconds is None else self.backoff_max_seconds
        try:
            return min(cap, self.backoff_factor**retry_number)
        except OverflowError:
            return cap


@dataclass(frozen=True)
class TaskSpec:
    """One task of a workflow.

    Attributes:
        name: unique within the workflow.
        kind: ordinary, durable, or the workflow's on-failure / on-success handler.
        parents: names of the tasks that must complete first.
        retry: the retry policy.
        execution_timeout: seconds an attempt may run before it fails (retryably).
        schedule_timeout: seconds a task may wait in the queue before it is cancelled.
        wait_for: conditions (OR-groups, all of which must hold) to wait for once the
            parents completed; ``skip_if`` skips the task and ``cancel_if`` cancels it
            when theirs hold first. Each condition is a mapping (see
            :mod:`ratchet._contract.conditions`).
        concurrency: task-level concurrency limits; all must admit the task.
        rate_limits: rate limits each start of the task consumes.
        desired_worker_labels: (label key, wish) pairs, sorted by key.
    """

    name: str
    kind: TaskKind = TaskKind.TASK
    parents: tuple[str, ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    execution_timeout: float = DEFAULT_EXECUTION_TIMEOUT
    schedule_timeout: float = DEFAULT_SCHEDULE_TIMEOUT
    wait_for: tuple[tuple[Mapping[str, Any], ...], ...] = ()
    skip_if: tuple[tuple[Mapping[str, Any], ...], ...] = ()
    cancel_if: tuple[tuple[Mapping[str, Any], ...], ...] = ()
    concurrency: tuple[ConcurrencyExpression, ...] = ()
    rate_limits: tuple[RateLimit, ...] = ()
    desired_worker_labels: tuple[tuple[str, DesiredWorkerLabel], ...] = ()

    def __post_init__(self) -> None:
        check_name(self.name, "task")
        for option in CONDITION_OPTIONS:
            object.__setattr__(self, option, _condition_groups(getattr(self, option), self.name, option))
        if not isinstance(self.kind, TaskKind):
            raise DefinitionError(f"task {self.name!r}: kind must be a TaskKind, got {_show(self.kind)}")
        parents = _sequence(self.parents, f"task {self.name!r}: parents")
        object.__setattr__(self, "parents", parents)
        for parent in parents:
            check_name(parent, f"task {self.name!r}: parent")
        if not isinstance(self.retry, RetryPolicy):
            raise DefinitionError(f"task {self.name!r}: retry must be a RetryPolicy")
        for option in ("execution_timeout", "schedule_timeout"):
            timeout = _number(getattr(self, option), f"task {self.name!r}: {option}")
            if timeout == 0:
                raise DefinitionError(f"task {self.name!r}: {option} must be > 0")
            object.__setattr__(self, option, timeout)
        where = f"task {self.name!r}"
        object.__setattr__(self, "concurrency", concurrency_list(self.concurrency, where))
        object.__setattr__(self, "rate_limits", rate_limit_list(self.rate_limits, where))
        labels: object = self.desired_worker_labels
        if labels is not None and not isinstance(labels, Mapping):  # the (key, wish) pairs of a spec
            pairs = _sequence(labels, f"{where}: desired_worker_labels")
            if not all(isinstance(kv, tuple) and len(kv) == 2 for kv in pairs):
                raise DefinitionError(f"{where}: desired_worker_labels must be a dict of label key to wish")
            labels = dict(pairs)
        object.__setattr__(self, "desired_worker_labels", desired_labels(labels, where))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind.value,
            "parents": list(self.parents),
            "retries": self.retry.retries,
            "backoff_factor": self.retry.backoff_factor,
            "backoff_max_seconds": self.retry.backoff_max_seconds,
            "execution_timeout": self.execution_timeout,
            "schedule_timeout": self.schedule_timeout,
        } | {  # only when set, so that tasks without conditions keep their versions
            option: [[dict(c) for c in group] for group in getattr(self, option)]
            for option in CONDITION_OPTIONS
            if getattr(self, option)
        }
        # flow-control fields only when set, so a spec without them keeps its version
        if self.concurrency:
            out["concurrency"] = [c.to_dict() for c in self.concurrency]
        if self.rate_limits:
            out["rate_limits"] = [r.to_dict() for r in self.rate_limits]
        if self.desired_worker_labels:
            out["desired_worker_labels"] = {k: v.to_dict() for k, v in self.desired_worker_labels}
        return out

    @property
    def flow_controlled(self) -> bool:
        """Whether the task has concurrency limits or rate limits of its own."""
        return bool(self.concurrency or self.rate_limits)

    @property
    def gated(self) -> bool:
        """Whether the task has conditions to settle before it runs."""
        return bool(self.wait_for or self.skip_if or self.cancel_if)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskSpec:
        """Rebuild a spec from :meth:`to_dict` output.

        Raises:
            DefinitionError: missing or malformed fields, naming the task.
        """
        return cls._from_dict(data, "a task spec")

    @classmethod
    def _from_dict(cls, data: object, position: str) -> TaskSpec:
        """:meth:`from_dict`, calling the task ``position`` in errors until its name is known."""
        if not isinstance(data, Mapping):
            raise DefinitionError(f"{position} must be a mapping, got {type(data).__name__}")
        if "name" not in data:
            raise DefinitionError(f"{position} is missing the field 'name'")
        name = check_name(data["name"], "task")
        raw_kind = data.get("kind", TaskKind.TASK.value)
        try:
            kind = TaskKind(raw_kind)
        except ValueError:
            kinds = ", ".join(repr(k.value) for k in TaskKind)
            raise DefinitionError(
                f"task {name!r}: unknown kind {_show(raw_kind)}; use one of {kinds}"
            ) from None
        try:
            retry = RetryPolicy(
                retries=data.get("retries", 0),
                backoff_factor=data.get("backoff_factor"),
                backoff_max_seconds=data.get("backoff_max_seconds"),
            )
        except DefinitionError as exc:
            raise DefinitionError(f"task {name!r}: {exc}") from None
        try:
            concurrency = tuple(
                ConcurrencyExpression.from_dict(c)
                for c in _sequence(data.get("concurrency", ()), "concurrency")
            )
            rate_limits = tuple(
                RateLimit.from_dict(r) for r in _sequence(data.get("rate_limits", ()), "rate_limits")
            )
            raw_labels = data.get("desired_worker_labels", {})
            if not isinstance(raw_labels, Mapping):
                raise DefinitionError(f"desired_worker_labels must be a mapping, got {_show(raw_labels)}")
            labels = {k: DesiredWorkerLabel.from_dict(v) for k, v in raw_labels.items()}
        except DefinitionError as exc:
            raise DefinitionError(f"task {name!r}: {exc}") from None
        return cls(
            name=name,
            kind=kind,
            parents=data.get("parents", ()),
            retry=retry,
            execution_timeout=data.get("execution_timeout", DEFAULT_EXECUTION_TIMEOUT),
            schedule_timeout=data.get("schedule_timeout", DEFAULT_SCHEDULE_TIMEOUT),
            wait_for=data.get("wait_for", ()),
            skip_if=data.get("skip_if", ()),
            cancel_if=data.get("cancel_if", ()),
            concurrency=concurrency,
            rate_limits=rate_limits,
            # (ignored below: raw wire form, normalised by TaskSpec.__post_init__)
            desired_worker_labels=labels,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class WorkflowSpec:
    """A workflow: its tasks (in declaration order) and how it is triggered.

    Attributes:
        name: unique within a tenant.
        tasks: every task, handlers included.
        on_events: event keys (``*`` wildcards allowed) that trigger a run.
        on_crons: cron expressions that trigger a run.
        default_priority: 1 (low) to 3 (high) for runs that do not say.
        description: free text.
        default_filters: event filters declared with the workflow, each a mapping
            ``{"expression", "scope", "payload"}`` (see ``Workflow.create_filter``).
        cron_input: the input of runs its ``on_crons`` start.
        concurrency: workflow-level concurrency limits (a run holds its place until it
            finishes); all must admit the run.
        sticky: keep a run's tasks on one worker (SOFT: preferably, HARD: only).
    """

    name: str
    tasks: tuple[TaskSpec, ...]
    on_events: tuple[str, ...] = ()
    on_crons: tuple[str, ...] = ()
    default_priority: int = 1
    description: str = ""
    default_filters: tuple[Mapping[str, Any], ...] = ()
    cron_input: Any = None
    concurrency: tuple[ConcurrencyExpression, ...] = ()
    sticky: StickyStrategy | None = None

    def __post_init__(self) -> None:
        where = f"workflow {check_name(self.name, 'workflow')!r}"
        object.__setattr__(self, "tasks", _sequence(self.tasks, f"{where}: tasks"))
        object.__setattr__(self, "on_events", _sequence(self.on_events, f"{where}: on_events"))
        object.__setattr__(self, "on_crons", _sequence(self.on_crons, f"{where}: on_crons"))
        object.__setattr__(
            self, "default_filters", _sequence(self.default_filters, f"{where}: default_filters")
        )
        priority = self.default_priority
        if not isinstance(priority, bool) and isinstance(priority, int | float) and priority in (1, 2, 3):
            # 2.0 == 2, so the two must be one spec with one version: store the int.
            object.__setattr__(self, "default_priority", int(priority))
        object.__setattr__(self, "concurrency", concurrency_list(self.concurrency, where))
        object.__setattr__(self, "sticky", sticky_strategy(self.sticky, where))
        self.validate()

    # -- validation ---------------------------------------------------------------------

    def validate(self) -> None:
        """Check the whole definition.

        Raises:
            DefinitionError: naming the workflow, the task and the problem.
        """
        wf = check_name(self.name, "workflow")
        if not self.tasks:
            raise DefinitionError(f"workflow {wf!r} has no tasks; declare at least one")
        if type(self.default_priority) is not int or self.default_priority not in (1, 2, 3):
            raise DefinitionError(
                f"workflow {wf!r}: default_priority must be 1, 2 or 3, got {_show(self.default_priority)}"
            )
        if not isinstance(self.description, str):
            raise DefinitionError(
                f"workflow {wf!r}: description must be a string, got {_show(self.description)}"
            )
        for key in self.on_events:
            check_name(key, f"workflow {wf!r}: event key")
        for expression in self.on_crons:
            check_name(expression, f"workflow {wf!r}: cron expression")
        _check_triggers(self)
        names: dict[str, TaskSpec] = {}
        for task in self.tasks:
            if not isinstance(task, TaskSpec):
                raise DefinitionError(f"workflow {wf!r}: {_show(task)} is not a TaskSpec")
            if task.name in names:
                raise DefinitionError(f"workflow {wf!r} declares the task {task.name!r} twice")
            names[task.name] = task
        handlers: dict[TaskKind, str] = {}
        for task in self.tasks:
            if task.kind in (TaskKind.ON_FAILURE, TaskKind.ON_SUCCESS):
                if task.kind in handlers:
                    raise DefinitionError(
                        f"workflow {wf!r} has two {task.kind.value} tasks: "
                        f"{handlers[task.kind]!r} and {task.name!r}"
                    )
                handlers[task.kind] = task.name
                if task.parents:
                    raise DefinitionError(
                        f"workflow {wf!r}: the {task.kind.value} task {task.name!r} cannot have parents"
                    )
            if len(set(task.parents)) != len(task.parents):
                raise DefinitionError(f"workflow {wf!r}: task {task.name!r} lists a parent twice")
            for parent in task.parents:
                if parent not in names:
                    raise DefinitionError(
                        f"workflow {wf!r}: task {task.name!r} has an unknown parent {parent!r}"
                    )
                if names[parent].kind in (TaskKind.ON_FAILURE, TaskKind.ON_SUCCESS):
                    raise DefinitionError(
                        f"workflow {wf!r}: task {task.name!r} cannot depend on the "
                        f"{names[parent].kind.value} task {parent!r}"
                    )
            if task.gated and task.kind in (TaskKind.ON_FAILURE, TaskKind.ON_SUCCESS):
                raise DefinitionError(
                    f"workflow {wf!r}: the {task.kind.value} task {task.name!r} cannot have conditions"
                )
            for option in CONDITION_OPTIONS:
                for group in getattr(task, option):
                    for cond in group:
                        if cond["kind"] == "parent" and cond["parent"] not in task.parents:
                            raise DefinitionError(
                                f"workflow {wf!r}: task {task.name!r}: {option} has a ParentCondition on "
                                f"{cond['parent']!r}, which is not one of its parents {list(task.parents)}"
                            )
        if all(t.kind in (TaskKind.ON_FAILURE, TaskKind.ON_SUCCESS) for t in self.tasks):
            raise DefinitionError(f"workflow {wf!r} has only handler tasks; declare at least one task")
        cycle = self._find_cycle()
        if cycle:
            raise DefinitionError(f"workflow {wf!r} has a cycle: {' -> '.join(cycle)}")

    def _find_cycle(self) -> list[str] | None:
        """A cycle as a path ``[child, parent, ..., child]``, or None if the DAG has none.

        A depth-first search along parent edges, with an explicit stack: a chain of
        thousands of tasks is a valid workflow and must not hit the recursion limit.
        Assumes every parent names a task (checked before this runs).
        """
        parents = {t.name: t.parents for t in self.tasks}
        done: set[str] = set()
        for root in parents:
            if root in done:
                continue
            path = [root]  # the tasks being visited, root first
            on_path = {root: 0}  # their positions in path
            pending = [iter(parents[root])]  # for each task on the path: parents not yet seen
            while pending:
                parent = next(pending[-1], None)
                if parent is None:
                    finished = path.pop()
                    del on_path[finished]
                    done.add(finished)
                    pending.pop()
                elif parent in on_path:
                    return [*path[on_path[parent] :], parent]
                elif parent not in done:
                    on_path[parent] = len(path)
                    path.append(parent)
                    pending.append(iter(parents[parent]))
        return None

    # -- queries ------------------------------------------------------------------------

    # Lookups the engine makes on every event, computed once per spec (a spec is frozen).

    @cached_property
    def _by_name(self) -> dict[str, TaskSpec]:
        return {t.name: t for t in self.tasks}

    @cached_property
    def _children(self) -> dict[str, tuple[str, ...]]:
        children: dict[str, list[str]] = {}
        for t in self.tasks:
            for parent in t.parents:
                children.setdefault(parent, []).append(t.name)
        return {name: tuple(names) for name, names in children.items()}

    @cached_property
    def _order(self) -> dict[str, int]:
        return {t.name: i for i, t in enumerate(self.tasks)}

    def task(self, name: str) -> TaskSpec:
        """The task called ``name``.

        Raises:
            KeyError: no such task.
        """
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"workflow {self.name!r} has no task {name!r}") from None

    @cached_property
    def dag_tasks(self) -> tuple[TaskSpec, ...]:
        """The tasks that form the DAG (everything but the handlers)."""
        return tuple(t for t in self.tasks if t.kind in (TaskKind.TASK, TaskKind.DURABLE))

    @cached_property
    def on_failure(self) -> TaskSpec | None:
        return next((t for t in self.tasks if t.kind is TaskKind.ON_FAILURE), None)

    @cached_property
    def on_success(self) -> TaskSpec | None:
        return next((t for t in self.tasks if t.kind is TaskKind.ON_SUCCESS), None)

    def children(self, name: str) -> tuple[str, ...]:
        """Names of the tasks that list ``name`` as a parent, in declaration order."""
        return self._children.get(name, ())

    def descendants(self, name: str) -> list[str]:
        """Every task downstream of ``name``, in declaration order."""
        return self._closure(name, self.children)

    def ancestors(self, name: str) -> list[str]:
        """Every task upstream of ``name``, in declaration order."""
        return self._closure(name, lambda n: self.task(n).parents)

    def _closure(self, name: str, step: Any) -> list[str]:
        seen: set[str] = set()
        frontier = [name]
        while frontier:
            for other in step(frontier.pop()):
                if other not in seen:
                    seen.add(other)
                    frontier.append(other)
        return sorted(seen, key=self._order.__getitem__)

    # -- serialization --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "tasks": [t.to_dict() for t in self.tasks],
            "on_events": list(self.on_events),
            "on_crons": list(self.on_crons),
            "default_priority": self.default_priority,
            "description": self.description,
        }
        # only when set, so that specs without them keep their versions
        if self.default_filters:
            out["default_filters"] = [dict(f) for f in self.default_filters]
        if self.cron_input is not None:
            out["cron_input"] = self.cron_input
        if self.concurrency:
            out["concurrency"] = [c.to_dict() for c in self.concurrency]
        if self.sticky is not None:
            out["sticky"] = self.sticky.value
        return out

    @cached_property
    def flow_controlled(self) -> bool:
        """Whether runs of this workflow meet any flow control beyond priorities and slots."""
        return bool(self.concurrency or self.sticky) or any(
            t.flow_controlled or t.desired_worker_labels for t in self.tasks
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkflowSpec:
        """Rebuild and validate a spec from :meth:`to_dict` output (e.g. off the wire).

        Raises:
            DefinitionError: anything missing, malformed or inconsistent, naming the
                workflow and the task.
        """
        if not isinstance(data, Mapping):
            raise DefinitionError(f"a workflow spec must be a mapping, got {type(data).__name__}")
        where = f"workflow {check_name(data.get('name'), 'workflow')!r}"
        raw_tasks = data.get("tasks")
        if not isinstance(raw_tasks, list | tuple):
            raise DefinitionError(f"{where}: tasks must be a list of task specs, got {_show(raw_tasks)}")
        tasks = []
        for number, raw_task in enumerate(raw_tasks, 1):
            try:
                tasks.append(TaskSpec._from_dict(raw_task, f"task #{number}"))
            except DefinitionError as exc:
                raise DefinitionError(f"{where}: {exc}") from None
        try:
            concurrency = tuple(
                ConcurrencyExpression.from_dict(c)
                for c in _sequence(data.get("concurrency", ()), f"{where}: concurrency")
            )
        except DefinitionError as exc:
            raise DefinitionError(f"{where}: {exc}") from None
        return cls(
            name=data["name"],
            tasks=tuple(tasks),
            on_events=data.get("on_events", ()),
            on_crons=data.get("on_crons", ()),
            default_priority=data.get("default_priority", 1),
            description=data.get("description", ""),
            default_filters=data.get("default_filters", ()),
            cron_input=data.get("cron_input"),
            concurrency=concurrency,
            sticky=data.get("sticky"),
        )

    @property
    def version(self) -> str:
        """A content hash of the definition: equal specs share it, any change alters it."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _check_triggers(spec: WorkflowSpec) -> None:
    """Event patterns, cron expressions and default filters of a workflow.

    Raises:
        DefinitionError: naming the workflow and the bad trigger.
    """
    from ratchet._contract.cel import CelError, compile_cel
    from ratchet._contract.cron import CronError, parse_cron

    where = f"workflow {spec.name!r}"
    for expression in spec.on_crons:
        try:
            parse_cron(expression)
        except CronError as exc:
            raise DefinitionError(f"{where}: {exc}") from None
    if spec.default_filters and not spec.on_events:
        raise DefinitionError(f"{where} has default_filters but no on_events to filter")
    for number, f in enumerate(spec.default_filters, 1):
        if not isinstance(f, Mapping) or set(f) - {"expression", "scope", "payload"}:
            raise DefinitionError(
                f"{where}: default filter #{number} must be a mapping of expression, scope and payload, "
                f"got {_show(f)}"
            )
        scope = f.get("scope")
        if not isinstance(scope, str) or not scope or len(scope) > MAX_NAME_LENGTH:
            raise DefinitionError(f"{where}: default filter #{number} needs a scope (a non-empty string)")
        try:
            # (ignored below: compile_cel rejects a non-string with CelError, reported below)
            compile_cel(f.get("expression"))  # type: ignore[arg-type]
        except CelError as exc:
            raise DefinitionError(f"{where}: default filter #{number}: {exc}") from None


def _condition_groups(value: object, task: str, option: str) -> tuple[tuple[Mapping[str, Any], ...], ...]:
    """A task's ``wait_for``/``skip_if``/``cancel_if`` as checked, frozen groups."""
    from ratchet._contract.conditions import ConditionError, check_groups

    groups = _sequence(value, f"task {task!r}: {option}")
    if not groups:
        return ()
    try:
        checked = check_groups([list(_sequence(g, f"task {task!r}: {option} group")) for g in groups], option)
    except ConditionError as exc:
        raise DefinitionError(f"task {task!r}: {exc}") from None
    return tuple(tuple(group) for group in checked)
