"""Restart intensity: at most N restarts in any T seconds, as a pure state machine.

OTP's rule: if more than ``max_restarts`` restarts would happen within ``within``
seconds, the supervisor gives up instead, stops its children and fails. Kept free of
Trio and of any clock so Hypothesis can drive it directly with invented timestamps.
"""

from __future__ import annotations

from collections import deque

__all__ = ["RestartIntensity"]


class RestartIntensity:
    """Counts restarts over a sliding window of the runtime clock.

    Args:
        max_restarts: restarts allowed in any window; 0 means the first failure escalates.
        within: the window's length in seconds (a restart at ``t`` counts against any
            failure before ``t + within``).
    """

    def __init__(self, max_restarts: int, within: float) -> None:
        if max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0, got {max_restarts}")
        if not within > 0:
            raise ValueError(f"within must be a positive number of seconds, got {within}")
        self.max_restarts = max_restarts
        self.within = within
        self._times: deque[float] = deque()

    def try_restart(self, now: float) -> bool:
        """Record a restart at ``now`` if the limit allows it.

        Returns:
            True if the restart may proceed; False if it would be one too many, in
            which case the supervisor must escalate (nothing is recorded).
        """
        times = self._times
        while times and times[0] <= now - self.within:
            times.popleft()
        if len(times) >= self.max_restarts:
            return False
        times.append(now)
        return True

    @property
    def recent(self) -> int:
        """Restarts still inside the window as of the last call."""
        return len(self._times)
