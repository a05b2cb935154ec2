"""Actor references: how callers reach an actor, wherever it runs.

A ref hides where its actor lives. ``ref.incr.ask(2)`` sends ``incr(2)`` and waits for
the result; ``ref.incr.tell(2)`` sends and returns at once; ``ref.incr.options(timeout=1)``
bounds the wait. :class:`ActorRef` routes both to two hooks, ``_ask`` and ``_tell``, that
:class:`LocalActorRef` implements with a mailbox and a remote ref (in
:mod:`ratchet.transport`) implements over the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import outcome
import trio

from ._errors import ActorDeadError, AskTimeout
from ._mailbox import MailboxClosed

if TYPE_CHECKING:
    from ._cell import ActorCell

__all__ = ["ActorRef", "LocalActorRef", "MethodRef"]


class Reply:
    """The slot an ask waits on; filled once, by the actor or by its death."""

    __slots__ = ("_event", "_outcome")

    def __init__(self) -> None:
        self._event = trio.Event()
        self._outcome: outcome.Outcome[Any] | None = None

    @property
    def done(self) -> bool:
        return self._outcome is not None

    def set(self, result: outcome.Outcome[Any]) -> None:
        if self._outcome is None:
            self._outcome = result
            self._event.set()

    def fail(self, error: BaseException) -> None:
        self.set(outcome.Error(error))

    async def wait(self) -> Any:
        await self._event.wait()
        assert self._outcome is not None
        return self._outcome.unwrap()


@dataclass(slots=True)
class Message:
    """One method call in a mailbox."""

    method: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    reply: Reply | None


class ActorRef:
    """A handle to an actor. Attribute access gives a :class:`MethodRef` for that method.

    Subclasses implement :meth:`_ask`, :meth:`_tell` and :attr:`name`.
    """

    __slots__ = ()

    @property
    def name(self) -> str:
        raise NotImplementedError

    async def _ask(
        self, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], timeout: float | None
    ) -> Any:
        raise NotImplementedError

    def _tell(self, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _check_method(self, method: str) -> None:
        """Raise :class:`AttributeError` eagerly if the actor is known to lack ``method``."""

    async def wait_reachable(self) -> None:
        """Wait until an ask could be delivered: at once here; a remote ref waits for its peer.

        (A method of the ref, so it shadows an actor method of the same name.)
        """
        await trio.lowlevel.checkpoint()

    def __getattr__(self, method: str) -> MethodRef:
        if method.startswith("_"):
            raise AttributeError(method)
        self._check_method(method)
        return MethodRef(self, method, None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class MethodRef:
    """One method of an actor, ready to be asked or told.

    Args:
        ref: the actor.
        method: the method's name.
        timeout: seconds an ask waits for its reply; ``None`` waits as long as the actor lives.
    """

    __slots__ = ("method", "ref", "timeout")

    def __init__(self, ref: ActorRef, method: str, timeout: float | None) -> None:
        self.ref = ref
        self.method = method
        self.timeout = timeout

    def options(self, *, timeout: float | None) -> MethodRef:
        """The same method with another ask timeout."""
        return MethodRef(self.ref, self.method, timeout)

    async def ask(self, *args: Any, **kwargs: Any) -> Any:
        """Call the method and wait for its result.

        Raises:
            ActorError: the method raised; carries the actor's name and traceback text.
            ActorDeadError: the actor is gone, or died while handling this call.
            AskTimeout: no reply within the timeout.
        """
        return await self.ref._ask(self.method, args, kwargs, self.timeout)

    def tell(self, *args: Any, **kwargs: Any) -> None:
        """Send the call without waiting; an exception it raises crashes the actor.

        Raises:
            ActorDeadError: the actor is gone.
        """
        self.ref._tell(self.method, args, kwargs)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return await self.ask(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<MethodRef {self.ref.name!r}.{self.method}>"


class LocalActorRef(ActorRef):
    """A ref to an actor in this process: messages go straight into its mailbox."""

    __slots__ = ("_cell",)

    def __init__(self, cell: ActorCell) -> None:
        self._cell = cell

    @property
    def name(self) -> str:
        return self._cell.name

    @property
    def is_alive(self) -> bool:
        """False once the actor has stopped for good."""
        return not self._cell.mailbox.closed

    def statistics(self) -> Any:
        """The actor's :class:`~ratchet.runtime.ActorStatistics`."""
        return self._cell.statistics()

    def _check_method(self, method: str) -> None:
        if method not in self._cell.methods:
            raise AttributeError(
                f"actor {self.name!r} ({self._cell.factory.__name__}) has no public method {method!r}"
            )

    def _post(self, message: Message) -> None:
        try:
            self._cell.mailbox.put_nowait(message)
        except MailboxClosed:
            raise ActorDeadError(
                f"actor {self.name!r} is not running (it stopped or its supervisor gave up); "
                f"cannot deliver {message.method!r}"
            ) from None

    async def _ask(
        self, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], timeout: float | None
    ) -> Any:
        reply = Reply()
        self._cell.record("ask", method)
        self._post(Message(method, args, kwargs, reply))
        if timeout is None:
            return await reply.wait()
        with trio.move_on_after(timeout):
            return await reply.wait()
        raise AskTimeout(
            f"actor {self.name!r} did not answer {method!r} within {timeout:g}s "
            f"(mailbox depth {len(self._cell.mailbox)}); the call may still run later"
        )

    def _tell(self, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        self._cell.record("tell", method)
        self._post(Message(method, args, kwargs, None))
