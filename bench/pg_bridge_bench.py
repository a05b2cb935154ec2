"""The Postgres store through each asyncio bridge: a thread of its own vs trio-asyncio.

asyncpg is asyncio code; the engine is Trio. The store reaches it through a plain
asyncio loop in a thread of its own (``thread``,
``ratchet.actors.store._aio_thread.AsyncioThread``). The alternative measured here is
``trio-asyncio``: trio-asyncio's loop on the engine's own Trio thread, opened around the
store, each call crossing with ``aio_as_trio`` (as the store did before it had the
thread); the bench swaps it in for the thread in its own child processes only. Both
cross once per store call. This bench measures both in the same run,
alternating (round 1 thread first, round 2 trio-asyncio first, ...), each measurement in
a fresh interpreter on a fresh scratch database (importing trio_asyncio changes the
process's asyncio, so the two never share a process), and prints the median of the
rounds per bridge, and the median of each round's own ratio of the two:

* **batch N**: ``Store.commit_many`` of N units, each a one-task ``CreateRun`` (what a
  group commit of triggers writes: run, task and task-event rows), back to back;
  units/s and the median time of one batch;
* **moves 500**: batches of 500 fenced ``TransitionTask`` units (one
  ``UPDATE ... FROM unnest`` per table), units/s;
* **writer**: 200 concurrent callers commit one ``CreateRun`` each at a time through a
  ``StoreWriter`` (the engine's real group commit, actors on the same Trio thread),
  units/s;
* **single**: one small commit (one ``PushEvent``) at a time, p50/p99 ms;
* **get_run**: one ``get_run`` at a time (p50 ms), and 8 concurrent readers (reads/s);
* **e2e**: an engine process on the bridge (``serve_engine``, as ``ratchet engine`` runs
  it), one worker process (``engine_apps.py``) and this process as the client: no-op
  tasks/s (``--tasks`` runs triggered in batches of 500) and enqueue -> start p50 ms.

Run: ``nice python bench/pg_bridge_bench.py [--rounds 5] [--tasks 10000]``; Postgres:
``--pg postgresql://postgres@127.0.0.1:5432/postgres`` (scratch databases are created
and dropped). Needs ``pip install trio-asyncio``, which Ratchet itself does not use.
Nothing is asserted; the numbers depend on the machine (and, for commits, on its disk).

Measured on the 2-core development machine, shared with other work, 10,000 tasks: thread
and trio-asyncio medians, and the median of the rounds' trio-asyncio/thread ratios (the
disk's fsync time drifted between ~1 and ~4 ms during the runs, so the paired ratio is
the figure to read; see ``_aio_thread.py`` for the conclusion)::

                         5 rounds, synchronous_commit on   6 rounds, synchronous_commit off
                           thread  trio-asyncio  ratio       thread  trio-asyncio  ratio
    batch10 units/s         2,184     1,528      0.74         3,477     2,418      0.73
    batch100 units/s        6,196     6,247      0.95         5,350     7,369      1.01
    batch500 units/s        8,240     8,840      1.02         6,521     7,478      1.08
    batch10 ms               3.95      7.42      1.86          1.99      2.90      1.46
    batch100 ms             15.50     15.56      1.00         16.18     13.00      1.01
    batch500 ms             54.19     52.37      0.97         64.38     57.47      0.98
    moves500 units/s        8,025     8,510      1.00         7,172     9,287      0.99
    writer units/s          4,987     6,950      1.03         4,125     6,270      1.32
    single p50 ms            4.00      1.34      1.01          0.73      1.28      1.78
    single p99 ms            8.15      2.81      1.00          5.96      5.28      1.25
    get_run p50 ms           0.33      0.63      1.82          0.42      0.78      1.87
    get_run 8 readers/s     2,073     1,457      0.76         2,150     1,087      0.50
    e2e no-op tasks/s         748       558      0.76           565       425      0.74
    e2e start p50 ms         7.12      8.82      1.31          7.43      8.77      1.17

The writer's figure is the noisiest (per-round ratios 0.88 to 1.57); the end-to-end
tasks/s favoured the thread in every one of the 11 rounds (ratios 0.64 to 0.87).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

BRIDGES = ("thread", "trio-asyncio")
TENANT = "bench"
BATCH_SIZES = (10, 100, 500)


def use_trio_asyncio() -> None:
    """Make every PostgresStore of this process cross into asyncio with trio-asyncio.

    Only for this bench's child processes: the store builds its bridge as
    ``AsyncioThread(name)`` and calls ``start``, ``run`` and ``aclose``; this class has
    that shape and runs the coroutines on the trio-asyncio loop opened around the store.
    """
    import trio_asyncio

    from ratchet.actors.store import _postgres

    class TrioAsyncioLoop:
        def __init__(self, name: str) -> None:
            self.loop: Any = None

        async def start(self) -> None:
            self.loop = trio_asyncio.current_loop.get()
            if self.loop is None:
                raise RuntimeError("open the store inside 'async with trio_asyncio.open_loop()'")

        async def run(self, fn: Any, *args: Any) -> Any:
            return await trio_asyncio.aio_as_trio(fn, loop=self.loop)(*args)

        async def aclose(self) -> None:
            self.loop = None

    _postgres.AsyncioThread = TrioAsyncioLoop  # type: ignore[assignment,misc]


def bridge_in_use() -> str:
    """Which bridge this process's Postgres store runs on, as seen from outside."""
    import threading

    thread = any(t.name == "ratchet-postgres" for t in threading.enumerate())
    trio_asyncio = "trio_asyncio" in sys.modules
    if thread and not trio_asyncio:
        return "thread"
    if trio_asyncio and not thread:
        return "trio-asyncio"
    return f"unclear (asyncpg thread: {thread}, trio_asyncio imported: {trio_asyncio})"


