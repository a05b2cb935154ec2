"""Deliveries to a worker are fenced by session epochs, and a cancellation may precede its assignment.

The dispatcher numbers each worker session it makes (an *epoch*: its incarnation and a
counter) and sends every ``deliver`` with the epoch of the session it was meant for. A
worker starts nothing from a delivery older than the session it registered since (the
engine gave it up for dead meanwhile and runs those attempts elsewhere), nor, while it
registers again, from its current session; it still applies the delivery's
cancellations. A cancellation that reaches the worker before its assignment keeps the
attempt from ever starting.

A delivery that arrives after the worker heard nothing from the engine for half its
session's timeout waits for a heartbeat: it starts if the session lives, and is dropped
if the engine ended the session (the worker registers again, and the attempts it runs
learn they were superseded).

The worker tests drive the real :class:`WorkerActor` against a gateway stand-in that
hands out the epochs; the dispatcher tests run the real engine on a memory store.
All run in virtual time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio
import trio.testing

from ratchet._declare.workflow import Workflow
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors import EngineOptions, open_engine
from ratchet.actors.store import MemoryStore, open_store
from ratchet.runtime import Actor, ActorRef, concurrent, open_runtime

INCARNATION = "dispatcher-1"
LIMIT = 60.0  # virtual seconds: far longer than anything here should take


# -- a worker against a gateway stand-in ---------------------------------------------------------


class Attempts:
    """The task functions' side of the test: which attempts started."""

    def __init__(self) -> None:
        self.started: dict[str, trio.Event] = {}
        self.superseded: dict[str, bool] = {}  # by task id, as the attempt's context said when it ended

    def event(self, task_id: str) -> trio.Event:
        return self.started.setdefault(task_id, trio.Event())

    def names(self) -> list[str]:
        return sorted(t for t, e in self.started.items() if e.is_set())


def blocking_workflow(attempts: Attempts) -> Workflow:
    wf = Workflow(None, "wf")

    @wf.task()
    async def work(input: Any, ctx: Any) -> None:
        attempts.event(ctx.task_run_id).set()
        try:
            await trio.sleep_forever()
        finally:
            attempts.superseded[ctx.task_run_id] = ctx.is_superseded

    return wf


