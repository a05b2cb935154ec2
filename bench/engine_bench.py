"""End-to-end engine benchmark: an engine process, one worker process, a client.

For each store (SQLite file, Postgres database) it starts ``ratchet engine`` and one
worker (``engine_apps.py``) over tcp, then measures from this process:

* **no-op tasks/s**: ``--tasks`` standalone no-op runs triggered in batches of 500,
  from the first trigger until the last result;
* **enqueue -> start latency** at low load: one run at a time, the task returns the
  wall time it started; p50/p99 of (start - time just before the trigger call);
* **3-step DAG runs/s**: ``--dags`` runs of step1 -> step2 -> step3, triggered likewise.

Completion is observed through the newest runs' results and then one query for runs
still QUEUED or RUNNING, so the figures time the engine, not the client's waits.

Run: ``python bench/engine_bench.py [--tasks 20000] [--dags 3000] [--stores sqlite,postgres]``.
Postgres: ``--pg postgresql://postgres@127.0.0.1:5432/postgres`` (a scratch database is
created and dropped). Nothing is asserted; the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from engine_apps import make_client  # noqa: E402
from scratch_pg import scratch_database  # noqa: E402


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_for_line(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if text in line:
            return
    raise RuntimeError(f"process exited before printing {text!r}")


def batches(n: int, size: int) -> list[int]:
    return [min(size, n - i) for i in range(0, n, size)]


def wait_all(r: Any, workflow: Any, refs: list[Any]) -> None:
    """Wait until every run of ``refs`` finished: the newest by their results, the rest
    through one cheap query (waiting on each ref in turn would time the client's waits)."""
    for ref in refs[-50:]:
        ref.result()
    while r.runs.list(statuses=["QUEUED", "RUNNING"], workflow=workflow, limit=1):
        time.sleep(0.01)


def measure(database: str, tasks: int, dags: int, latency_samples: int) -> dict[str, float]:
    address = free_address()
    engine = start([sys.executable, "-m", "ratchet.cli", "engine", "--db", database, "--listen", address], {})
    worker = None
    r, wf = make_client(address)
    try:
        wait_for_line(engine, "listening at")
        worker = start([sys.executable, str(HERE / "engine_apps.py")], {"RATCHET_ENGINE": address})
        deadline = time.monotonic() + 30
        while not r.connection.call("list_workers"):
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not register")
            time.sleep(0.05)
        # warm up
        wf["noop"].run_many([wf["noop"].create_bulk_run_item({}) for _ in range(200)])

        t0 = time.perf_counter()
        refs = []
        for size in batches(tasks, 500):
            refs += wf["noop"].run_many_no_wait([wf["noop"].create_bulk_run_item({}) for _ in range(size)])
        wait_all(r, wf["noop"], refs)
        noop_rate = tasks / (time.perf_counter() - t0)

        latencies = []
        for _ in range(latency_samples):
            before = time.time()
            started = wf["stamp"].run({})
            latencies.append((started - before) * 1000)
        latencies.sort()

        t0 = time.perf_counter()
        refs = []
        for size in batches(dags, 500):
            refs += wf["dag3"].run_many_no_wait([wf["dag3"].create_bulk_run_item({}) for _ in range(size)])
        wait_all(r, wf["dag3"], refs)
        dag_rate = dags / (time.perf_counter() - t0)
        assert refs[0].result() == {"step1": 1, "step2": 2, "step3": 3}
        return {
            "noop_tasks_per_s": noop_rate,
            "latency_p50_ms": statistics.median(latencies),
            "latency_p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)],
            "dag3_runs_per_s": dag_rate,
        }
    finally:
        r.close()
        for proc in (worker, engine):
            if proc is not None:
                proc.kill()
                proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--dags", type=int, default=3_000)
    parser.add_argument("--latency-samples", type=int, default=300)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(f"tasks={args.tasks} dags={args.dags} latency_samples={args.latency_samples}")
    print(f"{'store':<10} {'no-op tasks/s':>14} {'p50 ms':>8} {'p99 ms':>8} {'3-step DAGs/s':>14}")
    for store in args.stores.split(","):
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            if store == "sqlite":
                database = f"sqlite:///{Path(tmp) / 'bench.db'}"
            else:
                database = stack.enter_context(scratch_database(args.pg))
            m = measure(database, args.tasks, args.dags, args.latency_samples)
        print(
            f"{store:<10} {m['noop_tasks_per_s']:>14,.0f} {m['latency_p50_ms']:>8.2f} "
            f"{m['latency_p99_ms']:>8.2f} {m['dag3_runs_per_s']:>14,.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
