"""Seeding Trio's scheduler, so that a whole Trio run replays exactly.

Trio shuffles each batch of runnable tasks with a module-level ``random.Random``.
Hypothesis' plugin makes that shuffle deterministic (tasks sorted by creation order,
then shuffled by the seeded generator); we do the same, and seed it. Together with a
:class:`trio.testing.MockClock` and a seeded :class:`~ratchet.runtime.RandomSource`,
the same seed then gives the same interleaving, byte for byte.

This reaches into ``trio._core``: two private names of ``trio._core._run``, and
``MockClock`` taken from where ``trio.testing`` re-exports it, because importing
``trio.testing`` would import pytest (for its ``RaisesGroup``) into every process that
imports Ratchet. All three are checked at import time, so that a Trio upgrade that moves
them fails loudly instead of silently losing determinism.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio
import trio._core
from trio._core import _run as _trio_run

__all__ = ["run_deterministic", "seed_trio_scheduler"]

T = TypeVar("T")

if not hasattr(_trio_run, "_r") or not hasattr(_trio_run, "_ALLOW_DETERMINISTIC_SCHEDULING"):
    raise ImportError(
        "this Trio version no longer exposes the scheduler's random generator "
        "(trio._core._run._r); deterministic simulation needs an update for it"
    )
if not isinstance(getattr(trio._core, "MockClock", None), type):
    raise ImportError(
        "this Trio version no longer has trio._core.MockClock (what trio.testing.MockClock "
        "re-exports); deterministic simulation needs an update for it"
    )
MockClock = trio._core.MockClock


def seed_trio_scheduler(seed: int) -> None:
    """Make Trio's batch shuffling deterministic and seed it (process-wide)."""
    # (ignored below: sets trio's private switch for deterministic scheduling)
    _trio_run._ALLOW_DETERMINISTIC_SCHEDULING = True  # type: ignore[misc]
    _trio_run._r.seed(seed)


def run_deterministic(
    async_fn: Callable[..., Awaitable[T]], *args: Any, seed: int, clock: trio.abc.Clock | None = None
) -> T:
    """``trio.run(async_fn, *args)`` on a seeded scheduler and a virtual clock.

    Args:
        seed: seeds the scheduler (the caller seeds its own random source with it too).
        clock: defaults to ``trio.testing.MockClock(autojump_threshold=0)``: virtual
            time that jumps to the next deadline whenever every task is blocked.
    """
    seed_trio_scheduler(seed)
    return trio.run(async_fn, *args, clock=clock or MockClock(autojump_threshold=0))
