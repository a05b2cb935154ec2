"""Misuse is refused at once with a clear error, and the runtime keeps working after it."""

from __future__ import annotations

from typing import Any

import pytest

from ratchet.runtime import (
    Actor,
    ChildSpec,
    NameTakenError,
    Restart,
    Strategy,
    SupervisorSpec,
    open_runtime,
)


class Fine(Actor):
    def ping(self) -> str:
        return "pong"


class NotAnActor:
    def ping(self) -> str:
        return "pong"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"factory": NotAnActor}, TypeError, "Actor subclass or a SupervisorSpec"),
        ({"factory": Fine()}, TypeError, "Actor subclass or a SupervisorSpec"),
        ({"factory": "Fine"}, TypeError, "Actor subclass or a SupervisorSpec"),
        ({"factory": Fine, "shutdown": -1}, ValueError, "shutdown must be >= 0"),
        ({"factory": Fine, "shutdown": float("nan")}, ValueError, "shutdown must be >= 0"),
        ({"factory": Fine, "restart": "permanent"}, TypeError, "restart must be a ratchet.runtime.Restart"),
        ({"factory": Fine, "restart": None}, TypeError, "restart must be a ratchet.runtime.Restart"),
        ({"factory": Fine, "name": ""}, ValueError, "non-empty string"),
        ({"factory": Fine, "name": 7}, ValueError, "non-empty string"),
    ],
)
def test_child_spec_rejects_bad_values_clearly(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        ChildSpec(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_restarts": -1}, ValueError, "max_restarts must be >= 0"),
        ({"within": 0}, ValueError, "within must be a positive"),
        ({"within": -2.5}, ValueError, "within must be a positive"),
        ({"strategy": "one_for_one"}, TypeError, "strategy must be a ratchet.runtime.Strategy"),
        ({"strategy": Restart.PERMANENT}, TypeError, "strategy must be a ratchet.runtime.Strategy"),
    ],
)
def test_supervisor_spec_rejects_bad_values_clearly(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        SupervisorSpec(**kwargs)


def test_specs_accept_the_edge_values() -> None:
    assert ChildSpec(Fine, shutdown=0).shutdown == 0
    assert ChildSpec(Fine, shutdown=None).shutdown is None
    assert SupervisorSpec(max_restarts=0, within=0.001).max_restarts == 0
    assert ChildSpec(SupervisorSpec(), name="sub").name == "sub"


async def test_spawning_a_non_actor_raises_type_error_and_the_runtime_keeps_working() -> None:
    async with open_runtime(seed=1) as system:
        with pytest.raises(TypeError, match="NotAnActor"):
            await system.spawn(NotAnActor)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await system.spawn(Fine())  # type: ignore[arg-type]
        ref = await system.spawn(Fine, name="fine")
        assert await ref.ping.ask() == "pong"
        assert system.names() == ["root", "fine"]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"shutdown": -1}, ValueError),
        ({"restart": "transient"}, TypeError),
        ({"name": ""}, ValueError),
    ],
)
async def test_spawn_with_bad_options_raises_and_the_runtime_keeps_working(
    options: dict[str, Any], error: type[Exception]
) -> None:
    async with open_runtime(seed=1) as system:
        with pytest.raises(error):
            await system.spawn(Fine, **options)
        ref = await system.spawn(Fine)
        assert await ref.ping.ask() == "pong"
        assert len(await system.root.which_children()) == 1


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"max_restarts": -1}, ValueError),
        ({"within": 0}, ValueError),
        ({"strategy": "rest_for_one"}, TypeError),
        ({"children": [ChildSpec(Fine, name="dup"), ChildSpec(Fine, name="dup")]}, NameTakenError),
    ],
)
async def test_spawn_supervisor_with_bad_options_raises_and_the_runtime_keeps_working(
    options: dict[str, Any], error: type[Exception]
) -> None:
    async with open_runtime(seed=1) as system:
        with pytest.raises(error):
            await system.spawn_supervisor("sup", **options)
        # Nothing half-made is left registered: both names are free.
        assert system.names() == ["root"]
        sup = await system.spawn_supervisor("sup", strategy=Strategy.ONE_FOR_ALL)
        ref = await system.spawn(Fine, name="dup", supervisor=sup)
        assert await ref.ping.ask() == "pong"


async def test_name_clash_with_a_supervisor_name_is_refused() -> None:
    async with open_runtime(seed=1) as system:
        await system.spawn_supervisor("shared")
        with pytest.raises(NameTakenError, match="'shared'"):
            await system.spawn(Fine, name="shared")
        with pytest.raises(NameTakenError, match="'root'"):
            await system.spawn(Fine, name="root")
        assert await (await system.spawn(Fine)).ping.ask() == "pong"


async def test_open_runtime_rejects_bad_root_intensity_before_starting() -> None:
    with pytest.raises(ValueError, match="max_restarts"):
        async with open_runtime(seed=1, max_restarts=-1):
            pytest.fail("the runtime must not start")
    with pytest.raises(TypeError, match="strategy"):
        async with open_runtime(seed=1, strategy="one_for_all"):  # type: ignore[arg-type]
            pytest.fail("the runtime must not start")
