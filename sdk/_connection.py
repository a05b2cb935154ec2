"""The client's line to the engine, usable from sync code, Trio and asyncio alike.

A :class:`Connection` owns a background thread running Trio (the *portal*). Inside it
sits an actor system holding a ref to the engine's gateway: across nng for a remote
engine, or a local ref when the engine is embedded in the same portal. Every client
call becomes an ask on that ref, carried into the portal by a
:class:`~ratchet._hop.TrioHost`:

- sync code calls :meth:`Connection.call`, which waits for the answer in its thread;
  made inside a running event loop, it refuses and names the ``aio_`` form instead,
  because it would stall every other task of that loop;
- ``aio_`` methods call :meth:`Connection.acall`, which waits without a thread on the
  caller's event loop (Trio or asyncio), or awaits the ask directly when the caller
  already runs inside the portal.

TLS. Over ``tls+tcp://`` a call does not wait out ``reconnect_timeout`` while TLS
handshakes with the engine fail: certificates that do not fit will not start to fit by
waiting, so :meth:`Connection._reach` raises the dialer's
:class:`~ratchet.transport.TlsHandshakeError` at once, naming the client's settings.

Process exit. The portal is a daemon thread, so a process that never calls
:meth:`Connection.close` exits with it still running. An ``atexit`` handler, registered
when this module is imported (before any handler of the application's that could use a
client, so it runs after them), closes every open connection, waiting a bounded time
for each portal to stop, and only then lets nng tear itself down
(:func:`ratchet.transport.release_nng`). Calls still waiting in daemon threads at that
point are not woken: like any blocking call of a daemon thread at exit, they stay where
they are while the interpreter finishes.
"""

from __future__ import annotations

import atexit
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

import trio

from ratchet.runtime import ActorDeadError, ActorError, ActorRef, ActorSystem, AskLostError, open_runtime

from ._contract.calls import GATEWAY_ACTOR, IDEMPOTENT, ErrorCode, error_code
from ._errors import EngineUnreachableError, TenantLimitError
from ._hop import TrioHost, running_event_loop
from ._session import signin_error

if TYPE_CHECKING:
    from ratchet.transport import DialerTls, TlsHandshakeError

__all__ = ["DEFAULT_RECONNECT_TIMEOUT", "Connection", "limit_error", "remote_gateway", "signer_for"]

# Seconds a call keeps trying to reach an engine out of reach (see Connection).
DEFAULT_RECONNECT_TIMEOUT = 120.0
# How long the exit handler waits for each open connection's portal to stop.
EXIT_GRACE = 10.0
# Where a client's TLS settings come from, for a refused handshake.
TLS_SETTINGS_HINT = (
    "the client's TLS settings come from RATCHET_TLS_CA, RATCHET_TLS_SERVER_NAME, RATCHET_TLS_CERT "
    "and RATCHET_TLS_KEY (or Ratchet(tls_ca=..., tls_server_name=..., tls_cert=..., tls_key=...))"
)

GatewaySetup = Callable[[], AbstractAsyncContextManager[ActorRef]]
#: Signs the line in to its engine, given the gateway ref (see :mod:`ratchet._session`).
Signer = Callable[[ActorRef], Awaitable[Any]]

_open_connections: weakref.WeakSet[Connection] = weakref.WeakSet()


