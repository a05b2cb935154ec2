"""Durable-task benchmark: many sleepers at once, and a fan-out of children.

Runs the embedded engine (a SQLite file) with one in-process worker, and measures:

* **sleepers**: ``--sleepers`` durable tasks each sleep until the same wall time
  (``aio_sleep_until``), so they are all evicted (no slot held) at once. Reported: the
  time to start and evict them all, the process RSS before and while they all sleep
  (the process holds the engine, its worker and the client; the worker keeps nothing
  for an evicted task), and the time from the common wake-up instant until every one
  of them has replayed its log and completed;
* **fan-out**: one durable task spawns ``--children`` child runs with ``aio_run_many``,
  is evicted while they run, resumes and returns: wall time from trigger to result.

Progress is read from the SQLite file (a read-only connection), not through the
client, so the figures time the engine. Nothing is asserted.

Run: ``python bench/durable_bench.py [--sleepers 100000] [--children 1000] [--lead 150]``.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

from ratchet import Context, DurableContext, Ratchet


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return int(conn.execute(sql).fetchone()[0])


def wait_count(db: Path, sql: str, target: int, limit: float) -> float:
    """Seconds until ``sql`` counts ``target`` rows, polled every 0.2 s (an indexed count:
    frequent or long reads would keep SQLite from checkpointing its WAL and slow the engine)."""
    start = time.monotonic()
    while count(db, sql) < target:
        if time.monotonic() - start > limit:
            raise RuntimeError(f"gave up after {limit:g}s waiting for {target}: {sql}")
        time.sleep(0.2)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sleepers", type=int, default=100_000)
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--lead", type=float, default=150.0, help="seconds from start to the common wake-up")
    parser.add_argument("--slots", type=int, default=2000)
    args = parser.parse_args()

    r = Ratchet()

    @r.durable_task(input_validator=dict, eviction_delay=0, execution_timeout=600, schedule_timeout=3600)
    async def sleeper(input: dict, ctx: DurableContext) -> int:
        await ctx.aio_sleep_until(input["until"])
        return 1

    @r.task(input_validator=dict, schedule_timeout=3600)
    async def child(input: dict, ctx: Context) -> int:
        return input["i"]

    @r.durable_task(input_validator=dict, eviction_delay=0, execution_timeout=600)
    async def fan(input: dict, ctx: DurableContext) -> int:
        outs = await child.aio_run_many([child.create_bulk_run_item({"i": i}) for i in range(input["n"])])
        return sum(outs)

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        with r.embedded(f"sqlite:///{db}", workers=[r.worker("bench", slots=args.slots)]):
            fan.run({"n": 10})  # warm up
            rss_before = rss_mb()

            # -- fan-out ---------------------------------------------------------------------
            t0 = time.monotonic()
            total = fan.run({"n": args.children})
            fan_seconds = time.monotonic() - t0
            assert total == sum(range(args.children))
            print(f"fan-out of {args.children} children from one durable task: {fan_seconds:.2f} s")

            # -- sleepers --------------------------------------------------------------------
            until = time.time() + args.lead
            t0 = time.monotonic()
            for start in range(0, args.sleepers, 1000):
                n = min(1000, args.sleepers - start)
                sleeper.run_many_no_wait([sleeper.create_bulk_run_item({"until": until}) for _ in range(n)])
            trigger_seconds = time.monotonic() - t0
            evicted_sql = "SELECT count(*) FROM tasks WHERE tenant_id = 'default' AND status = 'EVICTED'"
            try:
                evict_seconds = trigger_seconds + wait_count(
                    db, evicted_sql, args.sleepers, max(1.0, until - time.time())
                )
            except RuntimeError:
                raise SystemExit(
                    f"the sleepers were not all evicted before they woke; raise --lead above {args.lead:g}"
                ) from None
            rss_sleeping = rss_mb()
            print(
                f"{args.sleepers} durable sleepers started and evicted in {evict_seconds:.1f} s "
                f"(triggered in {trigger_seconds:.1f} s)"
            )
            print(
                f"process RSS: {rss_before:.0f} MB before, {rss_sleeping:.0f} MB with all asleep "
                f"(+{(rss_sleeping - rss_before) * 1024 * 1024 / args.sleepers:.0f} bytes per sleeper)"
            )
            time.sleep(max(0.0, until - time.time()))
            woke = time.monotonic()
            done_sql = "SELECT count(*) FROM tasks WHERE tenant_id = 'default' AND status = 'COMPLETED'"
            already = count(db, done_sql)  # the fan-out's runs
            wake_seconds = wait_count(db, done_sql, already + args.sleepers, 3600)
            print(
                f"all {args.sleepers} woke, replayed and completed {wake_seconds:.1f} s after their sleeps "
                f"ended ({args.sleepers / wake_seconds:.0f}/s); wall {time.monotonic() - woke:.1f} s"
            )


if __name__ == "__main__":
    main()
