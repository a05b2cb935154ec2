"""A trace of everything an actor system did, and its digest.

The determinism test runs the same actor system twice and compares digests; the
simulation prints traces when an invariant breaks. An event is a plain tuple rendered
as one readable line, e.g. ``12.500000 ask counter incr``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

__all__ = ["Trace", "TraceEvent"]


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One thing that happened: when, what kind, to which actor, and details."""

    time: float
    kind: str
    actor: str
    detail: str

    def line(self) -> str:
        return f"{self.time:.6f} {self.kind} {self.actor} {self.detail}".rstrip()


@dataclass
class Trace:
    """An append-only list of :class:`TraceEvent`, with a running digest.

    Args:
        keep: keep the events in memory (for printing); the digest is kept either way.
    """

    keep: bool = True
    events: list[TraceEvent] = field(default_factory=list)
    count: int = 0
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)

    def record(self, time: float, kind: str, actor: str, detail: str = "") -> None:
        event = TraceEvent(time, kind, actor, detail)
        self.count += 1
        self._hash.update(event.line().encode())
        self._hash.update(b"\n")
        if self.keep:
            self.events.append(event)

    def digest(self) -> str:
        """A hex digest of every event recorded so far, in order."""
        return self._hash.hexdigest()

    def render(self, last: int | None = None) -> str:
        """The recorded events as text, one per line (the last ``last`` only, if given)."""
        events = self.events if last is None else self.events[-last:]
        return "\n".join(e.line() for e in events)
