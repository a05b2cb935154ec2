"""The actor system as a whole: what leaves ``open_runtime``, and actors building on each other."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from ratchet.runtime import (
    Actor,
    ChildSpec,
    Strategy,
    SupervisorEscalation,
    SupervisorSpec,
    Trace,
    open_runtime,
)


class Echo(Actor):
    def echo(self, value: object) -> object:
        return value


async def wait_for_escalation() -> None:
    """Block until an escalation cancels the runtime block; fail (in virtual time) if none comes."""
    await trio.sleep(3600)
    pytest.fail("the supervisor did not escalate")


async def test_an_exception_raised_in_the_runtime_block_leaves_it_unchanged_with_its_cause() -> None:
    class JobFailed(Exception):
        pass

    cause = KeyError("job-17")
    with pytest.raises(JobFailed) as info:
        async with open_runtime(seed=1) as system:
            await system.spawn(Echo)
            raise JobFailed("could not finish") from cause
    assert str(info.value) == "could not finish"
    assert info.value.__cause__ is cause


async def test_an_actor_can_spawn_and_call_another_actor_from_a_method() -> None:
    class Parent(Actor):
        async def delegate(self, value: int) -> object:
            child = await self.context.system.spawn(Echo, name="child")
            return await child.echo.ask(value * 2)

    async with open_runtime(seed=1) as system:
        parent = await system.spawn(Parent)
        assert await parent.delegate.ask(21) == 42
        assert await system.lookup("child").echo.ask("hi") == "hi"


async def test_on_stop_that_raises_does_not_stop_the_rest_of_the_shutdown() -> None:
    stopped: list[str] = []

    class Tidy(Actor):
        async def on_stop(self) -> None:
            stopped.append(self.context.name)

    class Messy(Actor):
        async def on_stop(self) -> None:
            raise OSError("flush failed")

    async with open_runtime(seed=1) as system:
        await system.spawn(Tidy, name="first")
        messy = await system.spawn(Messy, name="messy")
        await system.spawn(Tidy, name="last")
    assert stopped == ["last", "first"]
    assert not messy.is_alive


async def test_actor_failing_in_on_start_after_a_crash_escalates_instead_of_looping(
    autojump_clock: trio.testing.MockClock,
) -> None:
    births: list[int] = []

    class Fragile(Actor):
        async def on_start(self) -> None:
            births.append(len(births))
            if len(births) > 1:
                raise ConnectionError("dependency gone")

        def crash(self) -> None:
            raise RuntimeError("crash")

    with pytest.raises(SupervisorEscalation) as info:
        async with open_runtime(seed=1, max_restarts=3, within=10.0) as system:
            ref = await system.spawn(Fragile, name="fragile")
            ref.crash.tell()
            await wait_for_escalation()
    assert info.value.child == "fragile"
    assert len(births) == 4  # the first life, then three restarts that failed to start


async def test_refs_from_lookup_and_from_spawn_are_the_same_object_across_restarts() -> None:
    class Crashy(Actor):
        def crash(self) -> None:
            raise RuntimeError("crash")

        def ping(self) -> str:
            return "pong"

    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Crashy, name="crashy")
        for _ in range(3):
            ref.crash.tell()
            assert await ref.ping.ask() == "pong"
            assert system.lookup("crashy") is ref


async def test_a_supervisor_killed_mid_restart_starts_cleanly_in_its_next_life(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A stop request the supervisor never got to read must not stop its next incarnation."""
    births: list[str] = []

    class SlowSecondStart(Actor):
        async def on_start(self) -> None:
            births.append(self.context.name)
            if births.count(self.context.name) == 2:
                await trio.sleep(100)

        def crash(self) -> None:
            raise RuntimeError("crash")

    class Plain(Actor):
        def __init__(self) -> None:
            births.append(self.context.name)

        def crash(self) -> None:
            raise RuntimeError("crash")

    async with open_runtime(seed=1) as system:
        inner = ChildSpec(
            SupervisorSpec(max_restarts=10, within=1000.0, children=[ChildSpec(SlowSecondStart, name="k")]),
            name="inner",
            shutdown=1.0,
        )
        parent = await system.spawn_supervisor(
            "parent",
            strategy=Strategy.ONE_FOR_ALL,
            max_restarts=10,
            within=1000.0,
            children=[inner, ChildSpec(Plain, name="a")],
        )
        system.lookup("k").crash.tell()
        await trio.testing.wait_all_tasks_blocked()  # inner is stuck restarting k
        system.lookup("a").crash.tell()  # parent stops inner (killed after 1 s), restarts both
        await trio.sleep(500)
        # One restart of the group: k's slow life was killed, then k and a started once more.
        assert births == ["k", "a", "k", "k", "a"]
        assert parent.statistics().restarts == 1
        assert system.lookup("inner").statistics().running == 1


async def test_trace_records_a_crash_by_its_original_error_type_and_message() -> None:
    class Crashy(Actor):
        def crash(self) -> None:
            raise RuntimeError("disk full")

        def ping(self) -> str:
            return "pong"

    trace = Trace()
    async with open_runtime(seed=1, trace=trace) as system:
        ref = await system.spawn(Crashy, name="crashy")
        ref.crash.tell()
        await ref.ping.ask()
    crashes = [e for e in trace.events if e.kind == "crash"]
    assert [(e.actor, e.detail) for e in crashes] == [("crashy", "RuntimeError: disk full")]
    exits = [e for e in trace.events if e.kind == "exit"]
    assert [(e.actor, e.detail) for e in exits] == [("crashy", "crash RuntimeError")]
