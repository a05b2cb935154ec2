"""Where an attempt is placed when a worker says it runs it: the scheduler believes the worker.

A worker that registers lists the attempts it runs (``busy``). One still queued in the
scheduler (its assignment was never recorded) is taken off its queue and placed on that
worker, never assigned a second time; one placed on another worker holds a slot on both
until each worker reports it ended; removing one of the two workers does not report it
lost. The pure core is tested first, then the QueueScheduler actor between stub
dispatcher and coordinator actors that record what it tells them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ratchet.actors.scheduling._queues import Assignment, QueuedTask, SchedulingCore
from ratchet.actors.scheduling._scheduler import QueueScheduler
from ratchet.runtime import Actor, ActorRef, open_runtime

ACT = "default:wf:t"
T1 = ("t1", 1)
T2 = ("t2", 1)
T3 = ("t3", 1)


def task(key: tuple[str, int]) -> QueuedTask:
    return QueuedTask(key, ACT, payload={"task_id": key[0], "attempt": key[1]})


def placed(assignments: Sequence[Assignment]) -> list[tuple[object, str]]:
    return [(a.task.key, a.worker) for a in assignments]


# -- the core ------------------------------------------------------------------------------------


def test_a_queued_attempt_a_registering_worker_runs_is_placed_on_it_not_assigned_again() -> None:
    core = SchedulingCore()
    assert core.enqueue(task(T1)) == []
    assert core.enqueue(task(T2)) == []
    assignments = core.add_worker("w1", [ACT], 2, busy=[T1])
    assert placed(assignments) == [(T2, "w1")]  # T1 holds a slot; only T2 is handed out
    assert core.location(T1) == (ACT, "w1")
    assert core.depth(ACT) == 0
    assert core.adopted == [(T1, "w1")]
    assert core.running_on("w1") == [T1, T2]
    assert core.enqueue(task(T3)) == []  # both slots taken: T3 waits
    assert core.depth(ACT) == 1


def test_an_adopted_attempt_releases_its_slot_like_an_assigned_one() -> None:
    core = SchedulingCore()
    core.enqueue(task(T1))
    core.add_worker("w1", [ACT], 1, busy=[T1])
    core.enqueue(task(T2))
    assert placed(core.release(T1)) == [(T2, "w1")]
    assert core.location(T1) is None


def test_an_attempt_the_core_never_saw_is_placed_on_the_worker_without_being_adopted() -> None:
    core = SchedulingCore()
    assert core.add_worker("w1", [ACT], 1, busy=[T1]) == []
    assert core.adopted == []
    assert core.worker("w1").free == 0  # type: ignore[union-attr]
    assert core.enqueue(task(T2)) == []


DURABLE_ACT = "default:wf:durable"
D1 = ("d1", 1)
D2 = ("d2", 1)


def durable_task(key: tuple[str, int]) -> QueuedTask:
    return QueuedTask(key, DURABLE_ACT, payload={"task_id": key[0], "attempt": key[1]}, durable=True)


def test_a_durable_attempt_a_registering_worker_runs_holds_a_durable_slot_not_an_ordinary_one() -> None:
    core = SchedulingCore()
    # the worker ran D1 for an engine that restarted; it says D1 is an attempt of a durable task
    assert core.add_worker("w1", [ACT, DURABLE_ACT], 1, busy=[D1], durable_slots=1, durable_busy=[D1]) == []
    slots = core.worker("w1")
    assert slots is not None and (slots.free, slots.free_durable) == (1, 0)
    assert placed(core.enqueue(task(T1))) == [(T1, "w1")]  # its ordinary slot is free
    assert core.enqueue(durable_task(D2)) == []  # its durable slot is not: D2 waits
    assert placed(core.release(D1)) == [(D2, "w1")]


def test_a_queued_durable_attempt_adopted_by_a_registering_worker_holds_a_durable_slot() -> None:
    core = SchedulingCore()
    core.enqueue(durable_task(D1))
    # an older worker does not say which attempts are durable: the queue D1 waited in does
    assert core.add_worker("w1", [ACT, DURABLE_ACT], 1, busy=[D1], durable_slots=1) == []
    assert core.adopted == [(D1, "w1")]
    assert placed(core.enqueue(task(T1))) == [(T1, "w1")]
    assert core.enqueue(durable_task(D2)) == []


def test_a_durable_attempt_placed_on_another_worker_holds_a_durable_slot_on_both() -> None:
    core = SchedulingCore()
    core.add_worker("w1", [DURABLE_ACT], 1, durable_slots=1)
    assert placed(core.enqueue(durable_task(D1))) == [(D1, "w1")]
    core.add_worker("w2", [ACT, DURABLE_ACT], 1, busy=[D1], durable_slots=1)
    assert placed(core.enqueue(task(T1))) == [(T1, "w2")]
    assert core.enqueue(durable_task(D2)) == []


def test_an_attempt_placed_on_another_worker_holds_a_slot_on_both() -> None:
    core = SchedulingCore()
    core.add_worker("w1", [ACT], 1)
    assert placed(core.enqueue(task(T1))) == [(T1, "w1")]
    assert core.add_worker("w2", [ACT], 1, busy=[T1]) == []
    assert core.adopted == []
    assert core.location(T1) == (ACT, "w1")  # placed where it was assigned
    assert core.running_on("w1") == [T1] and core.running_on("w2") == [T1]
    assert core.enqueue(task(T2)) == []  # no free slot on either worker
    assert core.depth(ACT) == 1


def test_releasing_on_one_worker_frees_only_that_workers_slot() -> None:
    core = SchedulingCore()
    core.add_worker("w1", [ACT], 1)
    core.enqueue(task(T1))
    core.add_worker("w2", [ACT], 1, busy=[T1])
    core.enqueue(task(T2))
    core.enqueue(task(T3))

    assert placed(core.release(T1, "w2")) == [(T2, "w2")]
    assert core.location(T1) == (ACT, "w1")  # still placed (and running) on w1
    assert core.running_on("w1") == [T1]

    assert placed(core.release(T1, "w1")) == [(T3, "w1")]
    assert core.location(T1) is None


def test_releasing_on_the_placed_worker_first_leaves_the_other_workers_slot_held() -> None:
    core = SchedulingCore()
    core.add_worker("w1", [ACT], 1)
    core.enqueue(task(T1))
    core.add_worker("w2", [ACT], 1, busy=[T1])
    core.enqueue(task(T2))
    core.enqueue(task(T3))

    assert placed(core.release(T1, "w1")) == [(T2, "w1")]
    assert core.running_on("w2") == [T1]
    assert placed(core.release(T1, "w2")) == [(T3, "w2")]


def test_a_release_from_a_worker_that_does_not_run_the_attempt_frees_nothing() -> None:
    core = SchedulingCore()
    core.add_worker("w1", [ACT], 1)
    core.add_worker("w2", [ACT], 1)
    core.enqueue(task(T1))  # on w1 (first with the most free slots)
    core.enqueue(task(T2))  # on w2
    core.enqueue(task(T3))  # waits
    assert core.location(T1) == (ACT, "w1")
    assert core.release(T1, "w2") == []
    assert core.location(T1) == (ACT, "w1")
    assert core.running_on("w2") == [T2]
    assert core.depth(ACT) == 1


def test_removing_a_worker_does_not_report_lost_an_attempt_placed_on_another() -> None:
    core = SchedulingCore()
    core.add_worker("w1", [ACT], 1)
    core.enqueue(task(T1))
    core.add_worker("w2", [ACT], 2, busy=[T1])
    assert core.remove_worker("w2") == []
    assert core.location(T1) == (ACT, "w1")
    assert core.remove_worker("w1") == [T1]
    assert core.location(T1) is None


def test_release_without_a_worker_frees_the_slot_where_the_attempt_is_placed() -> None:
    core = SchedulingCore()
    core.add_worker("w1", [ACT], 1)
    core.enqueue(task(T1))
    core.add_worker("w2", [ACT], 1, busy=[T1])
    core.enqueue(task(T2))
    assert placed(core.release(T1)) == [(T2, "w1")]
    assert core.location(T1) is None
    assert core.running_on("w2") == [T1]  # the other worker's report is still to come
    assert core.release(T1) == []  # already released: a stale report


def test_release_without_a_worker_ignores_an_attempt_still_queued_or_unknown() -> None:
    core = SchedulingCore()
    core.enqueue(task(T1))
    assert core.release(T1) == []
    assert core.location(T1) == (ACT, None)
    assert core.release(("nobody", 9)) == []


# -- the QueueScheduler actor --------------------------------------------------------------------


class StubDispatcher(Actor):
    """Stands in for the Dispatcher: records the assignments it is told to deliver."""

    def __init__(self) -> None:
        self.delivered: list[tuple[object, str]] = []
        self.cancelled: list[tuple[str, str, int]] = []

    def deliver(self, assignments: Sequence[Assignment]) -> None:
        self.delivered.extend(placed(assignments))

    def cancel_on_worker(self, worker: str, task_id: str, attempt: int, reason: str) -> None:
        self.cancelled.append((worker, task_id, attempt))

    def record(self) -> dict[str, Any]:
        return {"delivered": list(self.delivered), "cancelled": list(self.cancelled)}


class StubCoordinator(Actor):
    """Stands in for the RunCoordinator: records assignments and losses it is told of."""

    def __init__(self) -> None:
        self.assigned: list[tuple[str, int, str]] = []
        self.lost: list[tuple[str, int]] = []

    def tasks_assigned(self, assigned: Sequence[tuple[str, int, str]]) -> None:
        self.assigned.extend(tuple(a) for a in assigned)  # type: ignore[misc]

    def workers_lost(self, keys: Sequence[tuple[str, int]]) -> None:
        self.lost.extend(tuple(k) for k in keys)  # type: ignore[misc]

    def record(self) -> dict[str, Any]:
        return {"assigned": list(self.assigned), "lost": list(self.lost)}


@dataclass
class Parts:
    scheduler: ActorRef
    dispatcher: ActorRef
    coordinator: ActorRef

    async def told(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """What the scheduler told the stubs so far (after it handled every message sent it)."""
        await self.scheduler.scheduler_statistics.ask()
        return await self.dispatcher.record.ask(), await self.coordinator.record.ask()


@asynccontextmanager
async def scheduler_between_stubs() -> AsyncIterator[Parts]:
    async with open_runtime(seed=1) as system:
        dispatcher = await system.spawn(StubDispatcher, name="dispatcher")
        coordinator = await system.spawn(StubCoordinator, name="coordinator")
        scheduler = await system.spawn(QueueScheduler, name="scheduler")
        yield Parts(scheduler, dispatcher, coordinator)


async def test_enqueueing_an_attempt_running_on_a_worker_reports_it_assigned_there() -> None:
    async with scheduler_between_stubs() as parts:
        parts.scheduler.add_worker.tell("w1", [ACT], 1)
        parts.scheduler.enqueue.tell([task(T1)])
        dispatched, coordinated = await parts.told()
        assert dispatched["delivered"] == [(T1, "w1")]
        assert coordinated["assigned"] == [("t1", 1, "w1")]

        # A restarted coordinator queues the attempt again: it is told where it runs, and
        # the attempt is neither queued nor delivered a second time.
        parts.scheduler.enqueue.tell([task(T1)])
        dispatched, coordinated = await parts.told()
        assert dispatched["delivered"] == [(T1, "w1")]
        assert coordinated["assigned"] == [("t1", 1, "w1"), ("t1", 1, "w1")]
        stats = await parts.scheduler.scheduler_statistics.ask()
        assert stats.queued == 0 and stats.free_slots == 0


async def test_enqueueing_an_attempt_already_queued_reports_nothing() -> None:
    async with scheduler_between_stubs() as parts:
        parts.scheduler.enqueue.tell([task(T1)])
        parts.scheduler.enqueue.tell([task(T1)])
        dispatched, coordinated = await parts.told()
        assert dispatched["delivered"] == [] and coordinated["assigned"] == []
        assert (await parts.scheduler.scheduler_statistics.ask()).queued == 1


async def test_a_registering_worker_adopts_its_queued_attempt_and_the_coordinator_hears_of_it() -> None:
    async with scheduler_between_stubs() as parts:
        parts.scheduler.enqueue.tell([task(T1)])
        parts.scheduler.add_worker.tell("w1", [ACT], 2, [T1])
        dispatched, coordinated = await parts.told()
        assert coordinated["assigned"] == [("t1", 1, "w1")]
        assert dispatched["delivered"] == []  # it runs already: nothing to deliver
        stats = await parts.scheduler.scheduler_statistics.ask()
        assert stats.queued == 0 and stats.free_slots == 1

        # Registering again reports nothing new: the adoption was reported once.
        parts.scheduler.add_worker.tell("w1", [ACT], 2, [T1])
        _, coordinated = await parts.told()
        assert coordinated["assigned"] == [("t1", 1, "w1")]


async def test_a_result_from_the_second_worker_frees_its_slot_and_loses_nothing() -> None:
    async with scheduler_between_stubs() as parts:
        parts.scheduler.add_worker.tell("w1", [ACT], 1)
        parts.scheduler.enqueue.tell([task(T1)])
        parts.scheduler.add_worker.tell("w2", [ACT], 1, [T1])
        parts.scheduler.enqueue.tell([task(T2)])
        dispatched, _ = await parts.told()
        assert dispatched["delivered"] == [(T1, "w1")]  # T2 waits: both slots are taken

        parts.scheduler.release.tell([T1], "w2")
        dispatched, _ = await parts.told()
        assert dispatched["delivered"] == [(T1, "w1"), (T2, "w2")]

        parts.scheduler.remove_worker.tell("w2")
        _, coordinated = await parts.told()
        assert coordinated["lost"] == [("t2", 1)]  # T1 still runs on w1
        parts.scheduler.remove_worker.tell("w1")
        _, coordinated = await parts.told()
        assert coordinated["lost"] == [("t2", 1), ("t1", 1)]
