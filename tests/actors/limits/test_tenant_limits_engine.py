"""Limits in a running engine: queued tasks and workers counted, refusals that write nothing,
limits set by the first tenant's admins and applied at once, another tenant unaffected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import ratchet
from ratchet import Ratchet
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors import Engine, EngineOptions, open_engine
from ratchet.actors import _names as names
from ratchet.actors.auth import Principal, Role
from ratchet.actors.store import MemoryStore, open_store
from ratchet.runtime import ActorError, FixedEpochClock, open_runtime

HOME = Principal("home", Role.ADMIN)


def _workflow() -> Any:
    wf = Ratchet().workflow("queued", input_validator=dict)

    @wf.task()
    async def noop(inp: dict[str, Any], ctx: Any) -> None:
        return None

    return wf


@asynccontextmanager
async def _engine() -> AsyncIterator[Engine]:
    """An engine on a virtual clock with tenants ``home`` and ``other``, and no workers."""
    async with open_runtime(seed=7, clock=FixedEpochClock(1_893_456_000.0)) as system:
        async with (
            open_store(MemoryStore()) as store,
            open_engine(system, store, EngineOptions(tenant="home")) as engine,
        ):
            await engine.authority.create_tenant.ask({"name": "other"}, principal=HOME)
            spec = _workflow().spec.to_dict()
            for tenant in ("home", "other"):
                await engine.gateway_for(tenant).register_workflows.ask([spec])
            yield engine


def _runs(n: int) -> list[dict[str, Any]]:
    return [{"workflow": "queued", "input": {"n": i}} for i in range(n)]


def _limit_error(caught: pytest.ExceptionInfo[ActorError]) -> ratchet.TenantLimitError:
    assert caught.value.error_type == "ratchet.TenantLimitError"
    cause = caught.value.__cause__
    assert isinstance(cause, ratchet.TenantLimitError)
    return cause


async def test_a_trigger_over_the_queued_task_limit_is_refused_until_tasks_leave() -> None:
    async with _engine() as engine:
        await engine.authority.set_limits.ask("home", {"max_queued_tasks": 3}, principal=HOME)
        gateway = engine.gateway_for("home")
        assert all("run_id" in a for a in await gateway.trigger.ask(_runs(2)))
        with pytest.raises(ActorError) as caught:
            await gateway.trigger.ask(_runs(2))
        err = _limit_error(caught)
        assert (err.limit, err.value, err.retry_after) == ("max_queued_tasks", 3, None)
        assert "has 2 tasks queued" in str(err)
        assert len(await engine.store.list_runs("home", limit=None)) == 2  # nothing written
        (one,) = await gateway.trigger.ask(_runs(1))  # the last room is still there
        assert "run_id" in one
        # the other tenant keeps its own (default) limits
        assert all("run_id" in a for a in await engine.gateway_for("other").trigger.ask(_runs(10)))
        # cancelled runs' tasks leave the queue, and make room again
        ids = [r.id for r in await engine.store.list_runs("home", limit=None)]
        await gateway.cancel_runs.ask(ids)
        for run_id in ids:
            assert (await gateway.wait_run.ask(run_id))["status"] == "CANCELLED"
        assert all("run_id" in a for a in await gateway.trigger.ask(_runs(3)))
        usage = await engine.authority.get_usage.ask("home", principal=HOME)
        assert usage["queued_tasks"] == 3 and usage["refused"] == {"max_queued_tasks": 2}


async def test_a_worker_over_the_worker_limit_is_refused_and_one_registering_again_is_not() -> None:
    async with _engine() as engine:
        await engine.authority.set_limits.ask("home", {"max_workers": 1}, principal=HOME)
        config = WorkerConfig(name="first", workflows=[_workflow()], slots=1, threads=False)
        ref = await engine.system.spawn(WorkerActor, config, engine.gateway_for("home"), name="worker:first")
        await ref.wait_registered.ask()
        gateway = engine.gateway_for("home")
        (first,) = await gateway.list_workers.ask()

        def registration(worker_id: str) -> dict[str, Any]:
            return {
                "worker_id": worker_id,
                "name": "second",
                "actor": "worker:first",
                "slots": 1,
                "workflows": [_workflow().spec.to_dict()],
            }

        with pytest.raises(ActorError) as caught:
            await gateway.register_worker.ask(registration("second-id"))
        err = _limit_error(caught)
        assert (err.limit, err.value) == ("max_workers", 1)
        assert "stop another worker first" in str(err)
        assert [w["id"] for w in await gateway.list_workers.ask()] == [first["id"]]
        again = await gateway.register_worker.ask(registration(first["id"]))  # the same worker: admitted
        assert again["heartbeat_interval"] > 0
        await engine.authority.set_limits.ask("home", {"max_workers": 2}, principal=HOME)  # at once
        await gateway.register_worker.ask(registration("second-id"))
        assert len(await gateway.list_workers.ask()) == 2


async def test_limits_survive_a_restart_of_the_tenants_cell_and_bad_calls_change_nothing() -> None:
    async with _engine() as engine:
        other_admin = Principal("other", Role.ADMIN)
        with pytest.raises(ActorError, match="only admins of the engine's first tenant"):
            await engine.authority.set_limits.ask("other", {"max_workers": 5}, principal=other_admin)
        assert (
            await engine.authority.set_limits.ask("home", {"max_workers": 5}, principal=other_admin) is None
        )
        for bad_tenant in (None, 7, "", "UPPER", "x" * 100, ["home"]):
            with pytest.raises(ActorError, match="tenant name"):
                await engine.authority.get_limits.ask(bad_tenant, principal=HOME)
        for bad in (None, [], {"max_workers": "5"}, {"runs_burst": 0}, {"what": 1}):
            with pytest.raises(ActorError, match="limit"):
                await engine.authority.set_limits.ask("other", bad, principal=HOME)
        assert await engine.store.get_tenant_limits("other") is None
        assert await engine.authority.get_limits.ask("nobody", principal=HOME) is None
        changed = await engine.authority.set_limits.ask(
            "other", {"runs_burst": 2, "runs_per_second": 0.001}, principal=HOME
        )
        assert changed["limits"]["runs_burst"] == 2
        # a new cell (as after a crash, or on another engine) loads the stored limits
        tenants = engine.system.lookup(names.TENANTS)
        await tenants.terminate_child(names.tenant_cell("other"))
        await engine.authority.ensure_cell.ask("other")
        gateway = engine.gateway_for("other")
        assert len(await gateway.trigger.ask(_runs(2))) == 2
        with pytest.raises(ActorError) as caught:
            await gateway.trigger.ask(_runs(1))
        assert _limit_error(caught).limit == "runs_per_second"