async def in_bridge(bridge: str, fn: Any, *args: Any) -> Any:
    """``await fn(*args)`` with the Postgres store on ``bridge``."""
    if bridge == "thread":
        return await fn(*args)
    import trio_asyncio

    use_trio_asyncio()
    async with trio_asyncio.open_loop():
        return await fn(*args)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# -- the store, in a child process ---------------------------------------------------------


async def store_figures(dsn: str, bridge: str) -> dict[str, float]:
    import trio

    from ratchet.actors.store import (
        CreateRun,
        NewTask,
        PushEvent,
        StoreWriter,
        TaskEventKind,
        TaskStatus,
        TransitionTask,
        commit,
        open_store,
    )
    from ratchet.runtime import open_runtime

    def create(run_id: str) -> CreateRun:
        task = NewTask(id=f"{run_id}-t", name="noop", queue="default", input={"n": 1})
        return CreateRun(
            tenant_id=TENANT, id=run_id, workflow_id="wf", workflow_version=1, input={"n": 1},
            tasks=(task,), at=1.0,
        )  # fmt: skip

    def move(run_id: str) -> TransitionTask:
        return TransitionTask(
            tenant_id=TENANT, task_id=f"{run_id}-t", run_id=run_id, attempt=1,
            to_status=TaskStatus.RUNNING, event=TaskEventKind.ASSIGNED, worker_id="w1", at=2.0,
        )  # fmt: skip

    out: dict[str, float] = {}
    async with open_store(dsn) as store:
        if bridge_in_use() != bridge:
            raise RuntimeError(f"the store should be on {bridge}, it is on {bridge_in_use()}")
        # warm up: pool connections, prepared statements
        for i in range(20):
            await store.commit_many([[create(f"warm-{i}-{k}")] for k in range(50)])

        for size in BATCH_SIZES:
            n_batches = max(20, 6000 // size)
            times = []
            t0 = time.perf_counter()
            for b in range(n_batches):
                units = [[create(f"b{size}-{b}-{k}")] for k in range(size)]
                s = time.perf_counter()
                await store.commit_many(units)
                times.append(time.perf_counter() - s)
            out[f"batch{size}_units_s"] = n_batches * size / (time.perf_counter() - t0)
            out[f"batch{size}_ms"] = statistics.median(times) * 1e3

        n_batches = 12
        t0 = time.perf_counter()
        for b in range(n_batches):
            await store.commit_many([[move(f"b500-{b}-{k}")] for k in range(500)])
        out["moves500_units_s"] = n_batches * 500 / (time.perf_counter() - t0)

        async with open_runtime(seed=1) as system:
            writer = await system.spawn(StoreWriter, store, name="writer")
            per_caller = 30

            async def caller(c: int) -> None:
                for k in range(per_caller):
                    await commit(writer, [create(f"w-{c}-{k}")])

            t0 = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for c in range(200):
                    nursery.start_soon(caller, c)
            out["writer_units_s"] = 200 * per_caller / (time.perf_counter() - t0)

        single = []
        for i in range(400):
            s = time.perf_counter()
            await store.commit([PushEvent(tenant_id=TENANT, id=f"e{i}", key="k", payload={"i": i}, at=1.0)])
            single.append(time.perf_counter() - s)
        out["single_p50_ms"] = statistics.median(single) * 1e3
        out["single_p99_ms"] = pct(single, 0.99) * 1e3

        reads = []
        for i in range(1500):
            s = time.perf_counter()
            run = await store.get_run(TENANT, f"b100-{i % 60}-{i % 100}")
            reads.append(time.perf_counter() - s)
            assert run is not None
        out["get_run_p50_ms"] = statistics.median(reads) * 1e3

        async def reader(r: int) -> None:
            for i in range(400):
                await store.get_run(TENANT, f"b100-{(r + i) % 60}-{i % 100}")

        t0 = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for r in range(8):
                nursery.start_soon(reader, r)
        out["get_run_8_reads_s"] = 8 * 400 / (time.perf_counter() - t0)
    return out


# -- an engine, in a child process ------------------------------------------------------------


def serve(database: str, listen: str, bridge: str) -> None:
    """What ``ratchet engine --db DATABASE --listen LISTEN`` runs, with the store on ``bridge``."""
    import trio

    from ratchet._host.serve import serve_engine

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_engine, database, listen)
            print(f"bridge {bridge}: {bridge_in_use()}", flush=True)

    trio.run(in_bridge, bridge, main)


