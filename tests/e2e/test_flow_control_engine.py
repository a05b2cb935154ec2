"""Flow control end to end: the real engine and real SDK workers, in virtual time.

Each test declares workflows with concurrency limits, rate limits, priorities or
affinity, runs them through the whole engine (gateway, coordinator, scheduler,
dispatcher, store) and in-process workers under a mock clock, and checks both what the
task functions saw (when each ran, in exact virtual seconds) and the scheduler's
admission facts, with the same checkers the simulation uses.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import trio
from flow_engine import Cluster, Interval, run_engine

from ratchet import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    DesiredWorkerLabel,
    Ratchet,
    RateLimit,
    RateLimitDuration,
    StickyStrategy,
)
from ratchet.simulation._flow_invariants import (
    cancel_in_progress_violations,
    cancel_newest_violations,
    max_runs_violations,
    rate_window_violations,
)


def overlap(intervals: list[Interval], key: Any, at: float) -> int:
    """How many of ``key``'s task functions were running at virtual time ``at``."""
    return sum(1 for i in intervals if i.key == key and i.start <= at and (i.end is None or at < i.end))


def most_at_once(intervals: list[Interval], key: Any) -> int:
    return max((overlap(intervals, key, i.start) for i in intervals if i.key == key), default=0)


def sleeper(cluster: Cluster, seconds: float, key_of: Any = lambda input: input.get("user")) -> Any:
    async def fn(input: dict[str, Any], ctx: Context) -> dict[str, Any]:
        interval = cluster.record(ctx, key_of(input))
        try:
            await trio.sleep(seconds)
        finally:
            interval.end = cluster.now()
        return {"user": input.get("user")}

    return fn


# -- concurrency ------------------------------------------------------------------------------------


def test_round_robin_admits_max_runs_per_key_and_a_light_key_is_not_delayed() -> None:
    def workflows(cluster: Cluster) -> list[Any]:
        r = Ratchet()
        wf = r.workflow("per-user", input_validator=dict, concurrency=ConcurrencyExpression("input.user", 2))
        wf.task(name="work")(sleeper(cluster, 1.0))
        return [wf]

    async def scenario(cluster: Cluster) -> Any:
        heavy = await cluster.trigger("per-user", [{"user": "heavy"} for _ in range(20)])
        light = await cluster.trigger("per-user", [{"user": "light"}, {"user": "light"}])
        return await cluster.wait(heavy + light)

    cluster, results = run_engine(workflows, scenario)
    assert {r["status"] for r in results} == {"COMPLETED"}
    intervals = cluster.intervals
    assert most_at_once(intervals, "heavy") == 2 and most_at_once(intervals, "light") == 2
    # the light key started at once, though 18 heavy runs were waiting before it
    assert max(i.start for i in intervals if i.key == "light") < 0.01
    # the heavy key went through in rounds of two: 20 runs, one second each
    assert math.isclose(max(i.end for i in intervals if i.key == "heavy"), 10.0, abs_tol=0.05)
    facts, _ = cluster.facts()
    assert facts and max_runs_violations(facts, 2) == []


def test_cancel_in_progress_keeps_only_the_newest_running() -> None:
    def workflows(cluster: Cluster) -> list[Any]:
        r = Ratchet()
        wf = r.workflow(
            "sync",
            input_validator=dict,
            concurrency=ConcurrencyExpression("input.user", 1, ConcurrencyLimitStrategy.CANCEL_IN_PROGRESS),
        )
        wf.task(name="sync")(sleeper(cluster, 5.0))
        return [wf]

    async def scenario(cluster: Cluster) -> Any:
        runs = []
        for _ in range(3):
            runs += await cluster.trigger("sync", [{"user": "alice"}])
            await trio.sleep(1.0)
        return await cluster.wait(runs)

    cluster, results = run_engine(workflows, scenario)
    assert [r["status"] for r in results] == ["CANCELLED", "CANCELLED", "COMPLETED"]
    assert most_at_once(cluster.intervals, "alice") == 1  # a new one starts only once the old one stopped
    assert "CANCEL_IN_PROGRESS" in results[0]["tasks"][0]["events"][-1]["message"]
    facts, _ = cluster.facts()
    assert cancel_in_progress_violations(facts, 1) == [] and max_runs_violations(facts, 1) == []


