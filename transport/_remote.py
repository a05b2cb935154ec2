"""Remote actors: refs that reach actors in another process, and the node that serves them.

Theory of operation: an :class:`ActorNode` binds an actor system to one endpoint. It
plays both parts of the protocol:

* **serving**: an :class:`~ratchet.transport.Ask` or :class:`~ratchet.transport.Tell`
  from a peer is dispatched to ``system.lookup(actor)``; an ask is answered with
  :class:`~ratchet.transport.Result`, :class:`~ratchet.transport.Failure` (the method
  raised: type, message and traceback text travel) or
  :class:`~ratchet.transport.ActorGone` (no such actor, or it died).
* **calling**: a :class:`RemoteActorRef` is an :class:`~ratchet.runtime.ActorRef`, so
  ``await ref.incr.ask(2)``, ``ref.incr.tell(2)`` and ``.options(timeout=...)`` work as
  on a local ref. An ask waits for the reply with the same correlation id and turns it
  back into a value, an :class:`~ratchet.runtime.ActorError` (with the remote
  traceback text), an :class:`~ratchet.runtime.ActorDeadError` or an
  :class:`~ratchet.runtime.AskTimeout`.

Delivery: an ask is sent again every ``retry_interval`` until answered (a lost request
or reply, a reconnection), always with the same correlation id; the serving side
remembers the last ``dedup_window`` correlation ids per peer, runs each call once and
answers a repeat with the remembered reply. A reply over ``MAX_REMEMBERED_REPLY`` bytes
(a run's big input and outputs, read back) is not kept: thousands of them would hold
gigabytes, and re-sending one to each repeat (which a slow big reply draws) would only
add to the load. A repeat of such a call is answered with a small
:class:`~ratchet.transport.Failure` instead; the caller has the real reply by then,
since replies to a peer leave in order, unless it was lost with the connection, and
then the caller asks again anyway. Tells are sent once and deduplicated the
same way: at most once. When a peer goes down, every ask pending on it fails at once
with :class:`~ratchet.runtime.AskLostError` (an
:class:`~ratchet.runtime.ActorDeadError`), and monitors registered with
:meth:`ActorNode.monitor` are told, so a local actor (and through it its supervisor)
can react.
"""

from __future__ import annotations

import logging
import math
import traceback
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import outcome
import trio

from ratchet.runtime import ActorDeadError, ActorError, ActorRef, ActorSystem, AskLostError, AskTimeout

from ._endpoint import Endpoint
from ._errors import PeerRejectedError, PeerUnavailableError
from ._messages import ActorGone, Ask, Envelope, Failure, Message, ProtocolErrorReport, Result, Tell
from ._network import PeerEventKind

__all__ = ["MAX_REMEMBERED_REPLY", "ActorNode", "ActorNodeStatistics", "RemoteActorRef", "open_actor_node"]

MAX_REMEMBERED_REPLY = 1024 * 1024
"""Replies bigger than this many bytes are not kept for repeated asks (see the module docstring)."""

logger = logging.getLogger("ratchet.transport.remote")


