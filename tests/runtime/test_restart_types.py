"""Permanent, transient and temporary children after a normal exit and after a crash."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from ratchet.runtime import Actor, ActorDeadError, Restart, open_runtime


class Worker(Actor):
    def __init__(self, births: list[str]) -> None:
        births.append(self.context.name)
        self.calls = 0

    def finish(self) -> None:
        self.context.stop()

    def crash(self) -> None:
        raise RuntimeError("crash")

    def call(self) -> int:
        self.calls += 1
        return self.calls


@pytest.mark.parametrize(
    ("restart", "exit_by", "restarted"),
    [
        (Restart.PERMANENT, "finish", True),
        (Restart.PERMANENT, "crash", True),
        (Restart.TRANSIENT, "finish", False),
        (Restart.TRANSIENT, "crash", True),
        (Restart.TEMPORARY, "finish", False),
        (Restart.TEMPORARY, "crash", False),
    ],
)
async def test_child_is_restarted_only_when_its_restart_type_says_so(
    restart: Restart, exit_by: str, restarted: bool
) -> None:
    births: list[str] = []
    async with open_runtime(seed=1) as system:
        ref = await system.spawn(Worker, births, name="w", restart=restart)
        assert await ref.call.ask() == 1
        getattr(ref, exit_by).tell()
        await trio.testing.wait_all_tasks_blocked()
        children = await system.root.which_children()
        if restarted:
            assert births == ["w", "w"]
            assert ref.is_alive
            assert await ref.call.ask() == 1
            assert [(c.name, c.restarts, c.running) for c in children] == [("w", 1, True)]
            assert system.lookup("w") is ref
        else:
            assert births == ["w"]
            assert not ref.is_alive
            with trio.fail_after(1), pytest.raises(ActorDeadError):
                await ref.call.ask()
            assert children == []
            with pytest.raises(LookupError):
                system.lookup("w")
        assert system.root.statistics().restarts == int(restarted)


async def test_a_stopped_transient_child_frees_its_name_for_a_new_actor() -> None:
    births: list[str] = []
    async with open_runtime(seed=1) as system:
        old = await system.spawn(Worker, births, name="w", restart=Restart.TRANSIENT)
        await old.finish.ask()
        await trio.testing.wait_all_tasks_blocked()
        new = await system.spawn(Worker, births, name="w")
        assert new is not old
        assert await new.call.ask() == 1
        with trio.fail_after(1), pytest.raises(ActorDeadError):
            await old.call.ask()


async def test_which_children_reports_restart_type_kind_and_running_in_start_order() -> None:
    births: list[str] = []
    async with open_runtime(seed=1) as system:
        await system.spawn(Worker, births, name="p", restart=Restart.PERMANENT)
        await system.spawn_supervisor("s", restart=Restart.TRANSIENT)
        await system.spawn(Worker, births, name="t", restart=Restart.TEMPORARY)
        children = await system.root.which_children()
        assert [(c.name, c.kind, c.restart, c.running, c.restarts) for c in children] == [
            ("p", "actor", Restart.PERMANENT, True, 0),
            ("s", "supervisor", Restart.TRANSIENT, True, 0),
            ("t", "actor", Restart.TEMPORARY, True, 0),
        ]
