"""Faults: what can go wrong in a simulated cluster, as plain data.

Each fault is a frozen value with the virtual time it fires at (``at``, seconds after
the simulation starts) and what it needs; a :class:`FaultPlan` is a tuple of them. A plan
is drawn from the seed (:func:`draw_faults`), written by hand in a test, or generated
and shrunk by Hypothesis (:mod:`ratchet.simulation.strategies`). Every fault heals on
its own: crashed processes restart, partitions and lossy links mend, slow commits speed
up, zombies wake. That is what lets the simulation demand, at the end, that every run
has ended.

Workers are named by their index in the cluster (``0`` .. ``workers - 1``); a crash
replaces the worker at that index with a fresh process. Partitions name parties:
``"engine"``, ``"client"`` or ``"worker-<i>"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ratchet.runtime import RandomSource

__all__ = [
    "ClockJump",
    "CommitFailures",
    "EngineCrash",
    "Fault",
    "FaultPlan",
    "LossyNetwork",
    "Partition",
    "SlowCommits",
    "WorkerCrash",
    "Zombie",
    "draw_faults",
]


def _check_time(kind: str, **values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e6:
            raise ValueError(f"{kind}.{name} must be a number of seconds in [0, 1e6), got {value!r}")


def _check_probability(kind: str, **values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"{kind}.{name} must be a probability in [0, 1], got {value!r}")


def _check_worker(kind: str, worker: int) -> None:
    if isinstance(worker, bool) or not isinstance(worker, int) or worker < 0:
        raise ValueError(f"{kind}.worker must be a worker index >= 0, got {worker!r}")


@dataclass(frozen=True)
class EngineCrash:
    """The engine process dies: uncommitted work is lost; it restarts after ``down_for``.

    ``notify`` says whether peers hear of it at once (the kernel resets its connections)
    or only by missing heartbeats (the machine vanished).
    """

    at: float
    down_for: float = 1.0
    notify: bool = True

    def __post_init__(self) -> None:
        _check_time("EngineCrash", at=self.at, down_for=self.down_for)


@dataclass(frozen=True)
class WorkerCrash:
    """Worker ``worker`` dies mid-whatever; a fresh worker process replaces it after ``down_for``."""

    at: float
    worker: int = 0
    down_for: float = 1.0
    notify: bool = True

    def __post_init__(self) -> None:
        _check_time("WorkerCrash", at=self.at, down_for=self.down_for)
        _check_worker("WorkerCrash", self.worker)


@dataclass(frozen=True)
class Partition:
    """No frame passes between parties ``a`` and ``b`` for ``duration`` seconds."""

    at: float
    a: str
    b: str
    duration: float = 5.0

    def __post_init__(self) -> None:
        _check_time("Partition", at=self.at, duration=self.duration)
        for party in (self.a, self.b):
            if not isinstance(party, str) or not (
                party in ("engine", "client") or (party.startswith("worker-") and party[7:].isdigit())
            ):
                raise ValueError(f"Partition: {party!r} is not 'engine', 'client' or 'worker-<i>'")
        if self.a == self.b:
            raise ValueError(f"Partition: a party cannot be cut off from itself ({self.a!r})")


@dataclass(frozen=True)
class LossyNetwork:
    """Every link loses, duplicates, delays and reorders frames for ``duration`` seconds."""

    at: float
    duration: float = 5.0
    loss: float = 0.05
    duplicate: float = 0.05
    reorder: float = 0.05
    jitter: float = 0.01

    def __post_init__(self) -> None:
        _check_time("LossyNetwork", at=self.at, duration=self.duration, jitter=self.jitter)
        _check_probability("LossyNetwork", loss=self.loss, duplicate=self.duplicate, reorder=self.reorder)
        if self.loss > 0.5:
            raise ValueError("LossyNetwork.loss above 0.5 is a partition; use Partition")


@dataclass(frozen=True)
class CommitFailures:
    """The store rejects its next ``count`` transactions (each rolled back whole)."""

    at: float
    count: int = 1

    def __post_init__(self) -> None:
        _check_time("CommitFailures", at=self.at)
        if isinstance(self.count, bool) or not isinstance(self.count, int) or not 1 <= self.count <= 100:
            raise ValueError(f"CommitFailures.count must be 1 to 100, got {self.count!r}")


@dataclass(frozen=True)
class SlowCommits:
    """Every transaction takes ``delay`` seconds, for ``duration`` seconds."""

    at: float
    duration: float = 5.0
    delay: float = 0.5

    def __post_init__(self) -> None:
        _check_time("SlowCommits", at=self.at, duration=self.duration, delay=self.delay)


@dataclass(frozen=True)
class Zombie:
    """Worker ``worker`` stops heartbeating for ``duration`` seconds but keeps running its tasks."""

    at: float
    worker: int = 0
    duration: float = 8.0

    def __post_init__(self) -> None:
        _check_time("Zombie", at=self.at, duration=self.duration)
        _check_worker("Zombie", self.worker)


@dataclass(frozen=True)
class ClockJump:
    """The whole machine stalls and time leaps ``seconds`` ahead: every timer due meanwhile fires."""

    at: float
    seconds: float = 5.0

    def __post_init__(self) -> None:
        _check_time("ClockJump", at=self.at, seconds=self.seconds)


Fault = (
    EngineCrash | WorkerCrash | Partition | LossyNetwork | CommitFailures | SlowCommits | Zombie | ClockJump
)
FaultPlan = tuple[Fault, ...]

FAULT_KINDS: tuple[type, ...] = (
    EngineCrash,
    WorkerCrash,
    Partition,
    LossyNetwork,
    CommitFailures,
    SlowCommits,
    Zombie,
    ClockJump,
)


def fault_end(fault: Fault) -> float:
    """When the fault has healed (its restart happened, its window closed)."""
    if isinstance(fault, EngineCrash | WorkerCrash):
        return fault.at + fault.down_for
    if isinstance(fault, Partition | LossyNetwork | SlowCommits | Zombie):
        return fault.at + fault.duration
    return fault.at


def draw_faults(random: RandomSource, counts: dict[type, int], *, workers: int, horizon: float) -> FaultPlan:
    """A random plan: ``counts[kind]`` faults of each kind, at times within ``horizon``."""
    parties = ["engine", "client", *(f"worker-{i}" for i in range(workers))]
    plan: list[Fault] = []
    for kind, count in counts.items():
        for _ in range(count):
            at = random.uniform(0, horizon)
            worker = random.randint(0, workers - 1)
            fault: Fault
            if kind is EngineCrash:
                fault = EngineCrash(at, random.uniform(0.1, 3.0), random.random() < 0.7)
            elif kind is WorkerCrash:
                fault = WorkerCrash(at, worker, random.uniform(0.1, 3.0), random.random() < 0.7)
            elif kind is Partition:
                a = random.choice(parties)
                b = random.choice([p for p in parties if p != a])
                fault = Partition(at, a, b, random.uniform(0.5, 10.0))
            elif kind is LossyNetwork:
                fault = LossyNetwork(
                    at,
                    random.uniform(1.0, 10.0),
                    loss=random.uniform(0, 0.2),
                    duplicate=random.uniform(0, 0.2),
                    reorder=random.uniform(0, 0.2),
                    jitter=random.uniform(0, 0.05),
                )
            elif kind is CommitFailures:
                fault = CommitFailures(at, random.randint(1, 3))
            elif kind is SlowCommits:
                fault = SlowCommits(at, random.uniform(1.0, 10.0), random.uniform(0.05, 1.0))
            elif kind is Zombie:
                fault = Zombie(at, worker, random.uniform(1.0, 15.0))
            elif kind is ClockJump:
                fault = ClockJump(at, random.uniform(0.5, 5.0))
            else:
                raise ValueError(f"unknown fault kind {kind!r}")
            plan.append(fault)
    plan.sort(key=lambda f: (f.at, type(f).__name__))
    return tuple(plan)
