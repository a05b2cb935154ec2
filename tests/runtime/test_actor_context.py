"""What an actor can do through ``self.context``: timers, background tasks, stopping itself."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from ratchet.runtime import Actor, ActorDeadError, Restart, open_runtime


class Pinger(Actor):
    """Arms a timer on its first incarnation only, and logs every ping with its time."""

    def __init__(self, log: list[tuple[str, float, str]], armed: dict[str, bool], delay: float) -> None:
        self.log = log
        self.armed = armed
        self.delay = delay
        self.timer = None

    async def on_start(self) -> None:
        self.log.append(("start", self.context.clock.monotonic(), ""))
        if self.armed.pop("first", False):
            self.timer = self.context.send_after(self.delay, "ping", "hello", suffix="!")

    def ping(self, word: str, suffix: str = "") -> None:
        self.log.append(("ping", self.context.clock.monotonic(), word + suffix))

    def cancel_timer(self) -> None:
        assert self.timer is not None
        self.timer.cancel()

    def crash(self) -> None:
        raise RuntimeError("crash")

    def stop(self) -> None:
        self.context.stop()


async def test_send_after_delivers_the_message_at_the_right_virtual_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[tuple[str, float, str]] = []
    async with open_runtime(seed=1) as system:
        t0 = trio.current_time()
        await system.spawn(Pinger, log, {"first": True}, 7.5)
        await trio.sleep(20)
    assert log == [("start", t0, ""), ("ping", t0 + 7.5, "hello!")]


async def test_cancelled_timer_never_delivers(autojump_clock: trio.testing.MockClock) -> None:
    log: list[tuple[str, float, str]] = []
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Pinger, log, {"first": True}, 5.0)
        await trio.sleep(1)
        await ref.cancel_timer.ask()
        await trio.sleep(20)
    assert [kind for kind, _, _ in log] == ["start"]


async def test_timers_die_with_the_incarnation_that_crashed(autojump_clock: trio.testing.MockClock) -> None:
    log: list[tuple[str, float, str]] = []
    async with open_runtime(seed=1) as system:
        t0 = trio.current_time()
        ref = await system.spawn(Pinger, log, {"first": True}, 5.0)
        await trio.sleep(1)
        ref.crash.tell()
        await trio.sleep(20)
        assert ref.statistics().restarts == 1
    assert log == [("start", t0, ""), ("start", t0 + 1, "")]


async def test_timers_die_with_the_incarnation_that_stopped(autojump_clock: trio.testing.MockClock) -> None:
    log: list[tuple[str, float, str]] = []
    async with open_runtime(seed=1) as system:
        t0 = trio.current_time()
        ref = await system.spawn(Pinger, log, {"first": True}, 5.0)
        await trio.sleep(1)
        await ref.stop.ask()
        await trio.sleep(20)
        assert ref.statistics().restarts == 1
    assert log == [("start", t0, ""), ("start", t0 + 1, "")]


async def test_crash_in_a_background_task_crashes_and_restarts_the_actor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    births: list[float] = []

    class Poller(Actor):
        def __init__(self) -> None:
            self.polls = 0
            births.append(trio.current_time())

        async def on_start(self) -> None:
            if len(births) == 1:
                self.context.start_soon(self.poll_then_fail, 3.0)

        async def poll_then_fail(self, after: float) -> None:
            await trio.sleep(after)
            raise ConnectionError("lost the upstream")

        def get_polls(self) -> int:
            self.polls += 1
            return self.polls

    async with open_runtime(seed=1) as system:
        t0 = trio.current_time()
        ref = await system.spawn(Poller)
        assert await ref.get_polls.ask() == 1
        await trio.sleep(10)
        assert await ref.get_polls.ask() == 1  # a fresh instance
        stats = ref.statistics()
        assert (stats.failures, stats.restarts) == (1, 1)
    assert births == [t0, t0 + 3.0]


async def test_background_task_can_be_started_from_a_method_and_runs_concurrently(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Ticker(Actor):
        def __init__(self) -> None:
            self.ticks = 0

        def begin(self) -> None:
            self.context.start_soon(self.loop)

        async def loop(self) -> None:
            while True:
                await trio.sleep(1)
                self.context.ref.tick.tell()

        def tick(self) -> None:
            self.ticks += 1

        def get(self) -> int:
            return self.ticks

    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Ticker, shutdown=1)
        await ref.begin.ask()
        await trio.sleep(5.5)
        assert await ref.get.ask() == 5


async def test_context_stop_is_a_normal_exit_so_a_transient_actor_is_not_restarted() -> None:
    stops: list[str] = []

    class Job(Actor):
        def __init__(self) -> None:
            stops.append("born")

        def finish(self) -> str:
            self.context.stop()
            return "finishing"

        async def on_stop(self) -> None:
            stops.append("on_stop")

    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Job, name="job", restart=Restart.TRANSIENT)
        assert await ref.finish.ask() == "finishing"
        await trio.testing.wait_all_tasks_blocked()
        assert not ref.is_alive
        assert [c.name for c in await system.root.which_children()] == []
        with trio.fail_after(1), pytest.raises(ActorDeadError):
            await ref.finish.ask()
        with pytest.raises(LookupError):
            system.lookup("job")
        assert ref.statistics().failures == 0
    assert stops == ["born", "on_stop"]


async def test_context_stop_is_a_normal_exit_so_a_permanent_actor_is_restarted() -> None:
    stops: list[str] = []

    class Service(Actor):
        def __init__(self) -> None:
            stops.append("born")
            self.calls = 0

        def finish(self) -> None:
            self.context.stop()

        def call(self) -> int:
            self.calls += 1
            return self.calls

        async def on_stop(self) -> None:
            stops.append("on_stop")

    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Service, name="svc")
        assert await ref.call.ask() == 1
        await ref.finish.ask()
        assert await ref.call.ask() == 1  # handled by the new incarnation
        stats = ref.statistics()
        assert (stats.failures, stats.restarts) == (0, 1)
        assert stops == ["born", "on_stop", "born"]


async def test_context_stop_finishes_the_current_message_and_leaves_later_ones_for_the_next_life() -> None:
    class Service(Actor):
        def __init__(self, births: list[int]) -> None:
            births.append(len(births))
            self.birth = len(births)

        def finish_and_answer(self) -> int:
            self.context.stop()
            return self.birth

        def which_life(self) -> int:
            return self.birth

    births: list[int] = []
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Service, births)
        ref.finish_and_answer.tell()
        ref.which_life.tell()
        assert await ref.which_life.ask() == 2
        assert await ref.finish_and_answer.ask() == 2


async def test_constructor_sees_the_context_name_ref_clock_and_random() -> None:
    seen: dict[str, object] = {}

    class Curious(Actor):
        def __init__(self) -> None:
            seen["name"] = self.context.name
            seen["ref"] = self.context.ref
            seen["time"] = self.context.clock.monotonic()
            seen["id"] = self.context.random.new_id()

    async with open_runtime(seed=5) as system:
        ref = await system.spawn(Curious, name="curious")
        assert seen["name"] == "curious"
        assert seen["ref"] is ref
        assert isinstance(seen["time"], float)
        assert isinstance(seen["id"], str)
