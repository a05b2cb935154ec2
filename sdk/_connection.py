"""The client's line to the engine, usable from sync code, Trio and asyncio alike.

A :class:`Connection` owns a background thread running Trio (the *portal*). Inside it
sits an actor system holding a ref to the engine's gateway: across nng for a remote
engine, or a local ref when the engine is embedded in the same portal. Every client
call becomes an ask on that ref:

- sync code calls :meth:`Connection.call`, which hops into the portal;
- ``aio_`` methods call :meth:`Connection.acall`, which hops from the caller's event
  loop (Trio or asyncio, found with sniffio) through a worker thread, or awaits the ask
  directly when the caller already runs inside the portal (a task of an embedded worker).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import sniffio
import trio

from ratchet.runtime import ActorDeadError, ActorRef, ActorSystem, open_runtime

__all__ = ["Connection", "remote_gateway"]

# Gateway methods that may run twice without harm, retried across engine restarts.
IDEMPOTENT = frozenset(
    {"get_run", "wait_run", "list_runs", "list_workers", "list_workflows", "cancel_runs", "replay_runs"}
)

GatewaySetup = Callable[[], AbstractAsyncContextManager[ActorRef]]


class Connection:
    """A portal thread holding a gateway ref; see the module docstring.

    Args:
        setup: opens whatever the gateway needs and yields the ref (runs in the portal).
        name: the thread's name.
        call_timeout: default seconds a call may take (None: no limit).
        reconnect_timeout: how long an idempotent call (a read, a wait) keeps retrying
            while the engine is unreachable.
    """

    def __init__(
        self,
        setup: GatewaySetup,
        *,
        name: str = "ratchet-portal",
        call_timeout: float | None = None,
        reconnect_timeout: float = 120.0,
    ) -> None:
        self.reconnect_timeout = reconnect_timeout
        self._setup = setup
        self._name = name
        self.call_timeout = call_timeout
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._thread: threading.Thread | None = None
        self.gateway: ActorRef | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> Connection:
        """Start the portal and wait until the gateway is reachable from it."""
        self._thread = threading.Thread(target=trio.run, args=(self._main,), name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the Ratchet connection did not start within {timeout:g}s")
        if self._error is not None:
            raise self._error
        return self

    async def _main(self) -> None:
        try:
            async with self._setup() as gateway:
                self.gateway = gateway
                self._token = trio.lowlevel.current_trio_token()
                self._stop = trio.Event()
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # reported to start() or to the next caller
            self._error = exc
            self._ready.set()
            if not isinstance(exc, Exception):
                raise

    def close(self) -> None:
        """Stop the portal (and whatever it runs: an embedded engine, its workers)."""
        if self._token is None or self._thread is None:
            return
        stop = self._stop
        if stop is not None and self._thread.is_alive():
            try:
                trio.from_thread.run_sync(stop.set, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        self._thread.join(timeout=60)
        self._token = None

    @property
    def in_portal(self) -> bool:
        return threading.current_thread() is self._thread

    def run_in_portal(self, afn: Callable[..., Any], *args: Any) -> Any:
        """Run ``await afn(*args)`` in the portal from another thread."""
        if self._token is None:
            raise RuntimeError(
                "the Ratchet connection is closed" + (f": {self._error!r}" if self._error else "")
            )
        return trio.from_thread.run(afn, *args, trio_token=self._token)

    # -- calls ------------------------------------------------------------------------------------

    async def _ask(self, method: str, args: tuple[Any, ...], timeout: float | None) -> Any:
        assert self.gateway is not None
        ask = getattr(self.gateway, method).options(timeout=timeout).ask
        if method not in IDEMPOTENT:
            return await ask(*args)
        # Reads and waits survive an engine restart: retry while it is unreachable.
        delay = 0.05
        with trio.fail_after(self.reconnect_timeout):
            while True:
                try:
                    return await ask(*args)
                except ActorDeadError:
                    await trio.sleep(delay)
                    delay = min(1.0, delay * 2)

    def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        """Ask the gateway from sync code (any thread but the portal's)."""
        if self.in_portal:
            raise RuntimeError(
                "a blocking Ratchet call was made on the engine's own event loop; "
                "inside async tasks use the aio_ form (await wf.aio_run(...))"
            )
        return self.run_in_portal(self._ask, method, args, timeout or self.call_timeout)

    async def acall(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        """Ask the gateway from async code running on Trio or asyncio."""
        timeout = timeout or self.call_timeout
        if self.in_portal:
            return await self._ask(method, args, timeout)
        library = sniffio.current_async_library()
        if library == "trio":
            return await trio.to_thread.run_sync(lambda: self.call(method, *args, timeout=timeout))
        if library == "asyncio":
            return await asyncio.to_thread(self.call, method, *args, timeout=timeout)
        raise RuntimeError(f"Ratchet's aio_ methods run under Trio or asyncio, not {library!r}")


def remote_gateway(engine: str, *, name: str | None = None) -> GatewaySetup:
    """A setup that dials ``engine`` over nng and yields a ref to its gateway."""

    @asynccontextmanager
    async def setup() -> AsyncIterator[ActorRef]:
        from ratchet.transport import open_actor_node, open_nng_network

        async with open_runtime() as system:
            async with open_nng_network(clock=system.runtime.clock, random=system.runtime.random) as network:
                peer = name or f"client-{system.runtime.random.token_hex(6)}"
                endpoint = await network.dial(engine, name=peer)
                async with open_actor_node(system, endpoint) as node:
                    yield node.ref(engine, "gateway")

    return setup


def system_of(ref: ActorRef) -> ActorSystem | None:
    """The actor system of a local ref (None for remote refs)."""
    cell = getattr(ref, "_cell", None)
    return None if cell is None else cell.system
