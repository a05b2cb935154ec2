"""The runtime's seams: clock, random source, runtime context, trace."""

from __future__ import annotations

import datetime as dt

import pytest
import trio
import trio.testing

from ratchet.runtime import (
    Actor,
    Clock,
    FixedEpochClock,
    RandomSource,
    RuntimeContext,
    SystemClock,
    Trace,
    current_runtime,
    open_runtime,
)

EPOCH = 1_900_000_000.0


# -- clock ------------------------------------------------------------------------------


async def test_monotonic_clock_is_trios_clock_and_moves_with_the_mock_clock(
    autojump_clock: trio.testing.MockClock,
) -> None:
    clock = FixedEpochClock(EPOCH)
    assert clock.monotonic() == trio.current_time()
    before = clock.monotonic()
    await clock.sleep(12.25)
    assert clock.monotonic() - before == 12.25
    assert clock.monotonic() == trio.current_time()


async def test_fixed_epoch_wall_time_moves_exactly_with_the_mock_clock(
    autojump_clock: trio.testing.MockClock,
) -> None:
    clock = FixedEpochClock(EPOCH)
    first = clock.time()
    await trio.sleep(90)
    assert clock.time() - first == 90
    autojump_clock.jump(3600)
    assert clock.time() - first == 3690


async def test_fixed_epoch_wall_time_is_the_epoch_plus_time_elapsed_since_the_runtime_opened(
    autojump_clock: trio.testing.MockClock,
) -> None:
    clock = FixedEpochClock(EPOCH)
    async with open_runtime(seed=1, clock=clock) as system:
        await trio.sleep(3600)
        # The first reading comes an hour in: the wall clock must already say so.
        assert system.runtime.clock.time() == EPOCH + 3600
        assert clock.now() == dt.datetime.fromtimestamp(EPOCH + 3600, tz=dt.UTC)


async def test_wall_time_now_is_an_aware_utc_datetime(autojump_clock: trio.testing.MockClock) -> None:
    clock = FixedEpochClock()
    now = clock.now()
    assert now.tzinfo is dt.UTC
    assert now == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


async def test_deadline_for_wall_converts_a_wall_time_to_the_monotonic_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    clock = FixedEpochClock(EPOCH)
    clock.time()
    deadline = clock.deadline_for_wall(EPOCH + 42)
    await clock.sleep_until(deadline)
    assert clock.time() == EPOCH + 42


async def test_sleeping_a_negative_time_returns_at_once(autojump_clock: trio.testing.MockClock) -> None:
    clock = Clock(epoch=EPOCH)
    before = trio.current_time()
    await clock.sleep(-5)
    assert trio.current_time() == before


async def test_system_clock_wall_time_is_close_to_the_real_time() -> None:
    import time

    assert abs(SystemClock().time() - time.time()) < 60


# -- random source -------------------------------------------------------------------------


def draw(source: RandomSource) -> tuple[object, ...]:
    return (
        source.random(),
        source.uniform(3, 9),
        source.randint(0, 10**9),
        source.choice("abcdefghij"),
        source.getrandbits(64),
        source.uuid(),
        source.new_id(),
        source.token_hex(8),
    )


def test_same_seed_gives_the_same_numbers_and_ids() -> None:
    assert [draw(RandomSource(42)) for _ in range(3)] == [draw(RandomSource(42)) for _ in range(3)]
    a, b = RandomSource(7), RandomSource(7)
    assert [a.new_id() for _ in range(20)] == [b.new_id() for _ in range(20)]


def test_different_seeds_give_different_numbers_and_ids() -> None:
    assert draw(RandomSource(1)) != draw(RandomSource(2))
    assert RandomSource(1).uuid() != RandomSource(2).uuid()


def test_uuids_are_version_4_and_distinct() -> None:
    source = RandomSource(3)
    ids = [source.uuid() for _ in range(200)]
    assert all(u.version == 4 for u in ids)
    assert len(set(ids)) == 200


def test_shuffle_is_reproducible_for_a_seed() -> None:
    first, second = list(range(30)), list(range(30))
    RandomSource(11).shuffle(first)
    RandomSource(11).shuffle(second)
    assert first == second != list(range(30))


def test_an_unseeded_source_records_the_seed_it_drew_so_the_run_can_be_replayed() -> None:
    source = RandomSource()
    replay = RandomSource(source.seed)
    assert draw(source) == draw(replay)


