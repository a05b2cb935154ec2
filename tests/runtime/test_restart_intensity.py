"""Restart intensity on live supervisors: N restarts within T are fine, the next escalates.

An escalating supervisor stops all its children and raises :class:`SupervisorEscalation`
into its parent, which treats it as the crash of a child; at the root,
:func:`open_runtime` raises it.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from ratchet.runtime import (
    Actor,
    ActorDeadError,
    ChildSpec,
    Restart,
    Strategy,
    SupervisorEscalation,
    SupervisorSpec,
    open_runtime,
)

Log = list[tuple[str, str]]


class Member(Actor):
    def __init__(self, log: Log) -> None:
        self.log = log
        log.append(("start", self.context.name))

    async def on_stop(self) -> None:
        self.log.append(("stop", self.context.name))

    def crash(self) -> None:
        raise RuntimeError(f"{self.context.name} crashed")

    def ping(self) -> str:
        return "pong"


async def wait_for_escalation() -> None:
    """Block until an escalation cancels the runtime block; fail (in virtual time) if none comes."""
    await trio.sleep(3600)
    pytest.fail("the supervisor did not escalate")


async def crash_and_settle(system: object, name: str) -> None:
    system.lookup(name).crash.tell()  # type: ignore[attr-defined]
    await trio.testing.wait_all_tasks_blocked()


async def test_root_allows_max_restarts_within_the_window_then_escalates_from_open_runtime(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    with pytest.raises(SupervisorEscalation) as info:
        async with open_runtime(seed=1, max_restarts=2, within=10.0) as system:
            await system.spawn(Member, log, name="bystander")
            await system.spawn(Member, log, name="flaky")
            for _ in range(2):
                await crash_and_settle(system, "flaky")
                await trio.sleep(1)
            assert system.root.statistics().restarts == 2
            assert log.count(("start", "flaky")) == 3
            log.clear()
            system.lookup("flaky").crash.tell()
            await wait_for_escalation()
    escalation = info.value
    assert (escalation.supervisor, escalation.child) == ("root", "flaky")
    assert (escalation.max_restarts, escalation.within) == (2, 10.0)
    assert "'root'" in str(escalation) and "'flaky'" in str(escalation)
    # The supervisor stopped its other children and restarted nothing.
    assert log == [("stop", "bystander")]


async def test_escalation_carries_the_failure_that_exceeded_the_limit_as_its_cause(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    with pytest.raises(SupervisorEscalation) as info:
        async with open_runtime(seed=1, max_restarts=0, within=1.0) as system:
            await system.spawn(Member, log, name="flaky")
            system.lookup("flaky").crash.tell()
            await wait_for_escalation()
    causes: list[BaseException] = []
    cause = info.value.__cause__
    while cause is not None:
        causes.append(cause)
        if isinstance(cause, BaseExceptionGroup) and len(cause.exceptions) == 1:
            cause = cause.exceptions[0]
        else:
            cause = cause.__cause__
    assert any(isinstance(c, RuntimeError) and str(c) == "flaky crashed" for c in causes), causes


async def test_zero_max_restarts_escalates_on_the_first_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    with pytest.raises(SupervisorEscalation):
        async with open_runtime(seed=1, max_restarts=0, within=60.0) as system:
            await system.spawn(Member, log, name="flaky")
            system.lookup("flaky").crash.tell()
            await wait_for_escalation()
    assert log == [("start", "flaky")]


async def test_restarts_spaced_further_apart_than_the_window_never_escalate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    async with open_runtime(seed=1, max_restarts=1, within=5.0) as system:
        ref = await system.spawn(Member, log, name="flaky")
        for _ in range(20):
            await trio.sleep(5.5)
            await crash_and_settle(system, "flaky")
        assert await ref.ping.ask() == "pong"
        assert ref.statistics().restarts == 20
        assert system.root.statistics().restarts == 20


async def test_a_restart_exactly_within_seconds_old_no_longer_counts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    async with open_runtime(seed=1, max_restarts=1, within=4.0) as system:
        ref = await system.spawn(Member, log, name="flaky")
        for _ in range(5):
            await crash_and_settle(system, "flaky")
            await trio.sleep(4.0)
        assert ref.statistics().restarts == 5


async def test_crashes_faster_than_the_window_escalate_even_when_interleaved_across_children(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    with pytest.raises(SupervisorEscalation) as info:
        async with open_runtime(seed=1, max_restarts=3, within=10.0) as system:
            for name in ("a", "b"):
                await system.spawn(Member, log, name=name)
            for name in ("a", "b", "a"):
                await crash_and_settle(system, name)
                await trio.sleep(3)
            await crash_and_settle(system, "b")  # the 4th restart within 10 s
            await wait_for_escalation()
    assert info.value.child == "b"


async def test_nested_supervisor_escalates_into_its_parent_which_restarts_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    async with open_runtime(seed=1, max_restarts=5, within=60.0) as system:
        inner = await system.spawn_supervisor(
            "inner",
            max_restarts=1,
            within=10.0,
            children=[ChildSpec(Member, (log,), name="x"), ChildSpec(Member, (log,), name="y")],
        )
        await crash_and_settle(system, "x")
        assert inner.statistics().restarts == 1
        log.clear()
        await crash_and_settle(system, "x")
        # inner gave up: it stopped y (x was already dead), then root restarted inner,
        # which started both children afresh with a fresh restart budget.
        assert log == [("stop", "y"), ("start", "x"), ("start", "y")]
        assert system.root.statistics().restarts == 1
        assert [(c.name, c.restarts, c.running) for c in await system.root.which_children()] == [
            ("inner", 1, True)
        ]
        assert system.lookup("inner") is inner
        assert [c.name for c in await inner.which_children()] == ["x", "y"]
        assert await system.lookup("x").ping.ask() == "pong"
        await crash_and_settle(system, "x")
        assert system.root.statistics().restarts == 1  # handled inside inner again


async def test_parent_restarts_an_escalated_sub_supervisor_per_its_own_strategy() -> None:
    log: Log = []
    async with open_runtime(seed=1) as system:
        await system.spawn_supervisor(
            "parent",
            strategy=Strategy.REST_FOR_ONE,
            max_restarts=5,
            children=[
                ChildSpec(Member, (log,), name="before"),
                ChildSpec(
                    SupervisorSpec(max_restarts=0, children=[ChildSpec(Member, (log,), name="leaf")]),
                    name="fragile",
                ),
                ChildSpec(Member, (log,), name="after"),
            ],
        )
        log.clear()
        await crash_and_settle(system, "leaf")
        assert log == [("stop", "after"), ("start", "leaf"), ("start", "after")]
        assert system.lookup("parent").statistics().restarts == 1
        assert system.root.statistics().restarts == 0


async def test_escalation_climbs_until_a_supervisor_can_absorb_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    with pytest.raises(SupervisorEscalation) as info:
        async with open_runtime(seed=1, max_restarts=0) as system:
            await system.spawn_supervisor(
                "middle",
                max_restarts=0,
                children=[
                    ChildSpec(
                        SupervisorSpec(max_restarts=0, children=[ChildSpec(Member, (log,), name="leaf")]),
                        name="bottom",
                    )
                ],
            )
            system.lookup("leaf").crash.tell()
            await wait_for_escalation()
    assert (info.value.supervisor, info.value.child) == ("root", "middle")


async def test_temporary_sub_supervisor_that_escalates_is_dropped_and_its_queued_asks_fail(
    autojump_clock: trio.testing.MockClock,
) -> None:
    release = trio.Event()

    class Stuck(Actor):
        async def wait_then_crash(self) -> None:
            await release.wait()
            raise RuntimeError("crash")

        def ping(self) -> str:
            return "pong"

    async with open_runtime(seed=1) as system:
        await system.spawn_supervisor(
            "fragile",
            max_restarts=0,
            restart=Restart.TEMPORARY,
            children=[ChildSpec(Stuck, name="stuck")],
        )
        stuck = system.lookup("stuck")
        stuck.wait_then_crash.tell()
        errors: list[type[BaseException]] = []

        async def ask() -> None:
            try:
                await stuck.ping.ask()
            except ActorDeadError as exc:
                errors.append(type(exc))

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask)
                nursery.start_soon(ask)
                await trio.testing.wait_all_tasks_blocked()
                release.set()
        assert errors == [ActorDeadError, ActorDeadError]
        assert await system.root.which_children() == []
        with pytest.raises(LookupError):
            system.lookup("fragile")
