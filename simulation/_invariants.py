"""The contract a simulation checks, each rule with a name.

Some rules are watched while the simulation runs (:class:`Observations`: what task
functions saw, how many attempts each worker ran at once); the rest are checked at the
end against everything the store committed (:func:`check_store`).

Names:

- ``triggers-are-answered``: a trigger of a registered workflow gets a run id;
- ``acknowledged-runs-not-lost``: every run whose trigger was answered with an id exists;
- ``every-run-ends``: once faults heal, every acknowledged run reaches a terminal status;
- ``one-terminal-outcome``: no task records two terminal outcomes, and a task of an
  ended run records exactly one;
- ``parents-before-children``: a task is assigned only after all its parents completed;
- ``children-see-parent-outputs``: a task reads exactly its parents' outputs;
- ``statuses-never-move-backwards``: within an attempt, a task's timeline only moves
  forward (queued, assigned, ended);
- ``retries-bounded``: a task never retries more than its ``retries``;
- ``retries-wait-their-backoff``: the n-th retry is assigned no sooner than
  ``min(backoff_max_seconds, backoff_factor ** n)`` after the failure;
- ``slots-never-exceeded``: a worker never runs more attempts at once than its slots;
- ``cancelled-tasks-stop``: an attempt that hung past its timeout was stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ratchet._spec import WorkflowSpec

__all__ = ["INVARIANTS", "Observations", "check_store"]

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
    "slots-never-exceeded",
    "cancelled-tasks-stop",
)

TERMINAL_EVENTS = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT", "SCHEDULE_TIMED_OUT"}
_RANK = {"CREATED": 0, "QUEUED": 1, "RETRYING": 1, "REASSIGNED": 1, "ASSIGNED": 2, "STARTED": 3}


class Observations:
    """What the simulation saw happen, and the violations found while it ran."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.workers: dict[str, Any] = {}
        self._slots: dict[str, int] = {}
        self._hanging: set[tuple[Any, ...]] = set()
        self.attempts = 0

    def violate(self, invariant: str, detail: str) -> None:
        assert invariant in INVARIANTS, invariant
        self.violations.append(f"{invariant}: {detail}")

    def worker(self, name: str, ref: Any, slots: int) -> None:
        self.workers[name] = ref
        self._slots[name] = slots

    def started(self) -> None:
        """A task function began (checked against every worker's slots at that instant)."""
        self.attempts += 1
        for name, ref in self.workers.items():
            cell = getattr(ref, "_cell", None)
            instance = getattr(cell, "instance", None)
            running = len(getattr(instance, "running", ()))
            if running > self._slots[name]:
                self.violate(
                    "slots-never-exceeded", f"{name} ran {running} attempts with {self._slots[name]} slots"
                )

    def hanging(self, key: tuple[Any, ...]) -> None:
        self._hanging.add(key)

    def stopped(self, key: tuple[Any, ...]) -> None:
        self._hanging.discard(key)

    def check_hung_attempts(self) -> None:
        for key in sorted(self._hanging):
            self.violate("cancelled-tasks-stop", f"attempt {key} hung past its timeout and never stopped")


async def check_store(
    store: Any,
    acknowledged: Sequence[str],
    specs: Mapping[str, WorkflowSpec],
    observations: Observations,
) -> list[str]:
    """Every violation, the ones seen while running first."""
    violations = list(observations.violations)

    def violate(invariant: str, detail: str) -> None:
        violations.append(f"{invariant}: {detail}")

    tenant = "default"
    for run_id in acknowledged:
        run = await store.get_run(tenant, run_id)
        if run is None:
            violate("acknowledged-runs-not-lost", f"run {run_id} was acknowledged but is not stored")
            continue
        ended = str(run.status) in ("COMPLETED", "FAILED", "CANCELLED")
        workflow = await store.get_workflow(tenant, run.workflow_id)
        spec = specs.get(workflow.name) if workflow is not None else None
        tasks = await store.list_tasks(tenant, run_id)
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
            if spec is not None:
                task_spec = spec.task(t.name)
                if t.retry_count > task_spec.retry.retries:
                    violate(
                        "retries-bounded",
                        f"run {run_id} task {t.name}: {t.retry_count} retries of {task_spec.retry.retries}",
                    )
                retries = 0
                for i, e in enumerate(timeline):
                    if str(e.kind) != "RETRYING":
                        continue
                    retries += 1
                    delay = task_spec.retry.delay(retries)
                    nxt = next((n for n in timeline[i + 1 :] if str(n.kind) == "ASSIGNED"), None)
                    if nxt is not None and nxt.at < e.at + delay - 1e-6:
                        violate(
                            "retries-wait-their-backoff",
                            f"run {run_id} task {t.name}: retry {retries} assigned "
                            f"{nxt.at - e.at:.3f}s after the failure, backoff {delay:g}s",
                        )
                assigned = [e.seq for e in timeline if str(e.kind) == "ASSIGNED"]
                for parent in task_spec.parents:
                    done = [
                        e.seq for e in by_task.get(id_of.get(parent, ""), []) if str(e.kind) == "COMPLETED"
                    ]
                    if assigned and (not done or min(done) > min(assigned)):
                        violate(
                            "parents-before-children",
                            f"run {run_id}: {t.name} assigned before parent {parent} completed",
                        )
    return violations
