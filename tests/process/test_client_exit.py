"""Client processes exit cleanly, however they end, with or without ``close()``.

A short script (``client_exit_app.py``) starts a run, reads its status and exits while
the run is still pending: from the main thread, from a thread, from a daemon thread
still waiting on the engine, from ``atexit``, from asyncio, and with an embedded engine
running the task. Two hundred such processes, in parallel batches, must all exit with
status 0 and nothing on stderr but what they printed on purpose.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from apps import make_client
from client_exit_app import MODES
from process_harness import HERE, Cluster
from test_processes import wait_until

PROCESSES = 200
AT_ONCE = 6


def run_client(mode: str, engine: str, scratch: Path, index: int) -> str | None:
    """Run one client process; None if it exited cleanly, else what went wrong."""
    env = {**os.environ, "RATCHET_ENGINE": engine, "CLIENT_DB": str(scratch / f"client-{index}.db")}
    try:
        out = subprocess.run(
            [sys.executable, str(HERE / "client_exit_app.py"), mode],
            env=env,
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired as exc:
        return f"{mode} #{index}: did not exit within 120s; stderr:\n{exc.stderr}"
    clean = out.returncode == 0 and "status " in out.stdout and not out.stderr.strip()
    if clean:
        return None
    return f"{mode} #{index}: exit {out.returncode}; stdout {out.stdout!r}; stderr:\n{out.stderr[-3000:]}"


@pytest.mark.slow
def test_client_processes_exit_cleanly_with_runs_pending(tmp_path: Path) -> None:
    cluster = Cluster(f"sqlite:///{tmp_path / 'ratchet.db'}")
    r, _ = make_client(cluster.address)
    try:
        cluster.engine()
        cluster.worker(slots=1)  # registers the workflows; one run at a time, the rest queue
        wait_until(lambda: r.connection.call("list_workers"), 30, "the worker to register")
        modes = [MODES[i % len(MODES)] for i in range(PROCESSES)]
        with ThreadPoolExecutor(AT_ONCE) as pool:
            failures = [
                failure
                for failure in pool.map(
                    run_client, modes, [cluster.address] * PROCESSES, [tmp_path] * PROCESSES, range(PROCESSES)
                )
                if failure is not None
            ]
    finally:
        r.close()
        cluster.close()
    assert not failures, f"{len(failures)} of {PROCESSES} client processes did not exit cleanly:\n" + (
        "\n\n".join(failures[:5])
    )