class StandInGateway(Actor):
    """Answers a worker as the engine's gateway would, recording what the worker sends.

    Registration answers with :attr:`epoch`; while :attr:`hold` is set it waits for it
    first, which keeps the worker in the middle of registering. Heartbeats answer
    :attr:`known` (False: "register again"); while :attr:`beats_held` is set they wait
    for it first, so the worker hears nothing from the engine (as when it is cut off).
    """

    def __init__(self, epoch: tuple[str, int]) -> None:
        self.epoch = epoch
        self.known = True
        self.hold: trio.Event | None = None
        self.beats_held: trio.Event | None = None
        self.calls: dict[str, int] = {"register_worker": 0, "heartbeat": 0}
        self.results: list[dict[str, Any]] = []
        self._changed = trio.Event()

    def _note(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    @concurrent
    async def register_worker(self, request: dict[str, Any]) -> dict[str, Any]:
        self.calls["register_worker"] += 1
        self._note()
        if self.hold is not None:
            await self.hold.wait()
        return {"heartbeat_interval": 1.0, "versions": {}, "epoch": list(self.epoch)}

    @concurrent
    async def heartbeat(self, worker_id: str) -> bool:
        self.calls["heartbeat"] += 1
        self._note()
        if self.beats_held is not None:
            await self.beats_held.wait()
        return self.known

    def hold_heartbeats(self) -> None:
        """Make heartbeats wait for :meth:`answer_heartbeats`."""
        self.beats_held = trio.Event()

    def answer_heartbeats(self, known: bool) -> None:
        """Answer the waiting heartbeats (and later ones) with ``known``."""
        self.known = known
        assert self.beats_held is not None
        self.beats_held.set()
        self.beats_held = None

    def task_results(self, results: list[dict[str, Any]]) -> int:
        self.results.extend(results)
        self._note()
        return len(results)

    def hold_registrations(self) -> None:
        """Make the next registrations wait for :meth:`answer_registrations`."""
        self.hold = trio.Event()

    def answer_registrations(self, epoch: tuple[str, int]) -> None:
        """Answer the waiting registration (and later ones) with ``epoch``; know the worker again."""
        self.epoch = epoch
        self.known = True
        assert self.hold is not None
        self.hold.set()
        self.hold = None

    def answer_registrations_with(self, epoch: tuple[str, int]) -> None:
        """Answer later registrations with ``epoch`` (a new session, as after a removal)."""
        self.epoch = epoch

    def forget_worker(self) -> None:
        """Answer heartbeats with False, as an engine that gave the worker up does."""
        self.known = False

    @concurrent
    async def wait_calls(self, method: str, count: int) -> int:
        """Return once ``method`` was called ``count`` times in all."""
        while self.calls[method] < count:
            await self._changed.wait()
        return self.calls[method]

    def count(self, method: str) -> int:
        return self.calls[method]

    @concurrent
    async def wait_result(self, task_id: str) -> dict[str, Any]:
        """The first result the worker reported for ``task_id`` (waiting for it)."""
        while True:
            for result in self.results:
                if result["task_id"] == task_id:
                    return result
            await self._changed.wait()

    def reported(self) -> list[str]:
        return sorted(r["task_id"] for r in self.results)


@dataclass
class Rig:
    worker: ActorRef
    gateway: ActorRef
    attempts: Attempts

    async def deliver(
        self,
        assign: Sequence[str],
        cancel: Sequence[str] = (),
        epoch: tuple[str, int] | None = (INCARNATION, 2),
    ) -> bool:
        """Send the worker a delivery as the dispatcher does; returns its answer."""
        return await self.worker.deliver.ask(
            [payload(task_id) for task_id in assign],
            [(task_id, 1, "cancelled by the test") for task_id in cancel],
            None if epoch is None else list(epoch),
        )

    async def wait_started(self, task_id: str) -> None:
        with trio.fail_after(LIMIT):
            await self.attempts.event(task_id).wait()

    async def wait_result(self, task_id: str) -> dict[str, Any]:
        with trio.fail_after(LIMIT):
            return await self.gateway.wait_result.ask(task_id)

    async def running(self) -> int:
        return (await self.worker.status.ask())["running"]


def payload(task_id: str) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "attempt": 1,
        "run_id": "run-1",
        "workflow": "wf",
        "task": "work",
        "timeout": 3600.0,
    }


@asynccontextmanager
async def worker_rig(epoch: tuple[str, int] = (INCARNATION, 2)) -> AsyncIterator[Rig]:
    """A registered worker (its session's epoch: ``epoch``) and its stand-in gateway."""
    attempts = Attempts()
    async with open_runtime(seed=1) as system:
        gateway = await system.spawn(StandInGateway, epoch, name="gateway")
        config = WorkerConfig("w", [blocking_workflow(attempts)], slots=10, threads=False)
        worker = await system.spawn(WorkerActor, config, gateway, worker_id="w1", name="worker")
        with trio.fail_after(LIMIT):
            await worker.wait_registered.ask()
        yield Rig(worker, gateway, attempts)


