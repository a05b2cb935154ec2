"""The clock seam: monotonic time from Trio, wall time derived from it.

Engine and SDK code never read the system clock directly. They ask the runtime's
:class:`Clock`, whose monotonic reading is :func:`trio.current_time` and whose wall
time is an epoch anchor plus the monotonic time elapsed since the anchor was taken.
Under :class:`trio.testing.MockClock` both readings are virtual, so a simulation can
jump the clock, and two runs with the same seed read the same times.
"""

from __future__ import annotations

import datetime as _dt
import time as _time
from dataclasses import dataclass

import trio

__all__ = ["Clock", "FixedEpochClock", "SystemClock"]


class Clock:
    """Time for actors: monotonic seconds, wall time, and sleeping.

    The wall time is anchored once, when the clock is bound to a Trio run, so it moves
    exactly as the monotonic clock does (no NTP steps mid-run) and a mocked Trio clock
    moves it too.

    Args:
        epoch: the wall time (seconds since the Unix epoch, UTC) at the moment the
            clock is anchored; ``None`` reads the system clock once at anchoring.
    """

    def __init__(self, epoch: float | None = None) -> None:
        self._epoch = epoch
        self._anchor_wall: float | None = None
        self._anchor_mono = 0.0

    def anchor(self) -> None:
        """Tie wall time to Trio's clock now (the runtime does this when it opens).

        Anchoring happens once: a clock shared by successive runtimes (an engine restarted
        inside one simulation) keeps moving forward instead of jumping back to its epoch.
        """
        if self._anchor_wall is None:
            self._anchor_mono = trio.current_time()
            self._anchor_wall = _time.time() if self._epoch is None else self._epoch

    def monotonic(self) -> float:
        """Seconds on Trio's clock; only differences are meaningful."""
        return trio.current_time()

    def time(self) -> float:
        """Wall time in seconds since the Unix epoch (UTC), derived from the monotonic clock."""
        if self._anchor_wall is None:
            self.anchor()
        assert self._anchor_wall is not None
        return self._anchor_wall + (trio.current_time() - self._anchor_mono)

    def now(self) -> _dt.datetime:
        """Wall time as an aware UTC datetime."""
        return _dt.datetime.fromtimestamp(self.time(), tz=_dt.UTC)

    def deadline_for_wall(self, when: float) -> float:
        """The monotonic deadline at which the wall clock will read ``when``."""
        return self.monotonic() + (when - self.time())

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of runtime time (virtual under a mock clock)."""
        await trio.sleep(max(0.0, seconds))

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until the monotonic clock reads ``deadline``."""
        await trio.sleep_until(deadline)


class SystemClock(Clock):
    """The production clock: wall time anchored on the system clock at first use."""

    def __init__(self) -> None:
        super().__init__(epoch=None)


class FixedEpochClock(Clock):
    """A clock whose wall time starts at a fixed epoch, for simulations and tests.

    Args:
        epoch: wall time in seconds since the Unix epoch at anchoring;
            the default is 2030-01-01T00:00:00Z.
    """

    def __init__(self, epoch: float = 1_893_456_000.0) -> None:
        super().__init__(epoch=epoch)


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock, with a helper to say how far off it is."""

    at: float

    def remaining(self, clock: Clock) -> float:
        return max(0.0, self.at - clock.monotonic())
