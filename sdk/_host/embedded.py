"""Embedded mode: the engine, its store and some workers inside the client's process.

``Ratchet().embedded("sqlite:///app.db", workers=[...])`` needs no servers: the engine's
actor tree runs in the client's portal thread next to the workers, which reach its
gateway through a local ref. Everything else (durability, retries, timeouts) is the
same engine as ``ratchet engine`` runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ratchet.runtime import ActorRef, open_runtime

from .._worker.worker import WorkerActor, WorkerConfig

__all__ = ["EmbeddedApi", "embedded_engine"]


@dataclass
class EmbeddedApi:
    """The REST API of an embedded engine: where it listens, and an admin token for it.

    The token is signed with a key of this run only: it stops working when the engine stops.
    """

    url: str = ""
    token: str = ""


def embedded_engine(
    database: str,
    workers: Sequence[WorkerConfig],
    options: Any = None,
    *,
    http: str | None = None,
    api: EmbeddedApi | None = None,
) -> Callable[[], AbstractAsyncContextManager[ActorRef]]:
    """A connection setup that runs an engine on ``database`` with ``workers``.

    With ``http``, the engine serves its REST API there too, and ``api`` is filled in
    with its URL and an admin token once it listens.
    """

    @asynccontextmanager
    async def setup() -> AsyncIterator[ActorRef]:
        from ratchet.actors import EngineOptions, open_engine
        from ratchet.actors.store import open_store

        async with open_runtime() as system:
            async with open_store(database) as store:
                async with open_engine(system, store, options or EngineOptions(), http=http) as engine:
                    if http is not None and api is not None:
                        api.url = engine.api_urls[0]
                        api.token = await engine.issue_token("embedded admin")
                    for config in workers:
                        ref = await system.spawn(
                            WorkerActor, config, engine.gateway, name=f"worker:{config.name}"
                        )
                        await ref.wait_registered.ask()
                    yield engine.gateway

    return setup
