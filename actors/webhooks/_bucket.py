"""A token bucket: the rate limit of one webhook, pure and clocked by its caller.

The bucket holds up to ``burst`` tokens and gains ``rate`` tokens a second; a request
takes one token or is refused. So in any interval of ``d`` seconds at most
``burst + rate * d`` requests are admitted, and a steady sender at or under ``rate`` is
never refused. Time comes in as an argument (the runtime's monotonic clock), so the
bucket runs the same under a mock clock and in property tests; a reading earlier than
the last one adds nothing rather than taking tokens back.
"""

from __future__ import annotations

import math

__all__ = ["TokenBucket"]

# A request retried exactly when retry_after said must be admitted, although floating
# point may leave the bucket a hair short of one token then.
_EPSILON = 1e-9


class TokenBucket:
    """At most ``burst`` requests at once, and ``rate`` a second over time.

    Args:
        rate: tokens gained per second (> 0).
        burst: tokens held at most, and at the start (>= 1).
        now: the clock's reading at creation.

    Raises:
        ValueError: ``rate`` or ``burst`` out of range, or ``now`` not finite.
    """

    __slots__ = ("_tokens", "_updated", "burst", "rate")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
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

    def take(self, now: float) -> bool:
        """Take a token at ``now``: True if the request is admitted, False if refused."""
        self._refill(now)
        if self._tokens + _EPSILON < 1.0:
            return False
        self._tokens = max(0.0, self._tokens - 1.0)
        return True

    def retry_after(self, now: float) -> float:
        """Seconds from ``now`` until :meth:`take` would admit a request (0 if it would now)."""
        self._refill(now)
        # a reading from before the last one waits until then first: nothing refills before it
        return max(0.0, self._updated - now) + max(0.0, (1.0 - self._tokens) / self.rate)
