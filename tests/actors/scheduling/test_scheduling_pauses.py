"""Pausing workers and workflows in the scheduling core, and what resuming them starts.

A paused worker keeps its running tasks and takes nothing new until resumed (also after
it registers again); a paused workflow's tasks wait in their queues, in their places,
and start as soon as it is unpaused. A Hypothesis state machine checks the rules under
any sequence of events: nothing is handed to a paused worker or from a paused workflow,
no worker holds more than its slots, and nothing waits that a free worker could run.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ratchet.actors.scheduling._machine import FlowScheduler
from ratchet.actors.scheduling._queues import Assignment, QueuedTask, SchedulingCore

A = "t/etl:extract"
B = "t/etl:load"
C = "t/mail:send"
WORKFLOW_OF = {A: "etl", B: "etl", C: "mail"}


def task(name: str, action: str = A, priority: int = 1) -> QueuedTask:
    return QueuedTask((name, 1), action, priority=priority, workflow=WORKFLOW_OF[action])


def placed(assignments: Sequence[Assignment]) -> list[tuple[str, str]]:
    return [(a.task.key[0], a.worker) for a in assignments]  # type: ignore[index]


def test_a_paused_worker_finishes_its_tasks_takes_nothing_new_and_resumes() -> None:
    core = SchedulingCore()
    core.add_worker("w1", [A], 2)
    assert placed(core.enqueue(task("t1"))) == [("t1", "w1")]
    core.pause_worker("w1")
    assert core.enqueue(task("t2")) == []
    assert core.release(("t1", 1)) == []  # its slot frees, and stays empty
    assert core.depth(A) == 1
    slots = core.worker("w1")
    assert slots is not None and slots.paused and slots.free == 0
    assert placed(core.resume_worker("w1")) == [("t2", "w1")]
    assert core.resume_worker("w1") == []  # resuming twice changes nothing


def test_a_worker_paused_while_away_is_still_paused_when_it_registers() -> None:
    core = SchedulingCore()
    core.pause_worker("w1")  # loaded from the store at start, before the worker is back
    core.enqueue(task("t1"))
    assert core.add_worker("w1", [A], 1) == []
    core.add_worker("w2", [A], 1)
    assert core.depth(A) == 0 and core.location(("t1", 1)) == (A, "w2")
    assert core.paused_workers() == {"w1"}
    core.remove_worker("w1")
    assert core.add_worker("w1", [A], 1) == []  # removed and back: still paused
    assert core.worker("w1").paused  # type: ignore[union-attr]


def test_other_workers_take_what_a_paused_worker_leaves() -> None:
    core = SchedulingCore()
    core.add_worker("w1", [A], 5)
    core.add_worker("w2", [A], 1)
    core.pause_worker("w1")
    assert placed(core.enqueue(task("t1"))) == [("t1", "w2")]
    assert core.enqueue(task("t2")) == []


def test_a_paused_workflow_holds_its_tasks_in_place_and_unpausing_starts_them_in_order() -> None:
    core = SchedulingCore()
    core.add_worker("w1", [A, B, C], 1)
    core.pause_workflow("etl")
    assert core.enqueue(task("low", A)) == []
    assert core.enqueue(task("high", B, priority=3)) == []
    assert placed(core.enqueue(task("mail", C))) == [("mail", "w1")]  # other workflows run on
    assert core.release(("mail", 1)) == []  # the free slot skips the paused workflow's queues
    assert core.depth() == 2
    assert placed(core.resume_workflow("etl")) == [("high", "w1")]
    assert placed(core.release(("high", 1))) == [("low", "w1")]
    assert core.resume_workflow("etl") == []
    assert core.paused_workflows() == set()


def test_a_task_running_when_its_workflow_is_paused_runs_to_its_end() -> None:
    core = SchedulingCore()
    core.add_worker("w1", [A], 1)
    core.enqueue(task("t1"))
    core.pause_workflow("etl")
    assert core.location(("t1", 1)) == (A, "w1")
    core.enqueue(task("t2"))
    assert core.release(("t1", 1)) == []
    assert core.location(("t2", 1)) == (A, None)


def test_unpausing_a_workflow_whose_tasks_never_queued_starts_nothing() -> None:
    core = SchedulingCore()
    core.add_worker("w1", [A], 1)
    core.pause_workflow("etl")
    assert core.resume_workflow("etl") == []
    assert placed(core.enqueue(task("t1"))) == [("t1", "w1")]


def test_the_flow_scheduler_reports_what_resuming_starts_as_assignments() -> None:
    flow = FlowScheduler()
    flow.add_worker("w1", [A], 1)
    flow.pause_worker("w1")
    assert flow.enqueue([task("t1")]).assignments == []
    assert placed(flow.resume_worker("w1").assignments) == [("t1", "w1")]
    flow.pause_workflow("etl")
    flow.release([("t1", 1)])
    assert flow.enqueue([task("t2")]).assignments == []
    assert placed(flow.resume_workflow("etl").assignments) == [("t2", "w1")]


# -- any sequence of events ------------------------------------------------------------------------

WORKERS = ("w1", "w2", "w3")
ACTIONS = (A, B, C)


class PausingScheduler(RuleBasedStateMachine):
    """The core under random arrivals, releases, workers and pauses."""

    def __init__(self) -> None:
        super().__init__()
        self.core = SchedulingCore()
        self.serves: dict[str, tuple[str, ...]] = {}
        self.slots: dict[str, int] = {}
        self.running: dict[tuple[str, int], str] = {}
        self.paused_workers: set[str] = set()
        self.paused_workflows: set[str] = set()
        self.count = 0

    def _took(self, assignments: Sequence[Assignment]) -> None:
        for a in assignments:
            assert a.worker not in self.paused_workers, f"{a.task.key} went to paused worker {a.worker}"
            assert a.task.workflow not in self.paused_workflows, f"{a.task.key} of a paused workflow started"
            self.running[a.task.key] = a.worker  # type: ignore[index]

    @rule(worker=st.sampled_from(WORKERS), actions=st.sets(st.sampled_from(ACTIONS), min_size=1))
    def add_worker(self, worker: str, actions: set[str]) -> None:
        if worker in self.serves:
            return
        self.serves[worker] = tuple(sorted(actions))
        self.slots[worker] = 2
        self._took(self.core.add_worker(worker, sorted(actions), 2))

    @rule(worker=st.sampled_from(WORKERS))
    def remove_worker(self, worker: str) -> None:
        lost = self.core.remove_worker(worker)
        assert {k for k in lost} == {k for k, w in self.running.items() if w == worker}
        for key in lost:
            del self.running[key]  # type: ignore[arg-type]
        self.serves.pop(worker, None)

    @rule(action=st.sampled_from(ACTIONS), priority=st.integers(1, 3))
    def enqueue(self, action: str, priority: int) -> None:
        self.count += 1
        self._took(self.core.enqueue(task(f"t{self.count}", action, priority)))

    @precondition(lambda self: self.running)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.running)))
        del self.running[key]
        self._took(self.core.release(key))

    @rule(worker=st.sampled_from(WORKERS))
    def pause_worker(self, worker: str) -> None:
        self.paused_workers.add(worker)
        self.core.pause_worker(worker)

    @rule(worker=st.sampled_from(WORKERS))
    def resume_worker(self, worker: str) -> None:
        self.paused_workers.discard(worker)
        self._took(self.core.resume_worker(worker))

    @rule(workflow=st.sampled_from(("etl", "mail")))
    def pause_workflow(self, workflow: str) -> None:
        self.paused_workflows.add(workflow)
        self.core.pause_workflow(workflow)

    @rule(workflow=st.sampled_from(("etl", "mail")))
    def resume_workflow(self, workflow: str) -> None:
        self.paused_workflows.discard(workflow)
        self._took(self.core.resume_workflow(workflow))

    @invariant()
    def no_worker_holds_more_than_its_slots(self) -> None:
        for worker in self.serves:
            held = sum(1 for w in self.running.values() if w == worker)
            assert held <= self.slots[worker]

    @invariant()
    def nothing_waits_that_a_free_worker_could_run(self) -> None:
        for worker, actions in self.serves.items():
            if worker in self.paused_workers:
                continue
            held = sum(1 for w in self.running.values() if w == worker)
            if held >= self.slots[worker]:
                continue
            for action in actions:
                if WORKFLOW_OF[action] not in self.paused_workflows:
                    assert self.core.depth(action) == 0, f"{action} waits while {worker} has room"


TestPausingScheduler = PausingScheduler.TestCase
