"""``ratchet engine``: the engine as a process, serving workers and clients over nng.

The process opens the store (migrating it), listens at an nng address (over TLS at a
``tls+tcp://`` address, with the certificate its settings hold), serves the
engine's gateway on that endpoint and runs the engine's actor tree until SIGTERM or
SIGINT. Everything durable is in the store, so a killed engine started again picks up
every acknowledged run where the log says it was.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from .._client import DEFAULT_ENGINE_ADDRESS
from .._session import local_token_path, read_local_token
from .engine_cli import EngineSettings
from .secrets_files import default_key_path, load_or_create_key, write_private

__all__ = ["ApiBindError", "default_database_url", "serve_engine"]


class ApiBindError(OSError):
    """The REST API could not listen where it was asked to."""


log = logging.getLogger("ratchet.engine")


def default_database_url(env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """``RATCHET_DATABASE_URL``, else a SQLite file ``ratchet.db`` in the working directory."""
    env = dict(os.environ) if env is None else env
    url = env.get("RATCHET_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{(cwd or Path.cwd()) / 'ratchet.db'}"


def default_listen_address(env: dict[str, str] | None = None) -> str:
    """``RATCHET_ENGINE``, else ``tcp://127.0.0.1:7077``."""
    env = dict(os.environ) if env is None else env
    return env.get("RATCHET_ENGINE") or DEFAULT_ENGINE_ADDRESS


def _payload_home(store: Any) -> str:
    """Where the store keeps payloads, for the start-up line."""
    if store.objects is None:
        return "inside the database"
    return f"over {store.offload_threshold} characters in {store.objects.root}"


async def _keep_local_token(engine: Any, listen: str) -> Path:
    """Make sure this machine's owner has a working admin token for the engine; its file.

    A token already in the file is kept while the engine takes it (same key, row not
    revoked, not expired); otherwise a new one is made and written (see
    :mod:`ratchet._host.secrets_files`).
    """
    from ratchet._errors import AuthenticationError

    path = local_token_path(listen)
    token = read_local_token(listen)
    if token is not None:
        try:
            await engine.book.from_token(token)
            return path
        except AuthenticationError:
            pass
    token = await engine.issue_token(f"local admin ({listen})")
    write_private(path, token + "\n")
    return path


@asynccontextmanager
async def _engine_serving(
    system: Any, store: Any, settings: EngineSettings, node: Any, key: bytes, http: str | None
) -> AsyncIterator[Any]:
    """The engine, its REST API on ``http``; an address the API cannot bind is an :class:`ApiBindError`."""
    from ratchet.actors import open_engine

    started = False
    try:
        async with open_engine(
            system, store, settings.options, node=node, secret_key=key, http=http
        ) as engine:
            started = True
            yield engine
    except RuntimeError as exc:
        if started or http is None or "'api'" not in str(exc):
            raise
        raise ApiBindError(f"cannot serve the REST API at {http}: {exc.__cause__ or exc}") from None


async def serve_engine(
    database: str,
    listen: str,
    settings: EngineSettings | None = None,
    *,
    http: str | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run an engine on ``database`` listening at ``listen`` until SIGTERM/SIGINT.

    Args:
        database: the store's URL.
        listen: the nng address to serve.
        settings: the engine's options and where big payloads go (default: the defaults,
            every payload inside the database).
        http: ``host:port`` for the REST API; None serves none.
    """
    from ratchet.actors import EngineOptions
    from ratchet.actors.store import DirectoryObjectStore, open_store
    from ratchet.runtime import open_runtime
    from ratchet.transport import open_actor_node, open_nng_network

    settings = settings or EngineSettings(EngineOptions(), None, None)
    key = load_or_create_key(settings.secret_key_file or default_key_path())
    store_options: dict[str, Any] = {}
    if settings.objects_dir is not None:
        store_options["objects"] = DirectoryObjectStore(settings.objects_dir)
    if settings.offload_bytes is not None:
        store_options["offload_threshold"] = settings.offload_bytes
    async with open_runtime() as system:
        async with open_store(database, **store_options) as store:
            runtime = system.runtime
            async with open_nng_network(clock=runtime.clock, random=runtime.random) as network:
                endpoint = await network.listen(listen, name="engine", tls=settings.tls)
                async with open_actor_node(system, endpoint) as node:
                    async with _engine_serving(system, store, settings, node, key, http) as engine:
                        token_file = await _keep_local_token(engine, listen)
                        line = (
                            f"listening at {listen}, store {store.backend}, payloads {_payload_home(store)}"
                        )
                        if settings.tls is not None:
                            line += f", {settings.tls.describe()}"
                        # the token's line first: "listening at" is what a watcher waits for
                        print(
                            f"ratchet engine: an admin token for this machine's user is in {token_file}",
                            flush=True,
                        )
                        if engine.api_urls:
                            api = ", ".join(engine.api_urls)
                            print(
                                f"ratchet engine: REST API at {api} (OpenAPI: {api}/openapi.json)", flush=True
                            )
                        log.info("engine %s", line)
                        print(f"ratchet engine: {line}", flush=True)
                        task_status.started()
                        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                            async for _ in signals:
                                break
