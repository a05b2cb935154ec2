"""Clients and workers whose engine is out of reach, as separate processes.

A client's wait lasts as long as its run, however short its ``reconnect_timeout``; when
the engine is gone for good the wait ends in :class:`ratchet.EngineUnreachableError`.
A worker that cannot reach its engine says so in its log, says when it connects, and
stops promptly on SIGTERM or SIGINT whether or not it ever connected.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apps import make_client
from process_harness import HERE, Cluster, Process, free_address
from test_processes import wait_until, workers_of

from ratchet import EngineUnreachableError

RECONNECT = 0.5
# A worker that is told to stop must be gone within this (it has nothing to drain).
EXIT_WITHIN = 10.0


@pytest.fixture
def database(tmp_path: Path) -> str:
    """SQLite only: what these tests check lies between processes, not in the store."""
    return f"sqlite:///{tmp_path / 'ratchet.db'}"


@pytest.fixture
def short_client(cluster: Cluster) -> Iterator[tuple[Any, dict[str, Any]]]:
    r, workflows = make_client(cluster.address, reconnect_timeout=RECONNECT)
    try:
        yield r, workflows
    finally:
        r.close()


def test_wait_outlasts_reconnect_timeout_then_engine_loss_is_reported(
    cluster: Cluster, short_client: Any, tmp_path: Path
) -> None:
    r, wf = short_client
    engine = cluster.engine()
    cluster.worker()
    wait_until(lambda: workers_of(r), 30, "the worker to register")
    assert r.connection.reconnect_timeout == RECONNECT

    # The engine answers this wait for four times reconnect_timeout: no outage.
    assert "pid" in wf["slow"].run({"seconds": 4 * RECONNECT})

    marker = tmp_path / "marks"
    marker.mkdir()
    ref = wf["slow"].run_no_wait({"seconds": 60, "marker": str(marker)})
    wait_until(lambda: list(marker.iterdir()), 30, "the task to start")
    engine.kill()
    started = time.monotonic()
    with pytest.raises(EngineUnreachableError) as caught:
        ref.result()
    assert time.monotonic() - started < 5.0
    assert cluster.address in str(caught.value)
    assert caught.value.call == "wait_run"


def _lonely_worker(address: str) -> Process:
    """A worker process dialling ``address``, where no engine listens."""
    argv = [sys.executable, str(HERE / "apps.py"), "worker"]
    return Process("lonely worker", argv, {"RATCHET_ENGINE": address}, ready="cannot reach the engine")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_worker_without_engine_logs_it_and_stops_on_signal(sig: signal.Signals) -> None:
    address = free_address()
    worker = _lonely_worker(address)
    try:
        worker.wait_ready()
        (warning,) = [line for line in worker.lines if "cannot reach the engine" in line]
        assert "WARNING" in warning and "ratchet.worker" in warning and address in warning
        worker.proc.send_signal(sig)
        assert worker.proc.wait(EXIT_WITHIN) == 0, "\n".join(worker.lines)
        # told once, not once per attempt
        assert sum("cannot reach the engine" in line for line in worker.lines) == 1
        assert "Traceback" not in "\n".join(worker.lines)
    finally:
        worker.kill()


def test_worker_started_before_its_engine_logs_when_it_connects(cluster: Cluster) -> None:
    worker = _lonely_worker(cluster.address)
    cluster.processes.append(worker)
    worker.wait_ready()
    cluster.engine()
    wait_until(
        lambda: any("connected to the engine" in line for line in worker.lines), 30, "the worker to connect"
    )
    (line,) = [line for line in worker.lines if "connected to the engine" in line]
    assert "INFO" in line and cluster.address in line
    assert worker.terminate(EXIT_WITHIN) == 0


@pytest.mark.slow
def test_worker_whose_engine_died_stops_on_sigterm(cluster: Cluster) -> None:
    engine = cluster.engine()
    worker = _lonely_worker(cluster.address)
    cluster.processes.append(worker)
    wait_until(
        lambda: any("connected to the engine" in line for line in worker.lines), 30, "the worker to connect"
    )
    engine.kill()
    wait_until(
        lambda: any("cannot reach the engine" in line for line in worker.lines), 30, "the worker to notice"
    )
    # it gives up telling a dead engine it leaves after 10 s out of reach
    assert worker.terminate(EXIT_WITHIN + 10.0) == 0
    assert any("stops without draining" in line for line in worker.lines)
