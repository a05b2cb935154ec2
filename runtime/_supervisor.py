"""OTP supervision on Trio nurseries.

Theory of operation: a :class:`Supervisor` runs as one Trio task that owns a nursery;
each child (an actor or another supervisor) runs in a task of that nursery inside its
own cancel scope. A child never lets an exception into the nursery: its task catches
the failure and posts a :class:`_ChildExit` to the supervisor's event channel. The
supervisor's loop takes events and commands one at a time and applies its strategy:

- ``ONE_FOR_ONE`` restarts the child that exited;
- ``ONE_FOR_ALL`` stops every other child (last started first) and restarts them all;
- ``REST_FOR_ONE`` stops the children started after it and restarts it and them.

Whether an exit leads to a restart depends on the child's :class:`Restart` type
(``PERMANENT`` always, ``TRANSIENT`` only after a crash, ``TEMPORARY`` never). Each
restart is checked against a :class:`RestartIntensity` on the runtime clock; one too
many and the supervisor stops all its children and raises
:class:`SupervisorEscalation`, which its own parent sees as the crash of a child.

Stopping a child is graceful first (an actor finishes its current message and runs
``on_stop``; a supervisor stops its children in reverse order) and brutal after the
child's ``shutdown`` seconds: its cancel scope is cancelled. Because every task lives in
a nursery, nothing outlives a stopped supervisor. Every child exit carries the
generation it was started with, so the exit of a child the supervisor stopped on
purpose is recognised as stale and ignored.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import outcome
import trio

from ._actor import Actor
from ._cell import ActorCell, ActorState
from ._errors import ActorDeadError, SupervisorEscalation
from ._intensity import RestartIntensity
from ._ref import LocalActorRef, Reply

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = [
    "ChildInfo",
    "ChildSpec",
    "Restart",
    "Strategy",
    "Supervisor",
    "SupervisorRef",
    "SupervisorSpec",
    "SupervisorStatistics",
]


class Strategy(enum.Enum):
    """Which children a supervisor restarts when one of them exits."""

    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"

    def __repr__(self) -> str:
        return f"Strategy.{self.name}"


class Restart(enum.Enum):
    """When a child is restarted after it exits."""

    PERMANENT = "permanent"
    """Always restarted."""
    TRANSIENT = "transient"
    """Restarted only after a crash, not after a normal stop."""
    TEMPORARY = "temporary"
    """Never restarted."""

    def __repr__(self) -> str:
        return f"Restart.{self.name}"


@dataclass(frozen=True)
class SupervisorSpec:
    """How a supervisor behaves, and the children it starts with.

    Args:
        strategy: see :class:`Strategy`.
        max_restarts: restarts allowed within ``within`` seconds before giving up.
        within: the intensity window, in seconds of runtime clock.
        children: started in order when the supervisor starts.
    """

    strategy: Strategy = Strategy.ONE_FOR_ONE
    max_restarts: int = 3
    within: float = 5.0
    children: Sequence[ChildSpec] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.strategy, Strategy):
            raise TypeError(f"strategy must be a ratchet.runtime.Strategy, got {self.strategy!r}")
        RestartIntensity(self.max_restarts, self.within)  # validates both numbers
        object.__setattr__(self, "children", tuple(self.children))


@dataclass(frozen=True)
class ChildSpec:
    """One child of a supervisor: what to run, under which name, and its restart policy.

    Args:
        factory: an :class:`Actor` subclass, or a :class:`SupervisorSpec` for a sub-supervisor.
        args: positional arguments for the actor's constructor.
        kwargs: keyword arguments for the actor's constructor.
        name: the registered name; a unique one is made up when omitted.
        restart: see :class:`Restart`.
        shutdown: seconds a graceful stop may take before the child is cancelled;
            0 cancels at once, ``None`` waits as long as it takes.
    """

    factory: type[Actor] | SupervisorSpec
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    restart: Restart = Restart.PERMANENT
    shutdown: float | None = 5.0

    def __post_init__(self) -> None:
        factory = self.factory
        if not isinstance(factory, SupervisorSpec) and not (
            isinstance(factory, type) and issubclass(factory, Actor)
        ):
            raise TypeError(f"child factory must be an Actor subclass or a SupervisorSpec, got {factory!r}")
        if not isinstance(self.restart, Restart):
            raise TypeError(f"restart must be a ratchet.runtime.Restart, got {self.restart!r}")
        if self.shutdown is not None and not self.shutdown >= 0:
            raise ValueError(f"shutdown must be >= 0 seconds or None, got {self.shutdown!r}")
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError(f"child name must be a non-empty string, got {self.name!r}")
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "kwargs", dict(self.kwargs))


@dataclass(frozen=True)
class ChildInfo:
    """What :meth:`SupervisorRef.which_children` reports of one child."""

    name: str
    kind: str
    restart: Restart
    running: bool
    restarts: int


@dataclass(frozen=True)
class SupervisorStatistics:
    """A snapshot of one supervisor's counters."""

    name: str
    strategy: Strategy
    children: int
    running: int
    restarts: int
    state: ActorState