def engine_figures(database: str, bridge: str, tasks: int, latency_samples: int) -> dict[str, float]:
    from engine_apps import make_client
    from engine_bench import batches, free_address, start, wait_all, wait_for_line

    address = free_address()
    engine = start([sys.executable, __file__, "--serve", bridge, database, address], {})
    worker = None
    r, wf = make_client(address)
    try:
        wait_for_line(engine, f"bridge {bridge}: {bridge}")
        worker = start([sys.executable, str(HERE / "engine_apps.py")], {"RATCHET_ENGINE": address})
        deadline = time.monotonic() + 30
        while not r.connection.call("list_workers"):
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not register")
            time.sleep(0.05)
        wf["noop"].run_many([wf["noop"].create_bulk_run_item({}) for _ in range(300)])  # warm up

        t0 = time.perf_counter()
        refs: list[Any] = []
        for size in batches(tasks, 500):
            refs += wf["noop"].run_many_no_wait([wf["noop"].create_bulk_run_item({}) for _ in range(size)])
        wait_all(r, wf["noop"], refs)
        rate = tasks / (time.perf_counter() - t0)

        latencies = []
        for _ in range(latency_samples):
            before = time.time()
            started = wf["stamp"].run({})
            latencies.append((started - before) * 1e3)
        return {"e2e_noop_tasks_s": rate, "e2e_start_p50_ms": statistics.median(latencies)}
    finally:
        r.close()
        for proc in (worker, engine):
            if proc is not None:
                proc.kill()
                proc.wait()


# -- the parent: rounds, alternating -------------------------------------------------------------

COLUMNS = [
    *(f"batch{n}_units_s" for n in BATCH_SIZES),
    *(f"batch{n}_ms" for n in BATCH_SIZES),
    "moves500_units_s",
    "writer_units_s",
    "single_p50_ms",
    "single_p99_ms",
    "get_run_p50_ms",
    "get_run_8_reads_s",
    "e2e_noop_tasks_s",
    "e2e_start_p50_ms",
]


def child_store(bridge: str, dsn: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--store-child", bridge, dsn], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"store child ({bridge}) failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-e2e", action="store_true", help="store figures only")
    parser.add_argument(
        "--synchronous-commit",
        choices=("on", "off"),
        default="on",
        help="off: commits do not wait for the disk (a session setting), which leaves the bridges' own cost",
    )
    parser.add_argument("--store-child", nargs=2, metavar=("BRIDGE", "DSN"), help=argparse.SUPPRESS)
    parser.add_argument("--serve", nargs=3, metavar=("BRIDGE", "DB", "ADDRESS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.store_child:
        import trio

        bridge, dsn = args.store_child
        print(json.dumps(trio.run(in_bridge, bridge, store_figures, dsn, bridge)))
        return
    if args.serve:
        bridge, database, address = args.serve
        serve(database, address, bridge)
        return

    from scratch_pg import scratch_database

    # asyncpg passes a DSN's unknown query parameters on as settings of each session
    setting = "?synchronous_commit=off" if args.synchronous_commit == "off" else ""
    results: dict[str, list[dict[str, float]]] = {b: [] for b in BRIDGES}
    for rnd in range(args.rounds):
        order = BRIDGES if rnd % 2 == 0 else BRIDGES[::-1]
        for bridge in order:
            with scratch_database(args.pg) as dsn:
                figures = child_store(bridge, dsn + setting)
            if not args.no_e2e:
                with scratch_database(args.pg) as dsn:
                    figures |= engine_figures(dsn + setting, bridge, args.tasks, args.latency_samples)
            results[bridge].append(figures)
            print(f"round {rnd + 1} {bridge}: {json.dumps({k: round(v, 3) for k, v in figures.items()})}")
            sys.stdout.flush()

    print(
        f"\nmedians of {args.rounds} alternating rounds (tasks={args.tasks}, "
        f"synchronous_commit={args.synchronous_commit}); the ratio is the median of each round's"
        " own ratio, which the disk's drifting speed does not skew:"
    )
    print(f"{'':22}" + "".join(f"{b:>14}" for b in BRIDGES) + f"{'trio-asyncio / thread':>24}")
    for col in COLUMNS:
        if col not in results[BRIDGES[0]][0]:
            continue
        med = [statistics.median(r[col] for r in results[b]) for b in BRIDGES]
        ratio = statistics.median(
            t[col] / h[col] for h, t in zip(results[BRIDGES[0]], results[BRIDGES[1]], strict=True)
        )
        print(f"{col:22}" + "".join(f"{m:>14,.2f}" for m in med) + f"{ratio:>24.2f}")
    print(
        "ratio: above 1 in units/s and reads/s, or below 1 in ms, is trio-asyncio ahead. The"
        " recorded runs and the decision (the thread) are in this file's docstring and in"
        " actors/store/_aio_thread.py."
    )


if __name__ == "__main__":
    main()
