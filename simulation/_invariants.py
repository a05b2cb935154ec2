"""The contract a simulation checks, each rule with a name.

Some rules are watched while the simulation runs (:class:`Observations`, fed by the
simulated workers: when each attempt started and stopped, what it was given, how many
attempts each worker ran at once); the rest are checked at the end against everything
the store committed (:func:`check_store`).

Names:

- ``triggers-are-answered``: a trigger of a registered workflow gets a run id once the
  faults let it through (the client retries with the same idempotency key);
- ``acknowledged-runs-not-lost``: every run whose trigger was answered with an id exists;
- ``every-run-ends``: once faults heal, every stored run reaches a terminal status;
- ``one-terminal-outcome``: no task records two terminal outcomes, and a task of an
  ended run records exactly one;
- ``parents-before-children``: a task is assigned only after all its parents completed;
- ``children-see-parent-outputs``: every execution of a task was given exactly the
  outputs its parents recorded;
- ``statuses-never-move-backwards``: within an attempt, a task's timeline only moves
  forward (queued, assigned, ended);
- ``retries-bounded``: a task never retries more than its ``retries``;
- ``retries-wait-their-backoff``: the n-th retry is assigned no sooner than
  ``min(backoff_max_seconds, backoff_factor ** n)`` after the failure;
- ``outcomes-come-from-their-attempt``: a task recorded COMPLETED at attempt *n* was
  reported completed by an execution of attempt *n* (a late report of an older attempt
  is fenced off, never taken for the current one);
- ``slots-never-exceeded``: a worker never runs more attempts at once than its slots;
- ``cancelled-tasks-stop``: once every run has ended, no task function still runs
  (hung attempts, cancelled runs and self-cancelled runs were all stopped).

Work that waits (checked by :mod:`._waiting_invariants` when the workload has it):

- ``durable-replays-without-duplicates``: however often a durable run replays (evicted
  while it waits, retried after a failure, its worker or the engine crashed), its log
  holds each durable call once, in the order its steps make them (all of them once it
  completed); each child is spawned once per spawn step and index, and is the run the
  log recorded for that place; no execution passes a sleep before the deadline its log
  holds, and none that reaches a sleep after that deadline is evicted to sleep again;
- ``durable-waits-resume``: a durable task evicted while it waits is queued again once
  what it waits for is over: none is left EVICTED at the end with every durable call
  of its log resolved (its sleeps' deadlines passed, its event and children arrived);
- ``waits-see-their-event``: a durable wait resolves with the event it waits for (its
  key, the payload its expression accepts, not the decoy), one stored at or after the
  wait's start minus its look-back, whether it was pushed before the run even started
  or after; every replay gets the same event; and a wait whose event was stored within
  its look-back does not still wait at the end;
- ``events-start-one-run-each``: every acknowledged event is stored; every stored event
  starts, of each workflow with a key pattern matching it, exactly one run if the
  workflow has no filters, or one per filter whose scope is the event's and whose
  expression holds: never none, never two (runs are counted by the event their input
  names, so an event stored twice, by a push repeated after its answer was lost,
  counts twice; see :meth:`~._client.SimClient.push`); and a completed run names a
  filter that accepted its event;
- ``crons-fire-once-per-tick``: a declared cron is stored once; each of its runs names
  one of its ticks (its key is ``cron:<workflow>:<name>:<tick>``), and no tick starts
  two runs (a run without a tick in its key counts for the latest tick when it was
  made). A tick fires on time: within ``CRON_GRACE`` seconds, not counting clock
  jumps, or, when commits were slow meanwhile and the Triggers actor ran from the tick
  until its run was made, within ``CRON_GRACE`` after the slow commits ended (a commit
  that failed is tried again, in another slow commit); or late only as the engine
  documents for ticks missed while it was down: as the latest tick
  at or before a (re)start of the Triggers actor (its process restarted, or its
  supervisor restarted it), older missed ticks being skipped. And these ticks fire:
  every tick after the cron was stored whose run nothing kept from its commit, that
  is, the Triggers actor ran and the clock did not jump from the tick until
  ``CRON_GRACE`` after it (after the slow commits, when they were slow); and, for every
  (re)start of the Triggers actor that nothing kept from committing in the same sense,
  the latest tick at or before it (if after the cron was stored). A tick whose run was
  still on its way to the store when the engine stopped is thus missed unless it was
  the latest; a failed commit excuses nothing, as the engine tries a tick's commit
  again until it is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ratchet._contract.spec import WorkflowSpec
from ratchet._contract.status import RunStatus, TaskEventKind, TaskStatus

__all__ = ["INVARIANTS", "AttemptKey", "Observations", "check_store"]

INVARIANTS = (
    "triggers-are-answered",
    "acknowledged-runs-not-lost",
    "every-run-ends",
    "one-terminal-outcome",
    "parents-before-children",
    "children-see-parent-outputs",
    "statuses-never-move-backwards",
    "retries-bounded",
    "retries-wait-their-backoff",
    "outcomes-come-from-their-attempt",
    "slots-never-exceeded",
    "cancelled-tasks-stop",
    "durable-replays-without-duplicates",
    "durable-waits-resume",
    "waits-see-their-event",
    "events-start-one-run-each",
    "crons-fire-once-per-tick",
)

TERMINAL_EVENTS = {
    TaskEventKind.COMPLETED,
    TaskEventKind.FAILED,
    TaskEventKind.CANCELLED,
    TaskEventKind.TIMED_OUT,
    TaskEventKind.SCHEDULE_TIMED_OUT,
}
# EVICTED ends an attempt of a durable task (which resumes as the next attempt) without
# an outcome: it ranks with the terminal events, but is not one.
_RANK = {
    TaskEventKind.CREATED: 0,
    TaskEventKind.QUEUED: 1,
    TaskEventKind.RETRYING: 1,
    TaskEventKind.REASSIGNED: 1,
    TaskEventKind.ASSIGNED: 2,
    TaskEventKind.STARTED: 3,
    TaskEventKind.EVICTED: 4,
}


@dataclass(frozen=True, slots=True)
class AttemptKey:
    """One execution of a task function on a worker (the same attempt may run twice:
    execution is at least once), numbered in the order executions started."""

    worker: str
    run_id: str
    workflow: str
    task: str
    attempt: int
    serial: int


class Observations:
    """What the workers saw happen, and the violations found while the simulation ran.

    Args:
        extra: names of user invariants that may be reported too.
    """

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.names = set(INVARIANTS) | set(extra)
        self.violations: list[str] = []
        self.running: dict[AttemptKey, float] = {}
        # what each execution was given as its parents' outputs: (run_id, task, parents)
        self.parent_inputs: list[tuple[str, str, dict[str, Any]]] = []
        # (task_run_id, attempt) of every execution that reported completion
        self.completions: set[tuple[str, int]] = set()
        self.attempts = 0

    def violate(self, invariant: str, detail: str) -> None:
        if invariant not in self.names:
            raise ValueError(f"unknown invariant {invariant!r}; known: {sorted(self.names)}")
        self.violations.append(f"{invariant}: {detail}")

    def started(
        self, worker: str, payload: dict[str, Any], now: float, running: int, slots: int
    ) -> AttemptKey:
        """A worker started an attempt; it now runs ``running`` attempts with ``slots`` slots."""
        self.attempts += 1
        key = AttemptKey(
            worker, payload["run_id"], payload["workflow"], payload["task"], payload["attempt"], self.attempts
        )
        self.running[key] = now
        self.parent_inputs.append((payload["run_id"], payload["task"], dict(payload.get("parents") or {})))
        if running > slots:
            self.violate(
                "slots-never-exceeded", f"{worker} ran {running} attempts with {slots} slots at t={now:.3f}"
            )
        return key

    def stopped(self, key: AttemptKey) -> None:
        self.running.pop(key, None)

    def reported(self, task_run_id: str, attempt: int, status: str) -> None:
        """A worker reported how an execution of this attempt ended."""
        if status == "completed":
            self.completions.add((task_run_id, attempt))

    def check_stopped(self) -> None:
        """Every run has ended: no task function may still run."""
        for key in sorted(self.running, key=lambda k: k.serial):
            self.violate(
                "cancelled-tasks-stop",
                f"{key.workflow}.{key.task} attempt {key.attempt} of run {key.run_id} still runs on "
                f"{key.worker} (started at t={self.running[key]:.3f}) after every run ended",
            )


async def check_store(
    store: Any,
    acknowledged: Sequence[str],
    specs: Mapping[str, WorkflowSpec],
    observations: Observations,
    *,
    tenant: str = "default",
) -> list[str]:
    """The violations found in what the store committed (and what workers were given)."""
    violations: list[str] = []

    def violate(invariant: str, detail: str) -> None:
        violations.append(f"{invariant}: {detail}")

    stored = {run.id: run for run in await store.list_runs(tenant, limit=None)}
    outputs: dict[str, dict[str, Any]] = {}
    for run_id in acknowledged:
        if run_id not in stored:
            violate("acknowledged-runs-not-lost", f"run {run_id} was acknowledged but is not stored")
    for run_id, run in sorted(stored.items(), key=lambda item: (item[1].created_at, item[0])):
        ended = RunStatus(run.status).is_terminal
        if not ended:
            violate("every-run-ends", f"run {run_id} is still {run.status} after the faults healed")
        workflow = await store.get_workflow(tenant, run.workflow_id)
        spec = specs.get(workflow.name) if workflow is not None else None
        tasks = await store.list_tasks(tenant, run_id)
        outputs[run_id] = {t.name: t.output for t in tasks if t.status == TaskStatus.COMPLETED}
        events = await store.list_task_events(tenant, run_id=run_id)
        by_task: dict[str, list[Any]] = {}
        for e in sorted(events, key=lambda e: e.seq):
            by_task.setdefault(e.task_id, []).append(e)
        id_of = {t.name: t.id for t in tasks}
        for t in tasks:
            timeline = by_task.get(t.id, [])
            terminal = [str(e.kind) for e in timeline if str(e.kind) in TERMINAL_EVENTS]
            if len(terminal) > 1 or (ended and len(terminal) != 1):
                violate("one-terminal-outcome", f"run {run_id} task {t.name}: {terminal}")
            last_rank: dict[int, int] = {}
            for e in timeline:
                kind = str(e.kind)
                rank = 4 if kind in TERMINAL_EVENTS else _RANK.get(kind, 1)
                if rank < last_rank.get(e.attempt, -1):
                    violate(
                        "statuses-never-move-backwards",
                        f"run {run_id} task {t.name} attempt {e.attempt}: {kind} after a later status",
                    )
                last_rank[e.attempt] = max(rank, last_rank.get(e.attempt, -1))
            if t.status == TaskStatus.COMPLETED and (t.id, t.attempt) not in observations.completions:
                violate(
                    "outcomes-come-from-their-attempt",
                    f"run {run_id} task {t.name} recorded COMPLETED at attempt {t.attempt}, "
                    "which no execution completed",
                )
            if spec is None:
                continue
            task_spec = spec.task(t.name)
            if t.retry_count > task_spec.retry.retries:
                violate(
                    "retries-bounded",
                    f"run {run_id} task {t.name}: {t.retry_count} retries of {task_spec.retry.retries}",
                )
            retries = 0
            for i, e in enumerate(timeline):
                if e.kind != TaskEventKind.RETRYING:
                    continue
                retries += 1
                delay = task_spec.retry.delay(retries)
                nxt = next((n for n in timeline[i + 1 :] if n.kind == TaskEventKind.ASSIGNED), None)
                if nxt is not None and nxt.at < e.at + delay - 1e-6:
                    violate(
                        "retries-wait-their-backoff",
                        f"run {run_id} task {t.name}: retry {retries} assigned "
                        f"{nxt.at - e.at:.3f}s after the failure, backoff {delay:g}s",
                    )
            assigned = [e.seq for e in timeline if e.kind == TaskEventKind.ASSIGNED]
            for parent in task_spec.parents:
                done = [
                    e.seq for e in by_task.get(id_of.get(parent, ""), []) if e.kind == TaskEventKind.COMPLETED
                ]
                if assigned and (not done or min(done) > min(assigned)):
                    violate(
                        "parents-before-children",
                        f"run {run_id}: {t.name} assigned before parent {parent} completed",
                    )
    for run_id, task, parents in observations.parent_inputs:
        recorded = outputs.get(run_id, {})
        for parent, value in sorted(parents.items()):
            if parent not in recorded or recorded[parent] != value:
                violate(
                    "children-see-parent-outputs",
                    f"run {run_id} task {task} was given {parent}={value!r}; "
                    f"the store recorded {recorded.get(parent, '(no output)')!r}",
                )
    return violations