async def test_a_delivery_from_an_older_session_starts_nothing_and_returns_false(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with worker_rig() as rig:
        assert await rig.deliver(["old"], epoch=(INCARNATION, 1)) is False
        assert await rig.running() == 0
        assert await rig.deliver(["current"]) is True
        await rig.wait_started("current")
        await trio.testing.wait_all_tasks_blocked()
        assert rig.attempts.names() == ["current"]
        assert await rig.gateway.reported.ask() == []  # "old" was not started, so not reported


async def test_a_delivery_from_an_older_session_still_applies_its_cancellations(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with worker_rig() as rig:
        assert await rig.deliver(["a"]) is True
        await rig.wait_started("a")
        assert await rig.deliver(["b"], cancel=["a"], epoch=(INCARNATION, 1)) is False
        result = await rig.wait_result("a")
        assert result["status"] == "cancelled"
        assert result["worker_id"] == "w1"
        assert await rig.running() == 0
        assert "b" not in rig.attempts.names()


async def test_a_delivery_from_another_incarnation_or_a_newer_session_starts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with worker_rig() as rig:
        assert await rig.deliver(["other-engine"], epoch=("dispatcher-0", 1)) is True
        assert await rig.deliver(["newer"], epoch=(INCARNATION, 3)) is True
        assert await rig.deliver(["unfenced"], epoch=None) is True
        for task_id in ("other-engine", "newer", "unfenced"):
            await rig.wait_started(task_id)
        assert await rig.running() == 3


async def test_while_the_worker_registers_again_deliveries_of_its_current_session_are_stale(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with worker_rig() as rig:
        gateway = rig.gateway
        gateway.hold_registrations.tell()
        gateway.forget_worker.tell()
        with trio.fail_after(LIMIT):
            await gateway.wait_calls.ask("register_worker", 2)  # the worker re-registers, held

        assert await rig.deliver(["during"], epoch=(INCARNATION, 2)) is False
        assert await rig.running() == 0

        beats = await gateway.count.ask("heartbeat")
        gateway.answer_registrations.tell((INCARNATION, 3))
        with trio.fail_after(LIMIT):
            # The next heartbeat comes after the worker took in its new session.
            await gateway.wait_calls.ask("heartbeat", beats + 1)
        assert await rig.deliver(["stale"], epoch=(INCARNATION, 2)) is False
        assert await rig.deliver(["fresh"], epoch=(INCARNATION, 3)) is True
        await rig.wait_started("fresh")
        await trio.testing.wait_all_tasks_blocked()
        assert rig.attempts.names() == ["fresh"]


class RecordingGateway(StandInGateway):
    """The stand-in gateway, keeping every registration request the worker sent."""

    def __init__(self, epoch: tuple[str, int]) -> None:
        super().__init__(epoch)
        self.requests: list[dict[str, Any]] = []

    @concurrent
    async def register_worker(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        return await super().register_worker(request)

    def running_registered(self) -> list[list[list[Any]]]:
        """The attempts each registration request listed as running, in order."""
        return [r["running"] for r in self.requests]

    def registrations(self) -> list[dict[str, Any]]:
        return list(self.requests)


async def test_a_registration_sent_again_lists_the_attempts_started_since_the_first_try(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A registration whose answer is lost is sent again; it must list what runs by then.

    Meanwhile the engine may have made the session (its answer was what got lost) and
    delivered attempts for it; an engine that restarted and takes the registration again
    must count them against the worker's slots.
    """
    attempts = Attempts()
    async with open_runtime(seed=1) as system:
        gateway = await system.spawn(RecordingGateway, (INCARNATION, 2), name="gateway")
        config = WorkerConfig("w", [blocking_workflow(attempts)], slots=10, threads=False)
        worker = await system.spawn(WorkerActor, config, gateway, worker_id="w1", name="worker")
        rig = Rig(worker, gateway, attempts)
        with trio.fail_after(LIMIT):
            await worker.wait_registered.ask()
            gateway.hold_registrations.tell()
            gateway.forget_worker.tell()
            await gateway.wait_calls.ask("register_worker", 2)  # registering again, unanswered

        # a delivery of the session that registration made on a restarted engine
        assert await rig.deliver(["meanwhile"], epoch=("dispatcher-2", 1)) is True
        await rig.wait_started("meanwhile")
        with trio.fail_after(LIMIT):
            await gateway.wait_calls.ask("register_worker", 3)  # the unanswered ask timed out
        gateway.answer_registrations.tell(("dispatcher-2", 2))
        assert await gateway.running_registered.ask() == [[], [], [["meanwhile", 1]]]


async def test_a_cancellation_arriving_before_its_assignment_keeps_the_attempt_from_starting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with worker_rig() as rig:
        assert await rig.deliver([], cancel=["early"]) is True
        assert await rig.deliver(["early", "other"]) is True
        result = await rig.wait_result("early")
        assert result["status"] == "cancelled"
        assert result["error_message"] == "cancelled before it started"
        await rig.wait_started("other")
        await trio.testing.wait_all_tasks_blocked()
        assert rig.attempts.names() == ["other"]
        assert await rig.running() == 1


async def test_a_cancellation_applies_to_one_later_assignment_only(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The remembered cancellation is used up: the attempt delivered again (a retry) starts."""
    async with worker_rig() as rig:
        await rig.deliver([], cancel=["early"])
        await rig.deliver(["early"])
        await rig.wait_result("early")
        assert await rig.deliver(["early"]) is True
        await rig.wait_started("early")


async def test_a_cancellation_and_its_assignment_in_one_delivery_stop_the_attempt(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Within a delivery assignments go first: an attempt assigned and cancelled together ends cancelled."""
    async with worker_rig() as rig:
        assert await rig.deliver(["both"], cancel=["both"]) is True
        result = await rig.wait_result("both")
        assert result["status"] == "cancelled"
        assert await rig.running() == 0


# -- a worker that heard nothing from the engine for a while ---------------------------------------

SILENCE = 10.0  # virtual seconds: past half the session timeout (5 heartbeat intervals)


async def cut_off(rig: Rig) -> None:
    """Let the worker hear nothing from the engine for longer than half its session's timeout."""
    beats = await rig.gateway.count.ask("heartbeat")
    rig.gateway.hold_heartbeats.tell()
    with trio.fail_after(LIMIT):
        await rig.gateway.wait_calls.ask("heartbeat", beats + 1)  # one is stuck now
    await trio.sleep(SILENCE)


async def test_after_a_long_silence_a_delivery_waits_for_a_heartbeat_and_starts_if_the_session_lives(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with worker_rig() as rig:
        await rig.deliver(["a"])
        await rig.wait_started("a")
        await cut_off(rig)

        assert await rig.deliver(["b"]) is True
        await trio.testing.wait_all_tasks_blocked()
        assert rig.attempts.names() == ["a"]  # held: the engine may have given the worker up
        assert (await rig.worker.status.ask())["held"] == 1

        rig.gateway.answer_heartbeats.tell(True)  # it had not
        await rig.wait_started("b")
        assert (await rig.worker.status.ask())["held"] == 0
        assert rig.attempts.superseded == {}  # "a" runs on
        assert await rig.gateway.count.ask("register_worker") == 1


async def test_after_a_long_silence_a_delivery_for_an_ended_session_is_dropped_and_attempts_superseded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with worker_rig() as rig:
        await rig.deliver(["a"])
        await rig.wait_started("a")
        await cut_off(rig)
        assert await rig.deliver(["b"]) is True

        rig.gateway.answer_registrations_with.tell((INCARNATION, 3))
        rig.gateway.answer_heartbeats.tell(False)  # the engine ended the session meanwhile
        result = await rig.wait_result("a")
        assert result["status"] == "cancelled" and "superseded" in result["error_message"]
        assert rig.attempts.superseded == {"a": True}
        await trio.testing.wait_all_tasks_blocked()
        assert rig.attempts.names() == ["a"]  # "b" never started: it runs elsewhere
        status = await rig.worker.status.ask()
        assert (status["held"], status["dropped"], status["running"]) == (0, 1, 0)
        assert await rig.deliver(["c"], epoch=(INCARNATION, 3)) is True  # the new session works
        await rig.wait_started("c")


async def test_a_worker_registered_with_a_restarted_engine_supersedes_nothing_but_drops_older_deliveries(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A new engine incarnation decides itself which running attempts it adopts."""
    async with worker_rig() as rig:
        await rig.deliver(["a"])
        await rig.wait_started("a")
        await cut_off(rig)
        assert await rig.deliver(["b"]) is True

        rig.gateway.answer_registrations_with.tell(("dispatcher-2", 1))
        rig.gateway.answer_heartbeats.tell(False)
        with trio.fail_after(LIMIT):
            await rig.gateway.wait_calls.ask("register_worker", 2)
        await trio.testing.wait_all_tasks_blocked()
        assert rig.attempts.superseded == {}
        assert rig.attempts.names() == ["a"]
        assert (await rig.worker.status.ask())["dropped"] == 1
        assert await rig.running() == 1


# -- the dispatcher's epochs (the real engine) ---------------------------------------------------


class StandInWorker(Actor):
    """A worker as the dispatcher sees it: records every delivery and acknowledges it."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[list[str], list[Any]]] = []
        self._changed = trio.Event()

    def deliver(self, assign: list[dict[str, Any]], cancel: list[Any], epoch: list[Any]) -> bool:
        self.deliveries.append(([p["task_id"] for p in assign], list(epoch)))
        self._changed.set()
        self._changed = trio.Event()
        return True

    @concurrent
    async def wait_deliveries(self, count: int) -> list[tuple[list[str], list[Any]]]:
        while len(self.deliveries) < count:
            await self._changed.wait()
        return list(self.deliveries)


@dataclass
class EngineRig:
    gateway: ActorRef
    dispatcher: ActorRef
    workers: tuple[ActorRef, ActorRef]

    async def register(
        self, worker_id: str, ref: ActorRef, peer: str | None = None, actions: Sequence[str] = ()
    ) -> tuple[str, int]:
        """Register a session with the dispatcher as the gateway does; returns its epoch."""
        interval, epoch, session_timeout = await self.dispatcher.register.ask(
            worker_id, worker_id, ref, peer, list(actions), 4, {}, []
        )
        assert (interval, session_timeout) == (1.0, 3.0)
        return epoch


@asynccontextmanager
async def engine_rig() -> AsyncIterator[EngineRig]:
    async with open_store(MemoryStore()) as store, open_runtime(seed=7) as system:
        options = EngineOptions(heartbeat_interval=1.0, heartbeat_misses=3)
        async with open_engine(system, store, options) as engine:
            a = await system.spawn(StandInWorker, name="stand-in-a")
            b = await system.spawn(StandInWorker, name="stand-in-b")
            yield EngineRig(engine.gateway, system.lookup("dispatcher"), (a, b))


async def test_a_session_registered_again_without_being_removed_keeps_its_epoch(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with engine_rig() as rig:
        a, b = rig.workers
        first = await rig.register("w1", a)
        assert await rig.register("w1", a) == first  # in-process: the same actor again

        remote = await rig.register("w2", a, peer="peer-1")
        assert remote != first and remote[0] == first[0]
        # A new ref to the same peer (a connection's refs are made per request): the same session.
        assert await rig.register("w2", b, peer="peer-1") == remote


async def test_a_worker_removed_and_registered_again_gets_a_newer_epoch(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with engine_rig() as rig:
        a, _ = rig.workers
        first = await rig.register("w1", a)
        rig.dispatcher.deregister.tell("w1")
        again = await rig.register("w1", a)
        assert again[0] == first[0] and again[1] > first[1]


async def test_a_worker_given_up_for_silence_gets_a_newer_epoch_when_it_returns(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with engine_rig() as rig:
        a, _ = rig.workers
        first = await rig.register("w1", a)
        await trio.sleep(5.0)  # virtual: past heartbeat_misses intervals without a heartbeat
        assert await rig.dispatcher.heartbeat.ask("w1") is False
        again = await rig.register("w1", a)
        assert again[0] == first[0] and again[1] > first[1]


async def test_a_new_process_under_the_same_worker_id_gets_a_newer_epoch(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with engine_rig() as rig:
        a, b = rig.workers
        first = await rig.register("w1", a, peer="peer-1")
        again = await rig.register("w1", b, peer="peer-2")
        assert again[0] == first[0] and again[1] > first[1]


async def test_each_delivery_carries_the_epoch_of_the_session_it_was_sent_for(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with engine_rig() as rig:
        a, _ = rig.workers
        wf = Workflow(None, "fenced")

        @wf.task()
        async def step(input: Any, ctx: Any) -> None:
            """Never runs: the stand-in worker only records its deliveries."""

        answer = await rig.gateway.register_worker.ask(
            {
                "worker_id": "w1",
                "name": "w1",
                "actor": "stand-in-a",
                "slots": 4,
                "workflows": [wf.spec.to_dict()],
            }
        )
        epoch = answer["epoch"]
        (created,) = await rig.gateway.trigger.ask([{"workflow": "fenced"}])
        assert "run_id" in created
        with trio.fail_after(LIMIT):
            deliveries = await a.wait_deliveries.ask(1)
        assert [d[1] for d in deliveries] == [epoch]

        rig.dispatcher.deregister.tell("w1")
        again = await rig.gateway.register_worker.ask(
            {
                "worker_id": "w1",
                "name": "w1",
                "actor": "stand-in-a",
                "slots": 4,
                "workflows": [wf.spec.to_dict()],
            }
        )
        assert again["epoch"][1] > epoch[1]
        await rig.gateway.trigger.ask([{"workflow": "fenced"}])
        with trio.fail_after(LIMIT):
            deliveries = await a.wait_deliveries.ask(2)
        assert deliveries[-1][1] == again["epoch"]


def durable_workflow(attempts: Attempts) -> Workflow:
    wf = Workflow(None, "dwf")

    @wf.durable_task()
    async def wait(input: Any, ctx: Any) -> None:
        attempts.event(ctx.task_run_id).set()
        await trio.sleep_forever()

    return wf


async def test_a_registration_names_the_running_attempts_of_durable_tasks(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """They hold durable slots on an engine that restarted, the others ordinary ones."""
    attempts = Attempts()
    async with open_runtime(seed=1) as system:
        gateway = await system.spawn(RecordingGateway, (INCARNATION, 2), name="gateway")
        config = WorkerConfig(
            "w", [blocking_workflow(attempts), durable_workflow(attempts)], slots=10, threads=False
        )
        worker = await system.spawn(WorkerActor, config, gateway, worker_id="w1", name="worker")
        rig = Rig(worker, gateway, attempts)
        with trio.fail_after(LIMIT):
            await worker.wait_registered.ask()
        durable = {**payload("durable"), "workflow": "dwf", "task": "wait"}
        assert await worker.deliver.ask([payload("plain"), durable], [], [INCARNATION, 2]) is True
        await rig.wait_started("plain")
        await rig.wait_started("durable")
        gateway.answer_registrations_with.tell(("dispatcher-2", 1))
        gateway.forget_worker.tell()
        with trio.fail_after(LIMIT):
            await gateway.wait_calls.ask("register_worker", 2)
        again = (await gateway.registrations.ask())[1]
        assert sorted(map(tuple, again["running"])) == [("durable", 1), ("plain", 1)]
        assert again["durable_running"] == [["durable", 1]]


async def test_a_durable_attempt_running_on_a_registering_worker_leaves_its_ordinary_slot_free(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A worker registers with the engine (restarted) while it runs a durable attempt:
    that attempt holds a durable slot, and the worker's one ordinary slot takes work."""
    async with engine_rig() as rig:
        a, _ = rig.workers
        wf = Workflow(None, "plain")

        @wf.task()
        async def step(input: Any, ctx: Any) -> None:
            """Never runs: the stand-in worker only records its deliveries."""

        await rig.gateway.register_worker.ask(
            {
                "worker_id": "w1",
                "name": "w1",
                "actor": "stand-in-a",
                "slots": 1,
                "durable_slots": 1,
                "workflows": [wf.spec.to_dict()],
                "running": [["from-before", 1]],
                "durable_running": [["from-before", 1]],
            }
        )
        (created,) = await rig.gateway.trigger.ask([{"workflow": "plain"}])
        assert "run_id" in created
        assigned: list[str] = []
        count = 1
        with trio.fail_after(LIMIT):
            while not assigned:
                # a delivery may only cancel "from-before" (no run of this engine has it)
                deliveries = await a.wait_deliveries.ask(count)
                assigned = [task_id for d in deliveries for task_id in d[0]]
                count = len(deliveries) + 1
        assert len(assigned) == 1
