"""Assembling the engine: its supervision tree, on any actor system and store.

The engine is one ``rest_for_one`` supervisor whose children start in dependency order:

    engine (rest_for_one)
    ├── store-writer        group commit
    ├── timers              retries, timeouts
    ├── tenants (one_for_one)
    │   └── tenant:<id> (rest_for_one)   one cell per tenant:
    │       ├── scheduler   ready queues and worker slots
    │       ├── dispatcher  worker sessions and heartbeats
    │       ├── coordinator every active run's state machine
    │       ├── triggers    events and filters, event waits, crons, schedules
    │       ├── durable     durable tasks' logs and waits
    │       └── gateway     the API for workers and clients
    ├── auth                sign-in, API tokens, tenants; starts tenants' cells
    ├── object-sweeper      with an object store: deletes objects no row references
    └── api                 with ``http``: the REST API (hypercorn on this Trio loop)

``rest_for_one`` because each actor depends on those before it: if the scheduler
crashes, its queues are gone, so the dispatcher, coordinator and gateway restart after
it and the coordinator rebuilds the queues from the store. A tenant's cell holds every
actor that keeps that tenant's state, each reading and writing only that tenant's rows,
so tenants are apart by construction, and one tenant's crash restarts its cell alone. The same tree runs in a
``ratchet engine`` process over nng, embedded in an application, and in the simulation.

Each child runs under its name in :mod:`ratchet.actors._names`; each actor's class
docstring lists the messages it receives and who sends them, which is the route a
request takes through the tree (refs are untyped, so the docstrings are the map).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from ratchet._contract.protocol import DEFAULT_MAX_PAYLOAD_BYTES
from ratchet.runtime import ActorRef, ActorSystem, ChildSpec, Strategy, SupervisorRef, SupervisorSpec

from . import _names as names
from .api import ApiServer, EngineBackend, create_app
from .auth import Authority, Role, TokenBook, WireGuard
from .durable._tasks import DurableTasks
from .gateway._gateway import Gateway
from .runs._coordinator import RunCoordinator
from .scheduling._dispatcher import Dispatcher
from .scheduling._scheduler import QueueScheduler
from .store import EnsureTenant, Mutation, MutationRejected, ObjectSweeper, Store, StoreWriter, commit
from .timers._timers import Timers
from .triggers._triggers import Triggers
from .webhooks import Webhooks, derive_key

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "DEFAULT_TENANT",
    "MAX_PAYLOAD_LIMIT",
    "Engine",
    "EngineOptions",
    "engine_children",
    "engine_webhooks",
    "ensure_tenant",
    "open_engine",
    "tenant_cell",
]

DEFAULT_TENANT = names.DEFAULT_TENANT


MAX_PAYLOAD_LIMIT = 256 * 1024 * 1024
"""The highest ``max_payload_bytes`` allowed: a bigger payload belongs in a blob store,
passed by reference (and both SQL backends refuse values over 1 GB, which JSON escaping
of a large payload could reach)."""


def _knob(default: Any, help: str, *, unit: str = "") -> Any:
    """A field of :class:`EngineOptions`, with what ``ratchet engine --help`` says of it."""
    return field(default=default, metadata={"help": help, "unit": unit})


@dataclass(frozen=True)
class EngineOptions:
    """Knobs of one engine; each is also a ``ratchet engine`` flag and a ``RATCHET_*`` variable.

    Every value is checked when the options are made, so a bad one fails before anything
    starts, with a message that names it.

    Attributes:
        tenant: the engine's first tenant, made on first start; its admins manage tenants.
        heartbeat_interval: seconds between worker heartbeats.
        heartbeat_misses: heartbeats a worker may miss before its tasks are reassigned.
        commit_max_batch: the StoreWriter's batch size.
        commit_max_delay: the StoreWriter's linger, in seconds; 0 commits as soon as the writer
            is free (batches still form while a commit runs), the lowest latency at no cost
            in throughput on this machine.
        max_payload_bytes: the largest run input, task output, event payload or durable
            call result accepted, in bytes of msgpack (at most 256 MiB).
        max_restarts: restarts the engine supervisor allows within ``restart_window``.
        restart_window: seconds.
        object_sweep_interval: with an object store: seconds between sweeps that delete
            objects no row references any more.
        object_orphan_age: with an object store: how old (seconds) an unreferenced object
            must be before a sweep deletes it; longer than any commit takes.
    """

    tenant: str = _knob(DEFAULT_TENANT, "the engine's first tenant, made on first start")
    heartbeat_interval: float = _knob(1.0, "time between worker heartbeats", unit="duration")
    heartbeat_misses: int = _knob(5, "heartbeats a worker may miss before its tasks are reassigned")
    commit_max_batch: int = _knob(2000, "most mutations committed in one transaction")
    commit_max_delay: float = _knob(
        0.0, "how long a commit waits for more work (0: commit as soon as the store is free)", unit="duration"
    )
    max_payload_bytes: int = _knob(
        DEFAULT_MAX_PAYLOAD_BYTES,
        "largest run input, task output or event payload accepted (at most 256MiB)",
        unit="bytes",
    )
    max_restarts: int = _knob(10, "engine restarts allowed within --restart-window before it gives up")
    restart_window: float = _knob(60.0, "the window --max-restarts counts in", unit="duration")
    object_sweep_interval: float = _knob(
        600.0, "with --objects-dir: time between sweeps for objects no row references", unit="duration"
    )
    object_orphan_age: float = _knob(
        3600.0,
        "with --objects-dir: how old an object no row references must be before a sweep deletes it",
        unit="duration",
    )

    def __post_init__(self) -> None:
        _text(self, "tenant", max_length=200)
        _seconds(self, "heartbeat_interval", above=0.0, at_most=3600.0)
        _count(self, "heartbeat_misses", least=1)
        _count(self, "commit_max_batch", least=1, most=1_000_000)
        _seconds(self, "commit_max_delay", least=0.0, at_most=10.0)
        _payload_limit(self)
        _count(self, "max_restarts", least=0)
        _seconds(self, "restart_window", above=0.0)
        _seconds(self, "object_sweep_interval", least=1.0)
        _seconds(self, "object_orphan_age", least=1.0)


def _bad(name: str, want: str, value: Any, advice: str = "") -> ValueError:
    return ValueError(f"EngineOptions.{name} must be {want}, got {value!r}{advice}")


def _text(options: EngineOptions, name: str, *, max_length: int) -> None:
    value = getattr(options, name)
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise _bad(name, f"a non-empty name of at most {max_length} characters", value)
    if not value.isprintable() or value != value.strip():
        raise _bad(name, "printable, without leading or trailing spaces", value)


def _count(options: EngineOptions, name: str, *, least: int, most: int | None = None) -> None:
    value = getattr(options, name)
    span = f"an integer >= {least}" + (f" and <= {most}" if most is not None else "")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, span, value)
    if value < least or (most is not None and value > most):
        raise _bad(name, span, value)


def _payload_limit(options: EngineOptions) -> None:
    value = options.max_payload_bytes
    want = f"a number of bytes from 1024 (1KiB) to {MAX_PAYLOAD_LIMIT} (256MiB)"
    if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
        raise _bad("max_payload_bytes", want, value)
    if value > MAX_PAYLOAD_LIMIT:
        advice = "; keep bigger data in a blob store and pass a reference to it instead"
        raise _bad("max_payload_bytes", want, value, advice)


def _seconds(
    options: EngineOptions,
    name: str,
    *,
    least: float | None = None,
    above: float | None = None,
    at_most: float | None = None,
) -> None:
    value = getattr(options, name)
    bounds = [f">= {least:g}" if least is not None else f"> {above:g}"]
    if at_most is not None:
        bounds.append(f"<= {at_most:g}")
    want = f"a finite number of seconds {' and '.join(bounds)}"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(name, want, value)
    if (least is not None and value < least) or (above is not None and value <= above):
        raise _bad(name, want, value)
    if at_most is not None and value > at_most:
        raise _bad(name, want, value)


def tenant_cell(
    store: Store, options: EngineOptions, tenant: str, *, node: Any = None, webhooks: Webhooks | None = None
) -> ChildSpec:
    """The supervisor over one tenant's actors, in start order (``webhooks``: the engine's service)."""

    def scoped(name: str) -> str:
        return names.scoped(name, tenant)

    cell = [
        ChildSpec(QueueScheduler, kwargs={"store": store, "tenant_id": tenant}, name=scoped(names.SCHEDULER)),
        ChildSpec(
            Dispatcher,
            kwargs={
                "tenant_id": tenant,
                "heartbeat_interval": options.heartbeat_interval,
                "heartbeat_misses": options.heartbeat_misses,
            },
            name=scoped(names.DISPATCHER),
        ),
        ChildSpec(RunCoordinator, (store,), {"tenant_id": tenant}, name=scoped(names.COORDINATOR)),
        ChildSpec(Triggers, (store,), {"tenant_id": tenant}, name=scoped(names.TRIGGERS)),
        ChildSpec(DurableTasks, (store,), {"tenant_id": tenant}, name=scoped(names.DURABLE)),
        ChildSpec(
            Gateway,
            (store,),
            {
                "tenant_id": tenant,
                "node": node,
                "max_payload_bytes": options.max_payload_bytes,
                "webhooks": webhooks,
            },
            name=scoped(names.GATEWAY),
        ),
    ]
    spec = SupervisorSpec(
        strategy=Strategy.REST_FOR_ONE,
        max_restarts=options.max_restarts,
        within=options.restart_window,
        children=cell,
    )
    return ChildSpec(spec, name=names.tenant_cell(tenant))


def engine_children(
    store: Store,
    options: EngineOptions,
    *,
    book: TokenBook,
    node: Any = None,
    server_url: str = "",
    webhooks: Webhooks | None = None,
) -> list[ChildSpec]:
    """The engine's actors, in start order (see the module docstring)."""

    def cell(tenant: str) -> ChildSpec:
        return tenant_cell(store, options, tenant, node=node, webhooks=webhooks)

    tenants = SupervisorSpec(
        strategy=Strategy.ONE_FOR_ONE,
        max_restarts=options.max_restarts,
        within=options.restart_window,
        children=[cell(options.tenant)],
    )
    children = [
        ChildSpec(
            StoreWriter,
            (store,),
            {"max_batch": options.commit_max_batch, "max_delay": options.commit_max_delay},
            name=names.STORE_WRITER,
        ),
        ChildSpec(Timers, name=names.TIMERS),
        ChildSpec(tenants, name=names.TENANTS),
        ChildSpec(
            Authority,
            (store,),
            {"book": book, "home_tenant": options.tenant, "cell": cell, "server_url": server_url},
            name=names.AUTHORITY,
        ),
    ]
    if store.objects is not None:
        # Last: nothing depends on it, so under rest_for_one its crash restarts it alone.
        sweeping = {"interval": options.object_sweep_interval, "orphan_age": options.object_orphan_age}
        children.append(ChildSpec(ObjectSweeper, (store,), sweeping, name=names.OBJECT_SWEEPER))
    return children


