"""The current workflow version across engine restarts and concurrent registrations.

The real engine and real SDK workers in virtual time (:mod:`flow_engine`). Workers of
two builds of one workflow (v1: task ``a``; v2: tasks ``a`` then ``b``) come and go;
what must hold: a worker the engine knew registering again (after an engine restart)
is not a deploy and never undoes a rollback, and however registrations interleave, the
version new runs use is one the store agrees on after a restart.
"""

from __future__ import annotations

from typing import Any

import trio
from flow_engine import Cluster, run_engine

from ratchet import Ratchet, Workflow
from ratchet._worker.worker import WorkerActor, WorkerConfig

LIMIT = 120.0  # virtual seconds


def build(*, with_b: bool) -> Workflow:
    wf = Ratchet().workflow("shipping", input_validator=dict)

    @wf.task()
    async def a(input: dict[str, Any], ctx: Any) -> str:
        return "a"

    if with_b:

        @wf.task(parents=[a])
        async def b(input: dict[str, Any], ctx: Any) -> str:
            return "b"

    return wf


async def start_worker(cluster: Cluster, worker_id: str, wf: Workflow) -> Any:
    config = WorkerConfig(worker_id, [wf], threads=False)
    ref = await cluster.system.spawn(
        WorkerActor, config, cluster.gateway, name=f"worker:{worker_id}", worker_id=worker_id
    )
    await ref.wait_registered.ask()
    return ref


async def run_version(cluster: Cluster) -> int:
    (run_id,) = await cluster.trigger("shipping", [{}])
    with trio.fail_after(LIMIT):
        (details,) = await cluster.wait([run_id])
    assert details["status"] == "COMPLETED", details
    return int(details["version"])


async def live_workers(cluster: Cluster) -> list[str]:
    return sorted(w["id"] for w in await cluster.call("list_workers"))


def test_a_worker_reconnecting_after_an_engine_restart_does_not_undo_a_rollback() -> None:
    async def scenario(cluster: Cluster) -> tuple[int, int, int]:
        await start_worker(cluster, "old", build(with_b=False))
        first = await run_version(cluster)
        await start_worker(cluster, "new", build(with_b=True))  # a deploy of v2...
        await cluster.system.root.terminate_child("worker:new")  # ...whose process goes quiet
        await start_worker(cluster, "rollback", build(with_b=False))  # ...and a rollback to v1
        rolled_back = await run_version(cluster)
        await cluster.restart_engine()
        with trio.fail_after(LIMIT):  # the workers still up reconnect on their next heartbeat
            while await live_workers(cluster) != ["old", "rollback"]:
                await trio.sleep(0.5)
        await start_worker(cluster, "new", build(with_b=True))  # the v2 process comes back
        return first, rolled_back, await run_version(cluster)

    _, (first, rolled_back, after_restart) = run_engine(lambda c: [], scenario, workers=())
    assert rolled_back == first
    assert after_restart == first


def test_concurrent_registrations_settle_on_a_version_the_store_agrees_on() -> None:
    async def scenario(cluster: Cluster) -> tuple[int, int, list[Any]]:
        async with trio.open_nursery() as nursery:
            for i in range(8):
                nursery.start_soon(start_worker, cluster, f"w{i}", build(with_b=i % 2 == 1))
        before = await run_version(cluster)
        await cluster.restart_engine()
        assert cluster.store is not None
        after = await run_version(cluster)
        (workflow,) = await cluster.store.list_workflows("default")
        versions = await cluster.store.list_workflow_versions("default", workflow.id)
        return before, after, versions

    for seed in (1, 2, 3):
        _, (before, after, versions) = run_engine(lambda c: [], scenario, workers=(), seed=seed)
        assert sorted(v.version for v in versions) == [1, 2]  # one version per definition
        assert len({v.checksum for v in versions}) == 2
        assert after == before
