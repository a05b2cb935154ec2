"""The Gateway actor: the engine's API, for workers and clients alike.

Every public method here is an entry point reachable over the wire (through
:class:`~ratchet.transport.ActorNode`) or in-process (embedded mode). Each one validates
its arguments (:mod:`ratchet._contract.protocol`) before touching anything, then hands the
work to the actor that owns it. Methods that wait (for a commit, for a run to finish,
for the store) are ``@concurrent``, so one slow caller never holds up the others.
"""

from __future__ import annotations

from typing import Any

import trio

from ratchet._contract.flow import (
    RateLimitDuration,
    check_rate_limit_key,
    check_rate_limit_put,
    check_worker_labels,
)
from ratchet._contract.protocol import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    BulkRunsRequest,
    ListRunsRequest,
    RegisterWorkerRequest,
    RequestError,
    TaskResultReport,
    TriggerRequest,
    check_id,
    check_payload_size,
    parse,
    run_labels,
)
from ratchet._contract.spec import WorkflowSpec
from ratchet._contract.status import RunStatus, TaskStatus
from ratchet._contract.wire_values import bounded_text, wire_problem
from ratchet._errors import DefinitionError
from ratchet.runtime import ActorRef, concurrent

from .. import _names as names
from ..limits import LimitGate, limits_from_settings, load_limits
from ..runs import _views as views
from ..runs._coordinator import action_name
from ..runs._intake import RunIntake, RunRequest, to_wire
from ..runs._registry import Registration
from ..runs._serving import unserved_reason
from ..store import (
    CommitTicket,
    DeleteRateLimit,
    PauseKind,
    PutRateLimit,
    Run,
    Store,
)
from ..webhooks import Webhooks
from . import _durable as durable_checks
from . import _run_search as run_search
from . import _triggers as trigger_checks
from ._events import EventMethods
from ._operators import OperatorMethods
from ._webhooks import WebhookMethods

#: Longest error text (type, message, traceback) of a task result kept, in characters.
MAX_REPORTED_TEXT = 64_000

__all__ = ["IN_PROCESS_ONLY", "Gateway"]

#: Gateway methods the engine's own actors call, never served to peers (no role in
#: ``METHOD_ROLES``, so the wire guard refuses them) nor to HTTP.
IN_PROCESS_ONLY = frozenset({"apply_limits", "tenant_usage"})

MAX_BATCH = 10_000
MAX_DEFINITIONS = 1000
MAX_REFRESH_SECONDS = 7 * 24 * 3600
# how often a registration is read back and made again after another engine beat it to a
# version number: each round, some engine's definition is stored, so a few rounds settle it
_REGISTRATION_ROUNDS = 8