async def ensure_tenant(store: Store, system: ActorSystem, tenant: str) -> None:
    """Create the tenant row on first start (tenant id = its name).

    The write is idempotent: engines starting together on a new database all read
    "missing", and all write it. A restart finds the row and writes nothing.
    """
    if await store.get_tenant(tenant) is None:
        try:
            await store.commit([EnsureTenant(id=tenant, name=tenant, at=system.runtime.clock.time())])
        except MutationRejected:
            # Postgres checks a concurrent insert against the name's unique index too, which
            # the upsert's conflict target does not cover: an engine that lost that race
            # finds the winner's row
            if await store.get_tenant(tenant) is None:
                raise


@dataclass
class Engine:
    """A running engine: its supervisor, its first tenant's gateway, and its authority.

    The ``engine`` supervisor receives no messages of the engine's own: only its
    children's exits, on which it restarts the child and every child after it.
    In-process callers reach the engine through :attr:`gateway` (the first tenant's) or
    :meth:`gateway_for`; peers over the wire sign in first (see
    :mod:`ratchet.actors.auth`).
    """

    system: ActorSystem
    supervisor: SupervisorRef
    gateway: ActorRef
    store: Store
    options: EngineOptions
    authority: ActorRef
    book: TokenBook
    #: the webhooks of every tenant (their secrets sealed with a key derived from the engine's)
    webhooks: Webhooks | None = None
    #: where the REST API listens (``["http://127.0.0.1:8080"]``); empty when it serves no HTTP
    api_urls: list[str] = field(default_factory=list)

    def gateway_for(self, tenant_id: str) -> ActorRef:
        """The gateway of ``tenant_id``'s cell.

        Raises:
            LookupError: no such tenant runs in this engine.
        """
        ref: ActorRef = self.system.lookup(names.scoped(names.GATEWAY, tenant_id))
        return ref

    async def issue_token(self, name: str, role: Role = Role.ADMIN, *, tenant_id: str | None = None) -> str:
        """A new API token of ``tenant_id`` (default: the engine's first tenant)."""
        issued = await self.authority.issue_token.ask(tenant_id or self.options.tenant, name, role)
        token: str = issued["token"]
        return token


