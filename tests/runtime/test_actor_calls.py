"""Calling actors through refs: ask, tell, errors, names, timeouts, dead actors, statistics."""

from __future__ import annotations

import pickle

import pytest
import trio
import trio.testing

from ratchet.runtime import (
    Actor,
    ActorDeadError,
    ActorError,
    ActorState,
    AskTimeout,
    NameTakenError,
    Restart,
    open_runtime,
)


class QuotaExceeded(Exception):
    """A user-defined error, to check that its qualified name travels."""


def reject_amount(amount: int) -> None:
    raise ValueError(f"amount {amount} is negative")


class Counter(Actor):
    """A counter with sync and async methods, and ways to fail."""

    def __init__(self, births: list[str] | None = None, start: int = 0) -> None:
        self.value = start
        if births is not None:
            births.append(self.context.name)

    def incr(self, by: int = 1) -> int:
        self.value += by
        return self.value

    async def incr_later(self, by: int = 1) -> int:
        await trio.sleep(1)
        self.value += by
        return self.value

    def get(self) -> int:
        return self.value

    def add(self, amount: int) -> int:
        if amount < 0:
            reject_amount(amount)
        self.value += amount
        return self.value

    async def spend(self, amount: int) -> None:
        await trio.lowlevel.checkpoint()
        raise QuotaExceeded(f"cannot spend {amount}")

    def crash(self) -> None:
        raise RuntimeError("told to crash")

    async def slow(self) -> str:
        await trio.sleep(100)
        return "slow done"

    def _private(self) -> None:
        raise AssertionError("private methods must not be reachable")


async def test_ask_returns_the_result_of_a_sync_method() -> None:
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter, start=10)
        assert await ref.incr.ask(5) == 15
        assert await ref.incr.ask(by=2) == 17


async def test_ask_returns_the_result_of_an_async_method(autojump_clock: trio.testing.MockClock) -> None:
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter)
        assert await ref.incr_later.ask(3) == 3
        assert await ref.get.ask() == 3


async def test_calling_a_method_ref_directly_is_an_ask() -> None:
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter)
        assert await ref.incr(4) == 4


async def test_tell_returns_before_the_actor_handles_the_message() -> None:
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter)
        assert ref.incr.tell(7) is None
        # Nothing has run yet: the tell only queued the message.
        assert ref.statistics().messages_handled == 0
        assert ref.statistics().mailbox_depth == 1
        assert await ref.get.ask() == 7


async def test_error_in_asked_method_reaches_caller_as_actor_error_with_details() -> None:
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter, name="ledger")
        with pytest.raises(ActorError) as info:
            await ref.add.ask(-3)
        error = info.value
        assert error.actor == "ledger"
        assert error.method == "add"
        assert error.error_type == "ValueError"
        assert error.error_message == "amount -3 is negative"
        assert "reject_amount" in error.traceback_text
        assert "amount -3 is negative" in error.traceback_text
        assert isinstance(error.__cause__, ValueError)
        assert str(error.__cause__) == "amount -3 is negative"
        assert "'ledger'" in str(error) and "'add'" in str(error)


async def test_actor_error_names_user_exception_classes_by_module_and_qualname() -> None:
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter)
        with pytest.raises(ActorError) as info:
            await ref.spend.ask(9)
        assert info.value.error_type == f"{QuotaExceeded.__module__}.QuotaExceeded"
        assert isinstance(info.value.__cause__, QuotaExceeded)


async def test_actor_error_survives_pickling_without_its_cause() -> None:
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter, name="ledger")
        with pytest.raises(ActorError) as info:
            await ref.add.ask(-1)
        copy = pickle.loads(pickle.dumps(info.value))
        assert (copy.actor, copy.method, copy.error_type, copy.error_message, copy.traceback_text) == (
            "ledger",
            "add",
            "ValueError",
            "amount -1 is negative",
            info.value.traceback_text,
        )