class Gateway(OperatorMethods, EventMethods, WebhookMethods):
    """The engine's front door.

    Messages (refs are untyped: this is the route in), all over the wire (an
    :class:`~ratchet.transport.ActorNode`) or in-process (embedded mode):
        from workers (``ratchet._worker``): ``register_worker``, ``heartbeat``,
            ``drain_worker``, ``deregister_worker``, ``task_results``, ``release_slot``,
            ``refresh_timeout``, ``durable_step``.
        from clients and task contexts (``ratchet._clients``, ``Workflow.run``,
            spawns): ``register_workflows``, ``trigger``, ``cancel_runs``,
            ``replay_runs``, ``get_run``, ``wait_run``, ``list_runs``,
            ``list_workers``, ``list_workflows``, ``put_rate_limit``, ``list_rate_limits``,
            ``delete_rate_limit``, ``push_events``,
            ``create_filter``, ``list_filters``, ``delete_filter``, ``create_cron``,
            ``list_crons``, ``get_cron``, ``delete_cron``, ``pause_cron``, ``resume_cron``,
            ``run_cron_now``, ``create_schedule``,
            ``list_schedules``, ``get_schedule``, ``update_schedule``,
            ``delete_schedule``.
        from operators (the API, the CLI, ``ratchet.workers`` / ``workflows`` /
            ``metrics``): ``get_worker``, ``pause_worker``, ``resume_worker``,
            ``get_workflow``, ``list_workflow_versions``, ``pause_workflow``,
            ``unpause_workflow``, ``queue_metrics``, ``get_run_timings``, ``get_task``,
            ``list_task_events``; events read back (:mod:`._events`): ``list_events``,
            ``get_event``, ``list_event_keys``; webhooks (:mod:`._webhooks`):
            ``create_webhook``, ``list_webhooks``, ``get_webhook``, ``delete_webhook``,
            ``list_webhook_failures``.
    It receives nothing from the engine's other actors: it only asks them.

    Args:
        store: the store, for reads.
        tenant_id: the tenant served.
        node: the :class:`~ratchet.transport.ActorNode` that reaches remote workers, or
            None when every worker lives in this process.
        max_payload_bytes: the largest run input accepted.
        webhooks: the engine's webhooks service (shared by every tenant's gateway), or None.
    """

    def __init__(
        self,
        store: Store,
        *,
        tenant_id: str,
        node: Any = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        webhooks: Webhooks | None = None,
    ) -> None:
        self.store = store
        self.webhooks = webhooks
        self.tenant_id = tenant_id
        self.node = node
        self.max_payload_bytes = max_payload_bytes
        self._monitored: set[str] = set()
        self._worker_names: dict[str, str] = {}  # worker id -> the name it registered with

    async def on_start(self) -> None:
        lookup = self.context.system.lookup
        self._coordinator: ActorRef = lookup(names.scoped(names.COORDINATOR, self.tenant_id))
        self._dispatcher: ActorRef = lookup(names.scoped(names.DISPATCHER, self.tenant_id))
        self._scheduler: ActorRef = lookup(names.scoped(names.SCHEDULER, self.tenant_id))
        self._writer: ActorRef = lookup(names.STORE_WRITER)
        self._triggers: ActorRef = lookup(names.scoped(names.TRIGGERS, self.tenant_id))
        self._durable: ActorRef = lookup(names.scoped(names.DURABLE, self.tenant_id))
        self._intake = RunIntake(self.store, self.tenant_id, self._coordinator)
        limits = await load_limits(self.store, self.tenant_id)
        self._limits = LimitGate(self.store, self.tenant_id, limits, self.context.clock, self._dispatcher)

    # -- workers ------------------------------------------------------------------------------

    @concurrent
    async def register_worker(self, request: Any) -> dict[str, Any]:
        """Register a worker and its workflows; returns its heartbeat interval, the workflows'
        versions, and the session's epoch and timeout (see :meth:`Dispatcher.register`)."""
        req = parse(RegisterWorkerRequest, request, "register_worker request")
        try:
            labels = check_worker_labels(req.labels, f"worker {req.name!r}")
        except ValueError as exc:
            raise RequestError(str(exc)) from None
        specs = []
        for raw in req.workflows:
            try:
                specs.append(WorkflowSpec.from_dict(raw))
            except DefinitionError as exc:
                raise RequestError(f"worker {req.name!r} registered an invalid workflow: {exc}") from None
        await self._limits.admit_worker(req.worker_id)  # over max_workers: TenantLimitError
        # resolve the worker first: a registration that fails registers nothing
        if req.peer is None:
            ref = self.context.system.lookup(req.actor)
        else:
            if self.node is None:
                raise RequestError("this engine serves in-process workers only; register without a peer")
            ref = self.node.ref(req.peer, req.actor)
            if req.peer not in self._monitored:
                self._monitored.add(req.peer)
                self.node.monitor(req.peer, self._dispatcher, "peer_down")
        # A worker the engine knew (its session lost, or the engine restarted) runs the
        # code it ran before: registering again is not a deploy (see the registry).
        known = await self._known_worker(req.worker_id)
        registration = Registration.RECONNECT if known else Registration.DEPLOY
        registered = await self._register_workflows(specs, registration)
        actions = [action_name(self.tenant_id, spec.name, t.name) for spec in specs for t in spec.tasks]
        interval, epoch, session_timeout = await self._dispatcher.register.ask(
            req.worker_id,
            req.name,
            ref,
            req.peer,
            actions,
            req.slots,
            labels,
            list(req.running),
            req.durable_slots,
            workflows=dict(registered),
            durable_running=list(req.durable_running),
        )
        return {
            "heartbeat_interval": interval,
            "versions": dict(registered),
            "epoch": list(epoch),
            "session_timeout": session_timeout,
        }

    @concurrent
    async def register_workflows(self, definitions: Any) -> dict[str, int]:
        """A client's definitions of workflows it is about to trigger; returns their versions.

        A client may start before any worker (a deploy does it all the time): a workflow
        the engine knows no version of is registered from the client's definition, so
        its runs can be created and wait for a worker. A workflow the engine knows is
        left as it is: its versions are the workers' to decide. A client is not a
        worker: nothing registered here makes the engine believe anyone serves it.
        """
        if not isinstance(definitions, list) or not 1 <= len(definitions) <= MAX_DEFINITIONS:
            raise RequestError(
                f"register_workflows: expected a list of 1 to {MAX_DEFINITIONS} workflow definitions"
            )
        specs = []
        for raw in definitions:
            try:
                specs.append(WorkflowSpec.from_dict(raw))
            except DefinitionError as exc:
                raise RequestError(f"register_workflows: an invalid workflow definition: {exc}") from None
        return dict(await self._register_workflows(specs, Registration.CLIENT))

    async def _register_workflows(
        self, specs: list[WorkflowSpec], registration: Registration
    ) -> list[tuple[str, int]]:
        """Register ``specs`` and return ``(name, version)`` once their commits landed.

        Engines sharing the database may register the same workflow at the same moment:
        a registration that wrote something is read back, and what another engine beat
        to its version number is registered again (see :mod:`ratchet.actors.runs._registry`).
        """
        versions: dict[str, int] = {}
        changed = False
        todo = specs
        for _ in range(_REGISTRATION_ROUNDS):
            registered, tickets = await self._coordinator.register_workflows.ask(todo, registration)
            versions.update(registered)
            for ticket in tickets:
                await ticket.wait()
            if not tickets:
                break
            changed = True
            todo = await self._coordinator.lost_workflows.ask([(s, versions[s.name]) for s in todo])
            if not todo:
                break
        else:
            names = ", ".join(repr(s.name) for s in todo)
            raise RequestError(
                f"workflows {names}: other engines on the database kept registering other definitions "
                f"of them while this one registered; register again once their deploys settle"
            )
        if changed:
            await self._triggers.workflows_changed.ask()  # new event, cron and filter triggers
        return [(spec.name, versions[spec.name]) for spec in specs]

    @concurrent
    async def heartbeat(self, worker_id: Any) -> bool:
        """A worker is alive; False means the engine does not know it (register again)."""
        if not isinstance(worker_id, str):
            raise RequestError(f"heartbeat: worker_id must be a string, got {type(worker_id).__name__}")
        return bool(await self._dispatcher.heartbeat.ask(worker_id))

    @concurrent
    async def drain_worker(self, worker_id: Any) -> bool:
        """The worker is shutting down: give it nothing new."""
        if not isinstance(worker_id, str):
            raise RequestError(f"drain_worker: worker_id must be a string, got {type(worker_id).__name__}")
        return bool(await self._dispatcher.drain.ask(worker_id))

    def deregister_worker(self, worker_id: Any) -> None:
        if not isinstance(worker_id, str):
            raise RequestError(
                f"deregister_worker: worker_id must be a string, got {type(worker_id).__name__}"
            )
        self._dispatcher.deregister.tell(worker_id)

    def task_results(self, results: Any) -> int:
        """Attempts that ended on a worker; returns how many were accepted."""
        if not isinstance(results, list) or len(results) > MAX_BATCH:
            raise RequestError(f"task_results: expected a list of at most {MAX_BATCH} results")
        reports = [parse(TaskResultReport, r, "task result").model_dump() for r in results]
        for report in reports:
            _make_storable(report)
            if report["status"] == "completed":
                try:
                    check_payload_size(report["output"], self.max_payload_bytes, "task output")
                except RequestError as exc:
                    report.update(
                        status="failed",
                        output=None,
                        error_type="OutputTooLarge",
                        error_message=str(exc),
                        retryable=False,
                    )
        by_worker: dict[str | None, list[tuple[str, int]]] = {}
        for r in reports:
            by_worker.setdefault(r["worker_id"], []).append((r["task_id"], r["attempt"]))
        for worker_id, keys in by_worker.items():
            self._scheduler.release.tell(keys, worker_id)
        self._coordinator.task_results.tell(reports)
        return len(reports)

    def release_slot(self, task_id: Any, attempt: Any) -> None:
        """A running attempt gives its worker slot back early (``ctx.release_slot()``)."""
        _check_attempt("release_slot", task_id, attempt)
        self._scheduler.release_slot.tell((task_id, attempt))

    @concurrent
    async def put_rate_limit(self, key: Any, limit: Any, duration: Any) -> None:
        """Declare or change a static rate limit: ``limit`` units in any window of ``duration``.

        Returns once the limit is committed; tasks waiting on the key see it at once.
        """
        try:
            key, limit, window = check_rate_limit_put(key, limit, duration)
        except ValueError as exc:
            raise RequestError(f"put_rate_limit: {exc}") from None
        ticket = CommitTicket(
            [
                PutRateLimit(
                    tenant_id=self.tenant_id,
                    key=key,
                    limit_units=limit,
                    duration_seconds=window.seconds,
                    at=self.context.clock.time(),
                )
            ]
        )
        self._writer.enqueue.tell(ticket)
        await ticket.wait()
        self._scheduler.put_rate_limit.tell(key, limit, window.seconds)

    @concurrent
    async def delete_rate_limit(self, key: Any) -> bool:
        """Delete a static rate limit and its log; False if the key was not declared.

        Returns once the deletion is committed. Tasks that need the key are refused from
        then on (those waiting for room too), as for a key never declared; putting the
        key again starts it afresh.
        """
        try:
            key = check_rate_limit_key(key)
        except ValueError as exc:
            raise RequestError(f"delete_rate_limit: {exc}") from None
        ticket = CommitTicket([DeleteRateLimit(tenant_id=self.tenant_id, key=key)])
        self._writer.enqueue.tell(ticket)
        (deleted,) = await ticket.wait()
        self._scheduler.delete_rate_limit.tell(key)
        return bool(deleted)

    @concurrent
    async def list_rate_limits(self) -> list[dict[str, Any]]:
        """The tenant's static rate limits, by key: ``{key, limit, duration}``.

        ``duration`` is the window's name (``"MINUTE"``), or its length in seconds when
        no named window has that length.
        """
        return [
            {
                "key": row.key,
                "limit": row.limit_units,
                "duration": _duration_name(row.duration_seconds),
            }
            for row in await self.store.list_rate_limits(self.tenant_id)
        ]

    def refresh_timeout(self, task_id: Any, attempt: Any, seconds: Any) -> None:
        """A running attempt asks for ``seconds`` more from now (``ctx.refresh_timeout``)."""
        _check_attempt("refresh_timeout", task_id, attempt)
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 <= seconds <= MAX_REFRESH_SECONDS
        ):
            raise RequestError(
                f"refresh_timeout: seconds must be a number from 0 to {MAX_REFRESH_SECONDS}, got {seconds!r}"
            )
        self._coordinator.refresh_timeout.tell(task_id, attempt, float(seconds))

    # -- runs -----------------------------------------------------------------------------------

    @concurrent
    async def trigger(self, requests: Any) -> list[dict[str, Any]]:
        """Start runs; each answer is ``{"run_id": ...}`` or ``{"error": ...}``, in order.

        A run id is returned only once the run is committed. A request with a ``key``
        that an earlier run was created with answers that run's id and starts nothing,
        so a client may repeat a trigger whose answer it never got.
        """
        if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_BATCH:
            raise RequestError(f"trigger: expected a list of 1 to {MAX_BATCH} run requests")
        answers: list[dict[str, Any] | None] = [None] * len(requests)
        valid: list[tuple[int, RunRequest]] = []
        cap = self._limits.payload_cap(self.max_payload_bytes)
        for i, raw in enumerate(requests):
            try:
                req = parse(TriggerRequest, raw, "run request")
                check_payload_size(req.input, cap, f"input of workflow {req.workflow!r}")
                labels = run_labels(req.desired_worker_labels, req.workflow)
            except RequestError as exc:
                answers[i] = {"error": str(exc)}
                continue
            valid.append(
                (
                    i,
                    RunRequest(
                        req.workflow,
                        req.input,
                        req.additional_metadata,
                        req.priority,
                        req.parent_task_id,
                        req.key,
                        desired_worker_labels=labels,
                    ),
                )
            )
        await self._limits.admit_runs(len(valid))  # over a limit: TenantLimitError, nothing written
        started = await self._intake.create_runs([r for _, r in valid])
        for (i, _), answer in zip(valid, started, strict=True):
            answers[i] = to_wire(answer)
        return [a if a is not None else {"error": "not processed"} for a in answers]

    @concurrent
    async def cancel_runs(self, request: Any) -> int:
        """Cancel runs (queued and running tasks, and everything downstream); returns how
        many were still running.

        ``request`` is a list of run ids, or ``{"ids": [...]}``, or ``{"filter": {...}}``
        (:class:`~ratchet._contract.protocol.RunFilterRequest`: the QUEUED and RUNNING
        runs it matches are cancelled).
        """
        ids = await self._bulk_ids(request, "cancel_runs", (RunStatus.QUEUED, RunStatus.RUNNING))
        cancelled = 0
        for start in range(0, len(ids), MAX_BATCH):
            cancelled += int(await self._coordinator.cancel_runs.ask(ids[start : start + MAX_BATCH]))
        return cancelled

    @concurrent
    async def replay_runs(self, request: Any) -> list[str]:
        """Run FAILED or CANCELLED runs again from where they broke; returns the ids replayed.

        Their failed and cancelled tasks and those tasks' descendants run as new
        attempts; completed tasks keep their outputs. ``request`` is as for
        :meth:`cancel_runs` (a filter takes the FAILED and CANCELLED runs it matches).
        """
        ids = await self._bulk_ids(request, "replay_runs", (RunStatus.FAILED, RunStatus.CANCELLED))
        replayed: list[str] = []
        for start in range(0, len(ids), MAX_BATCH):
            replayed.extend(await self._coordinator.replay_runs.ask(ids[start : start + MAX_BATCH]))
        return replayed

    async def _bulk_ids(self, request: Any, what: str, statuses: tuple[RunStatus, ...]) -> list[str]:
        """The run ids a bulk request names, or its filter matches among ``statuses``."""
        if isinstance(request, list):
            return self._run_ids(request, what)
        req = parse(BulkRunsRequest, request, f"{what} request")
        if req.ids is not None:
            return list(req.ids)
        wanted = (
            statuses if req.filter.statuses is None else [s for s in req.filter.statuses if s in statuses]
        )
        search = await run_search.search_of(self.store, self.tenant_id, req.filter, wanted)
        return await run_search.find_run_ids(self.store, self.tenant_id, search)

    @concurrent
    async def get_run(self, run_id: Any, details: bool = True) -> dict[str, Any] | None:
        """A run's status, input, outputs and (with ``details``) tasks and timeline."""
        (rid,) = self._run_ids([run_id], "get_run")
        run = await self.store.get_run(self.tenant_id, rid)
        if run is None:
            return None
        return await self._describe(run, details=details)

    @concurrent
    async def wait_run(self, run_id: Any, timeout: Any = None) -> dict[str, Any] | None:
        """Wait until the run has finished, then describe it (None: no such run).

        Works whether the run finished long ago or finishes later.
        """
        (rid,) = self._run_ids([run_id], "wait_run")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)):
            raise RequestError("wait_run: timeout must be a number of seconds or None")
        with trio.move_on_after(float("inf") if timeout is None else max(0.0, float(timeout))):
            while True:
                event = await self._coordinator.watch.ask(rid)
                if event is None:
                    break
                await event.wait()
        run = await self.store.get_run(self.tenant_id, rid)
        if run is None:
            return None
        return await self._describe(run, details=True)

    @concurrent
    async def list_runs(self, filters: Any = None) -> list[dict[str, Any]]:
        """Runs, newest first (``offset`` skipped, at most ``limit``), filtered by status,
        workflow, time, metadata (all pairs or any), parent task, worker or triggering
        event: see :class:`~ratchet._contract.protocol.ListRunsRequest`."""
        req = parse(ListRunsRequest, {} if filters is None else filters, "list_runs filters")
        search = await run_search.search_of(self.store, self.tenant_id, req, req.statuses)
        rows = await run_search.find_runs(self.store, self.tenant_id, search, req.offset, req.limit)
        return [await self._describe(row, details=False) for row in rows]

    # -- events and filters (checks: gateway/_triggers.py) ---------------------------------------

    @concurrent
    async def push_events(self, events: Any) -> list[dict[str, Any]]:
        """Push 1 to 1000 events; each answer is ``{"id", "runs"}`` once durable, or ``{"error"}``.

        Raises:
            RequestError: not a list of 1 to 1000 events, or an event is malformed
                (then none of them is pushed).
        """
        checked = trigger_checks.check_events(events, self._limits.payload_cap(self.max_payload_bytes))
        self._limits.admit_events(len(checked))  # over events_per_second: TenantLimitError
        return list(await self._triggers.push.ask(checked))

    @concurrent
    async def create_filter(self, request: Any) -> dict[str, Any]:
        """Add an event filter to a workflow: ``{workflow, expression, scope, payload}``."""
        req = trigger_checks.check_filter(request, self.max_payload_bytes)
        return await trigger_checks.ask_triggers(
            self._triggers, "create_filter", req.workflow, req.expression, req.scope, req.payload
        )

    @concurrent
    async def list_filters(self, workflow: Any = None) -> list[dict[str, Any]]:
        """Event filters, declared and stored, of one workflow or all."""
        name = trigger_checks.check_workflow_name(workflow, "list_filters")
        return list(await self._triggers.list_filters.ask(name))

    @concurrent
    async def delete_filter(self, filter_id: Any) -> bool:
        """Delete an event filter; False if there was none."""
        fid = trigger_checks.check_id(filter_id, "delete_filter")
        return bool(await trigger_checks.ask_triggers(self._triggers, "delete_filter", fid))

    # -- crons and schedules (checks: gateway/_triggers.py) --------------------------------------

    @concurrent
    async def create_cron(self, request: Any) -> dict[str, Any]:
        """Add a cron trigger: ``{workflow, name, expression, input, additional_metadata, priority}``."""
        req = trigger_checks.check_cron(request, self.max_payload_bytes)
        return await trigger_checks.ask_triggers(
            self._triggers,
            "create_cron",
            req.workflow,
            req.name,
            req.expression,
            req.input,
            req.additional_metadata,
            req.priority,
        )

    @concurrent
    async def list_crons(self, workflow: Any = None) -> list[dict[str, Any]]:
        """Crons, of one workflow or all."""
        name = trigger_checks.check_workflow_name(workflow, "list_crons")
        return list(await self._triggers.list_crons.ask(name))

    @concurrent
    async def get_cron(self, cron_id: Any) -> dict[str, Any] | None:
        """A cron by id, or None."""
        cron: dict[str, Any] | None = await self._triggers.get_cron.ask(
            trigger_checks.check_id(cron_id, "get_cron")
        )
        return cron

    @concurrent
    async def delete_cron(self, cron_id: Any) -> bool:
        """Delete a cron; False if there was none."""
        return bool(await self._triggers.delete_cron.ask(trigger_checks.check_id(cron_id, "delete_cron")))

    @concurrent
    async def pause_cron(self, cron_id: Any) -> dict[str, Any] | None:
        """Disable a cron (no tick fires, across restarts too); the cron, or None if there is none."""
        cron: dict[str, Any] | None = await self._triggers.pause_cron.ask(
            trigger_checks.check_id(cron_id, "pause_cron")
        )
        return cron

    @concurrent
    async def resume_cron(self, cron_id: Any) -> dict[str, Any] | None:
        """Enable a disabled cron from its next tick; the cron, or None if there is none."""
        cron: dict[str, Any] | None = await self._triggers.resume_cron.ask(
            trigger_checks.check_id(cron_id, "resume_cron")
        )
        return cron

    @concurrent
    async def run_cron_now(self, cron_id: Any) -> dict[str, Any] | None:
        """One run of a cron's workflow with its input, now: ``{"run_id"}``, or None if no such cron."""
        started: dict[str, Any] | None = await self._triggers.run_cron_now.ask(
            trigger_checks.check_id(cron_id, "run_cron_now")
        )
        return started

    @concurrent
    async def create_schedule(self, request: Any) -> dict[str, Any]:
        """Schedule one run: ``{workflow, trigger_at, input, additional_metadata, priority}``."""
        req, trigger_at = trigger_checks.check_schedule(
            request, self.max_payload_bytes, self.context.clock.time()
        )
        return await trigger_checks.ask_triggers(
            self._triggers,
            "create_schedule",
            req.workflow,
            trigger_at,
            req.input,
            req.additional_metadata,
            req.priority,
        )

    @concurrent
    async def list_schedules(self, filters: Any = None) -> list[dict[str, Any]]:
        """Schedules, soonest first, filtered by workflow and status."""
        filters = trigger_checks.check_schedule_filters(filters)
        rows = await self.store.list_schedules(self.tenant_id, status=filters.get("status"))
        out = [await self._triggers.describe_schedule.ask(row) for row in rows]
        return [s for s in out if filters.get("workflow") in (None, s["workflow"])]

    @concurrent
    async def get_schedule(self, schedule_id: Any) -> dict[str, Any] | None:
        """A schedule by id, or None."""
        row = await self.store.get_schedule(
            self.tenant_id, trigger_checks.check_id(schedule_id, "get_schedule")
        )
        if row is None:
            return None
        schedule: dict[str, Any] = await self._triggers.describe_schedule.ask(row)
        return schedule

    @concurrent
    async def update_schedule(self, schedule_id: Any, trigger_at: Any) -> bool:
        """Move a pending schedule to ``trigger_at``; False once it fired or was deleted."""
        sid = trigger_checks.check_id(schedule_id, "update_schedule")
        when = trigger_checks.check_new_time(trigger_at, self.context.clock.time())
        return bool(await self._triggers.update_schedule.ask(sid, when))

    @concurrent
    async def delete_schedule(self, schedule_id: Any) -> bool:
        """Cancel a pending schedule; False once it fired or was deleted."""
        sid = trigger_checks.check_id(schedule_id, "delete_schedule")
        return bool(await self._triggers.delete_schedule.ask(sid))

    # -- durable tasks (checks: gateway/_durable.py) ---------------------------------------------

    @concurrent
    async def durable_step(
        self, task_id: Any, seq: Any, kind: Any, key: Any, request: Any, wait: Any = 0.0
    ) -> dict[str, Any]:
        """Record or replay one durable call; ``{"done", "result"}``.

        See :meth:`DurableTasks.step <ratchet.actors.durable._tasks.DurableTasks.step>`.

        Raises:
            RequestError: a malformed call.
            NonDeterminismError: the call does not match the task's log.
        """
        checked, seconds = durable_checks.check_step(
            task_id, seq, kind, key, request, wait, self.max_payload_bytes
        )
        return await durable_checks.ask_durable_step(self._durable, task_id, seq, kind, key, checked, seconds)

    # -- tenant limits (in-process only: the authority's, never served to peers) ------------------

    def apply_limits(self, settings: dict[str, Any]) -> None:
        """The tenant's limits changed (already committed): apply them from now on."""
        self._limits.apply(limits_from_settings(settings))

    @concurrent
    async def tenant_usage(self) -> dict[str, Any]:
        """The tenant's usage against its limits (see :class:`~ratchet.actors.limits.TenantUsage`)."""
        return (await self._limits.usage()).as_dict()

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _run_ids(run_ids: Any, what: str) -> list[str]:
        if not isinstance(run_ids, list) or len(run_ids) > MAX_BATCH:
            raise RequestError(f"{what}: expected a list of at most {MAX_BATCH} run ids")
        return [check_id(rid, what, "a run id") for rid in run_ids]

    async def _describe(self, run: Run, *, details: bool) -> dict[str, Any]:
        """A run as clients read it (see :mod:`ratchet.actors.runs._views`), with its tasks if ``details``."""
        workflow = await self.store.get_workflow(self.tenant_id, run.workflow_id)
        name = workflow.name if workflow is not None else run.workflow_id
        tasks = views.dag_order(await self.store.list_tasks(self.tenant_id, run.id))
        out = views.run_view(run, name, tasks)
        if not details:
            return out
        events = await self.store.list_task_events(self.tenant_id, run_id=run.id)
        names = await self._worker_names_of({t.worker_id for t in tasks} | {e.worker_id for e in events})
        reasons = await self._queued_reasons(name, run.workflow_version, tasks)
        out["tasks"] = views.task_views(tasks, events, names, reasons)
        return out

    async def _queued_reasons(self, workflow: str, version: int, tasks: list[Any]) -> dict[str, str]:
        """Why queued ``tasks`` of a run wait, by task id, when no live worker serves them."""
        queued = [t for t in tasks if t.status == TaskStatus.QUEUED]
        if not queued:
            return {}
        if await self.store.get_pause(self.tenant_id, PauseKind.WORKFLOW, workflow) is not None:
            reason = f"workflow {workflow!r} is paused: its tasks wait until it is unpaused"
            return {t.id: reason for t in queued}
        actions, versions = await self._dispatcher.serving.ask(workflow)
        served = set(actions)
        return {
            t.id: unserved_reason(workflow, version, t.name, versions)
            for t in queued
            if t.queue not in served
        }


def _check_attempt(what: str, task_id: Any, attempt: Any) -> None:
    check_id(task_id, what, "a task run id")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise RequestError(f"{what}: attempt must be a whole number >= 1, got {attempt!r}")


def _make_storable(report: dict[str, Any]) -> None:
    """Repair a result's texts, and fail an output the store cannot keep (in place).

    A worker of another version or language may send text holding NUL characters, which
    the store refuses (failing the coordinator's commit, which takes the coordinator down),
    or megabytes of traceback. Texts are repaired and bounded; such an output fails its
    attempt, as an oversized one does.
    """
    for field in ("error_type", "error_message", "traceback"):
        if report[field] is not None:
            report[field] = bounded_text(report[field], MAX_REPORTED_TEXT)
    if report["status"] == "completed":
        problem = wire_problem(report["output"])
        if problem is not None:
            report.update(
                status="failed",
                output=None,
                error_type="OutputNotStorable",
                error_message=f"task output cannot be stored: {problem}",
                retryable=False,
            )


def _duration_name(seconds: float) -> str | float:
    """The name of the window ``seconds`` long (``"MINUTE"``), or ``seconds`` if none is."""
    for duration in RateLimitDuration:
        if duration.seconds == seconds:
            return duration.value
    return seconds
