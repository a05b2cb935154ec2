"""Several engines on one Postgres database: any of them accepts any registration.

A version is a definition's content, and the database is what the engines share: the
same definition registered through any engine is the same version, a new one becomes
the next version for all of them, and an engine asked about a workflow it does not hold
in memory looks in the database before calling it unknown. Each test runs two (or more)
real engines in this process, each on its own client, as ``ratchet engine`` replicas
would run; workers join one engine or the other.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from e2e_helpers import deploy_build, eventually
from live_workers import add_worker, stop_worker

from ratchet import Ratchet, Workflow
from ratchet._worker.worker import WorkerActor, WorkerConfig
from ratchet.actors import EngineOptions, open_engine
from ratchet.actors.store import PostgresStore, open_store
from ratchet.runtime import open_runtime

pytestmark = pytest.mark.postgres


def deploy(*, with_c: bool, client: Ratchet | None = None) -> Workflow:
    """The workflow ``shared`` as one build of the code declares it (v1: a, b; v2 adds c)."""
    return deploy_build("shared", with_c=with_c, client=client)


@pytest.fixture
def database(pg_databases) -> str:
    return pg_databases.create()


def engine_on(new_client, database: str) -> Ratchet:
    r = new_client()
    r.embedded(database)
    return r


def run_through(r: Ratchet, wf: Workflow) -> tuple[dict[str, Any], int]:
    """Run ``wf`` through ``r``'s engine; returns its output and the version it ran."""
    ref = wf.run_no_wait({})
    output = ref.result()
    return output, r.runs.get(ref.workflow_run_id).version


def test_the_same_and_then_a_changed_definition_registered_through_two_engines(new_client, database):
    one, two = engine_on(new_client, database), engine_on(new_client, database)
    # what the application triggers by (the engines decide the version: the workers' code)
    app_one, app_two = deploy(with_c=False, client=one), deploy(with_c=False, client=two)
    add_worker(one, "one-v1", [deploy(with_c=False)])
    add_worker(two, "two-v1", [deploy(with_c=False)])  # the same definition, through the other engine

    v1_output, v1_on_one = run_through(one, app_one)
    _, v1_on_two = run_through(two, app_two)
    assert v1_output == {"a": "a", "b": "b"}
    assert v1_on_one == v1_on_two  # the same content: the same version, whichever engine

    # new code goes live through engine two first, then through engine one
    add_worker(two, "two-v2", [deploy(with_c=True)])
    stop_worker(two, "two-v1")
    v2_output, v2_on_two = run_through(two, app_two)
    assert v2_output == {"a": "a", "b": "b", "c": "c"}
    assert v2_on_two != v1_on_two

    add_worker(one, "one-v2", [deploy(with_c=True)])
    stop_worker(one, "one-v1")
    output, v2_on_one = run_through(one, app_one)
    assert output == {"a": "a", "b": "b", "c": "c"}
    assert v2_on_one == v2_on_two
    (worker,) = one.connection.call("list_workers")
    assert worker["workflows"] == {"shared": v2_on_two}


def test_an_engine_triggers_a_workflow_only_another_engine_registered(new_client, database):
    one, two = engine_on(new_client, database), engine_on(new_client, database)
    add_worker(two, "two-v1", [deploy(with_c=False)])
    _, version = run_through(two, deploy(with_c=False, client=two))

    # engine one has not heard of it: a trigger (without the definition) finds it in the database
    (answer,) = one.connection.call("trigger", [{"workflow": "shared", "input": {}}])
    assert "error" not in answer, answer
    assert one.runs.get(answer["run_id"]).version == version
    add_worker(one, "one-v1", [deploy(with_c=False)])  # a worker of engine one completes it
    assert one.runs.get(answer["run_id"]).version == version
    run_id = answer["run_id"]
    eventually(lambda: one.runs.get(run_id).status == "COMPLETED", f"run {run_id} to complete")
    assert dict(one.runs.get(run_id).output) == {"a": "a", "b": "b"}


ENGINES = 4


async def test_engines_registering_at_the_same_moment_agree_on_every_version(database, tmp_path) -> None:
    """Racing first registrations of one workflow: the same definition gets one version,
    different definitions get different versions, and no engine sees a database error."""
    builds = [deploy(with_c=False), deploy(with_c=True)]
    answers: dict[tuple[int, int], int] = {}
    everyone_up, everyone_done = trio.Event(), trio.Event()
    up: list[int] = []
    done: list[int] = []

    async def engine(n: int) -> None:
        async with open_runtime() as system, open_store(PostgresStore(database)) as store:
            async with open_engine(system, store, EngineOptions()) as running:
                up.append(n)
                if len(up) == ENGINES:
                    everyone_up.set()
                await everyone_up.wait()
                # a worker of build n % 2 goes live through engine n
                config = WorkerConfig(f"worker-{n}", [builds[n % 2]])
                worker = await system.spawn(WorkerActor, config, running.gateway, name=f"worker-{n}")
                await worker.wait_registered.ask()
                (listed,) = await running.gateway.list_workers.ask()
                answers[(n, n % 2)] = listed["workflows"]["shared"]
                done.append(n)
                if len(done) == ENGINES:
                    everyone_done.set()
                await everyone_done.wait()  # no engine leaves while another still registers

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            for n in range(ENGINES):
                nursery.start_soon(engine, n)

    by_definition = {d: {v for (_, dd), v in answers.items() if dd == d} for d in (0, 1)}
    assert all(len(numbers) == 1 for numbers in by_definition.values()), answers
    assert by_definition[0] != by_definition[1]
    async with open_store(PostgresStore(database)) as store:
        (wf,) = await store.list_workflows("default")
        stored = {v.version: v.checksum for v in await store.list_workflow_versions("default", wf.id)}
    for d, (number,) in by_definition.items():
        assert stored[number] == builds[d].spec.version
