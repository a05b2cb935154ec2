"""The Ratchet actor runtime: Ray-style actors under OTP supervision, on Trio.

Define an actor as a subclass of :class:`Actor`; spawn it in an :func:`open_runtime`
block to get a ref; ``await ref.method.ask(...)`` calls it and waits,
``ref.method.tell(...)`` sends without waiting. Supervisors (:class:`ChildSpec`,
:class:`SupervisorSpec`) restart crashed actors with bounded intensity. Actors read
time, randomness, network and store only through the runtime's seams
(:class:`RuntimeContext`), which is what lets a simulation replay them exactly.
"""

from ._actor import Actor as Actor
from ._actor import ActorContext as ActorContext
from ._actor import Timer as Timer
from ._actor import concurrent as concurrent
from ._cell import ActorState as ActorState
from ._cell import ActorStatistics as ActorStatistics
from ._clock import Clock as Clock
from ._clock import FixedEpochClock as FixedEpochClock
from ._clock import SystemClock as SystemClock
from ._errors import ActorDeadError as ActorDeadError
from ._errors import ActorError as ActorError
from ._errors import AskLostError as AskLostError
from ._errors import AskTimeout as AskTimeout
from ._errors import NameTakenError as NameTakenError
from ._errors import RuntimeErrorBase as RuntimeErrorBase
from ._errors import SupervisorEscalation as SupervisorEscalation
from ._intensity import RestartIntensity as RestartIntensity
from ._random import RandomSource as RandomSource
from ._ref import ActorRef as ActorRef
from ._ref import LocalActorRef as LocalActorRef
from ._ref import MethodRef as MethodRef
from ._scheduler_seed import run_deterministic as run_deterministic
from ._scheduler_seed import seed_trio_scheduler as seed_trio_scheduler
from ._seams import NetworkSeam as NetworkSeam
from ._seams import RuntimeContext as RuntimeContext
from ._seams import StoreSeam as StoreSeam
from ._seams import current_runtime as current_runtime
from ._supervisor import ChildInfo as ChildInfo
from ._supervisor import ChildSpec as ChildSpec
from ._supervisor import Restart as Restart
from ._supervisor import Strategy as Strategy
from ._supervisor import SupervisorRef as SupervisorRef
from ._supervisor import SupervisorSpec as SupervisorSpec
from ._supervisor import SupervisorStatistics as SupervisorStatistics
from ._system import ActorSystem as ActorSystem
from ._system import open_runtime as open_runtime
from ._trace import Trace as Trace
from ._trace import TraceEvent as TraceEvent

__all__ = [
    "Actor",
    "ActorContext",
    "ActorDeadError",
    "ActorError",
    "ActorRef",
    "ActorState",
    "ActorStatistics",
    "ActorSystem",
    "AskLostError",
    "AskTimeout",
    "ChildInfo",
    "ChildSpec",
    "Clock",
    "FixedEpochClock",
    "LocalActorRef",
    "MethodRef",
    "NameTakenError",
    "NetworkSeam",
    "RandomSource",
    "Restart",
    "RestartIntensity",
    "RuntimeContext",
    "RuntimeErrorBase",
    "StoreSeam",
    "Strategy",
    "SupervisorEscalation",
    "SupervisorRef",
    "SupervisorSpec",
    "SupervisorStatistics",
    "SystemClock",
    "Timer",
    "Trace",
    "TraceEvent",
    "concurrent",
    "current_runtime",
    "open_runtime",
    "run_deterministic",
    "seed_trio_scheduler",
]
