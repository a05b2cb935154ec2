"""Whether a worker reaches its engine, told to its operator without a flood of log lines.

The worker reports every call to the engine here: :meth:`Reachability.failed` when the
engine could not be reached (or did not answer), :meth:`Reachability.reached` when it
answered. The first failure of an outage logs a WARNING at once, naming the address and
what to check; while the outage lasts a reminder follows at a doubling interval
(:data:`FIRST_REMINDER`, twice that, ... up to :data:`MAX_REMINDER`). The first answer
after an outage logs at INFO: "connected" the first time, "reached again" later.
"""

from __future__ import annotations

import logging
import math

import trio

from ratchet.runtime import Clock

from .._contract.wire_values import bounded_text, safe_str

__all__ = ["FIRST_REMINDER", "MAX_REMINDER", "Reachability"]

FIRST_REMINDER = 30.0
"""Seconds into an outage before the first reminder that the engine is still out of reach."""
MAX_REMINDER = 600.0
"""The longest interval between two reminders."""


class Reachability:
    """One worker's view of whether its engine answers.

    Args:
        worker: the worker's name, for log lines.
        engine: the engine's address, for log lines.
        clock: the runtime's clock.
        log: the worker's logger.
    """

    def __init__(self, worker: str, engine: str, clock: Clock, log: logging.Logger) -> None:
        self.worker = worker
        self.engine = engine
        self.connected = False  # reached at least once
        self.lost_at: float | None = None  # when the current outage began
        self._clock = clock
        self._log = log
        self._remind_at = math.inf
        self._interval = FIRST_REMINDER
        self._changed = trio.Event()

    def failed(self, error: BaseException) -> None:
        """A call could not reach the engine (or got no answer in time)."""
        now = self._clock.monotonic()
        if self.lost_at is None:
            self.lost_at = now
            self._interval = FIRST_REMINDER
            self._remind_at = now + self._interval
            self._changed.set()
            self._changed = trio.Event()
            check = (
                "is the engine running and listening there, and does RATCHET_ENGINE name that address?"
                if not self.connected
                else "its results wait here until it is back"
            )
            self._log.warning(
                "worker %r cannot reach the engine at %s (%s); retrying; %s",
                self.worker,
                self.engine,
                bounded_text(safe_str(error), 300),
                check,
            )
        elif now >= self._remind_at:
            self._log.warning(
                "worker %r still cannot reach the engine at %s after %.0fs; retrying",
                self.worker,
                self.engine,
                now - self.lost_at,
            )
            self._interval = min(MAX_REMINDER, self._interval * 2)
            self._remind_at = now + self._interval

    def reached(self) -> None:
        """The engine answered a call."""
        if self.lost_at is None and self.connected:
            return
        if not self.connected:
            self._log.info("worker %r connected to the engine at %s", self.worker, self.engine)
        else:
            assert self.lost_at is not None
            self._log.info(
                "worker %r reached the engine at %s again after %.0fs",
                self.worker,
                self.engine,
                self._clock.monotonic() - self.lost_at,
            )
        self.connected = True
        self.lost_at = None
        self._remind_at = math.inf
        self._changed.set()
        self._changed = trio.Event()

    async def wait_out_of_reach(self, seconds: float) -> None:
        """Return once the engine has been out of reach for ``seconds`` without a break."""
        while True:
            changed = self._changed
            lost_at = self.lost_at
            if lost_at is not None and self._clock.monotonic() >= lost_at + seconds:
                return
            with trio.move_on_at(math.inf if lost_at is None else lost_at + seconds):
                await changed.wait()
