"""Rate limits: in any interval of length ``duration``, at most ``limit`` units per key.

Theory of operation. A fixed window (Hatchet's rule) lets a key take ``limit`` units at
the end of one window and ``limit`` more at the start of the next: twice the limit
within one duration. A token bucket does the same after idling. Ratchet promises the
sliding rule instead: for every instant ``t``, the units admitted in ``(t - duration, t]``
never exceed the limit. A :class:`SlidingWindow` keeps the log of admissions of one key
and admits ``units`` at ``now`` only if the log's units in ``(now - duration, now]`` plus
``units`` fit, which is exactly the rule (the busiest window always ends at an admission).

The log stays small: admissions closer together than ``duration / resolution`` share
one entry, stamped with the *latest* of their times. An entry therefore expires a little
later than its oldest admission would, never earlier, so the window can only overcount:
the guarantee holds, and throughput loses at most one resolution step per window. A log
holds at most ``resolution + 1`` entries whatever the traffic.

When a key is full, :meth:`SlidingWindow.next_free` says when enough units expire for a
request, so a waiting task can be woken by a timer at that moment instead of polling.
Times are wall-clock seconds (the runtime's clock seam), so a log persisted by one engine
still means the same instants to the next one after a restart.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "Blocked",
    "Granted",
    "RateLimiter",
    "RateNeed",
    "Refused",
    "SlidingWindow",
]

DEFAULT_RESOLUTION = 256


class SlidingWindow:
    """The admission log of one key.

    Args:
        limit: units allowed in any interval of ``duration`` seconds (at least 1).
        duration: the window, in seconds (> 0).
        resolution: entries per window kept at most (admissions closer together merge).
    """

    def __init__(self, limit: int, duration: float, *, resolution: int = DEFAULT_RESOLUTION) -> None:
        self.limit = limit
        self.duration = duration
        self.resolution = resolution
        # [first admission time, last admission time, units]; expires at last + duration
        self._log: deque[list[float]] = deque()
        self._used = 0

    def configure(self, limit: int, duration: float) -> None:
        """Change the limit or the window; units already admitted keep counting."""
        if limit < 1 or not duration > 0:
            raise ValueError(f"rate limit: limit must be >= 1 and duration > 0, got {limit}, {duration}")
        self.limit = limit
        self.duration = duration

    def _expire(self, now: float) -> None:
        log = self._log
        while log and log[0][1] + self.duration <= now:
            self._used -= int(log.popleft()[2])

    def used(self, now: float) -> int:
        """Units admitted in ``(now - duration, now]``."""
        self._expire(now)
        return self._used

    def try_acquire(self, units: int, now: float) -> bool:
        """Admit ``units`` at ``now`` if the window allows it."""
        self._expire(now)
        if self._used + units > self.limit:
            return False
        self._record(units, now)
        return True

    def _record(self, units: int, now: float) -> None:
        log = self._log
        if log and now - log[-1][0] < self.duration / self.resolution:
            last = log[-1]
            last[1] = max(last[1], now)
            last[2] += units
        else:
            log.append([now, now, units])
        self._used += units

    def next_free(self, units: int, now: float) -> float:
        """The earliest time at or after ``now`` when ``units`` fit, if nothing else is admitted.

        Returns ``inf`` when ``units`` exceeds the limit (they never fit).
        """
        if units > self.limit:
            return math.inf
        self._expire(now)
        excess = self._used + units - self.limit
        if excess <= 0:
            return now
        for _first, last, entry_units in self._log:
            excess -= int(entry_units)
            if excess <= 0:
                return last + self.duration
        return now  # unreachable: the log holds every used unit

    def entries(self) -> list[tuple[float, float, int]]:
        """The log, for persistence: ``(first, last, units)`` oldest first."""
        return [(first, last, int(units)) for first, last, units in self._log]

    def restore(self, entries: Iterable[Sequence[float]]) -> None:
        """Load a persisted log (replacing the current one)."""
        self._log = deque([float(first), float(last), int(units)] for first, last, units in entries)
        self._used = sum(int(e[2]) for e in self._log)

    @property
    def idle(self) -> bool:
        """Nothing is logged (every admission has expired or there were none)."""
        return not self._log


@dataclass(frozen=True, slots=True)
class RateNeed:
    """What one start of a task takes from one key.

    Attributes:
        key: the rate-limit key (a static key, or a dynamic key's value).
        units: units taken.
        limit: for a dynamic key, its limit (evaluated for this run); None for a static key.
        duration: for a dynamic key, its window in seconds; None for a static key.
    """

    key: str
    units: int
    limit: int | None = None
    duration: float | None = None


@dataclass(frozen=True, slots=True)
class Granted:
    """Every key admitted the units (they are now taken)."""

    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Blocked:
    """A key cannot admit now; ``at`` is the earliest time all keys could (``inf``: never as limited)."""

    key: str
    at: float


@dataclass(frozen=True, slots=True)
class Refused:
    """The request can never be admitted as declared (an undeclared static key)."""

    message: str


class RateLimiter:
    """Every key's window, static (declared with ``put``) and dynamic (from task specs)."""

    def __init__(self, *, resolution: int = DEFAULT_RESOLUTION) -> None:
        self.resolution = resolution
        self._static: dict[str, tuple[int, float]] = {}
        self._windows: dict[str, SlidingWindow] = {}
        self.granted = 0
        self.blocked = 0

    def put(self, key: str, limit: int, duration: float) -> None:
        """Declare (or change) a static key."""
        if limit < 1 or not duration > 0:
            raise ValueError(
                f"rate limit {key!r}: limit must be >= 1 and duration > 0, got {limit}, {duration}"
            )
        self._static[key] = (limit, duration)
        window = self._windows.get(key)
        if window is not None:
            window.configure(limit, duration)

    def delete(self, key: str) -> bool:
        """Forget a static key and its window; False if it was not declared.

        Requests that name the key are refused from now on, as for a key never declared.
        """
        self._windows.pop(key, None)
        return self._static.pop(key, None) is not None

    def declared(self, key: str) -> tuple[int, float] | None:
        """A static key's (limit, duration), or None."""
        return self._static.get(key)

    def check(self, needs: Sequence[RateNeed]) -> Refused | None:
        """Whether ``needs`` can ever be admitted as declared (a refusal says why not)."""
        for need in needs:
            if need.limit is None and need.key not in self._static:
                return Refused(
                    f"rate limit key {need.key!r} is not declared; declare it with "
                    f"ratchet.rate_limits.put({need.key!r}, limit, duration)"
                )
            limit = need.limit if need.limit is not None else self._static[need.key][0]
            if need.units > limit:
                return Refused(
                    f"a start takes {need.units} units of rate limit {need.key!r}, over its limit of {limit}"
                )
        return None

    def window(self, need: RateNeed) -> SlidingWindow | None:
        """The window ``need`` draws from (created on first use); None for an undeclared static key."""
        window = self._windows.get(need.key)
        if need.limit is not None:
            assert need.duration is not None
            if window is None:
                window = self._windows[need.key] = SlidingWindow(
                    need.limit, need.duration, resolution=self.resolution
                )
            elif (window.limit, window.duration) != (need.limit, need.duration):
                window.configure(need.limit, need.duration)  # the newest run's value wins
            return window
        declared = self._static.get(need.key)
        if declared is None:
            return None
        if window is None:
            window = self._windows[need.key] = SlidingWindow(*declared, resolution=self.resolution)
        return window

    def try_acquire(self, needs: Sequence[RateNeed], now: float) -> Granted | Blocked | Refused:
        """Take every need's units at ``now``, or none of them."""
        windows = []
        blocked: Blocked | None = None
        for need in needs:
            window = self.window(need)
            if window is None:
                return Refused(f"rate limit key {need.key!r} is not declared")
            windows.append(window)
            if window.used(now) + need.units > window.limit:
                at = window.next_free(need.units, now)
                if blocked is None or at > blocked.at:
                    blocked = Blocked(need.key, at)
        if blocked is not None:
            self.blocked += 1
            return blocked
        for need, window in zip(needs, windows, strict=True):
            window._record(need.units, now)
        self.granted += 1
        return Granted(tuple(need.key for need in needs))

    def available(self, key: str, now: float) -> int:
        """Units the key could admit at ``now`` (0 for an unknown key)."""
        window = self._windows.get(key)
        if window is None:
            declared = self._static.get(key)
            return declared[0] if declared else 0
        return max(0, window.limit - window.used(now))

    def get_window(self, key: str) -> SlidingWindow | None:
        """The key's window, if it has one yet."""
        return self._windows.get(key)

    def restore(self, key: str, limit: int, duration: float, entries: Iterable[Sequence[float]]) -> None:
        """Load a key's persisted log (its limit and window as last known)."""
        declared = self._static.get(key)
        if declared is not None:
            limit, duration = declared
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = SlidingWindow(limit, duration, resolution=self.resolution)
        window.restore(entries)

    def forget_idle(self, now: float) -> list[str]:
        """Drop the windows of dynamic keys with nothing logged; returns their keys."""
        idle = []
        for key, window in self._windows.items():
            if key not in self._static:
                window.used(now)  # expires what has left the window
                if window.idle:
                    idle.append(key)
        for key in idle:
            del self._windows[key]
        return idle

    def __len__(self) -> int:
        return len(self._windows)
