"""The deterministic simulation: a swarm of seeds, replay by seed, and proof it catches bugs."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ratchet.actors._run_machine as run_machine
from ratchet.simulation import INVARIANTS, SimConfig, simulate

SWARM = range(200)


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
    assert first.faults == second.faults
    assert first.run_statuses == second.run_statuses
    assert simulate(8).digest != first.digest


def test_simulations_exercise_the_engine() -> None:
    result = simulate(SimConfig(seed=3, runs=30))
    assert result.acknowledged == 30
    assert sum(result.run_statuses.values()) == 30
    assert {"COMPLETED", "FAILED"} <= set(result.run_statuses)
    assert any("engine crash" in f for f in result.faults)
    assert any("worker crash" in f for f in result.faults)
    assert result.attempts > 30


def test_regression_seed_worker_slots_after_an_engine_restart() -> None:
    # Found by the swarm: after an engine restart a worker re-registered with all its
    # slots free while it still ran attempts for the old engine, and was given more.
    config = SimConfig(seed=9, runs=100, workers=3, engine_crashes=3, worker_crashes=3, cancels=5, horizon=60)
    result = simulate(config)
    assert result.ok, result.violations[:3]


@pytest.fixture
def planted_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_machine, "_PLANTED_IGNORE_BACKOFF", True)


def test_the_swarm_finds_a_planted_bug_within_a_few_seeds(planted_bug: None) -> None:
    for seed in range(50):
        result = simulate(seed)
        if not result.ok:
            break
    else:
        pytest.fail("50 seeds did not find retries that skip their backoff")
    print(f"planted bug found by seed {seed}")
    assert any(v.startswith("retries-wait-their-backoff") for v in result.violations)
    assert "violated: retries-wait-their-backoff" in result.verdict()


@pytest.mark.parametrize(
    "bad",
    [{"seed": "1"}, {"runs": 0}, {"workers": -1}, {"slots": True}, {"engine_crashes": 1.5}, {"horizon": 0},
     {"settle": float("nan")}],
)  # fmt: skip
def test_a_bad_config_is_refused_before_anything_runs(bad: dict) -> None:
    with pytest.raises(ValueError, match="SimConfig"):
        SimConfig(**{"seed": 1, **bad})
    with pytest.raises(ValueError, match=r"SimConfig\.seed"):
        simulate("7")  # type: ignore[arg-type]


def test_every_invariant_has_a_name() -> None:
    assert len(set(INVARIANTS)) == len(INVARIANTS) >= 9


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
    for bad in (["--seeds", "zero..4"], ["--seed", "1", "--seeds", "0..2"], []):
        result = subprocess.run(
            [sys.executable, "-m", "ratchet.cli", "sim", *bad], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, bad
        assert "Error" in result.stderr
