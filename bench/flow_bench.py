"""Flow-control benchmark: fairness across 100 concurrency keys, and the cost of a decision.

Three measurements:

* **fairness in the scheduler** (:class:`~ratchet.actors.scheduling._machine.FlowScheduler`,
  the engine's pure scheduling heart, in a discrete-time loop): 100 keys under
  ``GROUP_ROUND_ROBIN``, one key with ``--skew`` times the backlog of each other key,
  ``--slots`` worker slots, every task one tick long. Jain's fairness index of per-key
  throughput while every key still has work, with the same load through plain FIFO
  queues (no concurrency key) for comparison;
* **fairness end to end**: the same shape, smaller, through an embedded engine (real
  actors, memory store, one worker, ``async`` tasks sleeping ``--task-ms``), from the
  completion times the task functions record;
* **scheduling cost with ``--queued`` tasks queued**: the time to queue them, then the
  time per decision (a slot frees up, the next task is admitted and assigned) with the
  queue still about that deep, spread over 100 keys with the skew above.

Run: ``python bench/flow_bench.py [--queued 100000] [--skew 100] [--slots 50]``.
Nothing is asserted; the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections import Counter
from typing import Any

from ratchet import ConcurrencyExpression, Ratchet
from ratchet._contract.flow import ConcurrencyLimitStrategy
from ratchet.actors.scheduling._admission import FlowNeeds, GroupKey, GroupNeed
from ratchet.actors.scheduling._machine import FlowScheduler
from ratchet.actors.scheduling._queues import QueuedTask
from ratchet.simulation._flow_invariants import jain_fairness

KEYS = 100
GRR = ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN


def workload(light: int, skew: int, seed: int = 7) -> list[int]:
    """Key of each task in arrival order: key 0 has ``skew`` times the tasks of each other key."""
    keys = [0] * (light * skew) + [k for k in range(1, KEYS) for _ in range(light)]
    random.Random(seed).shuffle(keys)
    return keys


def needs(run: int, key: int, max_runs: int) -> FlowNeeds:
    group = GroupNeed(GroupKey("bench", "input.key", GRR.value, str(key)), GRR, max_runs)
    return FlowNeeds(f"r{run}", f"t{run}", run_groups=(group,))


def core_fairness(light: int, skew: int, slots: int, max_runs: int, *, keyed: bool) -> float:
    """Jain's index of per-key throughput while every key is backlogged (one tick per task)."""
    keys = workload(light, skew)
    scheduler = FlowScheduler()
    tasks = [
        QueuedTask(i, "a", flow=needs(i, key, max_runs) if keyed else None, payload=key)
        for i, key in enumerate(keys)
    ]
    running: list[Any] = list(scheduler.enqueue(tasks).assignments)
    running += scheduler.add_worker("w", ["a"], slots).assignments
    done: Counter[int] = Counter()
    remaining = Counter(keys)
    while running and all(remaining[k] for k in range(KEYS)):  # every key still has work
        finished, running = running, []
        for a in finished:
            key = a.task.payload
            done[key] += 1
            remaining[key] -= 1
            effects = scheduler.release([a.task.key])
            running += effects.assignments
            if keyed:
                running += scheduler.done([("run", f"r{a.task.key}")]).assignments
    return jain_fairness([done[k] for k in range(KEYS)])


