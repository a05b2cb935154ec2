"""Flow control and scheduling together, under random arrivals, failures and losses.

A Hypothesis state machine plays the rest of the engine around a
:class:`~ratchet.actors.scheduling._machine.FlowScheduler`: a model coordinator starts runs
whose workflows carry random concurrency chains (run- and task-level, every strategy)
and rate limits, finishes, fails and retries attempts, loses workers, cancels runs
(including the victims the groups name), and moves the clock. After every step it checks,
at that instant:

- no concurrency group counts more than ``max_runs`` holders (from the admission facts,
  with the simulation's checker) and no more than ``max_runs`` holders have an attempt
  on a worker (from the model);
- CANCEL_NEWEST and CANCEL_IN_PROGRESS picked exactly the victims their rules name;
- no rate-limit key admitted more than its limit in any window of its duration;
- no worker runs more attempts than it has slots.

At the end it lets every run finish and checks that nothing is left holding a place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ratchet._contract.flow import ConcurrencyLimitStrategy as S
from ratchet.actors.scheduling._admission import FlowNeeds, GroupKey, GroupNeed
from ratchet.actors.scheduling._machine import Effects, FlowScheduler
from ratchet.actors.scheduling._queues import QueuedTask
from ratchet.actors.scheduling._rate_limits import RateNeed
from ratchet.simulation._flow_invariants import (
    KINDS,
    cancel_in_progress_violations,
    cancel_newest_violations,
    max_runs_violations,
    rate_window_violations,
)

USERS = ["alice", "bob", "carol"]
STRATEGIES = {"rr": S.GROUP_ROUND_ROBIN, "cip": S.CANCEL_IN_PROGRESS, "cn": S.CANCEL_NEWEST}
MAX_RUNS = {"rr": 2, "cip": 1, "cn": 1, "all": 3}
RUN_CHAINS = [(), ("rr",), ("cip",), ("cn",), ("rr", "all")]
TASK_CHAINS = [(), ("rr",), ("cn",)]
RATES = [(), ("api",), ("user",)]
STATIC_LIMIT = (2, 1.0)
DYNAMIC_LIMIT = (1, 0.5)
SLOTS = 2


def group(scope: str, name: str, user: str) -> GroupNeed:
    strategy = STRATEGIES.get(name, S.GROUP_ROUND_ROBIN)
    value = "all" if name == "all" else user
    return GroupNeed(GroupKey(scope, f"input.{name}", strategy.value, value), strategy, MAX_RUNS[name])


@dataclass
class ModelTask:
    id: str
    run: str
    attempt: int = 1
    status: str = "QUEUED"  # QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED
    worker: str | None = None
    retries_left: int = 2


@dataclass
class ModelRun:
    id: str
    user: str
    priority: int
    needs: dict[str, FlowNeeds] = field(default_factory=dict)
    tasks: list[str] = field(default_factory=list)
    finished: bool = False


class FlowMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.now = 0.0
        self.facts: list[list[Any]] = []
        self.scheduler = FlowScheduler(clock=lambda: self.now, on_fact=self.facts.append)
        self.scheduler.put_rate_limit("api", *STATIC_LIMIT)
        self.runs: dict[str, ModelRun] = {}
        self.tasks: dict[str, ModelTask] = {}
        self.on_worker: dict[str, dict[tuple[str, int], bool]] = {}  # worker -> attempt -> stopping
        self.workers = 0
        for _ in range(2):
            self._add_worker()
        self.seq = 0

    # -- the model coordinator ----------------------------------------------------------------

    def _add_worker(self) -> None:
        self.workers += 1
        name = f"w{self.workers}"
        self.on_worker[name] = {}
        self._effects(self.scheduler.add_worker(name, ["a"], SLOTS))

    def _queued(self, task: ModelTask, retry: bool) -> QueuedTask:
        run = self.runs[task.run]
        return QueuedTask(
            (task.id, task.attempt), "a", priority=run.priority, retry=retry, flow=run.needs[task.id]
        )

    def _effects(self, effects: Effects) -> None:
        for a in effects.assignments:
            task_id, attempt = a.task.key
            task = self.tasks[task_id]
            assert task.attempt == attempt and task.status == "QUEUED", (task, a)
            task.status, task.worker = "RUNNING", a.worker
            self.on_worker[a.worker][a.task.key] = False
        for key, worker in effects.stop:
            self.on_worker[worker][key] = True
        for key in effects.lost:
            task = self.tasks[key[0]]
            if task.status == "RUNNING" and task.attempt == key[1]:
                self._retry(task)
        for holder, reason in effects.cancel:
            assert reason
            if holder[0] == "run":
                self._cancel_run(self.runs[holder[1]])
            else:
                self._finish_task(self.tasks[holder[1]], "CANCELLED")
        for key, reason in effects.refuse:
            assert reason
            task = self.tasks[key[0]]
            if task.attempt == key[1]:
                self._finish_task(task, "FAILED")

    def _retry(self, task: ModelTask) -> None:
        task.attempt += 1
        task.status, task.worker = "QUEUED", None
        self._effects(self.scheduler.enqueue([self._queued(task, retry=True)]))

    def _finish_task(self, task: ModelTask, status: str) -> None:
        if task.status in ("COMPLETED", "FAILED", "CANCELLED"):
            return
        was = task.status
        key = (task.id, task.attempt)
        task.status = status
        if was in ("QUEUED", "RUNNING") and status != "COMPLETED":
            self._effects(self.scheduler.cancel([key]))
        self._effects(self.scheduler.done([("task", task.id)]))
        run = self.runs[task.run]
        if not run.finished and all(
            self.tasks[t].status in ("COMPLETED", "FAILED", "CANCELLED") for t in run.tasks
        ):
            run.finished = True
            self._effects(self.scheduler.done([("run", run.id)]))

    def _cancel_run(self, run: ModelRun) -> None:
        for task_id in run.tasks:
            self._finish_task(self.tasks[task_id], "CANCELLED")

    # -- rules --------------------------------------------------------------------------------

    @rule(
        user=st.sampled_from(USERS),
        run_chain=st.sampled_from(range(len(RUN_CHAINS))),
        task_chain=st.sampled_from(range(len(TASK_CHAINS))),
        rates=st.sampled_from(range(len(RATES))),
        width=st.integers(1, 2),
        priority=st.integers(1, 3),
    )
    def start_run(
        self, user: str, run_chain: int, task_chain: int, rates: int, width: int, priority: int
    ) -> None:
        self.seq += 1
        run = self.runs[f"r{self.seq}"] = ModelRun(f"r{self.seq}", user, priority)
        queued = []
        for i in range(width):
            task = ModelTask(f"r{self.seq}.t{i}", run.id)
            self.tasks[task.id] = task
            run.tasks.append(task.id)
            needs_rates = []
            for name in RATES[rates]:
                if name == "api":
                    needs_rates.append(RateNeed("api", 1))
                else:
                    needs_rates.append(RateNeed(f"user:{user}", 1, *DYNAMIC_LIMIT))
            run.needs[task.id] = FlowNeeds(
                run.id,
                task.id,
                run_groups=tuple(group("wf", n, user) for n in RUN_CHAINS[run_chain]),
                task_groups=tuple(group("wf.t", n, user) for n in TASK_CHAINS[task_chain]),
                rates=tuple(needs_rates),
            )
            queued.append(self._queued(task, retry=False))
        self._effects(self.scheduler.enqueue(queued))

    def _running(self) -> list[tuple[str, tuple[str, int]]]:
        return sorted((w, k) for w, attempts in self.on_worker.items() for k in attempts)

    @precondition(lambda self: self._running())
    @rule(index=st.integers(0, 1000), outcome=st.sampled_from(["complete", "complete", "fail", "fail_final"]))
    def worker_reports(self, index: int, outcome: str) -> None:
        running = self._running()
        worker, key = running[index % len(running)]
        stopping = self.on_worker[worker].pop(key)
        task = self.tasks[key[0]]
        current = task.status == "RUNNING" and task.attempt == key[1] and not stopping
        self._effects(self.scheduler.release([key]))
        if not current:
            return
        if outcome == "complete":
            self._finish_task(task, "COMPLETED")
        elif outcome == "fail" and task.retries_left:
            task.retries_left -= 1
            self._retry(task)
        else:
            self._finish_task(task, "FAILED")

    @precondition(lambda self: self.workers < 12)
    @rule(index=st.integers(0, 1000))
    def lose_worker(self, index: int) -> None:
        names = sorted(self.on_worker)
        worker = names[index % len(names)]
        del self.on_worker[worker]
        self._effects(self.scheduler.remove_worker(worker))
        self._add_worker()

    @precondition(lambda self: any(not r.finished for r in self.runs.values()))
    @rule(index=st.integers(0, 1000))
    def cancel_run(self, index: int) -> None:
        active = [r for r in self.runs.values() if not r.finished]
        self._cancel_run(active[index % len(active)])

    @rule(seconds=st.sampled_from([0.1, 0.25, 0.5, 1.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self._effects(self.scheduler.wake_due())

    # -- invariants -----------------------------------------------------------------------------

    def _concurrency_facts(self, strategy: S | None = None) -> list[tuple[Any, ...]]:
        return [
            (f[1], f[2], f[0], f[3])
            for f in self.facts
            if f[0] in KINDS and (strategy is None or f[2].strategy == strategy.value)
        ]

    @staticmethod
    def _limits(facts: list[tuple[Any, ...]]) -> dict[Any, int]:
        return {f[1]: MAX_RUNS[f[1].expression.removeprefix("input.")] for f in facts}

    @invariant()
    def max_runs_hold_at_every_instant(self) -> None:
        if not hasattr(self, "scheduler"):
            return
        facts = self._concurrency_facts()
        assert max_runs_violations(facts, self._limits(facts)) == []
        # and on the workers: holders with an attempt running (or winding down) per group
        on_workers: dict[Any, set[Any]] = {}
        for attempts in self.on_worker.values():
            for task_id, _ in attempts:
                task = self.tasks[task_id]
                needs = self.runs[task.run].needs[task_id]
                for need in needs.run_groups:
                    on_workers.setdefault(need.key, set()).add(("run", task.run))
                for need in needs.task_groups:
                    on_workers.setdefault(need.key, set()).add(("task", task_id))
        for key, holders in on_workers.items():
            assert len(holders) <= MAX_RUNS[key.expression.removeprefix("input.")], (key, holders)

    @invariant()
    def cancel_strategies_pick_the_right_victims(self) -> None:
        if not hasattr(self, "scheduler"):
            return
        newest = self._concurrency_facts(S.CANCEL_NEWEST)
        assert cancel_newest_violations(newest, self._limits(newest)) == []
        in_progress = self._concurrency_facts(S.CANCEL_IN_PROGRESS)
        assert cancel_in_progress_violations(in_progress, self._limits(in_progress)) == []

    @invariant()
    def rate_windows_hold(self) -> None:
        if not hasattr(self, "scheduler"):
            return
        grants = [(f[1], f[2], f[3]) for f in self.facts if f[0] == "rate"]
        assert all(
            tuple(f[4:]) == (STATIC_LIMIT if f[2] == "api" else DYNAMIC_LIMIT)
            for f in self.facts
            if f[0] == "rate"
        )
        limits = {key: STATIC_LIMIT if key == "api" else DYNAMIC_LIMIT for _, key, _ in grants}
        assert rate_window_violations(grants, limits) == []

    @invariant()
    def slots_hold(self) -> None:
        if not hasattr(self, "scheduler"):
            return
        for worker, attempts in self.on_worker.items():
            assert len(attempts) <= SLOTS, (worker, attempts)

    def teardown(self) -> None:
        if not hasattr(self, "scheduler"):
            return
        # let everything finish: workers complete what they run, time passes for rate limits
        for _ in range(500):
            running = self._running()
            if running:
                self.worker_reports(0, "complete")
            elif any(not r.finished for r in self.runs.values()):
                self.time_passes(1.0)
            else:
                break
        stuck = [r.id for r in self.runs.values() if not r.finished]
        assert not stuck, f"runs never finished: {stuck}"
        stats = self.scheduler.flow.statistics()
        assert stats.holders == 0 and stats.groups == 0, stats
        assert self.scheduler.core.depth() == 0
        self.max_runs_hold_at_every_instant()
        self.rate_windows_hold()


FlowMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_flow_control_under_random_failures = FlowMachine.TestCase
