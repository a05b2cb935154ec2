"""Each supervision strategy restarts exactly the right children, in the right order.

Every child logs its construction and its graceful stop into one shared list, so a test
reads the supervisor's whole reaction to a crash: siblings stop last-started-first, then
the restarted group starts again in start order.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from ratchet.runtime import (
    Actor,
    ChildSpec,
    LocalActorRef,
    Restart,
    Strategy,
    SupervisorSpec,
    open_runtime,
)

Log = list[tuple[str, str]]


class Member(Actor):
    def __init__(self, log: Log) -> None:
        self.log = log
        self.pings = 0
        log.append(("start", self.context.name))

    async def on_stop(self) -> None:
        self.log.append(("stop", self.context.name))

    def crash(self) -> None:
        raise RuntimeError(f"{self.context.name} crashed")

    def ping(self) -> int:
        self.pings += 1
        return self.pings


def members(log: Log, *names: str, restart: Restart = Restart.PERMANENT) -> list[ChildSpec]:
    return [ChildSpec(Member, (log,), name=name, restart=restart) for name in names]


@pytest.mark.parametrize(
    ("strategy", "crashed", "expected"),
    [
        (Strategy.ONE_FOR_ONE, "a", [("start", "a")]),
        (Strategy.ONE_FOR_ONE, "b", [("start", "b")]),
        (Strategy.ONE_FOR_ONE, "c", [("start", "c")]),
        (
            Strategy.ONE_FOR_ALL,
            "a",
            [("stop", "c"), ("stop", "b"), ("start", "a"), ("start", "b"), ("start", "c")],
        ),
        (
            Strategy.ONE_FOR_ALL,
            "b",
            [("stop", "c"), ("stop", "a"), ("start", "a"), ("start", "b"), ("start", "c")],
        ),
        (
            Strategy.ONE_FOR_ALL,
            "c",
            [("stop", "b"), ("stop", "a"), ("start", "a"), ("start", "b"), ("start", "c")],
        ),
        (
            Strategy.REST_FOR_ONE,
            "a",
            [("stop", "c"), ("stop", "b"), ("start", "a"), ("start", "b"), ("start", "c")],
        ),
        (Strategy.REST_FOR_ONE, "b", [("stop", "c"), ("start", "b"), ("start", "c")]),
        (Strategy.REST_FOR_ONE, "c", [("start", "c")]),
    ],
)
async def test_strategy_stops_last_started_first_and_restarts_in_start_order(
    strategy: Strategy, crashed: str, expected: Log
) -> None:
    log: Log = []
    async with open_runtime(seed=1) as system:
        sup = await system.spawn_supervisor(
            "team", strategy=strategy, max_restarts=10, children=members(log, "a", "b", "c")
        )
        assert log == [("start", "a"), ("start", "b"), ("start", "c")]
        log.clear()
        system.lookup(crashed).crash.tell()
        await trio.testing.wait_all_tasks_blocked()
        assert log == expected
        restarted = {name for kind, name in expected if kind == "start"}
        children = await sup.which_children()
        assert [c.name for c in children] == ["a", "b", "c"]
        assert {c.name: c.restarts for c in children} == {n: int(n in restarted) for n in "abc"}
        assert all(c.running for c in children)
        assert sup.statistics().restarts == 1
        # Every ref still reaches its (possibly new) actor.
        for name in "abc":
            assert await system.lookup(name).ping.ask() == 1


async def test_one_for_all_removes_temporary_siblings_instead_of_restarting_them() -> None:
    log: Log = []
    async with open_runtime(seed=1) as system:
        sup = await system.spawn_supervisor(
            "team",
            strategy=Strategy.ONE_FOR_ALL,
            children=[
                *members(log, "a"),
                *members(log, "scratch", restart=Restart.TEMPORARY),
                *members(log, "c"),
            ],
        )
        scratch = system.lookup("scratch")
        log.clear()
        system.lookup("a").crash.tell()
        await trio.testing.wait_all_tasks_blocked()
        assert log == [("stop", "c"), ("stop", "scratch"), ("start", "a"), ("start", "c")]
        assert [c.name for c in await sup.which_children()] == ["a", "c"]
        assert not scratch.is_alive


async def test_a_crashing_temporary_child_triggers_no_restart_of_its_siblings() -> None:
    log: Log = []
    async with open_runtime(seed=1) as system:
        sup = await system.spawn_supervisor(
            "team",
            strategy=Strategy.ONE_FOR_ALL,
            children=[*members(log, "a"), *members(log, "scratch", restart=Restart.TEMPORARY)],
        )
        log.clear()
        system.lookup("scratch").crash.tell()
        await trio.testing.wait_all_tasks_blocked()
        assert log == []
        assert [c.name for c in await sup.which_children()] == ["a"]
        assert sup.statistics().restarts == 0


async def test_rest_for_one_restarts_a_sub_supervisor_and_its_children_after_the_crashed_child() -> None:
    log: Log = []
    async with open_runtime(seed=1) as system:
        inner = ChildSpec(SupervisorSpec(children=members(log, "x", "y")), name="inner")
        sup = await system.spawn_supervisor(
            "outer",
            strategy=Strategy.REST_FOR_ONE,
            children=[*members(log, "a"), inner, *members(log, "z")],
        )
        log.clear()
        system.lookup("a").crash.tell()
        await trio.testing.wait_all_tasks_blocked()
        assert log == [
            ("stop", "z"),
            ("stop", "y"),
            ("stop", "x"),
            ("start", "a"),
            ("start", "x"),
            ("start", "y"),
            ("start", "z"),
        ]
        kinds = {c.name: c.kind for c in await sup.which_children()}
        assert kinds == {"a": "actor", "inner": "supervisor", "z": "actor"}


async def test_sibling_stopped_by_one_for_all_finishes_its_current_message_first(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []

    class Busy(Member):
        async def work(self) -> str:
            await trio.sleep(2)
            self.log.append(("worked", self.context.name))
            return "done"

    async with open_runtime(seed=1) as system:
        await system.spawn_supervisor(
            "team",
            strategy=Strategy.ONE_FOR_ALL,
            children=[ChildSpec(Member, (log,), name="a"), ChildSpec(Busy, (log,), name="busy")],
        )
        busy = system.lookup("busy")
        assert isinstance(busy, LocalActorRef)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(busy.work.ask)
            await trio.testing.wait_all_tasks_blocked()
            log.clear()
            system.lookup("a").crash.tell()
        await trio.testing.wait_all_tasks_blocked()
        assert log == [("worked", "busy"), ("stop", "busy"), ("start", "a"), ("start", "busy")]


class Flaky(Actor):
    """Crashes (in the background) the first ``crashes`` times it starts."""

    def __init__(self, state: dict[str, int]) -> None:
        self.state = state
        state["starts"] = state.get("starts", 0) + 1

    async def on_start(self) -> None:
        if self.state["starts"] <= self.state["crashes"]:
            self.context.start_soon(self._die)

    async def _die(self) -> None:
        await trio.sleep(0.5)
        raise RuntimeError("the provider went away")

    def hello(self) -> str:
        return "hello"


class Dependent(Actor):
    """Asks its elder sibling for something while starting."""

    def __init__(self, state: dict[str, int]) -> None:
        self.state = state

    async def on_start(self) -> None:
        self.greeting = await self.context.system.lookup("provider").hello.ask()
        self.state["dependent-started"] = self.state.get("dependent-started", 0) + 1


async def test_a_start_waiting_on_a_sibling_that_crashes_is_abandoned_and_redone(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The provider crashes while its dependent's on_start waits on it (the dependent was
    # being restarted): the supervisor must not wait forever for that start.
    state = {"crashes": 2}

    class SlowDependent(Dependent):
        async def on_start(self) -> None:
            await trio.sleep(1.0)  # the provider crashes meanwhile (at 0.5)
            await super().on_start()

    with trio.fail_after(60):
        async with open_runtime(seed=3) as system:
            await system.spawn_supervisor(
                "pair",
                strategy=Strategy.REST_FOR_ONE,
                max_restarts=10,
                within=60,
                children=[
                    ChildSpec(Flaky, (state,), name="provider"),
                    ChildSpec(SlowDependent, (state,), name="dependent"),
                ],
            )
            with trio.fail_after(30):
                while state.get("dependent-started", 0) < 1 or state["starts"] < 3:
                    await trio.sleep(0.1)
            assert await system.lookup("provider").hello.ask() == "hello"
            assert state["starts"] == 3  # two crashes, then it stayed up