async def test_actor_keeps_running_with_its_state_after_an_asked_method_raises() -> None:
    births: list[str] = []
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter, births, name="ledger")
        await ref.add.ask(5)
        with pytest.raises(ActorError):
            await ref.add.ask(-1)
        assert await ref.get.ask() == 5
        stats = ref.statistics()
        assert (stats.failures, stats.restarts, stats.state) == (0, 0, ActorState.RUNNING)
    assert births == ["ledger"]


async def test_exception_in_told_method_restarts_permanent_actor_with_fresh_state() -> None:
    births: list[str] = []
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter, births, name="ledger")
        await ref.incr.ask(5)
        ref.crash.tell()
        # The ask queues behind the crash and is handled by the next incarnation.
        assert await ref.get.ask() == 0
        assert await ref.incr.ask() == 1
        stats = ref.statistics()
        assert (stats.failures, stats.restarts) == (1, 1)
        assert system.lookup("ledger") is ref
    assert births == ["ledger", "ledger"]


async def test_messages_are_handled_one_at_a_time_even_across_awaits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Account(Actor):
        def __init__(self) -> None:
            self.balance = 0
            self.in_flight = 0
            self.most_in_flight = 0

        async def deposit(self, amount: int) -> int:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            seen = self.balance
            await trio.sleep(0.5)  # a second message handled here would be a lost update
            self.balance = seen + amount
            self.in_flight -= 1
            return self.balance

        def report(self) -> tuple[int, int]:
            return self.balance, self.most_in_flight

    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Account)
        async with trio.open_nursery() as nursery:
            for amount in range(1, 11):
                nursery.start_soon(ref.deposit.ask, amount)
            for amount in range(100, 105):
                ref.deposit.tell(amount)
        assert await ref.report.ask() == (sum(range(1, 11)) + sum(range(100, 105)), 1)


async def test_spawning_a_taken_name_raises_name_taken_error_and_keeps_the_first() -> None:
    async with open_runtime(seed=1) as system:
        first = await system.spawn(Counter, name="ledger", start=1)
        with pytest.raises(NameTakenError, match="'ledger'"):
            await system.spawn(Counter, name="ledger", start=2)
        assert system.lookup("ledger") is first
        assert await first.get.ask() == 1
        assert system.names().count("ledger") == 1


async def test_lookup_finds_named_actors_and_raises_lookup_error_for_unknown_names() -> None:
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter, name="ledger")
        assert system.lookup("ledger") is ref
        assert await system.lookup("ledger").incr.ask() == 1
        with pytest.raises(LookupError, match="'nobody'"):
            system.lookup("nobody")


async def test_unnamed_actors_get_distinct_generated_names() -> None:
    async with open_runtime(seed=1) as system:
        first = await system.spawn(Counter)
        second = await system.spawn(Counter)
        assert first.name != second.name
        assert system.lookup(first.name) is first
        assert system.lookup(second.name) is second


async def test_local_ref_rejects_unknown_private_and_lifecycle_methods_eagerly() -> None:
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter, name="ledger")
        with pytest.raises(AttributeError, match=r"'ledger'.*'no_such_method'"):
            ref.no_such_method  # noqa: B018
        with pytest.raises(AttributeError):
            ref._private  # noqa: B018
        with pytest.raises(AttributeError):
            ref.on_stop  # noqa: B018
        # Nothing was sent.
        assert ref.statistics().mailbox_depth == 0


async def test_ask_timeout_raises_ask_timeout_naming_the_actor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter, name="sluggish", shutdown=0)
        start = trio.current_time()
        with pytest.raises(AskTimeout, match=r"'sluggish'.*'slow'") as info:
            await ref.slow.options(timeout=2.5).ask()
        assert isinstance(info.value, TimeoutError)
        assert trio.current_time() - start == pytest.approx(2.5)
        # The actor is still alive, and a ref without options waits as long as it takes.
        assert ref.is_alive
        assert await ref.slow.ask() == "slow done"


async def test_options_returns_a_new_method_ref_and_leaves_the_original_unbounded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter, shutdown=0)
        method = ref.slow
        bounded = method.options(timeout=1)
        assert method.timeout is None
        assert bounded.timeout == 1
        with pytest.raises(AskTimeout):
            await bounded.ask()


