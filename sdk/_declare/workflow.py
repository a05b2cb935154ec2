"""Declaring workflows and tasks, with hatchet-sdk's names.

``ratchet.workflow(name=...)`` returns a :class:`Workflow`; ``@wf.task(parents=[...])``
turns a function into a :class:`Task` of it; ``@ratchet.task(...)`` makes a one-task
workflow, a :class:`Standalone`. Every option is checked when the decorator runs, so a
bad declaration fails at import time with a :class:`DefinitionError` that names the
workflow, the task and the problem, never later inside the engine.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from .._clients.runs import TriggerWorkflowOptions, WorkflowRunRef, check_answers, trigger_payload
from .._contract.calls import Method
from .._contract.durations import Duration, parse_duration
from .._contract.flow import (
    ConcurrencyExpression,
    DesiredWorkerLabel,
    RateLimit,
    StickyStrategy,
    concurrency_list,
    desired_labels,
    rate_limit_list,
    sticky_strategy,
)
from .._contract.spec import (
    DEFAULT_EXECUTION_TIMEOUT,
    DEFAULT_SCHEDULE_TIMEOUT,
    MAX_EVICTION_DELAY,
    RetryPolicy,
    TaskKind,
    TaskSpec,
    WorkflowSpec,
    check_name,
)
from .._errors import DefinitionError
from .._worker.durable_context import DurableContext
from .._worker.spawn import child_request, current_context
from .conditions import condition_groups
from .trigger_options import TriggerMethods, check_triggers, declared_filters
from .validation import InputValidator

if TYPE_CHECKING:
    from .._client import Ratchet

__all__ = ["Standalone", "Task", "TaskOptionArgs", "TaskOptions", "Workflow"]

_NOT_GIVEN: Any = object()

TaskFn = Callable[..., Any]


class TaskOptionArgs(TypedDict, total=False):
    """The keyword options every task decorator accepts."""

    retries: int
    backoff_factor: float | None
    backoff_max_seconds: float | None
    execution_timeout: Duration
    schedule_timeout: Duration
    concurrency: int | ConcurrencyExpression | Sequence[int | ConcurrencyExpression] | None
    rate_limits: Sequence[RateLimit] | None
    desired_worker_labels: dict[str, DesiredWorkerLabel | str | int] | None


class TaskOptions:
    """The per-task options every task decorator takes, checked and normalised.

    Args:
        retries: retries after the first attempt fails (0 to 1000).
        backoff_factor: the n-th retry waits ``backoff_factor ** n`` seconds; none: at once.
        backoff_max_seconds: the most any retry waits.
        execution_timeout: how long one attempt may run (default 60 s).
        schedule_timeout: how long a task may wait in the queue (default 5 min).
        concurrency: task-level limits: an int (one group of that size), a
            :class:`ConcurrencyExpression`, or a list of them (all must admit).
        rate_limits: :class:`RateLimit` values each start consumes.
        desired_worker_labels: label key to :class:`DesiredWorkerLabel` (or a plain value
            to match exactly).
    """

    def __init__(
        self,
        *,
        retries: int = 0,
        backoff_factor: float | None = None,
        backoff_max_seconds: float | None = None,
        execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT,
        schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT,
        concurrency: int | ConcurrencyExpression | Sequence[int | ConcurrencyExpression] | None = None,
        rate_limits: Sequence[RateLimit] | None = None,
        desired_worker_labels: dict[str, DesiredWorkerLabel | str | int] | None = None,
    ) -> None:
        try:
            self.retry = RetryPolicy(retries, backoff_factor, backoff_max_seconds)
            self.execution_timeout = parse_duration(execution_timeout, what="execution_timeout")
            self.schedule_timeout = parse_duration(schedule_timeout, what="schedule_timeout")
        except (TypeError, ValueError) as exc:
            raise DefinitionError(str(exc)) from None
        self.concurrency = concurrency_list(concurrency, "task")
        self.rate_limits = rate_limit_list(rate_limits, "task")
        self.desired_worker_labels = desired_labels(desired_worker_labels, "task")


class Task:
    """A task of a workflow: the function, its place in the DAG and its options.

    Pass it to ``parents=[...]`` of later tasks and to ``ctx.task_output(...)``.
    """

    def __init__(self, workflow: Workflow, fn: TaskFn, spec: TaskSpec, eviction_delay: float = 1.0) -> None:
        self.workflow = workflow
        self.fn = fn
        self.spec = spec
        self.name = spec.name
        self.is_async = inspect.iscoroutinefunction(fn)
        self.eviction_delay = eviction_delay

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly (handy in unit tests of the task's own logic)."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.workflow.name}.{self.name}>"


def _check_fn(fn: object, where: str) -> TaskFn:
    if not callable(fn):
        raise DefinitionError(f"{where}: a task must decorate a function, got {fn!r}")
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn  # builtins without signatures: let the call decide
    positional = [p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    has_var = any(p.kind is p.VAR_POSITIONAL for p in params.values())
    if len(positional) < 2 and not has_var:
        raise DefinitionError(
            f"{where}: a task function takes (input, ctx); {getattr(fn, '__name__', fn)!r} "
            f"takes {len(positional)} positional parameter(s)"
        )
    return fn


class Workflow(TriggerMethods):
    """A named DAG of tasks. Made by :meth:`Ratchet.workflow`.

    Args:
        client: the owning client.
        name: unique within the tenant.
        description: free text shown with the workflow.
        on_events: event keys (``*`` wildcards allowed) that trigger a run.
        on_crons: cron expressions that trigger a run.
        input_validator: pydantic model class, dataclass type or ``dict``.
        default_priority: 1 (low) to 3 (high), or a :class:`Priority`.
        default_filters: :class:`DefaultFilter` s for ``on_events``.
        cron_input: the input of the runs ``on_crons`` start.
        concurrency: workflow-level limits on whole runs: an int (one group of that
            size), a :class:`ConcurrencyExpression`, or a list of them.
        sticky: keep each run's tasks on one worker (:class:`StickyStrategy`).
    """

    def __init__(
        self,
        client: Ratchet | None,
        name: str,
        *,
        description: str = "",
        on_events: Sequence[str] = (),
        on_crons: Sequence[str] = (),
        input_validator: Any = None,
        default_priority: int = 1,
        default_filters: Sequence[Any] = (),
        cron_input: Any = None,
        concurrency: int | ConcurrencyExpression | Sequence[int | ConcurrencyExpression] | None = None,
        sticky: StickyStrategy | str | None = None,
    ) -> None:
        self.client = client
        self.name = check_name(name, "workflow")
        if isinstance(on_events, str) or isinstance(on_crons, str):
            raise DefinitionError(f"workflow {name!r}: on_events and on_crons take lists, not a string")
        if isinstance(default_priority, bool) or default_priority not in (1, 2, 3):
            raise DefinitionError(
                f"workflow {name!r}: default_priority must be 1, 2 or 3, got {default_priority!r}"
            )
        self.description = description
        self.on_events = tuple(on_events)
        self.on_crons = tuple(on_crons)
        self.default_priority = int(default_priority)
        self.concurrency = concurrency_list(concurrency, f"workflow {name!r}")
        self.sticky = sticky_strategy(sticky, f"workflow {name!r}")
        try:
            self.input = InputValidator(input_validator, name)
        except TypeError as exc:
            raise DefinitionError(str(exc)) from None
        self.tasks: dict[str, Task] = {}
        self._spec: WorkflowSpec | None = None
        # the connections whose engine knows this workflow (see _make_known)
        self._known_to: weakref.WeakSet[Any] = weakref.WeakSet()
        self.default_filters = declared_filters(default_filters, name)
        self.cron_input = None if cron_input is None else self.input.dump(cron_input)
        check_triggers(self.name, self.on_events, self.on_crons, self.default_filters)

    # -- declaring ----------------------------------------------------------------------------

    def _add(
        self,
        fn: object,
        name: str | None,
        kind: TaskKind,
        parents: Sequence[Any],
        options: TaskOptions,
        eviction_delay: float = 1.0,
        conditions: dict[str, Any] | None = None,
    ) -> Task:
        where = f"workflow {self.name!r}"
        fn = _check_fn(fn, where)
        if kind is TaskKind.DURABLE and not inspect.iscoroutinefunction(fn):
            raise DefinitionError(
                f"{where}: durable task {getattr(fn, '__name__', fn)!r} must be an async function "
                "(its durable calls are awaited)"
            )
        task_name = check_name(name or getattr(fn, "__name__", ""), "task")
        if kind is TaskKind.DURABLE and eviction_delay >= options.execution_timeout:
            # A durable call that waits holds the attempt, and the attempt's execution
            # timeout keeps running: a wait that long would fail the task, never evict it.
            raise DefinitionError(
                f"{where}: durable task {task_name!r}: eviction_delay ({eviction_delay:g}s) must be "
                f"shorter than its execution_timeout ({options.execution_timeout:g}s), which keeps "
                "running while a call waits; lower eviction_delay or raise execution_timeout"
            )
        if task_name in self.tasks:
            raise DefinitionError(f"{where} already has a task named {task_name!r}")
        if isinstance(parents, str | Task) or not isinstance(parents, Sequence):
            raise DefinitionError(f"{where}: task {task_name!r}: parents must be a list of tasks")
        parent_names = []
        for parent in parents:
            if isinstance(parent, Task):
                if parent.workflow is not self:
                    raise DefinitionError(
                        f"{where}: task {task_name!r} cannot depend on {parent!r} of another workflow"
                    )
                parent_names.append(parent.name)
            elif isinstance(parent, str):
                if parent not in self.tasks:
                    raise DefinitionError(f"{where}: task {task_name!r} has an unknown parent {parent!r}")
                parent_names.append(parent)
            else:
                raise DefinitionError(f"{where}: task {task_name!r}: {parent!r} is not a task")
        gates: dict[str, Any] = {  # TaskSpec keeps them as tuples
            option: condition_groups(items, f"{where}: task {task_name!r}: {option}")
            for option, items in (conditions or {}).items()
            if items
        }
        spec = TaskSpec(
            name=task_name,
            kind=kind,
            parents=tuple(parent_names),
            retry=options.retry,
            execution_timeout=options.execution_timeout,
            schedule_timeout=options.schedule_timeout,
            **gates,
            concurrency=options.concurrency,
            rate_limits=options.rate_limits,
            desired_worker_labels=options.desired_worker_labels,
        )
        # validate the workflow as it would be with this task, before keeping it
        WorkflowSpec(
            name=self.name,
            tasks=(*[t.spec for t in self.tasks.values()], spec),
            default_priority=self.default_priority,
        )
        task = Task(self, fn, spec, eviction_delay)
        self.tasks[task_name] = task
        self._spec = None
        return task

    def _decorator(
        self, kind: TaskKind, name: str | None, parents: Sequence[Any], **options: Unpack[TaskOptionArgs]
    ) -> Callable[[TaskFn], Task]:
        checked = TaskOptions(**options)

        def decorate(fn: TaskFn) -> Task:
            return self._add(fn, name, kind, parents, checked)

        return decorate

    def task(
        self,
        name: str | None = None,
        *,
        parents: Sequence[Task | str] = (),
        wait_for: Sequence[Any] = (),
        skip_if: Sequence[Any] = (),
        cancel_if: Sequence[Any] = (),
        **options: Unpack[TaskOptionArgs],
    ) -> Callable[[TaskFn], Task]:
        """Declare a task of this workflow; it runs once all ``parents`` completed.

        With conditions (:class:`SleepCondition`, :class:`UserEventCondition`,
        :class:`ParentCondition`, ``or_(...)``; every item must hold): ``wait_for``
        holds the task back until they hold; ``skip_if`` skips it (its output is
        ``{"skipped": True}`` and its children run) and ``cancel_if`` cancels it (and
        its descendants) if theirs hold first.

        Options: ``retries``, ``backoff_factor``, ``backoff_max_seconds``,
        ``execution_timeout``, ``schedule_timeout``, ``concurrency``, ``rate_limits``,
        ``desired_worker_labels`` (see :class:`TaskOptions`).
        """
        checked = TaskOptions(**options)
        conditions = {"wait_for": wait_for, "skip_if": skip_if, "cancel_if": cancel_if}

        def decorate(fn: TaskFn) -> Task:
            return self._add(fn, name, TaskKind.TASK, parents, checked, conditions=conditions)

        return decorate

    def durable_task(
        self,
        name: str | None = None,
        *,
        parents: Sequence[Task | str] = (),
        eviction_delay: Duration = 1.0,
        **options: Unpack[TaskOptionArgs],
    ) -> Callable[[TaskFn], Task]:
        """Declare a durable task: an async function whose ``ctx`` is a :class:`DurableContext`.

        Its sleeps, waits and spawned children are logged by the engine, so it resumes
        after an eviction or a crash without redoing them. ``eviction_delay`` is how long
        a waiting call keeps the worker slot before the task is evicted.
        """
        checked = TaskOptions(**options)
        delay = _eviction_delay(eviction_delay, self.name)

        def decorate(fn: TaskFn) -> Task:
            return self._add(fn, name, TaskKind.DURABLE, parents, checked, delay)

        return decorate

    def on_failure_task(
        self, name: str | None = None, **options: Unpack[TaskOptionArgs]
    ) -> Callable[[TaskFn], Task]:
        """Declare the task that runs when any task of a run fails (the run still fails)."""
        return self._decorator(TaskKind.ON_FAILURE, name, (), **options)

    def on_success_task(
        self, name: str | None = None, **options: Unpack[TaskOptionArgs]
    ) -> Callable[[TaskFn], Task]:
        """Declare the task that runs when every task of a run completed."""
        return self._decorator(TaskKind.ON_SUCCESS, name, (), **options)

    # -- the result ----------------------------------------------------------------------------

    @property
    def spec(self) -> WorkflowSpec:
        """The validated definition, as registered with the engine.

        Raises:
            DefinitionError: e.g. the workflow has no tasks yet.
        """
        if self._spec is None:
            self._spec = WorkflowSpec(
                name=self.name,
                tasks=tuple(t.spec for t in self.tasks.values()),
                on_events=self.on_events,
                on_crons=self.on_crons,
                default_priority=self.default_priority,
                description=self.description,
                default_filters=self.default_filters,
                cron_input=self.cron_input,
                concurrency=self.concurrency,
                sticky=self.sticky,
            )
        return self._spec

    def __repr__(self) -> str:
        return f"<Workflow {self.name!r} tasks={list(self.tasks)}>"

    # -- running ---------------------------------------------------------------------------------

    _standalone_task: str | None = None

    def _client(self) -> Ratchet:
        if self.client is None:
            raise RuntimeError(f"workflow {self.name!r} belongs to no Ratchet client; declare it on one")
        return self.client

    def _options(
        self,
        input: Any,
        options: TriggerWorkflowOptions | None,
        additional_metadata: dict[str, Any] | None,
        priority: int | None,
        key: str | None,
    ) -> TriggerWorkflowOptions:
        base = options or TriggerWorkflowOptions()
        return TriggerWorkflowOptions(
            input=input if input is not _NOT_GIVEN else base.input,
            additional_metadata=dict(additional_metadata or base.additional_metadata or {}),
            priority=priority if priority is not None else base.priority,
            key=key if key is not None else base.key,
            desired_worker_labels=base.desired_worker_labels,
        )

    def create_bulk_run_item(
        self,
        input: Any = None,
        *,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        key: str | None = None,
        desired_worker_labels: dict[str, Any] | None = None,
    ) -> TriggerWorkflowOptions:
        """One run for :meth:`run_many` (``desired_worker_labels``: this run's worker affinity)."""
        return TriggerWorkflowOptions(
            input, dict(additional_metadata or {}), priority, key, desired_worker_labels
        )

    def _refs(self, answers: Any) -> list[WorkflowRunRef | Exception]:
        """The engine's answers to a trigger: a ref per run, or its refusal, in order."""
        client = self._client()
        return [
            a if isinstance(a, Exception) else WorkflowRunRef(client, a, self._standalone_task)
            for a in check_answers(self, answers)
        ]

    def _payloads(self, items: Sequence[TriggerWorkflowOptions]) -> list[dict[str, Any]]:
        self.spec  # noqa: B018 - a workflow without tasks fails here, before any request
        return [child_request(trigger_payload(self, item)) for item in items]

    # An application may start before its workers. The first request that names this
    # workflow sends its definition along, once per connection: an engine that knows no
    # version of it registers this one, so runs can be created and wait for a worker; an
    # engine that knows it keeps the version its workers registered.

    def _make_known(self, connection: Any) -> None:
        """Have the engine behind ``connection`` know this workflow (once per connection)."""
        if connection not in self._known_to:
            connection.call(Method.REGISTER_WORKFLOWS, [self.spec.to_dict()])
            self._known_to.add(connection)

    async def _aio_make_known(self, connection: Any) -> None:
        """The ``aio_`` form of :meth:`_make_known`."""
        if connection not in self._known_to:
            await connection.acall(Method.REGISTER_WORKFLOWS, [self.spec.to_dict()])
            self._known_to.add(connection)

    def _trigger(self, items: Sequence[TriggerWorkflowOptions]) -> list[WorkflowRunRef | Exception]:
        connection = self._client().connection
        payloads = self._payloads(items)
        self._make_known(connection)
        return self._refs(connection.call(Method.TRIGGER, payloads))

    async def _aio_trigger(self, items: Sequence[TriggerWorkflowOptions]) -> list[WorkflowRunRef | Exception]:
        ctx = current_context.get()
        if isinstance(ctx, DurableContext):  # a durable task's children are logged
            self.spec  # noqa: B018 - a workflow without tasks fails here, before any request
            await ctx._make_known(self.spec.to_dict())
            answers = await ctx._spawn(self.name, [trigger_payload(self, item) for item in items])
            return self._refs(answers)
        connection = self._client().connection
        payloads = self._payloads(items)
        await self._aio_make_known(connection)
        return self._refs(await connection.acall(Method.TRIGGER, payloads))

    def run_no_wait(
        self,
        input: Any = _NOT_GIVEN,
        options: TriggerWorkflowOptions | None = None,
        *,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        key: str | None = None,
    ) -> WorkflowRunRef:
        """Start a run and return its ref at once (the run is durable when this returns)."""
        item = self._options(input, options, additional_metadata, priority, key)
        return _accepted(self._trigger([item]))[0]

    async def aio_run_no_wait(
        self,
        input: Any = _NOT_GIVEN,
        options: TriggerWorkflowOptions | None = None,
        *,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        key: str | None = None,
    ) -> WorkflowRunRef:
        item = self._options(input, options, additional_metadata, priority, key)
        return _accepted(await self._aio_trigger([item]))[0]

    def run(
        self,
        input: Any = _NOT_GIVEN,
        options: TriggerWorkflowOptions | None = None,
        *,
        wait_for_result: bool = True,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        key: str | None = None,
    ) -> Any:
        """Run and wait: ``{task_name: output}`` (a standalone task: its output).

        With ``wait_for_result=False``, return the :class:`WorkflowRunRef` at once.

        Raises:
            FailedTaskRunExceptionGroup: one :class:`TaskRunError` per failed task.
            RunCancelledError: the run was cancelled.
        """
        ref = self.run_no_wait(
            input, options, additional_metadata=additional_metadata, priority=priority, key=key
        )
        return ref.result() if wait_for_result else ref

    async def aio_run(
        self,
        input: Any = _NOT_GIVEN,
        options: TriggerWorkflowOptions | None = None,
        *,
        wait_for_result: bool = True,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        key: str | None = None,
    ) -> Any:
        ref = await self.aio_run_no_wait(
            input, options, additional_metadata=additional_metadata, priority=priority, key=key
        )
        return await ref.aio_result() if wait_for_result else ref

    def run_many_no_wait(self, items: Sequence[TriggerWorkflowOptions]) -> list[WorkflowRunRef]:
        """Start many runs in one request; refs in order. Raises the first refusal."""
        return _accepted(self._trigger(items))

    async def aio_run_many_no_wait(self, items: Sequence[TriggerWorkflowOptions]) -> list[WorkflowRunRef]:
        return _accepted(await self._aio_trigger(items))

    def run_many(
        self, items: Sequence[TriggerWorkflowOptions], *, return_exceptions: bool = False
    ) -> list[Any]:
        """Start many runs in one request and wait for all; results in order.

        With ``return_exceptions``, a refused or failed run's exception takes its place
        in the list instead of being raised.
        """
        results: list[Any] = []
        for ref in self._trigger(items):
            try:
                if isinstance(ref, Exception):
                    raise ref
                results.append(ref.result())
            except Exception as exc:
                results.append(_returned(exc, return_exceptions))
        return results

    async def aio_run_many(
        self, items: Sequence[TriggerWorkflowOptions], *, return_exceptions: bool = False
    ) -> list[Any]:
        results: list[Any] = []
        refs = await self._aio_trigger(items)
        ctx = current_context.get()
        if isinstance(ctx, DurableContext):  # wait for them all in one durable call
            started = [ref for ref in refs if isinstance(ref, WorkflowRunRef)]
            outcomes = await ctx._wait_runs([ref.run_id for ref in started]) if started else []
            for run_ref, outcome in zip(started, outcomes, strict=True):
                run_ref._durable_outcome = outcome
        for ref in refs:
            try:
                if isinstance(ref, Exception):
                    raise ref
                results.append(await ref.aio_result())
            except Exception as exc:
                results.append(_returned(exc, return_exceptions))
        return results


def _accepted(refs: list[WorkflowRunRef | Exception]) -> list[WorkflowRunRef]:
    """The refs, or the first refusal raised."""
    accepted: list[WorkflowRunRef] = []
    for ref in refs:
        if isinstance(ref, Exception):
            raise ref
        accepted.append(ref)
    return accepted


def _returned(exc: Exception, return_exceptions: bool) -> Exception:
    """``exc`` as a result of ``run_many(return_exceptions=True)``; raised otherwise."""
    if not return_exceptions:
        raise exc
    return exc


class Standalone(Workflow):
    """A one-task workflow made by ``@ratchet.task(...)``; ``run`` returns the task's output."""

    def __init__(
        self,
        client: Ratchet | None,
        fn: TaskFn,
        name: str | None,
        options: TaskOptions,
        *,
        kind: TaskKind = TaskKind.TASK,
        eviction_delay: float = 1.0,
        **workflow_options: Any,
    ) -> None:
        fn = _check_fn(fn, "standalone task")
        task_name = name or str(getattr(fn, "__name__", ""))
        super().__init__(client, task_name, **workflow_options)
        self.task_obj = self._add(fn, task_name, kind, (), options, eviction_delay)
        self._standalone_task = self.task_obj.name
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly."""
        return self.fn(*args, **kwargs)


def _eviction_delay(value: Duration, workflow: str) -> float:
    try:
        delay = parse_duration(value, what="eviction_delay")
    except (TypeError, ValueError) as exc:
        raise DefinitionError(f"workflow {workflow!r}: {exc}") from None
    if not 0 <= delay <= MAX_EVICTION_DELAY:
        raise DefinitionError(
            f"workflow {workflow!r}: eviction_delay must be from 0 to {MAX_EVICTION_DELAY:g} seconds, "
            f"got {delay:g}; a longer wait is better spent evicted (the task resumes when it is over)"
        )
    return delay