class Connection:
    """A portal thread holding a gateway ref; see the module docstring.

    Args:
        setup: opens whatever the gateway needs and yields the ref (runs in the portal).
        name: the thread's name.
        call_timeout: default seconds a call may take (None: no limit).
        reconnect_timeout: how long a call keeps trying to reach an engine out of reach
            (an idempotent call, a read or a wait, also one the engine lost midway)
            before it raises :class:`~ratchet.EngineUnreachableError`; it never bounds
            how long the engine takes to answer.
        address: the engine's address, for errors.
        signer: signs in before the first call (and again, once, if the engine no longer
            knows the line's credential); None for an engine in this process.
    """

    def __init__(
        self,
        setup: GatewaySetup,
        *,
        name: str = "ratchet-portal",
        call_timeout: float | None = None,
        reconnect_timeout: float = DEFAULT_RECONNECT_TIMEOUT,
        address: str = "(embedded)",
        signer: Signer | None = None,
    ) -> None:
        self.reconnect_timeout = reconnect_timeout
        self.address = address
        self._setup = setup
        self._name = name
        self.call_timeout = call_timeout
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._host: TrioHost | None = None
        self._stop: trio.Event | None = None
        self._thread: threading.Thread | None = None
        self.gateway: ActorRef | None = None
        self._signer = signer
        self._signed_in = False
        self._signing: trio.Lock | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> Connection:
        """Start the portal and wait until the gateway is reachable from it."""
        self._thread = threading.Thread(target=trio.run, args=(self._main,), name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the Ratchet connection did not start within {timeout:g}s")
        if self._error is not None:
            raise self._error
        _open_connections.add(self)
        return self

    async def _main(self) -> None:
        try:
            async with self._setup() as gateway, trio.open_nursery() as calls:
                self.gateway = gateway
                self._stop = trio.Event()
                token = trio.lowlevel.current_trio_token()
                self._host = TrioHost("the Ratchet client", token, calls.start_soon)
                self._ready.set()
                await self._stop.wait()
                # Calls still running end now (their callers get HostClosedError),
                # before the gateway they use goes away.
                calls.cancel_scope.cancel()
        except BaseException as exc:  # reported to start() or to the next caller
            self._error = exc
            self._ready.set()
            if not isinstance(exc, Exception):
                raise

    def close(self) -> None:
        """Stop the portal (and whatever it runs: an embedded engine, its workers)."""
        self._request_stop()
        self._join(60.0)

    def _request_stop(self) -> None:
        host, stop = self._host, self._stop
        if host is None or stop is None:
            return
        if host.here:
            raise RuntimeError(
                "a Ratchet client cannot be closed from inside its own engine's event loop "
                "(a task of its embedded worker); close it from the code that opened it"
            )
        self._host = None  # new calls now fail with "closed"
        _open_connections.discard(self)
        try:
            host.run_sync_soon(stop.set)
        except RuntimeError:
            pass  # the portal has stopped already

    def _join(self, timeout: float) -> bool:
        """Wait for the portal thread to end; whether it did."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _close_at_exit(self) -> None:
        host = self._host
        if host is not None:
            host.silence()  # waiting daemon threads must not wake into a closing client
        self._request_stop()

    def _require_host(self) -> TrioHost:
        host = self._host
        if host is None:
            raise RuntimeError(
                "the Ratchet connection is closed" + (f": {self._error!r}" if self._error else "")
            )
        return host

    def run_in_portal(self, afn: Callable[..., Any], *args: Any) -> Any:
        """Run ``await afn(*args)`` in the portal, from a thread that runs no event loop."""
        return self._require_host().call_blocking(afn, *args)

    # -- calls ------------------------------------------------------------------------------------

    async def _ask(self, method: str, args: tuple[Any, ...], timeout: float | None) -> Any:
        """Ask the gateway ``method(*args)``; see :meth:`_reach` for an engine out of reach.

        Reads and waits (:data:`IDEMPOTENT`) survive an engine restart: they are asked again
        until the engine answers. ``reconnect_timeout`` bounds only the time the engine stays
        out of reach, counted from when this call lost it, never the time the engine takes
        to answer: a wait for a run lasts as long as the run.
        """
        assert self.gateway is not None
        method = str(method)  # a Method goes on the wire as its plain name
        ask = getattr(self.gateway, method).options(timeout=timeout).ask
        retry = method in IDEMPOTENT
        lost_at: float | None = None  # when this call lost the engine, until it reaches it again
        delay = 0.05
        signed_again = False
        while True:
            await self._reach(method, lost_at)
            try:
                if self._signer is not None and not self._signed_in:
                    await self._sign_in()
            except ActorDeadError:
                # out of reach while signing in: nothing was sent yet, so any call may wait
                lost_at = trio.current_time() if lost_at is None else lost_at
                with trio.move_on_at(lost_at + self.reconnect_timeout):
                    await trio.sleep(delay)
                delay = min(1.0, delay * 2)
                continue
            try:
                return await ask(*args)
            except ActorError as exc:
                refused = error_code(exc.error_type)
                if refused is ErrorCode.UNAUTHENTICATED and self._signer is not None and not signed_again:
                    # the engine's key changed since this line signed in: nothing ran; sign in again
                    self._signed_in, signed_again = False, True
                    continue
                if refused in (ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN):
                    raise signin_error(exc) from None
                if refused is ErrorCode.LIMITED:
                    raise limit_error(exc) from None
                raise
            except AskLostError:
                if not retry:
                    raise
                # The engine held the call until now (a long wait): a new outage starts here.
                lost_at = trio.current_time()
            except ActorDeadError:
                if not retry:
                    raise
                # Out of reach, or restarting (reachable but without its gateway yet).
                if lost_at is None:
                    lost_at = trio.current_time()
            with trio.move_on_at(lost_at + self.reconnect_timeout):
                await trio.sleep(delay)
            delay = min(1.0, delay * 2)

    async def _sign_in(self) -> None:
        """Sign in once for every call waiting on it."""
        assert self._signer is not None and self.gateway is not None
        if self._signing is None:
            self._signing = trio.Lock()
        async with self._signing:
            if not self._signed_in:
                await self._signer(self.gateway)
                self._signed_in = True

    async def _reach(self, method: str, lost_at: float | None) -> None:
        """Wait until the engine is reachable, at most ``reconnect_timeout`` after ``lost_at``.

        Raises:
            EngineUnreachableError: the engine was still out of reach by then.
            TlsHandshakeError: TLS handshakes with the engine fail (at once, see the
                module docstring).
        """
        assert self.gateway is not None
        start = trio.current_time() if lost_at is None else lost_at
        wait_refused = _refusals_of(self.gateway)
        refusal: TlsHandshakeError | None = None
        with trio.move_on_at(start + self.reconnect_timeout):
            if wait_refused is None:
                await self.gateway.wait_reachable()
                return
            async with trio.open_nursery() as nursery:

                async def refused() -> None:
                    nonlocal refusal
                    refusal = await wait_refused()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(refused)
                await self.gateway.wait_reachable()
                nursery.cancel_scope.cancel()
            if refusal is None:
                return
            raise refusal.with_detail(TLS_SETTINGS_HINT)
        raise EngineUnreachableError(self.address, self.reconnect_timeout, method)

    def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        """Ask the gateway from sync code (a thread that runs no event loop).

        Raises:
            RuntimeError: called inside a running event loop, which it would block.
        """
        loop = running_event_loop()
        if loop is not None:
            raise RuntimeError(
                f"a blocking Ratchet call (the engine's {str(method)!r}) was made inside a running {loop} "
                "event loop, where it would stall every other task of that loop; use its aio_ form "
                "instead: await wf.aio_run(...), await ratchet.runs.aio_get(...), ..."
            )
        host = self._require_host()
        return host.call_blocking(self._ask, method, args, timeout or self.call_timeout)

    async def acall(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        """Ask the gateway from async code running on Trio or asyncio."""
        host = self._require_host()
        return await host.call(self._ask, method, args, timeout or self.call_timeout)


def _close_connections_at_exit() -> None:
    """Close every connection still open, then let nng go (see the module docstring)."""
    connections = list(_open_connections)
    for connection in connections:
        connection._close_at_exit()
    stopped = all([connection._join(EXIT_GRACE) for connection in connections])
    transport = sys.modules.get("ratchet.transport")
    if stopped and transport is not None:
        transport.release_nng()


atexit.register(_close_connections_at_exit)


def signer_for(engine: str, token: str | None, tenant: str | None = None) -> Signer:
    """Signs a line to ``engine`` in with ``token``, or without one the local token of the
    engine's machine, read at sign-in (see :func:`ratchet._session.sign_in`)."""

    async def sign(gateway: ActorRef) -> None:
        from ._session import sign_in

        await sign_in(gateway.node, engine, token, tenant=tenant)

    return sign


def _refusals_of(gateway: ActorRef) -> Callable[[], Awaitable[TlsHandshakeError]] | None:
    """The wait for refused TLS handshakes of the dialer a remote gateway is reached by.

    None for a gateway in this process, or a dialer without TLS (nothing to wait for).
    """
    endpoint = getattr(getattr(gateway, "node", None), "endpoint", None)
    if getattr(endpoint, "tls", None) is None:
        return None
    return getattr(endpoint, "wait_refused", None)


def remote_gateway(engine: str, *, name: str | None = None, tls: DialerTls | None = None) -> GatewaySetup:
    """A setup that dials ``engine`` over nng and yields a ref to its gateway.

    Args:
        engine: the engine's nng address.
        name: this end's peer name (default: drawn at random).
        tls: how to verify a ``tls+tcp://`` engine (see :meth:`ratchet.Settings.dialer_tls`).
    """

    @asynccontextmanager
    async def setup() -> AsyncIterator[ActorRef]:
        from ratchet.transport import open_actor_node, open_nng_network
        from ratchet.transport._nng_lifetime import leave_release_to

        # nng goes at exit only after this connection's portal has stopped (see the
        # module docstring): our exit handler releases it, not the transport's.
        leave_release_to("the Ratchet client's exit handler")
        async with open_runtime() as system:
            async with open_nng_network(clock=system.runtime.clock, random=system.runtime.random) as network:
                peer = name or f"client-{system.runtime.random.token_hex(6)}"
                endpoint = await network.dial(engine, name=peer, tls=tls)
                async with open_actor_node(system, endpoint) as node:
                    yield node.ref(engine, GATEWAY_ACTOR)

    return setup


def system_of(ref: ActorRef) -> ActorSystem | None:
    """The actor system of a local ref (None for remote refs)."""
    cell = getattr(ref, "_cell", None)
    return None if cell is None else cell.system


def limit_error(exc: ActorError) -> TenantLimitError:
    """The :class:`~ratchet.TenantLimitError` an engine's refusal carries (in-process, the
    original; across the wire, read back from its message)."""
    if isinstance(exc.__cause__, TenantLimitError):
        return exc.__cause__
    return TenantLimitError.from_message(exc.error_message)
