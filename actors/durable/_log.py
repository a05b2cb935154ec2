"""A durable task's log: what each durable call did, and what a replay gets back.

Theory of operation. A durable task's function runs from the top every time it is
(re)started: after an eviction, a crash, a retry. Each durable call it makes (sleep,
wait for an event or for conditions, read the time, spawn children, wait for them) has
a position, ``seq`` (0, 1, 2, ... in call order), and is an :class:`Entry` in the log.
:func:`step` decides what a call at ``seq`` gets:

* no entry at ``seq`` and ``seq`` is the next one: :class:`Append` - a new entry;
* an entry of the same kind and key: :class:`Replay` with its result if it is
  resolved, :class:`Pending` if not (the task waits again, or is evicted);
* an entry of another kind or key, or a ``seq`` past the end: :class:`Diverged`, which
  names the entry, and the task fails with ``NonDeterminismError``.

A sleep is resolved by time alone (``now >= deadline``), so waking 100k sleepers writes
nothing; other entries are resolved by :func:`resolve` when their event, conditions or
children are done, and that resolution is committed before anyone sees it. Pure: no
I/O, no clock; the DurableTasks actor carries out the decisions.

Negative positions are not durable calls: a gated DAG task (``wait_for``, ``skip_if``,
``cancel_if``) records its gate at :func:`gate_seq` of its attempt, ``-attempt``, in the
same rows (see :mod:`ratchet.actors.durable._gates`). A durable task's calls never read
them (:func:`is_gate_seq`), and a gate never collides with a call.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "GATE_KIND",
    "KINDS",
    "Append",
    "Decision",
    "Diverged",
    "DurableLog",
    "Entry",
    "Pending",
    "Replay",
    "describe",
    "gate_seq",
    "is_gate_seq",
    "resolve",
    "step",
]

KINDS = frozenset({"sleep", "event", "conditions", "now", "spawn", "wait_runs"})

GATE_KIND = "gate"
"""The kind (and key) of a DAG task's gate entry."""


def gate_seq(attempt: int) -> int:
    """The log position of a gated DAG task's gate for ``attempt``: ``-attempt``.

    Durable calls take 0, 1, 2, ...; each attempt of a gated task takes its own
    negative position, so a retry's gate counts its sleeps from its own start.
    """
    return -attempt


def is_gate_seq(seq: int) -> bool:
    """Whether ``seq`` holds a gate (see :func:`gate_seq`) rather than a durable call."""
    return seq < 0


@dataclass(frozen=True)
class Entry:
    """One durable call.

    Attributes:
        seq: its position in the task's calls.
        kind: ``sleep``, ``event``, ``conditions``, ``now``, ``spawn`` or ``wait_runs``.
        key: what identifies the call within its kind (a duration, an event key, a
            workflow name); a replay must ask for the same kind and key.
        request: the call's details (a sleep's deadline, an event's expression, ...).
        created_at: wall time of its first run.
        resolved: whether its result is known.
        result: what the call returns.
    """

    seq: int
    kind: str
    key: str
    request: Any = None
    created_at: float = 0.0
    resolved: bool = False
    result: Any = None

    @property
    def deadline(self) -> float | None:
        """A sleep's wall-clock deadline."""
        if self.kind != "sleep":
            return None
        return float(self.request["until"])


@dataclass
class DurableLog:
    """Every entry of one task, by ``seq``."""

    task_id: str
    entries: dict[int, Entry] = field(default_factory=dict)

    @property
    def next_seq(self) -> int:
        """The position the next new entry takes."""
        return len(self.entries)


@dataclass(frozen=True)
class Append:
    """A new entry: persist it, then start what it waits for (or answer at once)."""

    entry: Entry


@dataclass(frozen=True)
class Replay:
    """The entry is resolved: the call returns ``result`` without doing anything."""

    entry: Entry


@dataclass(frozen=True)
class Pending:
    """The entry exists and still waits."""

    entry: Entry


@dataclass(frozen=True)
class Diverged:
    """The call does not match the log; ``message`` names the entry."""

    message: str


Decision = Append | Replay | Pending | Diverged


def describe(kind: str, key: str) -> str:
    """A call as a reader would write it: ``sleep(10s)``, ``event('order:paid')``."""
    return f"{kind}({key!r})"


def step(log: DurableLog, seq: int, kind: str, key: str, request: Any, now: float) -> Decision:
    """What the call ``kind(key)`` at ``seq`` gets (see the module docstring).

    An appended entry is already resolved when its result is known at once: ``now``
    reads the time, a sleep whose deadline has passed is over.
    """
    if kind not in KINDS:
        return Diverged(f"unknown durable call kind {kind!r}")
    entry = log.entries.get(seq)
    if entry is None:
        if seq != log.next_seq:
            return Diverged(
                f"the replay asked for entry {seq} ({describe(kind, key)}) but the log has "
                f"{log.next_seq} entries; durable calls must be made one at a time, in the same order"
            )
        new = Entry(seq, kind, key, request, now)
        if kind == "now":
            new = replace(new, resolved=True, result=now)
        elif kind == "sleep" and now >= float(request["until"]):
            new = replace(new, resolved=True)
        return Append(new)
    if (entry.kind, entry.key) != (kind, key):
        return Diverged(
            f"entry {seq} of the log is {describe(entry.kind, entry.key)} but the replay asked for "
            f"{describe(kind, key)}; a durable task must make the same calls in the same order on every run"
        )
    if entry.resolved:
        return Replay(entry)
    if entry.kind == "sleep" and now >= float(entry.request["until"]):
        return Replay(replace(entry, resolved=True))
    return Pending(entry)


def resolve(log: DurableLog, seq: int, result: Any) -> Entry | None:
    """Record the result of entry ``seq``; returns it (None if unknown or resolved already)."""
    entry = log.entries.get(seq)
    if entry is None or entry.resolved:
        return None
    done = replace(entry, resolved=True, result=result)
    log.entries[seq] = done
    return done


def append(log: DurableLog, entry: Entry) -> None:
    """Add an entry that :func:`step` decided to append (once it is committed)."""
    log.entries[entry.seq] = entry
