"""Serving the API: hypercorn's Trio worker, as a function and as an actor of the engine's tree.

:func:`serve_api` runs :func:`hypercorn.trio.serve` on the running Trio loop, so the
routes ask the engine's actors directly, in the same process and the same loop.
:class:`ApiServer` wraps it as an actor, so the engine's supervisor starts it after the
gateway, restarts it if it crashes, and stops it with the engine.
"""

from __future__ import annotations

import logging
from functools import partial

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from hypercorn.typing import Framework

from ratchet.runtime import Actor, concurrent

__all__ = ["ApiServer", "api_config", "serve_api"]

log = logging.getLogger("ratchet.api")

#: Seconds a stopping server lets requests in flight finish.
GRACEFUL_TIMEOUT = 2.0


def api_config(bind: str, *, access_log: bool = False) -> Config:
    """Hypercorn's settings for the API on ``bind`` (``host:port``; port 0 picks a free one).

    Args:
        bind: where to listen.
        access_log: log each request to the ``ratchet.api`` logger (off by default: a
            busy API would flood the engine's output).

    Raises:
        ValueError: ``bind`` is not ``host:port``.
    """
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"API bind address {bind!r} must be host:port, as in 127.0.0.1:8080")
    config = Config()
    config.bind = [bind]
    config.accesslog = log if access_log else None
    config.errorlog = log
    config.graceful_timeout = GRACEFUL_TIMEOUT
    return config


async def serve_api(
    app: Framework,
    bind: str,
    *,
    access_log: bool = False,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``bind`` until cancelled; ``nursery.start`` returns the URLs it listens on.

    Args:
        app: the ASGI app (see :func:`~._app.create_app`).
        bind: ``host:port``.
        access_log: log every request (see :func:`api_config`).
        task_status: reports the bound URLs (``["http://127.0.0.1:8080"]``) once listening.

    Raises:
        ValueError: a malformed ``bind``.
        OSError: the address cannot be bound (in use, not this machine's).
    """
    await serve(app, api_config(bind, access_log=access_log), task_status=task_status, mode="asgi")


class ApiServer(Actor):
    """The REST API inside the engine's supervision tree.

    Messages (refs are untyped: this is the route in): none from other actors; it
    serves HTTP on its own. ``wait_serving`` (the URLs, once listening) is for the
    engine's host and tests.

    Args:
        app: the ASGI app to serve.
        bind: ``host:port``.
        access_log: log every request.
    """

    def __init__(self, app: Framework, bind: str, *, access_log: bool = False) -> None:
        api_config(bind)  # a bad address fails here, before the actor starts
        self.app = app
        self.bind = bind
        self.access_log = access_log
        self.urls: list[str] = []
        self._serving = trio.Event()

    async def on_start(self) -> None:
        # listening before the actor counts as started: an address that cannot be bound
        # fails the start, with hypercorn's reason, instead of a crash loop afterwards
        serving = partial(serve_api, self.app, self.bind, access_log=self.access_log)
        self.urls = await self.context.start(serving)
        self._serving.set()
        log.info("the API serves on %s", ", ".join(self.urls))

    @concurrent
    async def wait_serving(self) -> list[str]:
        """The URLs the API listens on, once it does."""
        await self._serving.wait()
        return list(self.urls)
