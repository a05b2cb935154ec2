"""A token bucket: one tenant's rate (runs, events or webhook calls a second), pure.

Theory of operation. The bucket holds up to ``burst`` tokens and gains ``rate`` tokens a
second; a request for ``n`` units takes ``n`` tokens at once or none. So in any interval
of ``d`` seconds at most ``burst + rate * d`` units are admitted, a steady sender at or
under ``rate`` is never refused, and a refused request changes nothing. Time comes in as
an argument (the runtime's clock, read by the caller), so the bucket runs the same under
the simulation's clock and in property tests; a reading earlier than the last one adds
nothing rather than taking tokens back.
"""

from __future__ import annotations

import math

__all__ = ["TokenBucket"]

# A request retried exactly when retry_after said must be admitted, although floating
# point may leave the bucket a hair short then.
_EPSILON = 1e-9


class TokenBucket:
    """At most ``burst`` units at once, and ``rate`` a second over time.

    Args:
        rate: tokens gained per second (finite, > 0).
        burst: tokens held at most, and at the start (>= 1).
        now: the clock's reading at creation.

    Raises:
        ValueError: ``rate`` or ``burst`` out of range, or ``now`` not finite.
    """

    __slots__ = ("_tokens", "_updated", "burst", "rate")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not math.isfinite(rate)
            or rate <= 0
        ):
            raise ValueError(
                f"TokenBucket: rate must be a finite number of tokens a second > 0, got {rate!r}"
            )
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f"TokenBucket: burst must be an int >= 1, got {burst!r}")
        if not math.isfinite(now):
            raise ValueError(f"TokenBucket: now must be a finite clock reading, got {now!r}")
        self.rate = float(rate)
        self.burst = burst
        self._tokens = float(burst)
        self._updated = now

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def tokens(self, now: float) -> float:
        """Tokens available at ``now``."""
        self._refill(now)
        return self._tokens

    def take(self, units: int, now: float) -> bool:
        """Take ``units`` tokens at ``now``: True if admitted, False (and nothing taken) if not."""
        self._refill(now)
        if self._tokens + _EPSILON < units:
            return False
        self._tokens = max(0.0, self._tokens - units)
        return True

    def retry_after(self, units: int, now: float) -> float | None:
        """Seconds from ``now`` until :meth:`take` of ``units`` would succeed; None if it never can.

        A request for more than ``burst`` units never fits, however long it waits.
        """
        if units > self.burst:
            return None
        self._refill(now)
        # a reading from before the last one waits until then first: nothing refills before it
        return max(0.0, self._updated - now) + max(0.0, (units - self._tokens) / self.rate)

    def resized(self, rate: float, burst: int, now: float) -> TokenBucket:
        """A bucket of the new ``rate`` and ``burst`` that keeps this one's tokens (up to ``burst``)."""
        bucket = TokenBucket(rate, burst, now)
        bucket._tokens = min(float(burst), self.tokens(now))
        return bucket
