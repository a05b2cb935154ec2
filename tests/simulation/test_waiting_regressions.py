"""Seeds that once found engine bugs in work that waits, kept so the bugs stay fixed."""

from __future__ import annotations

from typing import Any

import pytest

from ratchet.simulation import CommitFailures, SimConfig, SlowCommits, Workload, simulate
from ratchet.simulation._crons import CronShape

HEAVY_DURABLE = dict(
    durable_runs=8, listeners=3, pushes=6, crons=2, engine_crashes=2, zombies=2, partitions=3
)
HEAVY_COMMITS = dict(
    durable_runs=5, listeners=3, pushes=6, crons=2, engine_crashes=3, commit_failures=2, slow_commit_windows=2
)
HEAVY_EVENTS = dict(
    listeners=4, pushes=12, crons=3, engine_crashes=3, commit_failures=3, slow_commit_windows=2, clock_jumps=2
)


@pytest.mark.parametrize(
    ("seed", "config"),
    [
        # A durable task left EVICTED for good: its resolved wait went to a poller that
        # was not the execution to carry on (a zombie's, or a duplicate after an engine
        # crash), and the task was resumed only when nobody polled.
        (223, {}),
        (792, {}),
        (1143, {}),
        (2049, HEAVY_DURABLE),
        (3108, HEAVY_COMMITS),
        (5123, HEAVY_EVENTS),
        # A cron timer that came due while the Triggers actor restarted fired an old,
        # missed tick late besides the restart's catch-up of the latest one.
        (5553, HEAVY_EVENTS),
    ],
)
def test_regression_seeds_of_work_that_waits(seed: int, config: dict[str, Any]) -> None:
    result = simulate(SimConfig(seed=seed, **config))
    assert result.ok, result.verdict()


def test_a_cron_tick_whose_commit_fails_is_tried_again() -> None:
    # It was dropped: a failed commit was taken for another engine having fired the tick.
    workload = Workload((), (), crons=(CronShape(every=2, first=2, last=10),))
    result = simulate(SimConfig(seed=0), workload=workload, faults=(CommitFailures(at=1.5, count=1),))
    assert result.ok, result.verdict()
    assert result.run_statuses == {"COMPLETED": 5}  # ticks at 2, 4, 6, 8 and 10


def test_a_cron_tick_delayed_by_failing_slow_commits_may_fire_late() -> None:
    # Tick 2's commit failed three times, each try taking 0.9s, so its run was made at
    # t=5.05, on the fourth try: the engine did right (it tried again), but the check let
    # slow commits delay only the ticks it requires, and called this one late.
    workload = Workload((), (), crons=(CronShape(every=2, first=2, last=10),))
    faults = (SlowCommits(at=1.5, duration=6.0, delay=0.9), CommitFailures(at=1.6, count=3))
    result = simulate(SimConfig(seed=0), workload=workload, faults=faults)
    assert result.ok, result.verdict()
    assert result.run_statuses == {"COMPLETED": 5}
