"""The names the engine's actors run under: how one actor finds another.

Refs between actors are looked up by name in the actor system. The actors of one tenant
(scheduler, dispatcher, coordinator, triggers, durable, gateway) form that tenant's *cell*
and run under names :func:`scoped` to it; the store writer, the timers, the tenants'
supervisor and the authority are shared by every tenant. Every name lives here,
once, so a reader follows a ``tell`` to its actor from this table and
:mod:`ratchet.actors._engine`, whose supervision tree starts them in this order.

An actor resolves the peers that start before it once, in ``on_start``: under
``rest_for_one`` a restart of an earlier sibling restarts it too, so those refs never go
stale. A peer that starts *after* it (the coordinator telling the durable actor) is
looked up when it is used, since that peer may restart alone.
"""

from __future__ import annotations

from ratchet._contract.calls import AUTHORITY_ACTOR, GATEWAY_ACTOR

__all__ = [
    "API",
    "AUTHORITY",
    "COORDINATOR",
    "DISPATCHER",
    "DURABLE",
    "ENGINE",
    "GATEWAY",
    "OBJECT_SWEEPER",
    "SCHEDULER",
    "STORE_WRITER",
    "TENANTS",
    "TIMERS",
    "TRIGGERS",
    "scoped",
    "tenant_cell",
]

DEFAULT_TENANT = "default"
"""The tenant an engine creates on its first start; its cell runs under the unscoped names."""


def scoped(name: str, tenant_id: str) -> str:
    """The name ``name`` runs under in ``tenant_id``'s cell: ``name@tenant``, plain for the default tenant."""
    return name if tenant_id == DEFAULT_TENANT else f"{name}@{tenant_id}"


def tenant_cell(tenant_id: str) -> str:
    """The name of the ``rest_for_one`` supervisor over ``tenant_id``'s cell."""
    return f"tenant:{tenant_id}"


ENGINE = "engine"
"""The ``rest_for_one`` supervisor over every actor below."""

STORE_WRITER = "store-writer"
""":class:`~ratchet.actors.store.StoreWriter`: group commit."""

TIMERS = "timers"
""":class:`~ratchet.actors.timers._timers.Timers`: retries, timeouts, sleeps, crons."""

SCHEDULER = "scheduler"
""":class:`~ratchet.actors.scheduling._scheduler.QueueScheduler`: ready queues, worker slots."""

DISPATCHER = "dispatcher"
""":class:`~ratchet.actors.scheduling._dispatcher.Dispatcher`: worker sessions, delivery."""

COORDINATOR = "coordinator"
""":class:`~ratchet.actors.runs._coordinator.RunCoordinator`: every active run's machine."""

TRIGGERS = "triggers"
""":class:`~ratchet.actors.triggers._triggers.Triggers`: events, filters, waits, crons, schedules."""

DURABLE = "durable"
""":class:`~ratchet.actors.durable._tasks.DurableTasks`: durable logs, waits, DAG-task gates."""

TENANTS = "tenants"
"""The ``one_for_one`` supervisor over every tenant's cell (see :func:`tenant_cell`)."""

AUTHORITY = AUTHORITY_ACTOR
""":class:`~ratchet.actors.auth.Authority`: sign-in, API tokens and tenants; starts tenants' cells."""

GATEWAY = GATEWAY_ACTOR
""":class:`~ratchet.actors.gateway._gateway.Gateway`: the API for workers and clients."""

API = "api"
""":class:`~ratchet.actors.api.ApiServer`: the REST API over HTTP, when the engine serves it."""

OBJECT_SWEEPER = "object-sweeper"
""":class:`~ratchet.actors.store.ObjectSweeper`: deletes objects no row references."""
