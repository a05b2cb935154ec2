"""A worker's log of its engine's reachability: one warning per outage, reminders at a backoff."""

from __future__ import annotations

import logging

import pytest
import trio

from ratchet._worker.reachability import FIRST_REMINDER, Reachability
from ratchet.runtime import SystemClock

LOG = logging.getLogger("ratchet.worker.test-reachability")


def _lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOG.name]


async def test_outage_warns_once_then_reminds_at_doubling_intervals(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOG.name)
    reach = Reachability("w", "tcp://127.0.0.1:9", SystemClock(), LOG)
    # a retry every second for ten minutes of outage
    for _ in range(600):
        reach.failed(OSError("connection refused"))
        await trio.sleep(1.0)
    lines = _lines(caplog)
    assert lines[0][0] == logging.WARNING
    assert "cannot reach the engine at tcp://127.0.0.1:9" in lines[0][1] and "RATCHET_ENGINE" in lines[0][1]
    # reminders at 30, 90, 210, 450 s into the outage: 1 + 4 lines, not 600
    assert len(lines) == 5 and all("still cannot reach" in text for _, text in lines[1:])
    assert FIRST_REMINDER == 30.0

    reach.reached()
    reach.reached()
    (level, text) = _lines(caplog)[-1]
    assert level == logging.INFO and "connected to the engine at tcp://127.0.0.1:9" in text
    assert len(_lines(caplog)) == 6


async def test_wait_out_of_reach_counts_one_unbroken_outage(autojump_clock: trio.abc.Clock) -> None:
    reach = Reachability("w", "tcp://127.0.0.1:9", SystemClock(), LOG)
    reach.reached()
    done = trio.Event()

    async def watch() -> None:
        await reach.wait_out_of_reach(10.0)
        done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        reach.failed(OSError("down"))
        await trio.sleep(8.0)
        reach.reached()  # the outage ends before 10 s
        await trio.sleep(5.0)
        assert not done.is_set()
        reach.failed(OSError("down again"))
        started = trio.current_time()
        await done.wait()
        assert trio.current_time() - started == pytest.approx(10.0)