class RemoteActorRef(ActorRef):
    """A ref to an actor served by a peer's :class:`ActorNode`. Get one from :meth:`ActorNode.ref`.

    Attributes:
        peer: the peer serving the actor.
    """

    __slots__ = ("_actor", "_node", "peer")

    def __init__(self, node: ActorNode, peer: str, actor: str) -> None:
        self._node = node
        self.peer = peer
        self._actor = actor

    @property
    def name(self) -> str:
        return self._actor

    @property
    def node(self) -> ActorNode:
        """The node this ref calls through."""
        return self._node

    def __repr__(self) -> str:
        return f"<RemoteActorRef {self._actor!r} at peer {self.peer!r}>"

    async def _ask(
        self, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], timeout: float | None
    ) -> Any:
        return await self._node._ask(self.peer, self._actor, method, args, kwargs, timeout)

    def _tell(self, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        self._node._tell(self.peer, self._actor, method, args, kwargs)

    async def wait_reachable(self) -> None:
        """Wait until the peer serving the actor is connected (returns at once if it is)."""
        await self._node.wait_peer_up(self.peer)


class _PendingAsk:
    __slots__ = ("actor", "event", "method", "outcome", "peer")

    def __init__(self, peer: str, actor: str, method: str) -> None:
        self.peer = peer
        self.actor = actor
        self.method = method
        self.event = trio.Event()
        self.outcome: outcome.Outcome[Any] | None = None

    def resolve(self, result: outcome.Outcome[Any]) -> None:
        if self.outcome is None:
            self.outcome = result
            self.event.set()


Authorize = Callable[[str, str, str, str, list[Any], dict[str, Any]], Awaitable[tuple[str, dict[str, Any]]]]
"""See :class:`ActorNode`'s ``authorize``."""


class _Refused(Exception):
    def __init__(self, reason: Exception) -> None:
        self.reason = reason


def _qualified(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True, slots=True)
class ActorNodeStatistics:
    """A snapshot of an actor node's counters."""

    pending_asks: int
    asks_sent: int
    ask_retries: int
    calls_served: int
    duplicates_dropped: int
    replies_not_kept: int
    #: calls the node's ``authorize`` refused
    calls_refused: int = 0


class ActorNode:
    """This process's actors on the network: serves local actors, and refs to remote ones.

    Use :func:`open_actor_node`.

    Args:
        system: the actor system whose actors are served.
        endpoint: the endpoint to serve and call through.
        retry_interval: seconds between re-sends of an unanswered ask.
        connect_timeout: how long an ask to a peer that is not up waits for it to come
            up before failing with :class:`~ratchet.runtime.ActorDeadError`.
        dedup_window: correlation ids remembered for duplicate suppression.
        credential: the session credential stamped on outgoing messages (see
            :attr:`credential`).
        authorize: for a node serving actors to peers it does not trust (an engine): an
            async ``authorize(peer, credential, actor, method, args, kwargs)`` that returns
            ``(actor, extra_kwargs)``, the local actor to serve the call and keyword
            arguments to add to it, or raises to refuse the call. A refused ask is answered
            with a :class:`~ratchet.transport.Failure` naming the exception and its message
            (nothing is run); a refused tell is dropped. None: every call is served as
            addressed.
    """

    def __init__(
        self,
        system: ActorSystem,
        endpoint: Endpoint,
        *,
        retry_interval: float = 1.0,
        connect_timeout: float = 5.0,
        dedup_window: int = 10_000,
        credential: str = "",
        authorize: Authorize | None = None,
    ) -> None:
        self.system = system
        self.endpoint = endpoint
        self.retry_interval = retry_interval
        self.connect_timeout = connect_timeout
        #: The credential stamped on every outgoing message; set it once signed in.
        self.credential = credential
        self._authorize = authorize
        self._refused = 0
        self._dedup_window = dedup_window
        self._pending: dict[int, _PendingAsk] = {}
        self._running: set[tuple[str, str, int]] = set()
        self._done: OrderedDict[tuple[str, str, int], Message | None] = OrderedDict()
        self._monitors: dict[str, list[tuple[ActorRef, str]]] = {}
        self._up_lots: dict[str, trio.lowlevel.ParkingLot] = {}
        self._down_events: dict[str, trio.Event] = {}
        # Random start: correlation ids of a restarted process do not repeat its predecessor's.
        self._next_corr = system.runtime.random.getrandbits(62) + 1
        self._nursery: trio.Nursery | None = None
        self._closed = False
        self._asks_sent = self._retries = self._served = self._duplicates = self._not_kept = 0

    def guard_with(self, authorize: Authorize) -> None:
        """From now on, hand every incoming call to ``authorize`` first (see the class docstring)."""
        self._authorize = authorize

    # -- calling -----------------------------------------------------------------------------

    def ref(self, peer: str, actor: str) -> RemoteActorRef:
        """A ref to the actor registered as ``actor`` in ``peer``'s actor system.

        Args:
            peer: the peer's name as this endpoint knows it (a dialer names the listener
                by its address; a listener names a dialer by the dialer's ``name``).
            actor: the actor's registered name over there.
        """
        return RemoteActorRef(self, peer, actor)

    def monitor(self, peer: str, ref: ActorRef, method: str = "peer_down") -> None:
        """Tell ``ref.method(peer, reason)`` when ``peer`` goes down (once per down event).

        Let the method raise to crash the actor and have its supervisor restart it.
        """
        self._monitors.setdefault(peer, []).append((ref, method))

    async def wait_peer_up(self, peer: str) -> None:
        """Wait until ``peer`` is up (returns at once if it is)."""
        if self.endpoint.is_up(peer):
            await trio.lowlevel.checkpoint()
            return
        await self._up_lots.setdefault(peer, trio.lowlevel.ParkingLot()).park()

    async def wait_peer_down(self, peer: str) -> None:
        """Wait until ``peer`` next goes down."""
        await self._down_events.setdefault(peer, trio.Event()).wait()

    def statistics(self) -> ActorNodeStatistics:
        """A snapshot of this node's counters."""
        return ActorNodeStatistics(
            pending_asks=len(self._pending),
            asks_sent=self._asks_sent,
            ask_retries=self._retries,
            calls_served=self._served,
            duplicates_dropped=self._duplicates,
            replies_not_kept=self._not_kept,
            calls_refused=self._refused,
        )

    def _new_correlation_id(self) -> int:
        corr = self._next_corr
        self._next_corr = corr + 1 if corr < 2**63 else 1
        return corr

    def _send(self, peer: str, message: Message, corr: int, actor: str) -> None:
        try:
            self.endpoint.send_nowait(peer, message, correlation_id=corr, credential=self.credential)
        except PeerUnavailableError as exc:
            raise ActorDeadError(
                f"cannot reach actor {actor!r}: peer {peer!r} is not connected ({exc})"
            ) from None

    async def _ask(
        self,
        peer: str,
        actor: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        timeout: float | None,
    ) -> Any:
        if self._closed:
            raise ActorDeadError(f"the actor node of {self.endpoint!r} is closed; cannot ask {actor!r}")
        clock = self.system.runtime.clock
        deadline = math.inf if timeout is None else clock.monotonic() + timeout
        corr = self._new_correlation_id()
        message = Ask(actor, method, list(args), dict(kwargs), timeout)
        pending = self._pending[corr] = _PendingAsk(peer, actor, method)
        try:
            with trio.move_on_at(deadline):
                if not self.endpoint.is_up(peer):
                    with trio.move_on_after(self.connect_timeout):
                        await self.wait_peer_up(peer)
                    if pending.outcome is not None:  # e.g. the node closed meanwhile
                        return pending.outcome.unwrap()
                    if not self.endpoint.is_up(peer):
                        raise ActorDeadError(
                            f"cannot ask {actor!r}.{method}: peer {peer!r} did not come up within "
                            f"{self.connect_timeout:g}s; is its process running?"
                        )
                self._send(peer, message, corr, actor)
                self._asks_sent += 1
                self.system.runtime.record("remote-ask", actor, f"{peer} {method} #{corr}")
                while True:
                    with trio.move_on_after(self.retry_interval):
                        await pending.event.wait()
                    if pending.outcome is not None:
                        return pending.outcome.unwrap()
                    # No reply yet: the request or the reply may be lost. Send the same
                    # correlation id again; the peer runs the call once either way.
                    self._retries += 1
                    self._send(peer, message, corr, actor)
            raise AskTimeout(
                f"actor {actor!r} at peer {peer!r} did not answer {method!r} within {timeout:g}s; "
                "the call may still run there"
            )
        finally:
            del self._pending[corr]

    def _tell(
        self, peer: str, actor: str, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> None:
        if self._closed:
            raise ActorDeadError(f"the actor node of {self.endpoint!r} is closed; cannot tell {actor!r}")
        self._send(peer, Tell(actor, method, list(args), dict(kwargs)), self._new_correlation_id(), actor)

    # -- receiving ---------------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while True:
            try:
                delivery = await self.endpoint.receive()
            except trio.EndOfChannel:
                self._fail_all("its endpoint was closed")
                return
            for envelope in delivery.envelopes:
                self._dispatch(delivery.peer, envelope)

    def _dispatch(self, peer: str, envelope: Envelope) -> None:
        message = envelope.message
        kind = type(message)
        if kind is Ask or kind is Tell:
            key = (peer, envelope.credential, envelope.correlation_id)
            if key in self._running:
                self._duplicates += 1
                return
            if key in self._done:
                self._duplicates += 1
                reply = self._done[key]
                if reply is not None:
                    self._reply(peer, envelope, reply)
                return
            self._served += 1
            # (ignored below: runtime is the running system, not its declared type)
            self.system.runtime.record(f"serve-{message.TYPE}", peer, f"{message.actor} {message.method}")  # type: ignore[attr-defined]
            assert self._nursery is not None
            if kind is Ask:
                self._running.add(key)
                self._nursery.start_soon(self._serve_ask, peer, envelope, key)
            else:
                self._remember(key, None)
                if self._authorize is None:
                    # (ignored below: message is a Tell here, by its TYPE)
                    self._serve_tell(peer, message)  # type: ignore[arg-type]
                else:
                    self._nursery.start_soon(self._serve_authorized_tell, peer, envelope)
            return
        pending = self._pending.get(envelope.correlation_id)
        if pending is None:
            logger.debug("%r: late or unknown reply %r from %r", self.endpoint, message, peer)
            return
        if kind is Result:
            # (ignored below: message is a Reply here, by its TYPE)
            pending.resolve(outcome.Value(message.value))  # type: ignore[attr-defined]
        elif kind is Failure:
            assert isinstance(message, Failure)
            pending.resolve(
                outcome.Error(
                    ActorError(
                        message.actor,
                        message.method,
                        message.error_type,
                        message.error_message,
                        message.traceback,
                    )
                )
            )
        elif kind is ActorGone:
            assert isinstance(message, ActorGone)
            pending.resolve(outcome.Error(ActorDeadError(f"at peer {peer!r}: {message.reason}")))
        elif kind is ProtocolErrorReport:
            assert isinstance(message, ProtocolErrorReport)
            pending.resolve(outcome.Error(PeerRejectedError(peer, message.code, message.detail)))

    def _lookup(self, actor: str, method: str) -> ActorRef:
        if method.startswith("_"):
            raise AttributeError(f"actor {actor!r}: private method {method!r} cannot be called remotely")
        ref = self.system.lookup(actor)
        if not isinstance(ref, ActorRef) or isinstance(ref, RemoteActorRef):
            raise LookupError(f"{actor!r} is not an actor served by this node")
        ref._check_method(method)
        return ref

    async def _serve_ask(self, peer: str, envelope: Envelope, key: tuple[str, str, int]) -> None:
        message = envelope.message
        assert isinstance(message, Ask)
        reply: Message
        try:
            actor, kwargs = message.actor, message.kwargs
            if self._authorize is not None:
                try:
                    actor, extra = await self._authorize(
                        peer, envelope.credential, actor, message.method, message.args, kwargs
                    )
                except Exception as exc:  # refused: say why, run nothing
                    self._refused += 1
                    raise _Refused(exc) from None
                kwargs = {**kwargs, **extra}
            ref = self._lookup(actor, message.method)
            value = await ref._ask(message.method, tuple(message.args), kwargs, None)
            reply = Result(value)
        except _Refused as refused:
            reason = refused.reason
            reply = Failure(message.actor, message.method, _qualified(reason), str(reason), "")
        except LookupError as exc:
            reply = ActorGone(message.actor, f"{exc}")
        except ActorDeadError as exc:
            reply = ActorGone(message.actor, str(exc))
        except ActorError as exc:
            reply = Failure(exc.actor, exc.method, exc.error_type, exc.error_message, exc.traceback_text)
        except AttributeError as exc:
            reply = Failure(message.actor, message.method, "AttributeError", str(exc), "")
        except Exception as exc:  # a bug on this side must not take the node down
            logger.exception(
                "%r: serving %s.%s for %r failed", self.endpoint, message.actor, message.method, peer
            )
            reply = Failure(
                message.actor, message.method, type(exc).__name__, str(exc), traceback.format_exc()
            )
        self._running.discard(key)
        size = self._reply(peer, envelope, reply)
        if size is not None and size > MAX_REMEMBERED_REPLY:
            self._not_kept += 1
            reply = Failure(
                message.actor,
                message.method,
                "ReplyNotKept",
                f"the answer to this call ({size} bytes) was sent once and is too big to keep "
                "for a repeated ask; ask again",
                "",
            )
        self._remember(key, reply)

    def _remember(self, key: tuple[str, str, int], reply: Message | None) -> None:
        # Calls still running are kept apart (in _running) and never evicted, so a retry
        # of a long call cannot run it twice however many calls finish meanwhile.
        self._done[key] = reply
        if len(self._done) > self._dedup_window:
            self._done.popitem(last=False)

    def _reply(self, peer: str, envelope: Envelope, reply: Message) -> int | None:
        """Send ``reply``; returns its size in bytes, or None if it could not be sent."""
        corr, credential = envelope.correlation_id, envelope.credential
        try:
            try:
                return self.endpoint.send_nowait(peer, reply, correlation_id=corr, credential=credential)
            except Exception as exc:  # the result could not be encoded (LocalProtocolError)
                if type(reply) is not Result:
                    raise
                assert isinstance(envelope.message, Ask)
                failure = Failure(
                    envelope.message.actor, envelope.message.method, type(exc).__name__, str(exc), ""
                )
                self.endpoint.send_nowait(peer, failure, correlation_id=corr, credential=credential)
        except Exception as exc:
            logger.warning("%r: could not answer %r (correlation id %d): %s", self.endpoint, peer, corr, exc)
        return None

    async def _serve_authorized_tell(self, peer: str, envelope: Envelope) -> None:
        message = envelope.message
        assert isinstance(message, Tell) and self._authorize is not None
        try:
            actor, extra = await self._authorize(
                peer, envelope.credential, message.actor, message.method, message.args, message.kwargs
            )
        except Exception as exc:
            self._refused += 1
            logger.warning("%r: refused a tell from %r: %s", self.endpoint, peer, exc)
            return
        self._serve_tell(peer, Tell(actor, message.method, message.args, {**message.kwargs, **extra}))

    def _serve_tell(self, peer: str, message: Tell) -> None:
        try:
            ref = self._lookup(message.actor, message.method)
            ref._tell(message.method, tuple(message.args), message.kwargs)
        except Exception as exc:
            logger.warning("%r: dropped a tell from %r: %s", self.endpoint, peer, exc)

    # -- peers -------------------------------------------------------------------------------

    async def _event_loop(self) -> None:
        while True:
            try:
                event = await self.endpoint.next_peer_event()
            except trio.EndOfChannel:
                return
            if event.kind is PeerEventKind.UP:
                lot = self._up_lots.pop(event.peer, None)
                if lot is not None:
                    lot.unpark_all()
                continue
            self._fail_peer(event.peer, event.reason)
            down = self._down_events.pop(event.peer, None)
            if down is not None:
                down.set()
            for ref, method in self._monitors.get(event.peer, ()):
                try:
                    ref._tell(method, (event.peer, event.reason), {})
                except ActorDeadError:
                    logger.debug("monitor %r of peer %r is gone", ref, event.peer)

    def _fail_peer(self, peer: str, reason: str) -> None:
        for pending in self._pending.values():
            if pending.peer == peer:
                pending.resolve(
                    outcome.Error(
                        AskLostError(
                            f"peer {peer!r} went down ({reason}) while {pending.actor!r}.{pending.method} "
                            "was pending; the call may or may not have run there"
                        )
                    )
                )

    def _fail_all(self, reason: str) -> None:
        for pending in self._pending.values():
            pending.resolve(
                outcome.Error(
                    ActorDeadError(
                        f"ask {pending.actor!r}.{pending.method} at peer {pending.peer!r} abandoned: {reason}"
                    )
                )
            )

    async def _run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._receive_loop)
                nursery.start_soon(self._event_loop)
                task_status.started()
        finally:
            self._closed = True
            self._fail_all("the actor node closed")


@asynccontextmanager
async def open_actor_node(
    system: ActorSystem, endpoint: Endpoint, **options: Any
) -> AsyncIterator[ActorNode]:
    """Serve ``system``'s actors on ``endpoint`` and call remote ones, for the block's duration.

    Args:
        system: the actor system.
        endpoint: an endpoint from a :class:`~ratchet.transport.Network`.
        options: see :class:`ActorNode`.
    """
    node = ActorNode(system, endpoint, **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(node._run)
        try:
            yield node
        finally:
            nursery.cancel_scope.cancel()