def test_cancel_newest_cancels_arrivals_at_a_full_key() -> None:
    def workflows(cluster: Cluster) -> list[Any]:
        r = Ratchet()
        wf = r.workflow(
            "once",
            input_validator=dict,
            concurrency=ConcurrencyExpression("input.user", 1, ConcurrencyLimitStrategy.CANCEL_NEWEST),
        )
        wf.task(name="work")(sleeper(cluster, 2.0))
        return [wf]

    async def scenario(cluster: Cluster) -> Any:
        first = await cluster.trigger("once", [{"user": "a"}])
        await trio.sleep(0.5)
        late = await cluster.trigger("once", [{"user": "a"}, {"user": "a"}, {"user": "b"}])
        return await cluster.wait(first + late)

    cluster, results = run_engine(workflows, scenario)
    assert [r["status"] for r in results] == ["COMPLETED", "CANCELLED", "CANCELLED", "COMPLETED"]
    assert "CANCEL_NEWEST" in results[1]["tasks"][0]["events"][-1]["message"]
    facts, _ = cluster.facts()
    assert cancel_newest_violations(facts, 1) == []


def test_task_level_concurrency_holds_per_task_and_higher_priority_goes_first() -> None:
    def workflows(cluster: Cluster) -> list[Any]:
        r = Ratchet()
        wf = r.workflow("pipeline", input_validator=dict)
        fetch = wf.task(name="fetch")(sleeper(cluster, 1.0, lambda input: "fetch"))
        wf.task(name="call-llm", parents=[fetch], concurrency=1)(sleeper(cluster, 3.0, lambda input: "llm"))
        return [wf]

    async def scenario(cluster: Cluster) -> Any:
        first = await cluster.trigger("pipeline", [{}])
        await trio.sleep(1.5)  # its call-llm holds the group until t=4
        low = await cluster.trigger("pipeline", [{} for _ in range(3)], priority=1)
        await trio.sleep(0.5)  # the high priority run reaches the group last
        high = await cluster.trigger("pipeline", [{}], priority=3)
        return high, await cluster.wait(first + low + high)

    cluster, (high, results) = run_engine(workflows, scenario)
    assert {r["status"] for r in results} == {"COMPLETED"}
    assert most_at_once(cluster.intervals, "fetch") == 4  # no limit on the first task
    assert most_at_once(cluster.intervals, "llm") == 1
    order = [i.run_id for i in sorted(cluster.intervals, key=lambda i: i.start) if i.key == "llm"]
    assert order[1] == high[0]  # it waited behind three others, yet went first


def test_a_key_that_fails_to_evaluate_fails_only_its_run() -> None:
    def workflows(cluster: Cluster) -> list[Any]:
        r = Ratchet()
        wf = r.workflow("keyed", input_validator=dict, concurrency=ConcurrencyExpression("input.user", 1))
        wf.task(name="work")(sleeper(cluster, 0.5))
        return [wf]

    async def scenario(cluster: Cluster) -> Any:
        return await cluster.wait(
            await cluster.trigger("keyed", [{"user": "a"}, {"name": "no user"}, {"user": "b"}])
        )

    _, results = run_engine(workflows, scenario)
    assert [r["status"] for r in results] == ["COMPLETED", "FAILED", "COMPLETED"]
    error = results[1]["tasks"][0]["error"]
    assert error["type"] == "FlowControlError"
    assert "input.user" in error["message"] and "no such member" in error["message"]


# -- rate limits ------------------------------------------------------------------------------------