def core_cost(queued: int, skew: int, slots: int, max_runs: int) -> tuple[float, float]:
    """µs per task to queue ``queued`` tasks, and µs per decision with them queued."""
    per_light = max(1, queued // (skew + KEYS - 1))
    keys = workload(per_light, skew)
    scheduler = FlowScheduler()
    scheduler.add_worker("w", ["a"], slots)
    tasks = [QueuedTask(i, "a", flow=needs(i, key, max_runs)) for i, key in enumerate(keys)]
    began = time.perf_counter()
    running = []
    for task in tasks:
        running += scheduler.enqueue([task]).assignments
    enqueue_us = (time.perf_counter() - began) / len(tasks) * 1e6
    decisions = min(10_000, len(tasks) // 10)
    began = time.perf_counter()
    made = 0
    while made < decisions and running:
        a = running.pop(0)
        running += scheduler.release([a.task.key]).assignments
        running += scheduler.done([("run", f"r{a.task.key}")]).assignments
        made += 1
    decide_us = (time.perf_counter() - began) / max(1, made) * 1e6
    assert scheduler.core.depth() + scheduler.flow.statistics().waiting_attempts > 0.8 * len(tasks)
    return enqueue_us, decide_us


def engine_fairness(light: int, skew: int, slots: int, max_runs: int, task_ms: float) -> tuple[float, float]:
    """Jain's index through an embedded engine, and its throughput (runs/s).

    Every run is triggered before any task may finish (the first tasks wait for the last
    trigger), so the index measures the scheduler, not the order the runs arrived in.
    """
    import trio

    keys = workload(light, skew)
    finished: list[tuple[float, int]] = []
    lock = threading.Lock()
    all_triggered = threading.Event()
    r = Ratchet()
    wf = r.workflow("fair", input_validator=dict, concurrency=ConcurrencyExpression("input.key", max_runs))

    @wf.task()
    async def work(input: dict[str, Any], ctx: Any) -> None:
        if not all_triggered.is_set():
            await trio.to_thread.run_sync(all_triggered.wait)
        await trio.sleep(task_ms / 1000)
        with lock:
            finished.append((time.perf_counter(), input["key"]))

    with r.embedded("memory://", workers=[r.worker("w", slots=slots)]):
        refs = wf.run_many_no_wait([wf.create_bulk_run_item({"key": k}) for k in keys])
        began = time.perf_counter()
        all_triggered.set()
        for ref in refs:
            ref.result()
        elapsed = time.perf_counter() - began
    finished.sort()
    total = Counter(keys)
    done: Counter[int] = Counter()
    for _, key in finished:
        done[key] += 1
        if done[key] == total[key]:
            break  # the first key ran out of work: from here on not every key is backlogged
    return jain_fairness([done[k] for k in range(KEYS)]), len(keys) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=100_000, help="tasks queued for the cost measurement")
    parser.add_argument("--skew", type=int, default=100, help="the hot key's backlog over each other key's")
    parser.add_argument("--slots", type=int, default=50, help="worker slots")
    parser.add_argument("--max-runs", type=int, default=10, help="max_runs of each key's group")
    parser.add_argument("--light", type=int, default=200, help="tasks of each light key (scheduler fairness)")
    parser.add_argument("--engine-light", type=int, default=20, help="tasks of each light key (engine)")
    parser.add_argument("--task-ms", type=float, default=20.0, help="task duration in the engine run")
    args = parser.parse_args()

    print(f"{KEYS} keys, one with {args.skew}x the others' load, {args.slots} slots", end=", ")
    print(f"max_runs={args.max_runs} per key")
    keyed = core_fairness(args.light, args.skew, args.slots, args.max_runs, keyed=True)
    fifo = core_fairness(args.light, args.skew, args.slots, args.max_runs, keyed=False)
    tasks = args.light * (args.skew + KEYS - 1)
    print(f"scheduler, {tasks} tasks:  Jain's index  GROUP_ROUND_ROBIN {keyed:.4f}   plain FIFO {fifo:.4f}")
    enqueue_us, decide_us = core_cost(args.queued, args.skew, args.slots, args.max_runs)
    print(
        f"scheduler, {args.queued} queued:  {enqueue_us:.1f} µs to queue a task, "
        f"{decide_us:.1f} µs per decision (release, admit, assign)"
    )
    fairness, rate = engine_fairness(args.engine_light, args.skew, args.slots, args.max_runs, args.task_ms)
    tasks = args.engine_light * (args.skew + KEYS - 1)
    print(
        f"embedded engine, {tasks} runs of {args.task_ms:g} ms:  Jain's index {fairness:.4f}, "
        f"{rate:.0f} runs/s"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
