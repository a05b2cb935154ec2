"""The actor system: a root supervisor, a name registry, and the runtime seams.

:func:`open_runtime` binds a :class:`RuntimeContext`, starts the root supervisor in a
nursery and hands back an :class:`ActorSystem`. Leaving the block stops every actor
gracefully (last started first); cancelling it stops them at once. Either way no task
outlives the block, and every ref to an actor of it then answers
:class:`ActorDeadError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from ._actor import Actor
from ._clock import Clock, SystemClock
from ._errors import NameTakenError
from ._groups import single_error
from ._random import RandomSource
from ._ref import LocalActorRef
from ._seams import NetworkSeam, RuntimeContext, StoreSeam, _bind, _unbind
from ._supervisor import (
    ChildSpec,
    Restart,
    Strategy,
    Supervisor,
    SupervisorRef,
    SupervisorSpec,
)
from ._trace import Trace

__all__ = ["ActorSystem", "open_runtime"]


class ActorSystem:
    """A running tree of actors. Made by :func:`open_runtime`.

    Attributes:
        runtime: the seams (clock, random source, network, store, trace).
    """

    def __init__(self, runtime: RuntimeContext) -> None:
        self.runtime = runtime
        self._registry: dict[str, LocalActorRef | SupervisorRef | Any] = {}
        self._name_counters: dict[str, int] = {}
        self._root: Supervisor | None = None

    # -- names ---------------------------------------------------------------------------

    def _auto_name(self, prefix: str) -> str:
        while True:
            n = self._name_counters.get(prefix, 0) + 1
            self._name_counters[prefix] = n
            name = f"{prefix}-{n}"
            if name not in self._registry:
                return name

    def _check_name_free(self, name: str) -> None:
        if name in self._registry:
            raise NameTakenError(
                f"an actor named {name!r} is already running in this runtime; "
                f"names are unique: pick another, or reach it with system.lookup({name!r})"
            )

    def _register(self, name: str, ref: Any) -> None:
        self._check_name_free(name)
        self._registry[name] = ref

    def _unregister(self, name: str, ref: Any) -> None:
        if self._registry.get(name) is ref:
            del self._registry[name]

    def register_ref(self, name: str, ref: Any) -> None:
        """Register a ref that lives elsewhere (e.g. a remote actor) under ``name``.

        Raises:
            NameTakenError: the name is in use.
        """
        self._register(name, ref)

    def unregister_ref(self, name: str, ref: Any) -> None:
        """Drop a registration made with :meth:`register_ref`."""
        self._unregister(name, ref)

    def lookup(self, name: str) -> Any:
        """The ref registered under ``name``.

        Raises:
            LookupError: nothing runs under that name.
        """
        try:
            return self._registry[name]
        except KeyError:
            raise LookupError(f"no actor named {name!r} is running in this runtime") from None

    def names(self) -> list[str]:
        """Every registered name, in registration order."""
        return list(self._registry)

    # -- spawning --------------------------------------------------------------------------

    @property
    def root(self) -> SupervisorRef:
        """The root supervisor (one_for_one unless :func:`open_runtime` says otherwise)."""
        if self._root is None:
            raise RuntimeError("the actor system has not started yet")
        return self._root.ref

    async def start_child(
        self, spec: ChildSpec, *, supervisor: SupervisorRef | None = None
    ) -> LocalActorRef | SupervisorRef:
        """Start ``spec`` under ``supervisor`` (the root by default)."""
        return await (supervisor or self.root).start_child(spec)

    async def spawn(
        self,
        factory: type[Actor],
        *args: Any,
        name: str | None = None,
        restart: Restart = Restart.PERMANENT,
        shutdown: float | None = 5.0,
        supervisor: SupervisorRef | None = None,
        **kwargs: Any,
    ) -> LocalActorRef:
        """Start an actor and return its ref.

        Positional and other keyword arguments go to the actor's constructor; ``name``,
        ``restart``, ``shutdown`` and ``supervisor`` are the runtime's (use
        :meth:`start_child` with a :class:`ChildSpec` if the constructor needs those names).

        Raises:
            NameTakenError: at once, when ``name`` is in use.
        """
        spec = ChildSpec(factory, args, kwargs, name=name, restart=restart, shutdown=shutdown)
        ref = await self.start_child(spec, supervisor=supervisor)
        assert isinstance(ref, LocalActorRef)
        return ref

    async def spawn_supervisor(
        self,
        name: str | None = None,
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        max_restarts: int = 3,
        within: float = 5.0,
        children: tuple[ChildSpec, ...] | list[ChildSpec] = (),
        restart: Restart = Restart.PERMANENT,
        shutdown: float | None = None,
        supervisor: SupervisorRef | None = None,
    ) -> SupervisorRef:
        """Start a supervisor (with ``children``) and return its ref."""
        spec = ChildSpec(
            SupervisorSpec(strategy, max_restarts, within, tuple(children)),
            name=name,
            restart=restart,
            shutdown=shutdown,
        )
        ref = await self.start_child(spec, supervisor=supervisor)
        assert isinstance(ref, SupervisorRef)
        return ref


@asynccontextmanager
async def open_runtime(
    *,
    seed: int | None = None,
    clock: Clock | None = None,
    network: NetworkSeam | None = None,
    store: StoreSeam | None = None,
    trace: Trace | None = None,
    strategy: Strategy = Strategy.ONE_FOR_ONE,
    max_restarts: int = 3,
    within: float = 5.0,
) -> AsyncIterator[ActorSystem]:
    """Run an actor system for the duration of the ``async with`` block.

    Args:
        seed: seeds the runtime's random source (``None``: from the OS; the seed used is
            ``system.runtime.random.seed``).
        clock: the clock seam (default: the system clock).
        network: the network seam, if actors need one.
        store: the store seam, if actors need one.
        trace: a :class:`Trace` to record every message and lifecycle event into.
        strategy: the root supervisor's strategy.
        max_restarts: the root supervisor's restart intensity...
        within: ...over this many seconds.

    Raises:
        SupervisorEscalation: the root supervisor gave up.
    """
    runtime = RuntimeContext(
        clock=clock or SystemClock(),
        random=RandomSource(seed),
        network=network,
        store=store,
        trace=trace,
    )
    runtime.clock.anchor()
    system = ActorSystem(runtime)
    root = Supervisor(system, "root", SupervisorSpec(strategy, max_restarts, within))
    system._root = root
    system._register("root", root.ref)
    token = _bind(runtime)
    try:
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(root.run)
                try:
                    yield system
                finally:
                    root.request_stop()
        except BaseExceptionGroup as group:
            single = single_error(group)
            if single is None:
                raise
            raise single from single.__cause__
    finally:
        root.finalize()
        _unbind(token)