async def test_asking_a_temporary_actor_that_stopped_raises_actor_dead_error_at_once() -> None:
    class OneShot(Actor):
        def finish(self) -> None:
            self.context.stop()

    async with open_runtime(seed=1) as system:
        ref = await system.spawn(OneShot, name="oneshot", restart=Restart.TEMPORARY)
        await ref.finish.ask()
        await trio.testing.wait_all_tasks_blocked()
        assert not ref.is_alive
        with trio.fail_after(1), pytest.raises(ActorDeadError, match="'oneshot'"):
            await ref.finish.ask()
        with pytest.raises(ActorDeadError, match="'oneshot'"):
            ref.finish.tell()
        with pytest.raises(LookupError):
            system.lookup("oneshot")


async def test_asking_an_actor_after_the_runtime_exited_raises_actor_dead_error() -> None:
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Counter, name="ledger")
        await ref.incr.ask()
    with trio.fail_after(1), pytest.raises(ActorDeadError, match="'ledger'"):
        await ref.get.ask()
    with pytest.raises(ActorDeadError):
        ref.incr.tell()
    assert ref.statistics().state is ActorState.STOPPED


async def test_asks_queued_when_an_actor_dies_for_good_fail_instead_of_hanging(
    autojump_clock: trio.testing.MockClock,
) -> None:
    release = trio.Event()

    class Doomed(Actor):
        async def wait_then_crash(self) -> None:
            await release.wait()
            raise RuntimeError("crash with work queued")

        def get(self) -> int:
            return 1

    outcomes: list[str] = []

    async def ask_and_record(ref: object) -> None:
        try:
            await ref.get.ask()  # type: ignore[attr-defined]
            outcomes.append("answered")
        except ActorDeadError as exc:
            assert "'doomed'" in str(exc)
            outcomes.append("dead")

    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Doomed, name="doomed", restart=Restart.TEMPORARY)
        ref.wait_then_crash.tell()
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for _ in range(3):
                    nursery.start_soon(ask_and_record, ref)
                await trio.testing.wait_all_tasks_blocked()
                assert ref.statistics().mailbox_depth == 3
                release.set()
    assert outcomes == ["dead", "dead", "dead"]


async def test_actor_statistics_count_depth_handled_failures_and_restarts() -> None:
    gate = trio.Event()

    class Gate(Actor):
        async def hold(self) -> None:
            await gate.wait()

        def noop(self) -> None:
            pass

        def crash(self) -> None:
            raise RuntimeError("crash")

    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Gate, name="gate")
        ref.hold.tell()
        for _ in range(3):
            ref.noop.tell()
        await trio.testing.wait_all_tasks_blocked()
        stats = ref.statistics()
        assert (stats.name, stats.state) == ("gate", ActorState.RUNNING)
        assert (stats.mailbox_depth, stats.messages_handled, stats.failures, stats.restarts) == (3, 1, 0, 0)
        gate.set()
        await ref.noop.ask()
        ref.crash.tell()
        await ref.noop.ask()
        stats = ref.statistics()
        assert (stats.mailbox_depth, stats.messages_handled, stats.failures, stats.restarts) == (0, 7, 1, 1)


async def test_supervisor_statistics_count_children_running_and_restarts() -> None:
    async with open_runtime(seed=1) as system:
        sup = await system.spawn_supervisor("team", max_restarts=5)
        first = await system.spawn(Counter, name="first", supervisor=sup)
        await system.spawn(Counter, name="second", supervisor=sup)
        stats = sup.statistics()
        assert (stats.name, stats.children, stats.running, stats.restarts) == ("team", 2, 2, 0)
        assert stats.state is ActorState.RUNNING
        first.crash.tell()
        await first.get.ask()
        first.crash.tell()
        await first.get.ask()
        stats = sup.statistics()
        assert (stats.children, stats.running, stats.restarts) == (2, 2, 2)
        assert system.root.statistics().children == 1
