"""The API benchmark: listing runs over a big history, triggering through REST and nng,
and whether a dashboard's reads slow the engine down. Postgres only.

One command, four parts, on a scratch database that is dropped afterwards:

1. **seed**: ``--runs`` runs of a workflow no worker serves, straight into Postgres
   (see ``api_seed.py``), behind an engine started first (``api_engine.py``: the nng
   gateway and the REST API in one process) with one worker process (``api_apps.py``);
2. **list**: pages of runs filtered by status, a 1 h or 1 day window and metadata
   (none; ``env:prod``, on 30% of runs; ``customer:c42``, on 0.04%), the first page and a
   deep one (``offset`` ``--deep`` in a day's window, half that in an hour's), through
   REST and through nng (the SDK's ``aio_list``): p50/p99 per page. Each list is also
   run once by the gateway's own search code against the database with every statement
   it sends explained (``api_plans.py``); the plans are printed, and a ``Seq Scan on
   workflow_runs`` in any of them fails the benchmark;
3. **trigger**: no-op runs through REST (``POST /api/v1/workflow-runs/trigger``) and
   through nng (the SDK's ``aio_run_no_wait``): the acknowledgement's p50 one at a time,
   acknowledged runs/s with ``--concurrency`` callers, and completed runs/s (from the
   first trigger until none is left queued or running);
4. **read load**: the engine's no-op throughput (``--throughput-runs`` runs triggered in
   batches of 500, first trigger to last completion) alone, then with ``--readers``
   dashboard clients listing runs and opening one in a loop over REST, then alone again;
   the ratio is loaded / mean of the two unloaded figures.

Run: ``python bench/api_bench.py [--runs 1000000]`` (``--runs 20000`` for a quick check);
``--pg postgresql://postgres@127.0.0.1:5432/postgres`` is the server to make the scratch
database on. Nothing but the plans is asserted; the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import trio

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from api_apps import declare  # noqa: E402
from api_plans import ExplainedList, explained_list, page_reads, seq_scans  # noqa: E402
from api_seed import Seed, seed_runs  # noqa: E402
from engine_bench import free_address  # noqa: E402
from proc_cpu import CpuMeter  # noqa: E402
from scratch_pg import scratch_database  # noqa: E402

from ratchet import Ratchet  # noqa: E402
from ratchet._contract.calls import Method  # noqa: E402
from ratchet.actors.runs._coordinator import action_name  # noqa: E402
from ratchet.actors.store import PostgresStore, open_store  # noqa: E402

TENANT = "default"
STATUSES = ["COMPLETED", "FAILED"]
WINDOWS = {"1h": 3600.0, "1d": 86400.0}
METADATA: dict[str, dict[str, str] | None] = {
    "none": None,
    "env:prod": {"env": "prod"},
    "customer:c42": {"customer": "c42"},
}
PAGE = 50


# -- processes -------------------------------------------------------------------------------


@dataclass
class Engine:
    """The engine process and how to reach it."""

    process: subprocess.Popen[str]
    address: str
    http: str
    token: str


def start_engine(database: str, pool: int | None) -> Engine:
    """Start ``api_engine.py`` on ``database`` and wait until it serves."""
    address = free_address()
    argv = [sys.executable, str(HERE / "api_engine.py"), "--db", database, "--listen", address]
    process = subprocess.Popen(
        argv + ([] if pool is None else ["--pool", str(pool)]),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    said: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        key, _, value = line.strip().partition(" ")
        said[key] = value
        if key == "listening":
            return Engine(process, address, said["http"], said["token"])
    raise RuntimeError("the engine exited before it served: " + " | ".join(said.values()))


def start_worker(engine: Engine) -> subprocess.Popen[bytes]:
    """Start the worker process (``api_apps.py``) on ``engine``."""
    env = {**os.environ, "RATCHET_ENGINE": engine.address, "RATCHET_TOKEN": engine.token}
    return subprocess.Popen(
        [sys.executable, str(HERE / "api_apps.py")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[Any] | None) -> None:
    """Stop a process this benchmark started: SIGTERM, then SIGKILL after 10 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- figures ---------------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``samples``."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def timed(fn: Callable[[], Awaitable[Any]], samples: int, budget: float) -> list[float]:
    """Milliseconds of up to ``samples`` calls of ``fn`` one after another, stopping after
    ``budget`` seconds (but taking at least three)."""
    out: list[float] = []
    started = time.perf_counter()
    while len(out) < samples and (len(out) < 3 or time.perf_counter() - started < budget):
        t0 = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


