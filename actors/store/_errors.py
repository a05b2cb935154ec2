"""Errors the store raises.

Two families, as in h11: :class:`MutationRejected` says *the caller* handed the store
something it cannot keep (bad payload, a key that already exists); the others say the
store itself is unavailable or misconfigured.
"""

from __future__ import annotations

__all__ = [
    "MigrationError",
    "MutationRejected",
    "StoreClosedError",
    "StoreError",
    "StoreWriterStopped",
    "StreamBroken",
]


class StoreError(Exception):
    """Base class of every error the store raises."""


class MutationRejected(StoreError, ValueError):
    """A mutation cannot be stored: its input is invalid or it conflicts with committed rows.

    Only the caller that submitted it fails; the other callers in the same batch commit.

    Attributes:
        mutation: the name of the mutation type (``"CreateRun"``, ...).
        reason: what is wrong and what to do about it.
    """

    def __init__(self, mutation: str, reason: str) -> None:
        self.mutation = mutation
        self.reason = reason
        super().__init__(f"{mutation} rejected: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.mutation, self.reason))


class StoreClosedError(StoreError, RuntimeError):
    """The store is closed (or crashed, for the memory backend) and takes no more work."""


class MigrationError(StoreError, RuntimeError):
    """The database schema is newer than this code, or a migration failed to apply."""


class StoreWriterStopped(StoreError, RuntimeError):
    """The StoreWriter stopped before committing this caller's mutations; nothing was written."""


class StreamBroken(StoreError, RuntimeError):
    """An earlier commit of the same stream failed, so this one was not attempted.

    A caller whose commits build on each other (each assumes the ones before it landed)
    submits them as one *stream*; once one fails, none after it is written, so the store
    never holds a later step without the earlier one.
    """
