"""The simulation under heavy faults: more of every fault than the default, so they overlap.

The default :class:`SimConfig` has one fault of each kind; :meth:`SimConfig.heavy` has two
or three, on a busier world, and finds bugs that only show when faults coincide (an
engine crash during slow commits, a second crash soon after the first). Its swarm here
runs besides the default one; seeds that once found bugs stay as regressions.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from ratchet.simulation import SimConfig, simulate

# 0.6s a seed on 2 quiet cores, 0.9s on busy ones: the swarm takes 30 to 45s.
HEAVY_SWARM = range(50)


@pytest.mark.parametrize(
    ("seed", "found"),
    [
        # A worker's registration, sent again after the engine that took it (and whose
        # answer was lost) crashed, still listed what ran at the first try: the attempts
        # that engine had delivered meanwhile were missing, and the next engine gave
        # their slots away.
        (30129, "slots-never-exceeded"),
        # A tick whose commit failed under slow commits was tried again, as it must be,
        # and its run made 3.4s late: the check let slow commits delay the ticks it
        # requires, but not one the running Triggers actor fired on time.
        (31265, "crons-fire-once-per-tick"),
        # A durable task's wait resolved while its worker evicted it; the Durable actor
        # crashed (another commit failed) after the resolution committed but before it
        # woke the task, and its restart read the store before the eviction landed
        # there: the task stayed EVICTED for good.
        (33110, "durable-waits-resume"),
    ],
)
def test_regression_seeds_under_heavy_faults(seed: int, found: str) -> None:
    result = simulate(SimConfig.heavy(seed))
    assert result.ok, f"(once found {found}) " + result.verdict()


# The heavy profile with more event-driven work: listeners, pushes and durable runs.
EVENT_HEAVY = {"listeners": 6, "pushes": 15, "durable_runs": 10}


@pytest.mark.parametrize(
    ("seed", "found"),
    [
        # A durable task's event wait resolved, and the commit of its resolution failed:
        # the Durable actor restarted, and read which tasks were evicted before the task's
        # worker, whose step had died with the actor, reported the eviction. Nobody armed
        # the wait again once the task was EVICTED: its run never ended.
        (5079, "durable-waits-resume"),
    ],
)
def test_regression_seeds_under_heavy_faults_with_more_events(seed: int, found: str) -> None:
    result = simulate(SimConfig.heavy(seed, **EVENT_HEAVY))
    assert result.ok, f"(once found {found}) " + result.verdict()


def test_a_swarm_of_seeds_under_heavy_faults_keeps_every_invariant() -> None:
    failing = {}
    for seed in HEAVY_SWARM:
        result = simulate(SimConfig.heavy(seed))
        if not result.ok:
            failing[seed] = result.violations[:3]
    assert failing == {}


def test_sim_command_runs_the_heavy_profile() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ratchet.cli", "sim", "--seed", "30129", "--heavy"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    expected = simulate(SimConfig.heavy(30129))
    assert done.stdout.startswith(f"seed 30129: ok ({expected.acknowledged} runs, ")
    assert f"digest {expected.digest[:16]}" in done.stdout
