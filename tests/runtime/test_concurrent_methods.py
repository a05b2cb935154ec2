"""@concurrent actor methods run beside the mailbox, and still report to their callers."""

from __future__ import annotations

import pytest
import trio

from ratchet.runtime import Actor, ActorDeadError, ActorError, concurrent, open_runtime


class Gateway(Actor):
    def __init__(self) -> None:
        self.done: list[float] = []

    @concurrent
    async def wait(self, delay: float) -> float:
        await trio.sleep(delay)
        self.done.append(delay)
        return delay

    @concurrent
    async def fail(self) -> None:
        await trio.sleep(0.1)
        raise KeyError("missing")

    def finished(self) -> list[float]:
        return list(self.done)


async def test_concurrent_method_does_not_block_the_mailbox(autojump_clock: object) -> None:
    async with open_runtime() as system:
        gw = await system.spawn(Gateway, name="gw")
        results: list[float] = []

        async def call(delay: float) -> None:
            results.append(await gw.wait.ask(delay))

        async with trio.open_nursery() as nursery:
            for delay in (3.0, 1.0, 2.0):
                nursery.start_soon(call, delay)
            await trio.sleep(0.5)
            assert await gw.finished.ask() == []  # answered while three waits are in flight
        assert results == [1.0, 2.0, 3.0]
        assert trio.current_time() == pytest.approx(3.0)


async def test_concurrent_method_error_reaches_caller_and_actor_survives(autojump_clock: object) -> None:
    async with open_runtime() as system:
        gw = await system.spawn(Gateway, name="gw")
        with pytest.raises(ActorError) as info:
            await gw.fail.ask()
        assert info.value.error_type == "KeyError" and info.value.actor == "gw"
        assert await gw.wait.ask(0.1) == 0.1
        assert gw.statistics().restarts == 0


async def test_concurrent_call_in_flight_fails_when_actor_stops(autojump_clock: object) -> None:
    async with open_runtime() as system:
        gw = await system.spawn(Gateway, name="gw")
        outcome: list[BaseException] = []

        async def call() -> None:
            try:
                await gw.wait.ask(100.0)
            except ActorDeadError as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call)
            await trio.sleep(1.0)
            await system.root.terminate_child("gw")
        assert len(outcome) == 1 and "gw" in str(outcome[0])


def test_concurrent_requires_an_async_method() -> None:
    with pytest.raises(TypeError, match="async"):

        class Bad(Actor):
            @concurrent
            def sync(self) -> None:  # type: ignore[misc]
                pass
