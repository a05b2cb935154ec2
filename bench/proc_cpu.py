"""CPU time of processes, read from ``/proc`` (Linux): where a benchmark's load goes.

A :class:`CpuMeter` takes a snapshot of named groups of processes and later reports
each group's share of one core over the time in between (100% = one core busy), and the
whole machine's (``machine``: every process, other people's included, out of 100% per
core). Processes that appear in between count from zero; those that end are lost.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

__all__ = ["CpuMeter", "cpu_seconds", "machine_busy_seconds"]

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds ``pid`` used so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()  # the name in parentheses may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy (not idle, not waiting on I/O) so far."""
    with open("/proc/stat") as f:
        cpu = f.readline().split()[1:]
    ticks = [int(t) for t in cpu]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / _TICK


class CpuMeter:
    """Share of a core each group of processes used between :meth:`start` and :meth:`stop`.

    Args:
        groups: group name -> a function giving the group's pids now.
    """

    def __init__(self, groups: dict[str, Callable[[], Iterable[int]]]) -> None:
        self.groups = groups
        self._start: dict[str, dict[int, float]] = {}
        self._machine = 0.0
        self._at = 0.0

    def _sample(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_seconds(pid) for pid in pids()} for name, pids in self.groups.items()}

    def start(self) -> None:
        self._start = self._sample()
        self._machine = machine_busy_seconds()
        self._at = time.perf_counter()

    def stop(self) -> dict[str, float]:
        """Per group, the percent of one core used since :meth:`start`."""
        end = self._sample()
        machine = machine_busy_seconds() - self._machine
        wall = time.perf_counter() - self._at
        out = {
            name: 100 * sum(t - self._start[name].get(pid, 0.0) for pid, t in now.items()) / wall
            for name, now in end.items()
        }
        out["machine"] = 100 * machine / wall
        return out