# -- the doors -------------------------------------------------------------------------------


class Doors:
    """The two ways in: REST (httpx) and nng (the SDK), from this process's Trio loop."""

    def __init__(self, client: Ratchet, workflows: dict[str, Any], http: httpx.AsyncClient) -> None:
        self.client = client
        self.workflows = workflows
        self.http = http
        # every no-op run is created after this: waiting for them reads a short window
        self.since = time.time() - 60

    async def rest_list(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        params: list[tuple[str, Any]] = [
            ("since", filters["since"]),
            ("until", filters["until"]),
            ("limit", filters["limit"]),
            ("offset", filters["offset"]),
        ]
        params += [("statuses", s) for s in filters["statuses"]]
        params += [
            ("additional_metadata", f"{k}:{v}") for k, v in (filters.get("additional_metadata") or {}).items()
        ]
        response = await self.http.get("/api/v1/workflow-runs", params=params)
        response.raise_for_status()
        rows: list[dict[str, Any]] = response.json()["rows"]
        return rows

    async def nng_list(self, filters: dict[str, Any]) -> list[Any]:
        return await self.client.runs.aio_list(
            statuses=filters["statuses"],
            since=filters["since"],
            until=filters["until"],
            additional_metadata=filters.get("additional_metadata"),
            limit=filters["limit"],
            offset=filters["offset"],
        )

    async def rest_trigger(self) -> None:
        response = await self.http.post(
            "/api/v1/workflow-runs/trigger", json={"workflow": "noop", "input": {}}
        )
        if response.status_code != 201:
            raise RuntimeError(f"REST trigger answered {response.status_code}: {response.text}")

    async def nng_trigger(self) -> None:
        await self.workflows["noop"].aio_run_no_wait({})

    async def rest_details(self, run_id: str) -> None:
        (await self.http.get(f"/api/v1/workflow-runs/{run_id}")).raise_for_status()

    async def live_noop_runs(self) -> bool:
        """Whether a no-op run is still queued or running."""
        filters = {"statuses": ["QUEUED", "RUNNING"], "workflow": "noop", "since": self.since, "limit": 1}
        return bool(await self.client.connection.acall(Method.LIST_RUNS, filters))

    async def wait_noop_done(self) -> float:
        """Wait until no no-op run is queued or running; the time it was first seen so."""
        while await self.live_noop_runs():
            await trio.sleep(0.02)
        return time.perf_counter()


# -- part 2: lists ---------------------------------------------------------------------------


@dataclass
class ListCase:
    """One list a dashboard shows: a time window ending now, a metadata filter, a page."""

    window: str
    metadata: str
    offset: int

    def filters(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "statuses": STATUSES,
            "since": now - WINDOWS[self.window],
            "until": now,
            "limit": PAGE,
            "offset": self.offset,
        }
        if METADATA[self.metadata] is not None:
            out["additional_metadata"] = METADATA[self.metadata]
        return out

    @property
    def label(self) -> str:
        page = "first" if self.offset == 0 else f"@{self.offset}"
        return f"{self.window} {self.metadata} {page}"


def list_cases(deep: int) -> list[ListCase]:
    """Every window, metadata filter and page: the first, and the deep one (at ``deep`` in a
    day's window, half as deep in an hour's, which holds fewer runs)."""
    depth = {"1h": deep // 2, "1d": deep}
    return [ListCase(w, m, o) for w in WINDOWS for m in METADATA for o in (0, depth[w])]


async def explain_all(
    dsn: str, cases: list[ListCase], now: float, costed: ListCase
) -> tuple[dict[str, ExplainedList], dict[str, float]]:
    """Every case's list explained, and the reads behind ``costed``'s page timed."""
    async with open_store(dsn) as store:
        assert isinstance(store, PostgresStore)
        explained = {case.label: await explained_list(store, TENANT, case.filters(now)) for case in cases}
        return explained, await page_reads(store, TENANT, costed.filters(now))


def print_plans(explained: dict[str, ExplainedList], show: list[str]) -> None:
    """Print the first statement of each list in ``show``, its parameters and its plan."""
    for label in show:
        ex = explained[label]
        sql, params, plan = ex.statements[0]
        more = f" (+{len(ex.statements) - 1} more statements like it)" if len(ex.statements) > 1 else ""
        print(f"\n-- {label}: {len(ex.statements)} statement(s), {ex.rows} rows{more}")
        print(f"   {sql}")
        print(f"   params: {params}")
        print("   " + plan.replace("\n", "\n   "))


async def measure_lists(
    doors: Doors, cases: list[ListCase], now: float, samples: int, budget: float
) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {}
    for case in cases:
        filters = case.filters(now)
        rest_rows = await doors.rest_list(filters)
        nng_rows = await doors.nng_list(filters)
        if [r["run_id"] for r in rest_rows] != [r.run_id for r in nng_rows]:
            raise AssertionError(f"{case.label}: REST and nng list different runs")
        out[case.label] = {
            "rest": await timed(lambda f=filters: doors.rest_list(f), samples, budget),
            "nng": await timed(lambda f=filters: doors.nng_list(f), samples, budget),
            "rows": [float(len(rest_rows))],
        }
    return out


# -- part 3: triggers ------------------------------------------------------------------------


async def measure_triggers(
    doors: Doors, trigger: Callable[[], Awaitable[None]], one_by_one: int, total: int, concurrency: int
) -> dict[str, float]:
    latencies = await timed(trigger, one_by_one, budget=float("inf"))
    await doors.wait_noop_done()
    per_caller = total // concurrency

    async def caller() -> None:
        for _ in range(per_caller):
            await trigger()

    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(caller)
    acked = time.perf_counter()
    done = await doors.wait_noop_done()
    n = per_caller * concurrency
    return {
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "acked_per_s": n / (acked - t0),
        "completed_per_s": n / (done - t0),
    }


# -- part 4: engine throughput under a dashboard's reads ---------------------------------------


async def noop_throughput(doors: Doors, runs: int) -> float:
    noop = doors.workflows["noop"]
    t0 = time.perf_counter()
    for start in range(0, runs, 500):
        size = min(500, runs - start)
        await noop.aio_run_many_no_wait([noop.create_bulk_run_item({}) for _ in range(size)])
    done = await doors.wait_noop_done()
    return runs / (done - t0)


async def dashboard(doors: Doors, now: float, reader: int, reads: list[float], stop: trio.Event) -> None:
    """A dashboard user: list a page (cycling through the list cases), open its first run, again."""
    cases = list_cases(0)
    i = reader
    while not stop.is_set():
        case = cases[i % len(cases)]
        i += 1
        t0 = time.perf_counter()
        rows = await doors.rest_list(case.filters(now))
        if rows:
            await doors.rest_details(rows[0]["run_id"])
        reads.append((time.perf_counter() - t0) * 1000)


async def metered(doors: Doors, runs: int, meter: CpuMeter) -> dict[str, float]:
    """No-op throughput, and the CPU each process group used meanwhile."""
    meter.start()
    rate = await noop_throughput(doors, runs)
    return {"runs/s": rate, **meter.stop()}


async def throughput_under_reads(
    doors: Doors, now: float, runs: int, readers: int, meter: CpuMeter
) -> dict[str, Any]:
    alone_before = await metered(doors, runs, meter)
    reads: list[float] = []
    stop_reading = trio.Event()
    async with trio.open_nursery() as nursery:
        for reader in range(readers):
            nursery.start_soon(dashboard, doors, now, reader, reads, stop_reading)
        await trio.sleep(1.0)  # the readers are at full pace before the writes start
        counted = len(reads)
        t0 = time.perf_counter()
        loaded = await metered(doors, runs, meter)
        read_rate = (len(reads) - counted) / (time.perf_counter() - t0)
        stop_reading.set()
    alone_after = await metered(doors, runs, meter)
    alone = (alone_before["runs/s"] + alone_after["runs/s"]) / 2
    return {
        "phases": {"alone": alone_before, f"{readers} readers": loaded, "alone again": alone_after},
        "ratio": loaded["runs/s"] / alone,
        "reads_per_s": read_rate,
        "read_p50": percentile(reads[counted:], 0.5) if len(reads) > counted else float("nan"),
    }


def postgres_backends(database: str) -> Callable[[], list[int]]:
    """The pids of the Postgres backends connected to ``database`` (by their process titles)."""
    marker = f" {database} ".encode()

    def pids() -> list[int]:
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        title = f.read()
                except OSError:
                    continue
                if title.startswith(b"postgres: ") and marker in title:
                    out.append(int(entry))
        return out

    return pids


# -- the run ---------------------------------------------------------------------------------


async def seeded_workflow(dsn: str, name: str) -> tuple[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT w.id, c.version FROM workflows w JOIN current_workflow_versions c"
            " ON c.tenant_id = w.tenant_id AND c.workflow_id = w.id WHERE w.tenant_id = $1 AND w.name = $2",
            TENANT,
            name,
        )
    finally:
        await conn.close()
    if row is None:
        raise RuntimeError(f"workflow {name!r} was not registered")
    return row["id"], row["version"]


def wait_for_worker(client: Ratchet) -> None:
    deadline = time.monotonic() + 60
    while not client.connection.call(Method.LIST_WORKERS):
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not register within 60 s")
        time.sleep(0.05)


async def part_lists(doors: Doors, dsn: str, now: float, args: argparse.Namespace) -> None:
    """Part 2: the plans (asserted), then the pages through both doors."""
    cases = list_cases(args.deep)
    costed = ListCase("1d", "none", 0)
    explained, cost = await explain_all(dsn, cases, now, costed)
    print_plans(explained, [c.label for c in cases if c.window == "1d"])
    scans = {label: seq_scans(ex) for label, ex in explained.items()}
    if any(scans.values()):
        bad = ", ".join(label for label, plans in scans.items() if plans)
        raise AssertionError(f"Seq Scan on workflow_runs in the plans of: {bad}")
    print("\nno plan reads all of workflow_runs (no Seq Scan on workflow_runs)", flush=True)
    lists = await measure_lists(doors, cases, now, args.samples, args.budget)
    print(f"\nlist pages of {PAGE}, statuses {'+'.join(STATUSES)}, over {args.runs:,} runs (ms):")
    head = f"{'window metadata page':<24} {'rows':>5} {'stmts':>6}"
    print(f"{head} {'REST p50':>9} {'p99':>8} {'nng p50':>9} {'p99':>8}")
    for case in cases:
        m = lists[case.label]
        print(
            f"{case.label:<24} {int(m['rows'][0]):>5} {len(explained[case.label].statements):>6}"
            f" {percentile(m['rest'], 0.5):>9.1f} {percentile(m['rest'], 0.99):>8.1f}"
            f" {percentile(m['nng'], 0.5):>9.1f} {percentile(m['nng'], 0.99):>8.1f}",
            flush=True,
        )
    print(
        f"the reads behind the page '{costed.label}' ({int(cost['runs'])} runs), from this process (ms):"
        f" finding the runs {cost['find']:.1f}; describing them one by one as the gateway does"
        f" ({2 * int(cost['runs'])} queries) {cost['describe each']:.1f};"
        f" their tasks in one query instead {cost['tasks at once']:.1f}"
    )


async def part_triggers(doors: Doors, args: argparse.Namespace) -> None:
    """Part 3: triggering through both doors."""
    print(f"\ntriggering no-op runs ({args.triggers} with {args.concurrency} callers):")
    print(f"{'door':<6} {'ack p50 ms':>10} {'ack p99 ms':>10} {'acked runs/s':>13} {'completed runs/s':>17}")
    for door, trigger in (("REST", doors.rest_trigger), ("nng", doors.nng_trigger)):
        t = await measure_triggers(doors, trigger, args.one_by_one, args.triggers, args.concurrency)
        print(
            f"{door:<6} {t['p50']:>10.2f} {t['p99']:>10.2f} {t['acked_per_s']:>13,.0f}"
            f" {t['completed_per_s']:>17,.0f}",
            flush=True,
        )


async def part_load(doors: Doors, now: float, meter: CpuMeter, args: argparse.Namespace) -> None:
    """Part 4: the engine's throughput alone and under a dashboard's reads, with CPU shares."""
    load = await throughput_under_reads(doors, now, args.throughput_runs, args.readers, meter)
    cores = os.cpu_count() or 1
    print(f"\nengine no-op throughput ({args.throughput_runs} runs) and CPU (% of one core):")
    print(
        f"{'phase':<12} {'runs/s':>7} {'engine':>7} {'postgres':>9} {'worker':>7} {'bench':>6}"
        f" {f'machine (of {100 * cores}%)':>20}"
    )
    for phase, m in load["phases"].items():
        print(
            f"{phase:<12} {m['runs/s']:>7,.0f} {m['engine']:>6.0f}% {m['postgres']:>8.0f}%"
            f" {m['worker']:>6.0f}% {m['bench']:>5.0f}% {m['machine']:>19.0f}%"
        )
    print(
        f"ratio under reads / alone: {load['ratio']:.2f}; the readers did {load['reads_per_s']:,.1f}"
        f" list+details/s, p50 {load['read_p50']:.0f} ms"
    )


async def measure(
    engine: Engine,
    client: Ratchet,
    workflows: dict[str, Any],
    dsn: str,
    now: float,
    meter: CpuMeter,
    args: argparse.Namespace,
) -> None:
    headers = {"Authorization": f"Bearer {engine.token}"}
    async with httpx.AsyncClient(base_url=engine.http, headers=headers, timeout=120) as http:
        doors = Doors(client, workflows, http)
        if "list" in args.parts:
            await part_lists(doors, dsn, now, args)
        if "trigger" in args.parts:
            await part_triggers(doors, args)
        if "load" in args.parts:
            await part_load(doors, now, meter, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000, help="runs to seed")
    parser.add_argument("--days", type=float, default=30.0, help="days the seeded runs span")
    parser.add_argument("--deep", type=int, default=1000, help="the offset of the deep page")
    parser.add_argument("--samples", type=int, default=40, help="most timed calls per list and door")
    parser.add_argument(
        "--budget", type=float, default=3.0, help="seconds per list and door (3 calls at least)"
    )
    parser.add_argument("--one-by-one", type=int, default=200, help="triggers timed one at a time, per door")
    parser.add_argument("--triggers", type=int, default=2000, help="triggers by concurrent callers, per door")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent trigger callers")
    parser.add_argument("--throughput-runs", type=int, default=5000, help="no-op runs per throughput figure")
    parser.add_argument("--readers", type=int, default=4, help="dashboard readers in the loaded figure")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--engine-pool", type=int, default=None, help="the engine store's most connections")
    parser.add_argument(
        "--parts", default="list,trigger,load", help="which of list, trigger, load to measure (after seeding)"
    )
    args = parser.parse_args()
    args.parts = set(args.parts.split(","))
    if not args.parts <= {"list", "trigger", "load"}:
        parser.error(f"--parts takes list, trigger and load, comma-separated; got {','.join(args.parts)}")

    with ExitStack() as stack:
        dsn = stack.enter_context(scratch_database(args.pg))
        engine = start_engine(dsn, args.engine_pool)
        stack.callback(stop, engine.process)
        worker = start_worker(engine)
        stack.callback(stop, worker)
        client = Ratchet(engine=engine.address, token=engine.token)
        stack.callback(client.close)
        workflows = declare(client)
        client.connection.call(Method.REGISTER_WORKFLOWS, [workflows["report"].spec.to_dict()])
        wait_for_worker(client)

        workflow_id, version = asyncio.run(seeded_workflow(dsn, "report"))
        now = time.time()
        seed = Seed(
            TENANT,
            workflow_id,
            version,
            "report",
            action_name(TENANT, "report", "report"),
            args.runs,
            args.days,
            now,
        )
        t0 = time.perf_counter()
        asyncio.run(seed_runs(dsn, seed))
        print(
            f"seeded {args.runs:,} runs over {args.days:g} days in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        meter = CpuMeter(
            {
                "engine": lambda: [engine.process.pid],
                "postgres": postgres_backends(dsn.rpartition("/")[2]),
                "worker": lambda: [worker.pid],
                "bench": lambda: [os.getpid()],
            }
        )
        trio.run(measure, engine, client, workflows, dsn, now, meter, args)


if __name__ == "__main__":
    main()
