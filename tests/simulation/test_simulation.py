"""The deterministic simulation: a swarm of seeds, replay by seed, and proof it catches bugs."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

import ratchet.actors.runs._machine as run_machine
from ratchet.simulation import (
    INVARIANTS,
    ClockJump,
    CommitFailures,
    EngineCrash,
    LossyNetwork,
    Partition,
    SimConfig,
    SlowCommits,
    WorkerCrash,
    Zombie,
    simulate,
)

SWARM = range(200)
# The DAG workload alone, as the simulation drew it before durable runs, events and
# crons joined it: the regression seeds below replay exactly the worlds that found them.
DAGS_ONLY = {"durable_runs": 0, "listeners": 0, "pushes": 0, "crons": 0}
BIG = {
    "runs": 60,
    "workers": 3,
    "engine_crashes": 3,
    "worker_crashes": 3,
    "partitions": 3,
    "lossy_windows": 2,
    "zombies": 2,
    "clock_jumps": 2,
    "commit_failures": 3,
    "slow_commit_windows": 2,
    "cancels": 5,
    "horizon": 60,
}


def test_a_swarm_of_seeds_keeps_every_invariant() -> None:
    failing = {}
    for seed in SWARM:
        result = simulate(seed)
        if not result.ok:
            failing[seed] = result.violations[:3]
    assert failing == {}


def test_the_same_seed_replays_the_same_trace() -> None:
    first, second = simulate(7), simulate(7)
    assert first.digest == second.digest
    assert first.trace_text == second.trace_text
    assert first.faults == second.faults
    assert first.run_statuses == second.run_statuses
    assert simulate(8).digest != first.digest


def test_a_seed_replays_the_same_trace_in_another_process() -> None:
    # String hashing differs between processes; nothing in the trace may depend on it.
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-m", "ratchet.cli", "sim", "--seed", "11"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        digests.add(done.stdout.split("digest ")[1].split(")")[0])
    assert digests == {simulate(11).digest[:16]}


def test_simulations_exercise_the_engine_under_every_kind_of_fault() -> None:
    result = simulate(SimConfig(seed=3, **BIG))
    assert result.ok, result.verdict()
    assert result.acknowledged == 60 + 2  # DAG runs and durable runs triggered by the client
    assert sum(result.runs_by_workflow[f"sim-wf-{i}"] for i in range(3)) == 60
    assert {"COMPLETED", "FAILED", "CANCELLED"} <= set(result.run_statuses)
    fired = " ".join(result.faults)
    for kind in (EngineCrash, WorkerCrash, Partition, LossyNetwork, CommitFailures, SlowCommits, Zombie):
        assert kind.__name__ in fired
    assert ClockJump.__name__ in fired
    assert result.attempts > 60


def test_bigger_worlds_keep_every_invariant() -> None:
    failing = {}
    for seed in range(20):
        result = simulate(SimConfig(seed=seed, **BIG))
        if not result.ok:
            failing[seed] = result.violations[:3]
    assert failing == {}


@pytest.mark.parametrize(
    ("seed", "config", "found"),
    [
        # A re-registering worker's running attempts must hold their slots (the engine
        # restarted while they ran).
        (9, dict(runs=100, workers=3, engine_crashes=3, worker_crashes=3, cancels=5, horizon=60), "slots"),
        # A transition whose commit failed, followed by later ones that committed: the
        # store held a finished run with a task still RUNNING. Commits now form streams.
        (124, {}, "one-terminal-outcome"),
        # An assignment in flight to a worker given up for dead started when it came
        # back, uncounted: the worker ran more than its slots. Deliveries carry epochs.
        (42, {}, "slots-never-exceeded"),
        # A coordinator that rebuilt its runs thought a running attempt queued, so its
        # worker's death went unnoticed and the run never ended. The scheduler reports
        # placements it already holds.
        (135, {}, "every-run-ends"),
        # A worker registering after an engine restart ran an attempt the store still
        # had queued; it was assigned again on top of the worker's slots. Registration
        # now adopts queued attempts the worker reports running.
        (43, BIG, "slots-never-exceeded"),
    ],
)
def test_regression_seeds_stay_fixed(seed: int, config: dict, found: str) -> None:
    result = simulate(SimConfig(seed=seed, **{**DAGS_ONLY, **config}))
    assert result.ok, f"(once found {found}) " + result.verdict()


@pytest.mark.parametrize(
    ("switch", "invariant"),
    [
        ("_PLANTED_IGNORE_BACKOFF", "retries-wait-their-backoff"),
        ("_PLANTED_UNFENCED_RESULTS", "outcomes-come-from-their-attempt"),
    ],
)
def test_the_swarm_finds_a_planted_bug_within_a_few_seeds(
    switch: str, invariant: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run_machine, switch, True)
    for seed in range(50):
        result = simulate(seed)
        if not result.ok:
            break
    else:
        pytest.fail(f"50 seeds did not find the planted bug {switch}")
    with capsys.disabled():
        print(f"\nplanted bug {switch} found by seed {seed}")
    assert any(v.startswith(invariant) for v in result.violations), result.violations
    assert f"violated: {invariant}" in result.verdict()
    assert "trace (last events):" in result.verdict()


@pytest.mark.parametrize(
    "bad",
    [{"seed": "1"}, {"runs": 0}, {"workers": -1}, {"slots": True}, {"engine_crashes": 1.5}, {"horizon": 0},
     {"settle": float("nan")}, {"partitions": 10**9}],
)  # fmt: skip
def test_a_bad_config_is_refused_before_anything_runs(bad: dict) -> None:
    with pytest.raises(ValueError, match="SimConfig"):
        SimConfig(**{"seed": 1, **bad})
    with pytest.raises(ValueError, match=r"SimConfig\.seed"):
        simulate("7")  # type: ignore[arg-type]


def test_every_invariant_has_a_unique_name() -> None:
    assert len(set(INVARIANTS)) == len(INVARIANTS) >= 17


def test_sim_command_prints_a_verdict_and_rejects_bad_arguments() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "ratchet.cli", "sim", "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0
    assert ok.stdout.startswith("seed 1: ok")
    swarm = subprocess.run(
        [sys.executable, "-m", "ratchet.cli", "sim", "--seeds", "0..4"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert swarm.returncode == 0
    assert "5 seeds, 0 failing" in swarm.stdout
    for bad in (
        ["--seeds", "zero..4"],
        ["--seed", "1", "--seeds", "0..2"],
        [],
        ["--seed", "1", "--runs", "0"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "ratchet.cli", "sim", *bad], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, bad
        assert "Error" in result.stderr


def test_a_simulation_opens_no_threads_sockets_or_files(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import socket
    import threading

    simulate(0)  # imports done, caches warm

    def refuse(what: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError(f"a simulation must not {what}")

        return refused

    real_socket = socket.socket

    def local_socket_only(family: Any = -1, *args: Any, **kwargs: Any) -> Any:
        # Trio's run loop wakes itself through a local socket pair; that is all.
        if family not in (-1, socket.AF_UNIX):
            raise AssertionError(f"a simulation must not open a network socket ({family!r})")
        return real_socket(family, *args, **kwargs)

    monkeypatch.setattr(threading.Thread, "start", refuse("start a thread"))
    monkeypatch.setattr(socket, "socket", local_socket_only)
    monkeypatch.setattr(builtins, "open", refuse("open a file"))
    result = simulate(SimConfig(seed=4, **BIG))
    assert result.ok, result.verdict()
    assert result.attempts > 60
