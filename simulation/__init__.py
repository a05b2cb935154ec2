"""Deterministic simulation of a whole Ratchet cluster in one seeded Trio run.

``simulate(seed)`` runs the real engine, real SDK workers and a client as separate
processes on a simulated network under virtual time, injects faults (crashes,
partitions, a lossy network, failing and slow commits, zombie workers, clock jumps),
and checks the named invariants of :data:`INVARIANTS`; the same seed gives the same
trace digest. ``ratchet sim --seed N`` / ``--seeds A..B`` runs it from the command line.

To test your own workflows the same way, see :func:`simulate_workflows` and the
``ratchet_simulation`` pytest fixture.
"""

from ._faults import ClockJump as ClockJump
from ._faults import CommitFailures as CommitFailures
from ._faults import EngineCrash as EngineCrash
from ._faults import Fault as Fault
from ._faults import FaultPlan as FaultPlan
from ._faults import LossyNetwork as LossyNetwork
from ._faults import Partition as Partition
from ._faults import SlowCommits as SlowCommits
from ._faults import WorkerCrash as WorkerCrash
from ._faults import Zombie as Zombie
from ._faults import draw_faults as draw_faults
from ._harness import FaultSource as FaultSource
from ._harness import SimulationRunner as SimulationRunner
from ._harness import chaos as chaos
from ._harness import simulate_workflows as simulate_workflows
from ._invariants import INVARIANTS as INVARIANTS
from ._simulate import SimConfig as SimConfig
from ._simulate import simulate as simulate
from ._workload import Cancel as Cancel
from ._workload import TaskShape as TaskShape
from ._workload import Trigger as Trigger
from ._workload import WorkflowShape as WorkflowShape
from ._workload import Workload as Workload
from ._world import SimClient as SimClient
from ._world import SimResult as SimResult

__all__ = [
    "INVARIANTS",
    "Cancel",
    "ClockJump",
    "CommitFailures",
    "EngineCrash",
    "Fault",
    "FaultPlan",
    "FaultSource",
    "LossyNetwork",
    "Partition",
    "SimClient",
    "SimConfig",
    "SimResult",
    "SimulationRunner",
    "SlowCommits",
    "TaskShape",
    "Trigger",
    "WorkerCrash",
    "WorkflowShape",
    "Workload",
    "Zombie",
    "chaos",
    "draw_faults",
    "simulate",
    "simulate_workflows",
]