def test_dynamic_rate_limit_starts_each_task_as_soon_as_its_window_allows() -> None:
    def workflows(cluster: Cluster) -> list[Any]:
        r = Ratchet()
        wf = r.workflow("llm", input_validator=dict)
        wf.task(
            name="call",
            rate_limits=[
                RateLimit(dynamic_key="input.user", units=1, limit=3, duration=RateLimitDuration.SECOND)
            ],
        )(sleeper(cluster, 0.1))
        return [wf]

    async def scenario(cluster: Cluster) -> Any:
        runs = await cluster.trigger("llm", [{"user": "a"} for _ in range(10)] + [{"user": "b"}] * 2)
        return await cluster.wait(runs)

    cluster, results = run_engine(workflows, scenario)
    assert {r["status"] for r in results} == {"COMPLETED"}  # over the limit: they waited, none failed
    starts = sorted(i.start for i in cluster.intervals if i.key == "a")
    for n, start in enumerate(starts):
        # the n-th start of key a came as soon as the window had room: at whole seconds, three at a time
        assert math.isclose(start, n // 3, abs_tol=0.01), (n, starts)
    assert max(i.start for i in cluster.intervals if i.key == "b") < 0.01  # another key is not held up
    _, grants = cluster.facts()
    assert len(grants) == 12
    assert rate_window_violations(grants, {"a": (3, 1.0), "b": (3, 1.0)}) == []


def test_static_rate_limit_declared_with_put_and_changed() -> None:
    def workflows(cluster: Cluster) -> list[Any]:
        r = Ratchet()
        wf = r.workflow("api", input_validator=dict)
        wf.task(name="call", rate_limits=[RateLimit(static_key="openai", units=2)])(sleeper(cluster, 0.0))
        return [wf]

    async def scenario(cluster: Cluster) -> Any:
        await cluster.call("put_rate_limit", "openai", 4, "MINUTE")
        runs = await cluster.trigger("api", [{"user": "x"} for _ in range(4)])
        await trio.sleep(1.0)
        started_before = len(cluster.intervals)
        await cluster.call("put_rate_limit", "openai", 8, "MINUTE")  # room for two more at once
        await trio.sleep(0.01)
        started_after = len(cluster.intervals)
        return started_before, started_after, await cluster.wait(runs)

    _, (before, after, results) = run_engine(workflows, scenario)
    assert (before, after) == (2, 4)
    assert {r["status"] for r in results} == {"COMPLETED"}


def test_an_undeclared_static_key_fails_the_task_with_a_clear_error() -> None:
    def workflows(cluster: Cluster) -> list[Any]:
        r = Ratchet()
        wf = r.workflow("api", input_validator=dict)
        wf.task(name="call", rate_limits=[RateLimit(static_key="nobody-declared-me")])(sleeper(cluster, 0.0))
        return [wf]

    async def scenario(cluster: Cluster) -> Any:
        return await cluster.wait(await cluster.trigger("api", [{}]))

    _, (result,) = run_engine(workflows, scenario)
    assert result["status"] == "FAILED"
    assert "ratchet.rate_limits.put('nobody-declared-me'" in result["tasks"][0]["error"]["message"]


def test_rate_limit_windows_survive_an_engine_restart() -> None:
    def workflows(cluster: Cluster) -> list[Any]:
        r = Ratchet()
        wf = r.workflow("api", input_validator=dict)
        wf.task(
            name="call",
            rate_limits=[RateLimit(dynamic_key="input.user", limit=2, duration=RateLimitDuration.MINUTE)],
        )(sleeper(cluster, 0.0))
        return [wf]

    async def scenario(cluster: Cluster) -> Any:
        first = await cluster.wait(await cluster.trigger("api", [{"user": "u"}, {"user": "u"}]))
        await trio.sleep(5.0)
        await cluster.restart_engine()
        second = await cluster.wait(await cluster.trigger("api", [{"user": "u"}, {"user": "u"}]))
        return first + second

    cluster, results = run_engine(workflows, scenario)
    assert {r["status"] for r in results} == {"COMPLETED"}
    starts = sorted(i.start for i in cluster.intervals)
    assert starts[2] >= starts[0] + 60.0  # the new engine remembered the two units taken before
    _, grants = cluster.facts()
    assert rate_window_violations(grants, {"u": (2, 60.0)}) == []


# -- restarts, slots, affinity ---------------------------------------------------------------------


def test_max_runs_holds_across_an_engine_restart() -> None:
    def workflows(cluster: Cluster) -> list[Any]:
        r = Ratchet()
        wf = r.workflow("exclusive", input_validator=dict, concurrency=1)
        wf.task(name="work")(sleeper(cluster, 4.0, lambda input: "one-at-a-time"))
        return [wf]

    async def scenario(cluster: Cluster) -> Any:
        runs = await cluster.trigger("exclusive", [{}, {}, {}])
        await trio.sleep(1.0)
        await cluster.restart_engine()  # the first run is mid-flight on its worker
        return await cluster.wait(runs)

    cluster, results = run_engine(workflows, scenario)
    assert {r["status"] for r in results} == {"COMPLETED"}
    by_run = defaultdict(list)
    for interval in cluster.intervals:
        by_run[interval.run_id].append(interval)
    # the run that held the place before the restart kept it; nothing else ran beside it
    for at in sorted({i.start for i in cluster.intervals}):
        running = {i.run_id for i in cluster.intervals if i.start <= at and (i.end is None or at < i.end)}
        assert len(running) == 1, (at, running)
    facts, _ = cluster.facts()
    assert max_runs_violations(facts, 1) == []


def test_required_labels_and_sticky_runs_choose_their_workers() -> None:
    def workflows(cluster: Cluster) -> list[Any]:
        r = Ratchet()
        gpu = r.workflow("gpu-job", input_validator=dict)
        gpu.task(name="infer", desired_worker_labels={"gpu": DesiredWorkerLabel("a100", required=True)})(
            sleeper(cluster, 0.5, lambda input: "gpu")
        )
        sticky = r.workflow("sticky-job", input_validator=dict, sticky=StickyStrategy.HARD)
        first = sticky.task(name="first")(sleeper(cluster, 0.5, lambda input: "sticky"))
        sticky.task(name="second", parents=[first])(sleeper(cluster, 0.5, lambda input: "sticky"))
        return [gpu, sticky]

    async def scenario(cluster: Cluster) -> Any:
        gpu_runs = await cluster.trigger("gpu-job", [{} for _ in range(3)])
        sticky_runs = await cluster.trigger("sticky-job", [{} for _ in range(4)])
        return await cluster.wait(gpu_runs), await cluster.wait(sticky_runs)

    workers = [("cpu-1", 4, {"gpu": "none"}), ("cpu-2", 4, {}), ("gpu-1", 1, {"gpu": "a100"})]
    _, (gpu_results, sticky_results) = run_engine(workflows, scenario, workers=workers)
    assert {t["worker_id"] for r in gpu_results for t in r["tasks"]} == {"gpu-1"}
    for result in sticky_results:
        assert result["status"] == "COMPLETED"
        assert len({t["worker_id"] for t in result["tasks"]}) == 1  # both tasks on one worker


def test_release_slot_lets_the_next_task_start_on_a_full_worker() -> None:
    def workflows(cluster: Cluster) -> list[Any]:
        r = Ratchet()
        gate = trio.Event()
        wf = r.workflow("releasing", input_validator=dict)

        @wf.task(name="holder")
        async def holder(input: dict[str, Any], ctx: Context) -> str:
            ctx.release_slot()
            await gate.wait()  # only a task started on the same one-slot worker can set it
            return "released"

        @wf.task(name="opener")
        async def opener(input: dict[str, Any], ctx: Context) -> str:
            gate.set()
            return "opened"

        return [wf]

    async def scenario(cluster: Cluster) -> Any:
        return await cluster.wait(await cluster.trigger("releasing", [{}]))

    _, (result,) = run_engine(workflows, scenario, workers=[("one-slot", 1, {})])
    assert result["status"] == "COMPLETED"
    assert result["output"] == {"holder": "released", "opener": "opened"}
