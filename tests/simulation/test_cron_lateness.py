"""How late ``crons-fire-once-per-tick`` lets a tick fire, judged on stored rows made by hand.

A tick may fire up to ``CRON_GRACE`` seconds late; slow commits may delay it until
``CRON_GRACE`` after they end, but only when the Triggers actor that fired it on time
kept running until its run was made. One that restarted meanwhile fires a missed tick
only as its catch-up (the latest one), however slow the commits.
"""

from __future__ import annotations

from ratchet.actors.store import Cron, Run
from ratchet.simulation import SlowCommits
from ratchet.simulation._crons import CronShape
from ratchet.simulation._waiting_invariants import _check_crons, _Snapshot
from ratchet.simulation._world import WorldLog

EPOCH = 1_893_456_000  # the simulation's wall clock at virtual time 0
SHAPE = CronShape(every=2, first=2, last=20)
WORKFLOW_ID = "wf-cron"
NAME = "on_crons:" + SHAPE.expression
SLOW = SlowCommits(at=8.0, duration=8.0, delay=0.9)


def judge(made: dict[int, float], *, slow: bool, restarts: tuple[tuple[float, float], ...] = ()) -> list[str]:
    """The check's findings for runs of the ticks in ``made`` (tick -> when its run was made)."""
    cron = Cron(
        tenant_id="default",
        id="cron-1",
        workflow_id=WORKFLOW_ID,
        name=NAME,
        expression=SHAPE.expression,
        input=None,
        additional_metadata=None,
        priority=1,
        enabled=1,
        created_at=EPOCH + 0.5,
        last_fired_at=None,
    )
    runs = [
        Run(
            tenant_id="default",
            id=f"run-{tick}",
            workflow_id=WORKFLOW_ID,
            workflow_version=1,
            status="COMPLETED",
            input=None,
            additional_metadata=None,
            priority=1,
            parent_task_id=None,
            idempotency_key=f"cron:{WORKFLOW_ID}:{NAME}:{EPOCH + tick}",
            error=None,
            created_at=EPOCH + at,
            started_at=None,
            finished_at=None,
        )
        for tick, at in sorted(made.items(), key=lambda item: item[1])
    ]
    snap = _Snapshot({"sim-cron-0": WORKFLOW_ID}, {"sim-cron-0": runs}, [])
    log = WorldLog(
        epoch=EPOCH,
        start=0.0,
        end=40.0,
        pushes=(),
        outages=(),
        jumps=(),
        faults=(SLOW,) if slow else (),
        restarts=restarts,
    )
    return _check_crons([cron], snap, (SHAPE,), log)


def on_time(*skip: int) -> dict[int, float]:
    return {tick: tick + 0.1 for tick in SHAPE.ticks() if tick not in skip}


def test_slow_commits_excuse_a_tick_fired_on_time_and_stored_late() -> None:
    assert judge({**on_time(), 10: 14.5}, slow=True) == []


def test_without_slow_commits_a_tick_stored_that_late_is_late() -> None:
    (found,) = judge({**on_time(), 10: 14.5}, slow=False)
    assert found.startswith(
        "crons-fire-once-per-tick: tick t=10 of sim-cron-0 fired at t=14.500, 4.500s late"
    )


def test_slow_commits_do_not_excuse_a_missed_tick_a_restarted_triggers_actor_fired_late() -> None:
    # Down from 9 to 14.4: tick 14 is its catch-up, tick 12 is skipped, and tick 10,
    # fired by a timer that came due meanwhile, is late whatever the commits did.
    made = {**on_time(10, 12, 14), 10: 14.5, 14: 14.5}
    (found,) = judge(made, slow=True, restarts=((9.0, 14.4),))
    assert found.startswith("crons-fire-once-per-tick: tick t=10 of sim-cron-0 fired at t=14.500")
    assert judge({**on_time(10, 12, 14), 14: 14.5}, slow=True, restarts=((9.0, 14.4),)) == []
