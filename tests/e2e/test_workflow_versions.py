"""Workflow versions through the client in embedded mode: deploys, rollbacks, stranded runs.

A version is a definition's content. Each test plays deploys of one workflow,
``deploy``, by starting and stopping workers whose code declares it one way or the
other (v1: tasks ``a`` then ``b``; v2 adds ``c`` after ``b``), each on its own client as
separate worker processes would. New runs use the version of the worker code that
registered last; a run keeps the version it started with; a task that no live worker
serves says so in the run's details.
"""

from __future__ import annotations

from typing import Any

from e2e_helpers import deploy_build, eventually
from live_workers import add_worker, stop_worker

from ratchet import Ratchet, Workflow

UNSERVED = "no live worker serves task"


def deploy(*, with_c: bool, client: Ratchet | None = None) -> Workflow:
    """The workflow ``deploy`` as one build of the code declares it (on its own client)."""
    return deploy_build("deploy", with_c=with_c, client=client)


def status_of(r: Ratchet, run_id: str) -> str:
    return r.runs.get(run_id).status


def wait_completed(r: Ratchet, run_id: str) -> dict[str, Any]:
    eventually(lambda: status_of(r, run_id) == "COMPLETED", f"run {run_id} to complete")
    return dict(r.runs.get(run_id).output)


def test_re_registering_an_earlier_definition_makes_it_current_again(new_client):
    r = new_client()
    app = deploy(with_c=False, client=r)  # what the application triggers by
    r.embedded("memory://")
    add_worker(r, "v1", [deploy(with_c=False)])
    first = app.run_no_wait({}).workflow_run_id
    assert wait_completed(r, first) == {"a": "a", "b": "b"}

    add_worker(r, "v2", [deploy(with_c=True)])  # the deploy of v2...
    stop_worker(r, "v1")
    second = app.run_no_wait({}).workflow_run_id
    assert wait_completed(r, second) == {"a": "a", "b": "b", "c": "c"}

    add_worker(r, "v1-again", [deploy(with_c=False)])  # ...rolled back
    stop_worker(r, "v2")
    third = app.run_no_wait({}).workflow_run_id
    assert r.runs.get(third).version == r.runs.get(first).version  # the same content: the same version
    assert wait_completed(r, third) == {"a": "a", "b": "b"}
    assert r.runs.get(second).version != r.runs.get(first).version
    # the engine knows which version each live worker runs
    (worker,) = r.connection.call("list_workers")
    assert (worker["name"], worker["workflows"]) == ("v1-again", {"deploy": r.runs.get(first).version})


def test_a_run_keeps_its_version_and_a_task_no_live_worker_serves_says_so(new_client):
    r = new_client()
    app = deploy(with_c=True, client=r)
    r.embedded("memory://")
    add_worker(r, "v2", [deploy(with_c=True)])
    stop_worker(r, "v2")
    old = app.run_no_wait({}).workflow_run_id  # a v2 run, queued while no worker is up
    queued = r.runs.get(old).task("a")
    assert queued.status == "QUEUED"
    assert queued.queued_reason is not None and f"{UNSERVED} 'a' of workflow 'deploy'" in queued.queued_reason

    add_worker(r, "v1", [deploy(with_c=False)])  # a rollback: v1 is current again
    new = app.run_no_wait({}).workflow_run_id
    assert wait_completed(r, new) == {"a": "a", "b": "b"}
    # The old run keeps v2: v1's worker serves its tasks a and b, and nobody serves c.
    eventually(lambda: r.runs.get(old).task("c").status == "QUEUED", "the old run to reach c")
    details = r.runs.get(old)
    assert [details.task(t).status for t in "abc"] == ["COMPLETED", "COMPLETED", "QUEUED"]
    reason = details.task("c").queued_reason
    version = details.version
    assert reason is not None
    assert reason.startswith(f"{UNSERVED} 'c' of workflow 'deploy' (version {version})")
    assert f"live workers run version {r.runs.get(new).version}" in reason
    assert details.task("a").queued_reason is None  # only queued tasks carry one

    add_worker(r, "v2-again", [deploy(with_c=True)])  # a worker serving c comes: the reason goes
    assert wait_completed(r, old) == {"a": "a", "b": "b", "c": "c"}
    assert all(t.queued_reason is None for t in r.runs.get(old).tasks)


def test_the_current_version_survives_an_engine_restart(new_client, tmp_path):
    database = f"sqlite:///{tmp_path / 'versions.db'}"
    r = new_client()
    app = deploy(with_c=False, client=r)
    r.embedded(database)
    add_worker(r, "v1", [deploy(with_c=False)])
    first = app.run_no_wait({}).workflow_run_id
    wait_completed(r, first)
    add_worker(r, "v2", [deploy(with_c=True)])
    add_worker(r, "v1-again", [deploy(with_c=False)])  # registered last: v1 is current
    r.close()

    # the engine comes back before any worker does
    again = new_client()
    again.embedded(database)
    run_id = deploy(with_c=False, client=again).run_no_wait({}).workflow_run_id
    assert again.runs.get(run_id).version == again.runs.get(first).version
    assert [t.name for t in again.runs.get(run_id).tasks] == ["a", "b"]