def test_fork_is_reproducible_and_independent_of_the_parents_draws() -> None:
    parent = RandomSource(99)
    fork_before = parent.fork("scheduler")
    for _ in range(10):
        parent.random()
    fork_after = parent.fork("scheduler")
    assert draw(fork_before) == draw(fork_after)
    assert draw(RandomSource(99).fork("scheduler")) == draw(RandomSource(99).fork("scheduler"))


def test_forks_with_different_labels_or_parents_differ() -> None:
    parent = RandomSource(99)
    assert draw(parent.fork("scheduler")) != draw(parent.fork("dispatcher"))
    assert draw(RandomSource(1).fork("x")) != draw(RandomSource(2).fork("x"))
    assert draw(parent.fork("scheduler")) != draw(RandomSource(99))


def test_drawing_from_a_fork_does_not_shift_the_parent() -> None:
    a, b = RandomSource(5), RandomSource(5)
    child = a.fork("noisy")
    for _ in range(10):
        child.random()
    assert draw(a) == draw(b)


async def test_open_runtime_seeds_the_random_source() -> None:
    async with open_runtime(seed=123) as system:
        assert system.runtime.random.seed == 123
        assert draw(system.runtime.random) == draw(RandomSource(123))


# -- runtime context -----------------------------------------------------------------------


async def test_current_runtime_inside_open_runtime_is_the_systems_runtime() -> None:
    class Peek(Actor):
        def runtime(self) -> RuntimeContext:
            return current_runtime()

    async with open_runtime(seed=1) as system:
        assert current_runtime() is system.runtime
        ref = await system.spawn(Peek)
        assert await ref.runtime.ask() is system.runtime


async def test_current_runtime_outside_open_runtime_raises_a_clear_runtime_error() -> None:
    with pytest.raises(RuntimeError, match="open_runtime"):
        current_runtime()
    async with open_runtime(seed=1):
        pass
    with pytest.raises(RuntimeError, match="no Ratchet runtime is running"):
        current_runtime()


async def test_nested_runtimes_restore_the_outer_runtime_on_exit() -> None:
    async with open_runtime(seed=1) as outer:
        async with open_runtime(seed=2) as inner:
            assert current_runtime() is inner.runtime
        assert current_runtime() is outer.runtime


# -- trace ---------------------------------------------------------------------------------


def test_trace_digest_changes_with_every_event_and_with_every_field() -> None:
    trace = Trace()
    digests = {trace.digest()}
    events = [(0.0, "start", "a", ""), (0.5, "ask", "a", "incr"), (0.5, "handle", "a", "incr")]
    for event in events:
        trace.record(*event)
        digests.add(trace.digest())
    assert len(digests) == len(events) + 1
    assert trace.count == 3

    base = Trace()
    base.record(1.0, "ask", "a", "incr")
    for changed in [(2.0, "ask", "a", "incr"), (1.0, "tell", "a", "incr"), (1.0, "ask", "b", "incr")]:
        other = Trace()
        other.record(*changed)
        assert other.digest() != base.digest()
    other = Trace()
    other.record(1.0, "ask", "a", "decr")
    assert other.digest() != base.digest()


def test_trace_digest_depends_on_event_order_not_only_on_the_set_of_events() -> None:
    first, second = Trace(), Trace()
    first.record(0.0, "ask", "a", "x")
    first.record(0.0, "ask", "b", "y")
    second.record(0.0, "ask", "b", "y")
    second.record(0.0, "ask", "a", "x")
    assert first.digest() != second.digest()


def test_trace_without_keeping_events_still_digests_the_same() -> None:
    kept, dropped = Trace(), Trace(keep=False)
    for trace in (kept, dropped):
        trace.record(1.5, "crash", "w", "RuntimeError: boom")
    assert kept.digest() == dropped.digest()
    assert dropped.events == [] and dropped.count == 1
    assert kept.render() == "1.500000 crash w RuntimeError: boom"


async def test_runtime_records_lifecycle_and_messages_into_its_trace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Echo(Actor):
        def echo(self, x: int) -> int:
            return x

    trace = Trace()
    async with open_runtime(seed=1, trace=trace) as system:
        ref = await system.spawn(Echo, name="echo")
        before = trace.digest()
        await ref.echo.ask(1)
        assert trace.digest() != before
    lines = trace.render().splitlines()
    assert any(line.endswith("ask echo echo") for line in lines)
    assert any(line.endswith("handle echo echo") for line in lines)
    assert {"start", "stop", "ask", "handle"} <= {e.kind for e in trace.events}
