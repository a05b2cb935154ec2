"""Group commit throughput and latency, on SQLite and Postgres.

For each backend:

* **throughput**: ``--callers`` concurrent callers push ``--rows`` one-row mutations
  (``PushEvent``) through a :class:`StoreWriter`, one mutation per commit (the worst
  case), then ``--callers/10`` callers ten mutations per commit (a shard's result frame);
  we report rows/s, and the ratio to a
  raw batched insert of the same rows (SQLite ``executemany``, Postgres
  ``INSERT ... SELECT FROM unnest``; ``--raw-batch`` rows per transaction, no Ratchet code);
* **latency at low load**: one caller commits one mutation at a time; we report the
  commit latency p50/p99 as the caller sees it (submit to acknowledged), with the
  writer's default linger and with ``max_delay=0``.

Run: ``python bench/store_bench.py [--rows 50000] [--callers 200] [--backends sqlite,postgres]``.
Postgres: ``--pg postgresql://postgres@127.0.0.1:5432/postgres`` (a scratch database is
created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
import trio
from scratch_pg import scratch_database

from ratchet.actors.store import (
    DirectoryObjectStore,
    PushEvent,
    Store,
    StoreWriter,
    commit,
    commit_one,
    open_store,
)
from ratchet.runtime import open_runtime

TENANT = "bench"


def event(i: int, tag: str) -> PushEvent:
    return PushEvent(tenant_id=TENANT, id=f"{tag}-{i}", key="bench", payload={"i": i, "user": "u42"}, at=1.0)


def raw_row(i: int, tag: str) -> tuple:
    payload = json.dumps({"i": i, "user": "u42"}, separators=(",", ":"))
    return (TENANT, f"{tag}-{i}", "bench", payload, None, "{}", None, 1.0)


RAW_COLS = "tenant_id, id, key, payload, payload_ref, additional_metadata, scope, created_at"


async def writer_throughput(
    store: Store, rows: int, callers: int, tag: str, unit_rows: int = 1
) -> tuple[float, object]:
    async with open_runtime(seed=1) as system:
        writer = await system.spawn(StoreWriter, store, name=f"writer-{tag}")
        per_caller = rows // callers // unit_rows * unit_rows

        async def caller(c: int) -> None:
            base = c * per_caller
            for k in range(0, per_caller, unit_rows):
                await commit(writer, [event(base + k + j, tag) for j in range(unit_rows)])

        t0 = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for c in range(callers):
                nursery.start_soon(caller, c)
        elapsed = time.perf_counter() - t0
        stats = await writer.writer_statistics.ask()
    return per_caller * callers / elapsed, stats


async def writer_latency(store: Store, n: int, max_delay: float | None, tag: str) -> tuple[float, float]:
    async with open_runtime(seed=2) as system:
        kw = {} if max_delay is None else {"max_delay": max_delay}
        writer = await system.spawn(StoreWriter, store, name=f"lat-{tag}", **kw)
        samples = []
        for i in range(n):
            t0 = time.perf_counter()
            await commit_one(writer, event(i, tag))
            samples.append(time.perf_counter() - t0)
    samples.sort()
    return statistics.median(samples) * 1e3, samples[int(len(samples) * 0.99) - 1] * 1e3


def raw_sqlite(path: str, rows: int, batch: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    data = [raw_row(i, "raw") for i in range(rows)]
    t0 = time.perf_counter()
    for s in range(0, rows, batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            f"INSERT INTO events ({RAW_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", data[s : s + batch]
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return rows / elapsed


async def raw_postgres(dsn: str, rows: int, batch: int) -> float:
    conn = await asyncpg.connect(dsn)
    data = [raw_row(i, "raw") for i in range(rows)]
    sql = (
        f"INSERT INTO events ({RAW_COLS}) SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
        " $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[])"
    )
    t0 = time.perf_counter()
    for s in range(0, rows, batch):
        chunk = data[s : s + batch]
        async with conn.transaction():
            await conn.execute(sql, *[list(col) for col in zip(*chunk, strict=True)])
    elapsed = time.perf_counter() - t0
    await conn.close()
    return rows / elapsed


def bench_backend(name: str, url: str, objects: Path, args: argparse.Namespace) -> dict[str, object]:
    async def ours() -> dict[str, object]:
        async with open_store(url, objects=DirectoryObjectStore(objects)) as store:
            await writer_throughput(store, min(args.rows, 2000), 20, "warmup")
            rate, stats = await writer_throughput(store, args.rows, args.callers, "w")
            rate10, _ = await writer_throughput(store, args.rows, args.callers // 10, "w10", unit_rows=10)
            p50, p99 = await writer_latency(store, args.latency_n, None, "lat")
            p50z, p99z = await writer_latency(store, args.latency_n, 0.0, "lat0")
        return {
            "rate": rate,
            "rate10": rate10,
            "stats": stats,
            "p50": p50,
            "p99": p99,
            "p50z": p50z,
            "p99z": p99z,
        }

    result = trio.run(ours)
    if name == "sqlite":
        raw = raw_sqlite(url[len("sqlite:///") :], args.rows, args.raw_batch)
    else:
        raw = asyncio.run(raw_postgres(url, args.rows, args.raw_batch))
    result["raw"] = raw
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--raw-batch", type=int, default=1000)
    parser.add_argument("--latency-n", type=int, default=500)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.backends.split(","):
            if name == "sqlite":
                r = bench_backend(name, f"sqlite:///{tmp}/bench.db", Path(tmp) / "objects", args)
            else:
                with scratch_database(args.pg) as dsn:
                    r = bench_backend(name, dsn, Path(tmp) / "objects", args)
            rows.append((name, r))

    print(f"rows={args.rows} callers={args.callers} raw_batch={args.raw_batch} latency_n={args.latency_n}")
    header = (
        f"{'backend':9} {'writer rows/s':>14} {'raw rows/s':>11} {'ratio':>6}"
        f" {'batches':>8} {'rows/batch':>10}"
        f" {'writer, 10/unit':>15} {'ratio':>6}"
        f" {'p50 ms':>7} {'p99 ms':>7} {'p50 ms (delay 0)':>17} {'p99 ms (delay 0)':>17}"
    )
    print(header)
    for name, r in rows:
        stats = r["stats"]
        print(
            f"{name:9} {r['rate']:>14,.0f} {r['raw']:>11,.0f} {r['rate'] / r['raw']:>6.2f}"
            f" {stats.batches:>8} {stats.mutations / stats.batches:>10.1f}"
            f" {r['rate10']:>15,.0f} {r['rate10'] / r['raw']:>6.2f}"
            f" {r['p50']:>7.2f} {r['p99']:>7.2f} {r['p50z']:>17.2f} {r['p99z']:>17.2f}"
        )


if __name__ == "__main__":
    main()