class _Child:
    __slots__ = (
        "cell",
        "done",
        "exited",
        "generation",
        "name",
        "restarts",
        "scope",
        "spec",
        "start_error",
        "sup",
    )

    def __init__(self, spec: ChildSpec, name: str, cell: ActorCell | None, sup: Supervisor | None) -> None:
        self.spec = spec
        self.name = name
        self.cell = cell
        self.sup = sup
        self.generation = 0
        self.exited = -1  # the generation whose exit was last posted to the supervisor
        self.restarts = 0
        self.done: trio.Event | None = None
        self.scope: trio.CancelScope | None = None
        self.start_error: BaseException | None = None

    @property
    def ref(self) -> LocalActorRef | SupervisorRef:
        if self.cell is not None:
            return self.cell.ref
        assert self.sup is not None
        return self.sup.ref

    @property
    def running(self) -> bool:
        return self.done is not None and not self.done.is_set()

    @property
    def exit_pending(self) -> bool:
        """It exited on its own and the supervisor has not handled that yet."""
        return self.exited == self.generation and self.done is not None and self.done.is_set()

    def request_stop(self) -> None:
        if self.cell is not None:
            self.cell.request_stop()
        else:
            assert self.sup is not None
            self.sup.request_stop()

    def finalize(self) -> None:
        if self.cell is not None:
            self.cell.finalize()
        else:
            assert self.sup is not None
            self.sup.finalize()


@dataclass(frozen=True)
class _ChildExit:
    child: _Child
    generation: int
    error: BaseException | None


@dataclass(frozen=True)
class _Command:
    run: Callable[[], Awaitable[Any]]
    reply: Reply


@dataclass(frozen=True)
class _Stop:
    life: int


class _StartedFlag:
    """Wraps a task status to remember whether ``started()`` was called."""

    def __init__(self, status: trio.TaskStatus[None]) -> None:
        self._status = status
        self.called = False

    def started(self, value: None = None) -> None:
        self.called = True
        self._status.started(value)


