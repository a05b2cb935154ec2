"""Deterministic simulation of a whole Ratchet cluster in one seeded Trio run.

``simulate(seed)`` runs the real engine, real SDK workers and a client as separate
processes on a simulated network under virtual time, with a seeded workload (DAG
workflows; durable tasks that sleep, wait for events and spawn children;
event-triggered workflows and the events pushed to them; crons), injects faults (crashes,
partitions, a lossy network, failing and slow commits, zombie workers, clock jumps),
and checks the named invariants of :data:`INVARIANTS`; the same seed gives the same
trace digest. ``ratchet sim --seed N`` / ``--seeds A..B`` runs it from the command line.

To test your own workflows the same way, see :func:`simulate_workflows` and the
``ratchet_simulation`` pytest fixture.
"""

from ._client import PushRecord as PushRecord
from ._client import SimClient as SimClient
from ._crons import CronShape as CronShape
from ._durables import DurableRun as DurableRun
from ._durables import DurableStep as DurableStep
from ._events import FilterShape as FilterShape
from ._events import Listener as Listener
from ._events import Push as Push
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
from ._world import SimResult as SimResult
from ._world import WorldLog as WorldLog

__all__ = [
    "INVARIANTS",
    "Cancel",
    "ClockJump",
    "CommitFailures",
    "CronShape",
    "DurableRun",
    "DurableStep",
    "EngineCrash",
    "Fault",
    "FaultPlan",
    "FaultSource",
    "FilterShape",
    "Listener",
    "LossyNetwork",
    "Partition",
    "Push",
    "PushRecord",
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
    "WorldLog",
    "Zombie",
    "chaos",
    "draw_faults",
    "simulate",
    "simulate_workflows",
]