def engine_webhooks(system: ActorSystem, store: Store, secret_key: bytes) -> Webhooks:
    """The engine's webhooks service: secrets sealed under a key derived from ``secret_key``,
    written through the engine's store writer (looked up per commit, so a restarted writer serves)."""

    async def through_writer(mutations: Sequence[Mutation]) -> list[Any]:
        return await commit(system.lookup(names.STORE_WRITER), mutations)

    key = derive_key(secret_key, "webhook-secrets")
    return Webhooks(store, through_writer, key, system.runtime.clock, system.runtime.random)


@asynccontextmanager
async def open_engine(
    system: ActorSystem,
    store: Store,
    options: EngineOptions | None = None,
    *,
    node: Any = None,
    secret_key: bytes | None = None,
    http: str | None = None,
) -> AsyncIterator[Engine]:
    """Run the engine's actor tree under ``system``'s root for the block's duration.

    Args:
        system: the actor system to run in.
        store: an open store.
        options: see :class:`EngineOptions`.
        node: an :class:`~ratchet.transport.ActorNode` serving the gateway to remote
            workers and clients, who must sign in with an API token (the node is given
            the engine's :class:`~ratchet.actors.auth.WireGuard`); None for an engine
            used only in-process.
        secret_key: the key tokens are signed with (at least 32 bytes); engines sharing a
            database must share it. None: a key drawn from the runtime's randomness,
            good for this run only (tokens it signs die with it).
        http: ``host:port`` to serve the REST API on (port 0: any free port; see
            :attr:`Engine.api_urls`); None serves no HTTP. Its URL is written into the
            tokens the engine mints, where Hatchet's tools look for the server.
    """
    options = options or EngineOptions()
    if secret_key is None:
        secret_key = system.runtime.random.getrandbits(256).to_bytes(32, "big")
    elif len(secret_key) < 32:
        raise ValueError(f"an engine's secret key must be at least 32 bytes, got {len(secret_key)}")
    book = TokenBook(secret_key, store, system.runtime.clock)
    webhooks = engine_webhooks(system, store, secret_key)
    server_url = "" if http is None else f"http://{http}"
    await ensure_tenant(store, system, options.tenant)
    if node is not None:
        node.guard_with(WireGuard(system, book))
    supervisor = await system.spawn_supervisor(
        names.ENGINE,
        strategy=Strategy.REST_FOR_ONE,
        max_restarts=options.max_restarts,
        within=options.restart_window,
        children=engine_children(
            store, options, book=book, node=node, server_url=server_url, webhooks=webhooks
        ),
    )
    try:
        gateway = system.lookup(names.scoped(names.GATEWAY, options.tenant))
        authority = system.lookup(names.AUTHORITY)
        engine = Engine(system, supervisor, gateway, store, options, authority, book, webhooks)
        if http is not None:
            app = create_app(EngineBackend.of(engine))
            await supervisor.start_child(ChildSpec(ApiServer, (app, http), name=names.API))
            engine.api_urls = await system.lookup(names.API).wait_serving.ask()
        yield engine
    finally:
        await system.root.terminate_child(names.ENGINE)