class Supervisor:
    """A supervisor: starts, watches, restarts and stops its children. Use via its ref."""

    def __init__(self, system: ActorSystem, name: str, spec: SupervisorSpec) -> None:
        self.system = system
        self.name = name
        self.spec = spec
        self.ref = SupervisorRef(self)
        self.state = ActorState.STARTING
        self.restarts = 0
        self._send, self._recv = trio.open_memory_channel[Any](math.inf)
        self._nursery: trio.Nursery | None = None
        self._children: list[_Child] = []
        self._closed = False
        self._life = 0
        try:
            for child_spec in spec.children:
                self._children.append(self._make_child(child_spec))
        except BaseException:
            for child in self._children:
                child.finalize()
            raise

    # -- building children ------------------------------------------------------------

    def _make_child(self, spec: ChildSpec) -> _Child:
        system = self.system
        factory = spec.factory
        if isinstance(factory, SupervisorSpec):
            name = spec.name or system._auto_name("supervisor")
            system._check_name_free(name)
            sup = Supervisor(system, name, factory)
            try:
                system._register(name, sup.ref)
            except BaseException:
                sup.finalize()
                raise
            return _Child(spec, name, None, sup)
        name = spec.name or system._auto_name(factory.__name__)
        cell = ActorCell(system, name, factory, spec.args, dict(spec.kwargs))
        system._register(name, cell.ref)
        return _Child(spec, name, cell, None)

    # -- running ------------------------------------------------------------------------

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run this supervisor until it is stopped (returns) or gives up (raises)."""
        self._life += 1
        self.state = ActorState.STARTING
        self._intensity = RestartIntensity(self.spec.max_restarts, self.spec.within)
        self.system.runtime.record("start", self.name, "supervisor")
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for child in list(self._children):
                    if not await self._start_unless_sibling_exits(child):
                        break  # the exit is queued: _serve restarts what it must
                self.state = ActorState.RUNNING
                task_status.started()
                await self._serve()
                self.state = ActorState.STOPPING
                await self._stop_all()
                nursery.cancel_scope.cancel()
        except BaseException:
            if self.state is not ActorState.STOPPED:
                self.state = ActorState.RESTARTING
            raise
        finally:
            self._nursery = None
        if self.state is not ActorState.STOPPED:
            self.state = ActorState.STOPPING
        self.system.runtime.record("stop", self.name, "supervisor")

    async def _serve(self) -> None:
        while True:
            item = await self._recv.receive()
            if isinstance(item, _Stop):
                if item.life == self._life:
                    return
                continue  # meant for an earlier life of this supervisor
            if isinstance(item, _ChildExit):
                await self._on_child_exit(item)
            else:
                try:
                    result = await item.run()
                except Exception as exc:
                    item.reply.set(outcome.Error(exc))
                else:
                    item.reply.set(outcome.Value(result))

    async def _start(self, child: _Child) -> None:
        assert self._nursery is not None
        child.generation += 1
        child.done = trio.Event()
        child.start_error = None
        if child.cell is not None and child.cell.state is not ActorState.STARTING:
            child.cell.state = ActorState.RESTARTING
        await self._nursery.start(self._child_main, child, child.generation)

    async def _start_unless_sibling_exits(self, child: _Child) -> bool:
        """Start ``child``; give up (cancelling its start) if a running sibling exits meanwhile.

        A child's ``on_start`` may wait on a sibling started before it (ask it something).
        If that sibling crashes meanwhile, its exit waits in this supervisor's queue, and
        the sibling is restarted only once this start returns, which it never would: the
        sibling it waits on is gone. So a start races the exits of every running sibling;
        when one exits first, the start is abandoned and False returned, and the exit,
        handled next, restarts whatever its strategy says (the abandoned child included:
        it comes after the sibling in start order). A sibling that exited before this
        start began has its exit queued likewise, and the start is not even tried.
        """
        siblings = [c for c in self._children if c is not child]
        if any(c.exit_pending for c in siblings):
            self.system.runtime.record("abandon-start", child.name, f"by {self.name}: a sibling exited")
            return False
        running = [c for c in siblings if c.running]
        if not running:
            await self._start(child)
            return True
        started = False
        async with trio.open_nursery() as race:

            async def watch(sibling: _Child) -> None:
                assert sibling.done is not None
                await sibling.done.wait()
                race.cancel_scope.cancel()

            for sibling in running:
                race.start_soon(watch, sibling)
            await self._start(child)
            started = True
            race.cancel_scope.cancel()
        if not started:
            child.generation += 1  # whatever its abandoned start reports is stale
            self.system.runtime.record("abandon-start", child.name, f"by {self.name}: a sibling exited")
        return started

    async def _child_main(
        self, child: _Child, generation: int, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        flag = _StartedFlag(task_status)
        done = child.done
        assert done is not None
        error: BaseException | None = None
        try:
            with trio.CancelScope() as scope:
                child.scope = scope
                try:
                    if child.cell is not None:
                        await child.cell.run_incarnation(task_status=flag)
                    else:
                        assert child.sup is not None
                        await child.sup.run(task_status=flag)
                except Exception as exc:
                    error = exc
                    if not flag.called:
                        child.start_error = exc
        finally:
            if not flag.called:
                flag.started()
            done.set()
        child.exited = generation
        self._send.send_nowait(_ChildExit(child, generation, error))

    async def _on_child_exit(self, event: _ChildExit) -> None:
        child = event.child
        if event.generation != child.generation or child not in self._children:
            return  # a child we stopped on purpose, or one already replaced
        child.exited = -1  # handled now
        record = self.system.runtime.record
        record("exit", child.name, "normal" if event.error is None else f"crash {type(event.error).__name__}")
        restart = child.spec.restart
        if restart is Restart.TEMPORARY or (restart is Restart.TRANSIENT and event.error is None):
            self._remove(child)
            return
        if not self._intensity.try_restart(self.system.runtime.clock.monotonic()):
            record("escalate", self.name, child.name)
            await self._stop_all()
            raise SupervisorEscalation(
                self.name, child.name, self.spec.max_restarts, self.spec.within
            ) from event.error
        self.restarts += 1
        strategy = self.spec.strategy
        if strategy is Strategy.ONE_FOR_ONE:
            group = [child]
        elif strategy is Strategy.ONE_FOR_ALL:
            group = list(self._children)
        else:
            group = self._children[self._children.index(child) :]
        for sibling in reversed(group):
            if sibling is not child:
                await self._stop(sibling)
        for member in group:
            if member is not child and member.spec.restart is Restart.TEMPORARY:
                self._remove(member)
                continue
            member.restarts += 1
            if member.cell is not None:
                member.cell.restarts += 1
            record("restart", member.name, f"by {self.name}")
            if not await self._start_unless_sibling_exits(member):
                return  # a sibling exited meanwhile; its exit, handled next, restarts the rest

    async def _stop(self, child: _Child) -> None:
        """Stop one child: gracefully, then by cancellation after its shutdown time."""
        child.generation += 1  # its exit is now expected, not a failure
        done = child.done
        if done is None or done.is_set():
            return
        self.system.runtime.record("stopping", child.name, f"by {self.name}")
        shutdown = child.spec.shutdown
        if shutdown == 0:  # brutal kill: no graceful phase at all
            assert child.scope is not None
            child.scope.cancel()
            await done.wait()
            return
        child.request_stop()
        if shutdown is None:
            await done.wait()
            return
        with trio.move_on_after(shutdown):
            await done.wait()
        if not done.is_set():
            assert child.scope is not None
            child.scope.cancel()
            await done.wait()

    async def _stop_all(self) -> None:
        for child in reversed(self._children):
            await self._stop(child)

    def _remove(self, child: _Child) -> None:
        child.generation += 1
        self._children.remove(child)
        child.finalize()

    # -- commands (run inside the supervisor's loop, one at a time) ---------------------

    async def _call(self, run: Callable[[], Awaitable[Any]]) -> Any:
        if self._closed:
            raise ActorDeadError(f"supervisor {self.name!r} is not running")
        reply = Reply()
        self._send.send_nowait(_Command(run, reply))
        return await reply.wait()

    async def _start_child(self, spec: ChildSpec) -> LocalActorRef | SupervisorRef:
        child = self._make_child(spec)
        self._children.append(child)
        await self._start(child)
        if child.start_error is not None:
            error = child.start_error
            self._remove(child)
            raise RuntimeError(
                f"child {child.name!r} of supervisor {self.name!r} failed to start: {error!r}"
            ) from error
        return child.ref

    async def _terminate_child(self, name: str) -> None:
        for child in self._children:
            if child.name == name:
                await self._stop(child)
                self._remove(child)
                return
        raise LookupError(f"supervisor {self.name!r} has no child named {name!r}")

    def request_stop(self) -> None:
        """Ask the supervisor to stop its children (last started first) and return."""
        if not self._closed:
            self._send.send_nowait(_Stop(self._life))

    def finalize(self) -> None:
        """Mark this supervisor and everything under it stopped for good."""
        self._closed = True
        self.state = ActorState.STOPPED
        for child in self._children:
            child.finalize()
        while True:
            try:
                item = self._recv.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            if isinstance(item, _Command):
                item.reply.fail(ActorDeadError(f"supervisor {self.name!r} stopped"))
        self.system._unregister(self.name, self.ref)

    def statistics(self) -> SupervisorStatistics:
        return SupervisorStatistics(
            name=self.name,
            strategy=self.spec.strategy,
            children=len(self._children),
            running=sum(1 for c in self._children if c.running),
            restarts=self.restarts,
            state=self.state,
        )


class SupervisorRef:
    """A handle to a supervisor: add and remove children, read its state."""

    __slots__ = ("_sup",)

    def __init__(self, sup: Supervisor) -> None:
        self._sup = sup

    @property
    def name(self) -> str:
        return self._sup.name

    async def start_child(self, spec: ChildSpec) -> LocalActorRef | SupervisorRef:
        """Start a new child under this supervisor and return its ref.

        Raises:
            NameTakenError: the name is in use.
            RuntimeError: the child failed while starting (it is not kept).
        """
        return await self._sup._call(lambda: self._sup._start_child(spec))

    async def terminate_child(self, name: str) -> None:
        """Stop a child (gracefully, within its shutdown time) and forget it."""
        await self._sup._call(lambda: self._sup._terminate_child(name))

    async def which_children(self) -> list[ChildInfo]:
        """The children in start order."""

        async def info() -> list[ChildInfo]:
            return [
                ChildInfo(
                    name=c.name,
                    kind="actor" if c.cell is not None else "supervisor",
                    restart=c.spec.restart,
                    running=c.running,
                    restarts=c.restarts,
                )
                for c in self._sup._children
            ]

        return await self._sup._call(info)

    def statistics(self) -> SupervisorStatistics:
        """A snapshot of the supervisor's counters."""
        return self._sup.statistics()

    def __repr__(self) -> str:
        return f"<SupervisorRef {self.name!r}>"
