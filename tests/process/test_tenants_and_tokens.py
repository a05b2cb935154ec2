"""Tenants and tokens between real processes: an engine, workers and clients of two tenants.

The engine writes its owner's admin token on first start; ``ratchet tenants create``
makes a second tenant; each tenant's client and worker sign in with their own token. A
client of tenant B then tries every call on tenant A's objects (runs, crons, schedules,
filters, rate limits, events, workers): each one reads nothing of A's and changes
nothing of A's. Revoked, garbage and viewer tokens are refused with a clear error, and a
worker without a valid token is refused, not silently idle.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apps import make_client
from process_harness import HERE, Cluster, Process

from ratchet import AuthenticationError, PermissionDeniedError, Ratchet
from ratchet._session import local_token_path, read_local_token


def cli(cluster: Cluster, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RATCHET_ENGINE": cluster.address}
    env.pop("RATCHET_TOKEN", None)
    if token is not None:
        env["RATCHET_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "ratchet.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def wait_until(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def engine(cluster: Cluster) -> Iterator[Cluster]:
    cluster.engine()
    yield cluster


def test_the_first_start_writes_an_admin_token_only_its_owner_can_read(engine: Cluster) -> None:
    path = local_token_path(engine.address)
    assert path.stat().st_mode & 0o077 == 0
    token = read_local_token(engine.address)
    assert token is not None and token.count(".") == 2
    assert token not in "\n".join(engine.processes[0].lines)  # the path is printed, never the token
    assert str(path) in "\n".join(engine.processes[0].lines)


def test_two_tenants_share_an_engine_and_neither_sees_or_touches_the_other(engine: Cluster) -> None:
    made = cli(engine, "tenants", "create", "beta")
    assert made.returncode == 0, made.stderr
    beta_token = made.stdout.strip().splitlines()[-1]
    listed = cli(engine, "tenants", "list")
    assert listed.stdout.split() == ["default", "beta"]

    a, wf = make_client(engine.address)  # the local admin token: tenant "default"
    b = Ratchet(engine=engine.address, token=beta_token)
    engine.worker("a-worker")
    try:
        wait_until(lambda: a.connection.call("list_workers"), 30, "tenant A's worker")
        run = wf["chain"].run({"n": 1})
        assert run["third"] == {"n": 4}
        ref = wf["slow"].run_no_wait({"seconds": 60})
        run_id = ref.workflow_run_id
        cron = a.cron.create(wf["chain"], "a-cron", "0 0 * * *", input={"n": 1})
        schedule = a.scheduled.create(wf["chain"], datetime.now(UTC) + timedelta(hours=1), input={"n": 1})
        flt = a.filters.create(wf["chain"], "true", scope="s")
        a.rate_limits.put("shared-key", 5, "SECOND")
        a_runs = {r.run_id for r in a.runs.list()}

        # B reads nothing of A's
        assert b.runs.list() == []
        assert b.connection.call("get_run", run_id) is None
        assert b.connection.call("list_workers") == []
        assert b.connection.call("list_workflows") == []
        assert b.cron.list() == []
        with pytest.raises(LookupError):
            b.cron.get(cron.id)
        assert b.scheduled.list() == []
        with pytest.raises(LookupError):
            b.scheduled.get(schedule.id)
        assert b.filters.list() == []
        # B changes nothing of A's
        assert b.connection.call("cancel_runs", [run_id]) == 0
        assert b.cron.delete(cron.id) is False
        assert b.scheduled.delete(schedule.id) is False
        assert b.filters.delete(flt.id) is False
        b.event.push("order:created", {"n": 1})
        # B triggering A's workflow by name finds no such workflow of its own
        (refused,) = b.connection.call("trigger", [{"workflow": "chain", "input": {"n": 1}}])
        assert "chain" in refused["error"] and "run_id" not in refused
        # and everything of A's is as it was
        assert a.runs.get(run_id).status == "RUNNING"
        assert a.cron.get(cron.id) == cron
        assert a.scheduled.get(schedule.id).status == schedule.status
        assert [f.id for f in a.filters.list()] == [flt.id]
        assert {r.run_id for r in a.runs.list()} == a_runs
        assert b.runs.list() == []
        a.runs.cancel(run_id)
    finally:
        a.close()
        b.close()


def test_a_revoked_token_stops_working_at_once(engine: Cluster) -> None:
    made = cli(engine, "tokens", "create", "--name", "ci", "--role", "member")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    client = Ratchet(engine=engine.address, token=token)
    try:
        assert client.runs.list() == []
        listed = cli(engine, "tokens", "list").stdout
        (token_id,) = [line.split()[0] for line in listed.splitlines() if line.endswith(" ci")]
        assert cli(engine, "tokens", "revoke", token_id).returncode == 0
        with pytest.raises(AuthenticationError, match="revoked"):
            client.runs.list()
        assert " revoked " in cli(engine, "tokens", "list").stdout
    finally:
        client.close()


@pytest.mark.parametrize(
    "token, error",
    [
        ("garbage", "malformed"),
        ("a.b.c", "malformed"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZWZhdWx0In0.c2lnbmF0dXJl", "malformed|signature"),
    ],
)
def test_a_bad_token_is_refused_with_a_reason(engine: Cluster, token: str, error: str) -> None:
    client = Ratchet(engine=engine.address, token=token)
    try:
        with pytest.raises(AuthenticationError, match=error):
            client.runs.list()
    finally:
        client.close()
    refused = cli(engine, "tokens", "list", token=token)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr


def test_a_viewer_reads_but_may_not_trigger_or_manage_tokens(engine: Cluster) -> None:
    viewer = cli(engine, "tokens", "create", "--name", "dash", "--role", "viewer").stdout.strip()
    a, wf = make_client(engine.address, token=viewer)
    try:
        assert a.runs.list() == []
        with pytest.raises(
            PermissionDeniedError, match=r"viewer token may not call (register_workflows|trigger)"
        ):
            wf["chain"].run_no_wait({"n": 1})
        assert a.runs.list() == []
    finally:
        a.close()
    refused = cli(engine, "tokens", "create", "--name", "x", token=viewer)
    assert refused.returncode != 0 and "may not create API tokens" in refused.stderr
    assert cli(engine, "tenants", "create", "gamma", token=viewer).returncode != 0


def test_a_worker_with_a_refused_token_says_so_and_stays_idle(engine: Cluster) -> None:
    argv = [sys.executable, str(HERE / "apps.py"), "worker"]
    env = {"RATCHET_ENGINE": engine.address, "RATCHET_TOKEN": "nope", "WORKER_NAME": "bad"}
    worker = Process("worker bad", argv, env)
    engine.processes.append(worker)
    line = wait_until(
        lambda: next((ln for ln in list(worker.lines) if "refused worker" in ln), None),
        30,
        "the worker to say it was refused",
    )
    assert "malformed" in line
    a = Ratchet(engine=engine.address)
    try:
        assert a.connection.call("list_workers") == []
    finally:
        a.close()
