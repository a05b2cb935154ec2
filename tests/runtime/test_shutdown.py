"""Stopping actors and supervisors: order, shutdown timeouts, cancellation, no leftover tasks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio
import trio.testing

from ratchet.runtime import (
    Actor,
    ActorDeadError,
    ActorState,
    ChildSpec,
    LocalActorRef,
    SupervisorSpec,
    Trace,
    open_runtime,
)

Log = list[tuple[str, str]]


class Member(Actor):
    def __init__(self, log: Log) -> None:
        self.log = log
        log.append(("start", self.context.name))

    async def on_stop(self) -> None:
        self.log.append(("stop", self.context.name))

    def ping(self) -> str:
        return "pong"


class SlowToStop(Actor):
    """``on_stop`` takes ``stop_takes`` seconds (forever if ``None``)."""

    def __init__(self, log: Log, stop_takes: float | None) -> None:
        self.log = log
        self.stop_takes = stop_takes

    async def on_stop(self) -> None:
        self.log.append(("on_stop begins", self.context.name))
        if self.stop_takes is None:
            await trio.sleep_forever()
        await trio.sleep(self.stop_takes)
        self.log.append(("on_stop ends", self.context.name))

    async def hang(self) -> None:
        self.log.append(("hang begins", self.context.name))
        await trio.sleep_forever()


class Busy(Actor):
    """Keeps a timer and a background task running, to prove nothing outlives it."""

    async def on_start(self) -> None:
        self.context.send_after(1000, "tick")
        self.context.start_soon(trio.sleep_forever)

    def tick(self) -> None:
        pass


async def test_leaving_the_runtime_stops_actors_last_started_first() -> None:
    log: Log = []
    async with open_runtime(seed=1) as system:
        for name in ("a", "b", "c"):
            await system.spawn(Member, log, name=name)
        await system.spawn_supervisor("sup", children=[ChildSpec(Member, (log,), name="d")])
        log.clear()
    assert log == [("stop", "d"), ("stop", "c"), ("stop", "b"), ("stop", "a")]


async def test_actor_whose_on_stop_hangs_is_cancelled_after_its_shutdown_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(SlowToStop, log, None, name="stuck", shutdown=3.0)
        start = trio.current_time()
    assert trio.current_time() - start == pytest.approx(3.0)
    assert log == [("on_stop begins", "stuck")]
    assert not ref.is_alive
    assert ref.statistics().state is ActorState.STOPPED


async def test_actor_whose_current_message_hangs_is_cancelled_and_its_asker_told_it_died(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    errors: list[str] = []

    async def ask_hang(ref: LocalActorRef) -> None:
        try:
            await ref.hang.ask()
        except ActorDeadError as exc:
            errors.append(str(exc))

    async with trio.open_nursery() as nursery:
        async with open_runtime(seed=1) as system:
            ref = await system.spawn(SlowToStop, log, 0.0, name="stuck", shutdown=2.0)
            nursery.start_soon(ask_hang, ref)
            await trio.testing.wait_all_tasks_blocked()
            start = trio.current_time()
    assert trio.current_time() - start == pytest.approx(2.0)
    assert log == [("hang begins", "stuck")]
    assert len(errors) == 1 and "'stuck'" in errors[0] and "'hang'" in errors[0]


async def test_shutdown_zero_kills_at_once_without_running_on_stop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    async with open_runtime(seed=1) as system:
        await system.spawn(SlowToStop, log, 1.0, name="quick", shutdown=0)
        start = trio.current_time()
    assert trio.current_time() == start
    assert log == []


async def test_shutdown_none_waits_for_on_stop_however_long_it_takes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    async with open_runtime(seed=1) as system:
        await system.spawn(SlowToStop, log, 500.0, name="patient", shutdown=None)
        start = trio.current_time()
    assert trio.current_time() - start == pytest.approx(500.0)
    assert log == [("on_stop begins", "patient"), ("on_stop ends", "patient")]


async def test_on_stop_finishing_within_shutdown_is_not_cut_short(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    async with open_runtime(seed=1) as system:
        await system.spawn(SlowToStop, log, 2.0, name="tidy", shutdown=5.0)
        start = trio.current_time()
    assert trio.current_time() - start == pytest.approx(2.0)
    assert log == [("on_stop begins", "tidy"), ("on_stop ends", "tidy")]


async def test_actor_killed_after_its_shutdown_time_is_not_counted_as_a_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    trace = Trace()
    async with open_runtime(seed=1, trace=trace) as system:
        ref = await system.spawn(SlowToStop, [], None, name="stuck", shutdown=1.0)
    assert ref.statistics().failures == 0
    assert [e for e in trace.events if e.kind == "crash"] == []


async def test_actors_killed_by_cancelling_the_root_are_not_counted_as_failures() -> None:
    trace = Trace()
    with trio.CancelScope() as scope:
        async with open_runtime(seed=1, trace=trace) as system:
            idle = await system.spawn(Member, [], name="idle")
            busy = await system.spawn(SlowToStop, [], None, name="busy")
            busy.hang.tell()
            await trio.testing.wait_all_tasks_blocked()
            scope.cancel()
    assert (idle.statistics().failures, busy.statistics().failures) == (0, 0)
    assert [e for e in trace.events if e.kind == "crash"] == []


async def test_terminate_child_stops_it_gracefully_and_forgets_it() -> None:
    log: Log = []
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Member, log, name="a")
        await system.spawn(Member, log, name="b")
        await system.root.terminate_child("a")
        assert log[-1] == ("stop", "a")
        assert [c.name for c in await system.root.which_children()] == ["b"]
        assert not ref.is_alive
        with trio.fail_after(1), pytest.raises(ActorDeadError):
            await ref.ping.ask()
        with pytest.raises(LookupError):
            system.lookup("a")
        # The name is free again.
        again = await system.spawn(Member, log, name="a")
        assert await again.ping.ask() == "pong"


async def test_terminate_child_of_an_unknown_name_raises_lookup_error() -> None:
    async with open_runtime(seed=1) as system:
        with pytest.raises(LookupError, match=r"'root'.*'ghost'"):
            await system.root.terminate_child("ghost")


async def test_terminated_supervisor_leaves_no_task_behind(
    autojump_clock: trio.testing.MockClock, task_count: Callable[[], int]
) -> None:
    log: Log = []
    async with open_runtime(seed=1) as system:
        before = task_count()
        sup = await system.spawn_supervisor(
            "team",
            children=[
                ChildSpec(Busy, name="busy-1", shutdown=1),
                ChildSpec(Member, (log,), name="m"),
                ChildSpec(
                    SupervisorSpec(children=[ChildSpec(Busy, name="busy-2", shutdown=1)]),
                    name="inner",
                ),
            ],
        )
        during = task_count()
        assert during > before + 5
        await system.root.terminate_child("team")
        assert task_count() == before
        assert ("stop", "m") in log
        for name in ("team", "inner", "busy-1", "busy-2", "m"):
            with pytest.raises(LookupError):
                system.lookup(name)
        with trio.fail_after(1), pytest.raises(ActorDeadError):
            await sup.which_children()


async def test_leaving_the_runtime_leaves_no_task_behind(
    autojump_clock: trio.testing.MockClock, task_count: Callable[[], int]
) -> None:
    before = task_count()
    async with open_runtime(seed=1) as system:
        await system.spawn(Busy, shutdown=0.5)
        await system.spawn_supervisor("sup", children=[ChildSpec(Busy, shutdown=0.5)])
        assert task_count() > before
    assert task_count() == before


async def test_cancelling_the_root_stops_every_actor_and_kills_every_ref(
    autojump_clock: trio.testing.MockClock, task_count: Callable[[], int]
) -> None:
    log: Log = []
    before = task_count()
    refs: list[LocalActorRef] = []
    with trio.CancelScope() as scope:
        async with open_runtime(seed=1) as system:
            refs.append(await system.spawn(Member, log, name="a"))
            await system.spawn_supervisor("sup", children=[ChildSpec(Member, (log,), name="b")])
            refs.append(system.lookup("b"))
            refs.append(await system.spawn(SlowToStop, log, None, name="c", shutdown=None))
            refs[-1].hang.tell()
            await trio.testing.wait_all_tasks_blocked()
            scope.cancel()
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert task_count() == before
    # Cancellation is not a graceful stop: no on_stop ran.
    assert [kind for kind, _ in log] == ["start", "start", "hang begins"]
    for ref in refs:
        assert not ref.is_alive
        assert ref.statistics().state is ActorState.STOPPED
        with trio.fail_after(1), pytest.raises(ActorDeadError):
            await ref.ping.ask() if ref.name != "c" else await ref.hang.ask()


async def test_start_child_whose_on_start_raises_fails_clearly_and_is_not_kept() -> None:
    class Broken(Actor):
        async def on_start(self) -> None:
            raise ConnectionRefusedError("database unreachable")

    async with open_runtime(seed=1) as system:
        with pytest.raises(RuntimeError) as info:
            await system.spawn(Broken, name="broken")
        message = str(info.value)
        assert "'broken'" in message and "'root'" in message
        assert "database unreachable" in message
        assert await system.root.which_children() == []
        with pytest.raises(LookupError):
            system.lookup("broken")
        assert system.root.statistics().restarts == 0
        # The runtime carries on and the name is free.
        ref = await system.spawn(Member, [], name="broken")
        assert await ref.ping.ask() == "pong"


async def test_start_error_has_the_original_exception_as_its_cause() -> None:
    class Broken(Actor):
        async def on_start(self) -> None:
            raise ConnectionRefusedError("database unreachable")

    async with open_runtime(seed=1) as system:
        with pytest.raises(RuntimeError) as info:
            await system.spawn(Broken, name="broken")
        assert isinstance(info.value.__cause__, ConnectionRefusedError)
        assert str(info.value.__cause__) == "database unreachable"


async def test_start_child_whose_constructor_raises_fails_clearly_and_is_not_kept() -> None:
    class Broken(Actor):
        def __init__(self) -> None:
            raise KeyError("missing setting")

    async with open_runtime(seed=1) as system:
        with pytest.raises(RuntimeError, match="'broken'"):
            await system.spawn(Broken, name="broken")
        assert await system.root.which_children() == []
        assert await (await system.spawn(Member, [])).ping.ask() == "pong"
