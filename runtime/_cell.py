"""One actor's identity and the loop that runs each incarnation of it.

Theory of operation: an :class:`ActorCell` outlives the instances it creates. It owns
the name, the mailbox and the statistics, so refs stay valid across restarts. Its
supervisor calls :meth:`ActorCell.run_incarnation` once per life; that constructs a
fresh instance, runs ``on_start``, then takes messages off the mailbox one at a time
until asked to stop (return) or until something crashes it (raise). Messages queued
while the actor is down wait for the next incarnation; when the actor stops for good,
:meth:`ActorCell.finalize` fails them so that no caller hangs.
"""

from __future__ import annotations

import enum
import inspect
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import outcome
import trio

from ._actor import Actor, ActorContext
from ._errors import ActorDeadError, ActorError
from ._mailbox import Mailbox
from ._ref import LocalActorRef, Message

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = ["ActorCell", "ActorState", "ActorStatistics"]


class ActorState(enum.Enum):
    """Where an actor is in its life."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    RESTARTING = "restarting"
    STOPPED = "stopped"

    def __repr__(self) -> str:
        return f"ActorState.{self.name}"


@dataclass(frozen=True)
class ActorStatistics:
    """A snapshot of one actor's counters."""

    name: str
    state: ActorState
    mailbox_depth: int
    messages_handled: int
    failures: int
    restarts: int


def public_methods(factory: type) -> frozenset[str]:
    """The names a ref may call on instances of ``factory``."""
    hidden = set(dir(Actor))
    return frozenset(
        name
        for name in dir(factory)
        if not name.startswith("_") and name not in hidden and callable(getattr(factory, name, None))
    )


def _qualname(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _crash_of(exc: BaseException) -> BaseException | None:
    """The failure inside ``exc``, or None if it is only cancellation.

    Trio nurseries wrap whatever escapes them in exception groups, cancellations
    included; an actor's crash is reported as its one real error when there is one.
    """
    if isinstance(exc, trio.Cancelled):
        return None
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    _, rest = exc.split(trio.Cancelled)
    if rest is None:
        return None
    while isinstance(rest, BaseExceptionGroup) and len(rest.exceptions) == 1:
        rest = rest.exceptions[0]
    return rest


class ActorCell:
    """The persistent identity of one actor: name, mailbox, counters, current instance."""

    def __init__(
        self,
        system: ActorSystem,
        name: str,
        factory: type[Actor],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        if not (isinstance(factory, type) and issubclass(factory, Actor)):
            raise TypeError(f"actor {name!r}: {factory!r} is not a subclass of ratchet.runtime.Actor")
        self.system = system
        self.name = name
        self.factory = factory
        self.args = args
        self.kwargs = kwargs
        self.methods = public_methods(factory)
        self.mailbox: Mailbox[Message] = Mailbox()
        self.ref = LocalActorRef(self)
        self.state = ActorState.STARTING
        self.instance: Actor | None = None
        self.messages_handled = 0
        self.failures = 0
        self.restarts = 0
        self._stop_requested = False

    def record(self, kind: str, detail: str = "") -> None:
        self.system.runtime.record(kind, self.name, detail)

    def statistics(self) -> ActorStatistics:
        return ActorStatistics(
            name=self.name,
            state=self.state,
            mailbox_depth=len(self.mailbox),
            messages_handled=self.messages_handled,
            failures=self.failures,
            restarts=self.restarts,
        )

    def request_stop(self) -> None:
        """Ask the running incarnation to return after its current message."""
        self._stop_requested = True
        self.mailbox.wake()

    async def run_incarnation(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run one life of the actor: returns on a graceful stop, raises on a crash."""
        self._stop_requested = False
        self.state = ActorState.STARTING
        self.record("start")
        instance = self.factory.__new__(self.factory)
        context = ActorContext(self, self.system)
        instance.context = context
        try:
            async with trio.open_nursery() as nursery:
                context._nursery = nursery
                # (ignored below: re-running __init__ on a restarted instance is deliberate)
                instance.__init__(*self.args, **self.kwargs)  # type: ignore[misc]
                await instance.on_start()
                self.instance = instance
                self.state = ActorState.RUNNING
                task_status.started()
                await self._message_loop(instance)
                self.state = ActorState.STOPPING
                await instance.on_stop()
                nursery.cancel_scope.cancel()
        except BaseException as exc:
            error = _crash_of(exc)
            if error is None:
                raise  # a cancellation: the actor was stopped or killed, it did not fail
            self.failures += 1
            self.record("crash", f"{_qualname(error)}: {error}")
            if error is exc:
                raise
            raise error from error.__cause__
        finally:
            self.instance = None
            context._nursery = None
        self.record("stop")

    async def _message_loop(self, instance: Actor) -> None:
        mailbox = self.mailbox
        while not self._stop_requested:
            if not len(mailbox):
                await mailbox.wait()
                continue
            message = mailbox.popleft()
            method = getattr(type(instance), message.method, None)
            if getattr(method, "__ratchet_concurrent__", False):
                nursery = instance.context._nursery
                assert nursery is not None
                nursery.start_soon(self._handle_concurrent, instance, message)
                await trio.lowlevel.checkpoint()
                continue
            try:
                await self._handle(instance, message)
            finally:
                if message.reply is not None and not message.reply.done:
                    # Only a cancellation (the actor is being stopped or killed) gets here.
                    message.reply.fail(
                        ActorDeadError(f"actor {self.name!r} stopped while handling {message.method!r}")
                    )
            await trio.lowlevel.checkpoint()

    async def _handle_concurrent(self, instance: Actor, message: Message) -> None:
        try:
            await self._handle(instance, message)
        finally:
            if message.reply is not None and not message.reply.done:
                message.reply.fail(
                    ActorDeadError(f"actor {self.name!r} stopped while handling {message.method!r}")
                )

    async def _handle(self, instance: Actor, message: Message) -> None:
        self.record("handle", message.method)
        self.messages_handled += 1
        try:
            method = getattr(instance, message.method)
            result = method(*message.args, **message.kwargs)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            if message.reply is None:
                raise
            error = ActorError(
                actor=self.name,
                method=message.method,
                error_type=_qualname(exc),
                error_message=str(exc),
                traceback_text="".join(traceback.format_exception(exc)),
            )
            error.__cause__ = exc
            self.record("error", f"{message.method} {_qualname(exc)}")
            message.reply.set(outcome.Error(error))
        else:
            if message.reply is not None:
                message.reply.set(outcome.Value(result))

    def finalize(self) -> None:
        """Mark the actor stopped for good and fail every call still waiting on it."""
        self.state = ActorState.STOPPED
        for message in self.mailbox.close():
            if message.reply is not None:
                message.reply.fail(
                    ActorDeadError(
                        f"actor {self.name!r} stopped before handling {message.method!r}; "
                        "it will not run again"
                    )
                )
        self.system._unregister(self.name, self.ref)
