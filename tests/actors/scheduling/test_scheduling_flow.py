"""The scheduling core's flow-control hooks: fair rounds, lanes, durable slots, parking.

- round robin: backlogged concurrency keys take turns, so a key with a huge backlog does
  not delay one with a single task (a Hypothesis property over random backlogs);
- affinity: required labels keep a task off workers without them, weights pick among
  free workers, sticky runs stay on their first worker;
- durable tasks take durable slots; ``release_slot`` frees a slot early;
- a parked task (its rate limit is full) keeps its place in line.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet._contract.flow import StickyStrategy, WorkerLabelComparator
from ratchet.actors.scheduling._admission import FlowNeeds
from ratchet.actors.scheduling._affinity import Constraint, LabelWish, score
from ratchet.actors.scheduling._machine import FlowScheduler
from ratchet.actors.scheduling._queues import QueuedTask, ReadyQueue, SchedulingCore
from ratchet.actors.scheduling._rate_limits import RateNeed
from ratchet.simulation._flow_invariants import jain_fairness

# -- fair rounds ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    backlogs=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    interleaving=st.randoms(use_true_random=False),
    served_before=st.integers(0, 60),
)
def test_backlogged_keys_take_turns(backlogs: list[int], interleaving: object, served_before: int) -> None:
    queue = ReadyQueue()
    arrivals = [k for k, n in enumerate(backlogs) for _ in range(n)]
    interleaving.shuffle(arrivals)  # type: ignore[attr-defined]
    for i, k in enumerate(arrivals):
        queue.push(QueuedTask(i, "a", fair_key=f"k{k}"))
    served: Counter[str] = Counter()
    late_pushed_at: int | None = None
    pops = 0
    while len(queue):
        if pops == served_before and late_pushed_at is None:
            queue.push(QueuedTask("late", "a", fair_key="late"))
            late_pushed_at = pops
        task = queue.pop()
        pops += 1
        if task.key == "late":
            # a newcomer waits out the current round and its own, at most two turns of
            # each backlogged key, however long their backlogs are
            assert pops - late_pushed_at <= 2 * len(backlogs) + 1
            continue
        served[task.fair_key] += 1
        remaining = [served[f"k{k}"] for k, n in enumerate(backlogs) if served[f"k{k}"] < n]
        if remaining:
            assert max(remaining) - min(remaining) <= 1, served


def test_a_key_with_one_task_is_not_delayed_by_a_key_with_ten_thousand() -> None:
    queue = ReadyQueue()
    for i in range(10_000):
        queue.push(QueuedTask(("heavy", i), "a", fair_key="heavy"))
    for _ in range(3):
        queue.pop()
    queue.push(QueuedTask(("light", 0), "a", fair_key="light"))
    served = [queue.pop().fair_key for _ in range(3)]
    assert "light" in served


def test_priorities_and_retries_come_before_rounds() -> None:
    queue = ReadyQueue()
    queue.push(QueuedTask("low", "a", priority=1, fair_key="x"))
    queue.push(QueuedTask("retry", "a", priority=1, retry=True, fair_key="x"))
    queue.push(QueuedTask("high", "a", priority=3, fair_key="y"))
    assert [queue.pop().key for _ in range(3)] == ["high", "retry", "low"]


def test_jain_fairness_index() -> None:
    assert jain_fairness([5, 5, 5]) == 1.0
    assert abs(jain_fairness([1, 0, 0, 0]) - 0.25) < 1e-12
    assert jain_fairness([]) == 1.0


# -- affinity ------------------------------------------------------------------------------------


def test_label_comparators_compare_worker_with_wish() -> None:
    labels = {"memory": 512, "model": "llama"}
    assert LabelWish("memory", 256, comparator=WorkerLabelComparator.GREATER_THAN).holds(labels)
    assert not LabelWish("memory", 256, comparator=WorkerLabelComparator.LESS_THAN).holds(labels)
    assert LabelWish("memory", 512, comparator=WorkerLabelComparator.LESS_THAN_OR_EQUAL).holds(labels)
    assert LabelWish("model", "llama").holds(labels)
    assert not LabelWish("model", 1).holds(labels)  # a string is never equal to a number
    assert LabelWish("model", "gpt", comparator=WorkerLabelComparator.NOT_EQUAL).holds(labels)
    assert not LabelWish("gpu", "a100").holds(labels)  # a missing label never holds
    wishes = [LabelWish("model", "llama", weight=10), LabelWish("memory", 1024, required=True)]
    assert score(wishes, labels) is None
    assert score(wishes[:1], labels) == 10


def affinity_scheduler() -> FlowScheduler:
    scheduler = FlowScheduler()
    scheduler.add_worker("cpu", ["a"], 4, labels={"memory": 256})
    scheduler.add_worker("gpu", ["a"], 1, labels={"memory": 1024, "gpu": "a100"})
    return scheduler


def task(key: object, **needs: object) -> QueuedTask:
    return QueuedTask(key, "a", flow=FlowNeeds("run-" + str(key), "task-" + str(key), **needs))  # type: ignore[arg-type]


def test_required_labels_wait_for_a_worker_that_has_them() -> None:
    scheduler = affinity_scheduler()
    wants_gpu = (LabelWish("gpu", "a100", required=True),)
    first = scheduler.enqueue([task(1, wishes=wants_gpu)]).assignments
    assert [(a.worker, a.task.key) for a in first] == [("gpu", 1)]
    assert scheduler.enqueue([task(2, wishes=wants_gpu)]).assignments == []  # the gpu is busy
    assert [a.worker for a in scheduler.enqueue([task(3)]).assignments] == ["cpu"]  # others pass by
    assert [(a.worker, a.task.key) for a in scheduler.release([1]).assignments] == [("gpu", 2)]


def test_a_worker_joining_with_the_label_takes_the_waiting_task() -> None:
    scheduler = FlowScheduler()
    scheduler.add_worker("cpu", ["a"], 4, labels={})
    needs_big = (
        LabelWish("memory", 512, required=True, comparator=WorkerLabelComparator.GREATER_THAN_OR_EQUAL),
    )
    assert scheduler.enqueue([task(1, wishes=needs_big)]).assignments == []
    joined = scheduler.add_worker("big", ["a"], 1, labels={"memory": 512}).assignments
    assert [(a.worker, a.task.key) for a in joined] == [("big", 1)]


def test_weights_pick_among_free_workers() -> None:
    scheduler = affinity_scheduler()
    likes_gpu = (LabelWish("gpu", "a100", weight=5),)
    assert [a.worker for a in scheduler.enqueue([task(1, wishes=likes_gpu)]).assignments] == ["gpu"]
    assert [a.worker for a in scheduler.enqueue([task(2, wishes=likes_gpu)]).assignments] == ["cpu"]


def test_constraint_is_hashable_and_fits() -> None:
    c = Constraint((LabelWish("gpu", "a100", required=True),), worker=None)
    assert hash(c) == hash(Constraint((LabelWish("gpu", "a100", required=True),)))
    assert c.fits("w", {"gpu": "a100"}) and not c.fits("w", {})
    assert not Constraint((), "w1").fits("w2", {})


def sticky_run(strategy: StickyStrategy, key: str) -> QueuedTask:
    return QueuedTask(key, "a", flow=FlowNeeds("run", key, sticky=strategy))


def test_hard_sticky_keeps_a_run_on_its_first_worker() -> None:
    scheduler = FlowScheduler()
    scheduler.add_worker("w1", ["a"], 1)
    scheduler.add_worker("w2", ["a"], 1)
    (first,) = scheduler.enqueue([sticky_run(StickyStrategy.HARD, "t1")]).assignments
    assert scheduler.enqueue([sticky_run(StickyStrategy.HARD, "t2")]).assignments == []  # w2 is free
    (second,) = scheduler.release(["t1"]).assignments
    assert second.worker == first.worker and second.task.key == "t2"


def test_soft_sticky_prefers_its_worker_but_takes_another() -> None:
    scheduler = FlowScheduler()
    scheduler.add_worker("w1", ["a"], 2)
    scheduler.add_worker("w2", ["a"], 3)
    placed = [
        scheduler.enqueue([sticky_run(StickyStrategy.SOFT, f"t{i}")]).assignments[0].worker for i in range(4)
    ]
    # the first goes to the freest worker; the next stay there (though w1 has more room
    # for the third) until it is full, then the run spills over
    assert placed == ["w2", "w2", "w2", "w1"]


# -- slots ---------------------------------------------------------------------------------------


def test_durable_tasks_take_durable_slots() -> None:
    core = SchedulingCore()
    core.add_worker("w", ["a", "d"], 1, durable_slots=2)
    assert [a.task.key for a in core.enqueue(QueuedTask("t1", "a"))] == ["t1"]
    assert core.enqueue(QueuedTask("t2", "a")) == []  # ordinary slots full
    started = [a.task.key for k in ("d1", "d2", "d3") for a in core.enqueue(QueuedTask(k, "d", durable=True))]
    assert started == ["d1", "d2"]
    assert [a.task.key for a in core.release("d1")] == ["d3"]
    assert [a.task.key for a in core.release("t1")] == ["t2"]


def test_release_slot_frees_a_slot_but_keeps_the_attempt() -> None:
    core = SchedulingCore()
    core.add_worker("w", ["a"], 1)
    core.enqueue(QueuedTask("t1", "a"))
    assert core.enqueue(QueuedTask("t2", "a")) == []
    assert [a.task.key for a in core.release_slot("t1")] == ["t2"]
    assert core.location("t1") == ("a", "w")  # still running, still cancellable
    assert core.release_slot("t1") == []  # twice changes nothing
    assert core.release("t1") == []  # its slot was already given back
    assert core.worker("w").free == 0
    assert core.remove_worker("w") == ["t2"]


# -- parking -------------------------------------------------------------------------------------


def test_a_parked_task_keeps_its_place_and_starts_when_its_window_allows() -> None:
    now = [0.0]
    scheduler = FlowScheduler(clock=lambda: now[0])
    scheduler.put_rate_limit("api", 1, 1.0)
    scheduler.add_worker("w", ["a"], 5)
    limited = [task(i, rates=(RateNeed("api", 1),)) for i in range(3)]
    started = scheduler.enqueue(limited).assignments
    assert [a.task.key for a in started] == [0]
    assert [a.task.key for a in scheduler.enqueue([task("free")]).assignments] == ["free"]
    assert scheduler.next_wake() == 1.0
    assert scheduler.wake_due().assignments == []  # not yet
    now[0] = 1.0
    assert [a.task.key for a in scheduler.wake_due().assignments] == [1]
    now[0] = 2.0
    assert [a.task.key for a in scheduler.wake_due().assignments] == [2]
    assert scheduler.next_wake() is None


def test_raising_a_static_limit_wakes_parked_tasks() -> None:
    scheduler = FlowScheduler()
    scheduler.put_rate_limit("api", 1, 3600.0)
    scheduler.add_worker("w", ["a"], 5)
    started = scheduler.enqueue([task(i, rates=(RateNeed("api", 1),)) for i in range(3)]).assignments
    assert len(started) == 1
    assert len(scheduler.put_rate_limit("api", 3, 3600.0).assignments) == 2


def test_undeclared_static_key_is_refused_with_a_clear_error() -> None:
    scheduler = FlowScheduler()
    scheduler.add_worker("w", ["a"], 5)
    effects = scheduler.enqueue([task(1, rates=(RateNeed("openai", 1),))])
    assert effects.assignments == []
    ((key, message),) = effects.refuse
    assert key == 1 and "ratchet.rate_limits.put('openai'" in message


# -- properties: priorities and affinity -----------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.booleans()), max_size=40))
def test_higher_priority_first_then_retries_then_arrival(tasks: list[tuple[int, bool]]) -> None:
    queue = ReadyQueue()
    for i, (priority, retry) in enumerate(tasks):
        queue.push(QueuedTask(i, "a", priority=priority, retry=retry))
    served = [queue.pop().key for _ in tasks]
    assert served == sorted(range(len(tasks)), key=lambda i: (-tasks[i][0], not tasks[i][1], i))


LABEL_VALUES = {"gpu": ["a100", "h100", "none"], "memory": [128, 256, 512]}
wishes = st.lists(
    st.builds(
        LabelWish,
        key=st.sampled_from(["gpu", "memory"]),
        value=st.sampled_from(["a100", "h100", 256, 512]),
        required=st.booleans(),
        weight=st.integers(0, 10),
    ).filter(lambda w: isinstance(w.value, int) == (w.key == "memory")),
    max_size=2,
    unique_by=lambda w: w.key,
)


@settings(max_examples=300, deadline=None)
@given(
    workers=st.lists(
        st.tuples(
            st.integers(1, 3), st.sampled_from(LABEL_VALUES["gpu"]), st.sampled_from(LABEL_VALUES["memory"])
        ),
        min_size=1,
        max_size=4,
    ),
    tasks=st.lists(wishes, max_size=25),
    sticky=st.lists(
        st.sampled_from([None, StickyStrategy.SOFT, StickyStrategy.HARD]), min_size=3, max_size=3
    ),
    finish_order=st.randoms(use_true_random=False),
)
def test_tasks_only_run_where_they_may_and_never_wait_beside_a_free_worker(
    workers: list[tuple[int, str, int]],
    tasks: list[list[LabelWish]],
    sticky: list[StickyStrategy | None],
    finish_order: Any,
) -> None:
    scheduler = FlowScheduler()
    labels = {}
    running: list[QueuedTask] = []
    sticky_worker: dict[str, str] = {}

    def started(assignments: list[Any]) -> None:
        for a in assignments:
            needs = a.task.flow
            for wish in needs.wishes:
                if wish.required:
                    assert wish.holds(labels[a.worker]), (a.worker, wish)
            if needs.sticky is StickyStrategy.HARD and needs.run_id in sticky_worker:
                assert sticky_worker[needs.run_id] == a.worker
            if needs.sticky is not None:
                sticky_worker.setdefault(needs.run_id, a.worker)
            running.append(a.task)

    for i, (slots, gpu, memory) in enumerate(workers):
        labels[f"w{i}"] = {"gpu": gpu, "memory": memory}
        started(scheduler.add_worker(f"w{i}", ["a"], slots, labels=labels[f"w{i}"]).assignments)
    for i, task_wishes in enumerate(tasks):
        # a few runs (the sticky strategy is the run's), so sticky runs have several tasks
        needs = FlowNeeds(f"run{i % 3}", f"t{i}", wishes=tuple(task_wishes), sticky=sticky[i % 3])
        started(scheduler.enqueue([QueuedTask(i, "a", flow=needs)]).assignments)
    while running:
        task = running.pop(finish_order.randrange(len(running)))
        started(scheduler.release([task.key]).assignments)
    # whatever still waits has no worker it may run on (every worker is idle now)
    for lane, queue in scheduler.core._queues.items():
        if len(queue) and lane[1] is not None:
            assert not any(lane[1].fits(w, labels[w]) for w in labels), lane
        else:
            assert not len(queue), lane
