"""Crons that tick every few seconds of virtual time, as data.

A :class:`CronShape` is a workflow declared with ``on_crons=[expression]``, where the
expression is a 6-field cron (seconds first) that ticks every ``every`` seconds from
``first`` to ``last`` seconds after the simulation starts, and never again (the cron
resolution is one second). It relies on the simulation's wall clock: a
:class:`~ratchet.runtime.FixedEpochClock` that reads 2030-01-01T00:00:00Z at virtual time
0, so "``first``-``last``/``every`` seconds of minute 0 of hour 0 of January 1st" are
exactly those moments, and the simulation can end once they are over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import trio

from ratchet._declare.workflow import Workflow
from ratchet.runtime import RandomSource

__all__ = ["CronShape", "build_crons", "cron_name", "draw_crons"]


def cron_name(index: int) -> str:
    """The name of the workflow of cron number ``index``."""
    return f"sim-cron-{index}"


@dataclass(frozen=True)
class CronShape:
    """A cron ticking every ``every`` seconds from ``first`` to ``last`` seconds after the start."""

    every: int = 3
    first: int = 2
    last: int = 20

    def __post_init__(self) -> None:
        for name in ("every", "first", "last"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"CronShape.{name} must be a whole number of seconds, got {value!r}")
        if not 1 <= self.every <= 59 or not 0 <= self.first <= self.last <= 59:
            raise ValueError(f"cron shape {self}: need 1 <= every <= 59 and 0 <= first <= last <= 59")

    @property
    def expression(self) -> str:
        """The 6-field cron expression (seconds first)."""
        # cronsim reads a one-second range "a-a/k" as "a-59/k": name a single tick alone
        seconds = str(self.first) if self.first == self.last else f"{self.first}-{self.last}/{self.every}"
        return f"{seconds} 0 0 1 1 *"

    def ticks(self) -> list[int]:
        """The ticks, in virtual seconds after the start."""
        return list(range(self.first, self.last + 1, self.every))


async def _tick(input: Any, ctx: Any) -> dict[str, Any]:
    await trio.sleep(0.05)
    return {"cron": (input or {}).get("cron")}


def build_crons(crons: tuple[CronShape, ...]) -> list[Workflow]:
    """One workflow per cron, declared with ``on_crons`` and its number as ``cron_input``."""
    out = []
    for i, shape in enumerate(crons):
        wf = Workflow(
            None, cron_name(i), on_crons=[shape.expression], cron_input={"cron": i}, input_validator=dict
        )
        wf.task(name="tick", execution_timeout=5.0, schedule_timeout=3600.0)(_tick)
        out.append(wf)
    return out


def draw_crons(random: RandomSource, *, count: int, horizon: float) -> tuple[CronShape, ...]:
    """``count`` crons ticking every 2 to 5 seconds within ``horizon`` (and the first minute)."""
    out = []
    for _ in range(count):
        last = int(min(59, max(1, horizon)))
        first = random.randint(1, max(1, last // 3))
        out.append(CronShape(random.randint(2, 5), first, random.randint(first, last)))
    return tuple(out)
