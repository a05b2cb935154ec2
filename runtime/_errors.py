"""Errors raised by the actor runtime.

Two families, as in h11: :class:`ActorError` carries a failure *of the actor's code*
back to its caller; the others report misuse of the runtime or the state of an actor
(dead, timed out, name taken, supervisor gave up).
"""

from __future__ import annotations

__all__ = [
    "ActorDeadError",
    "ActorError",
    "AskLostError",
    "AskTimeout",
    "NameTakenError",
    "RuntimeErrorBase",
    "SupervisorEscalation",
]


class RuntimeErrorBase(Exception):
    """Base class of every error the actor runtime raises."""


class ActorError(RuntimeErrorBase):
    """An actor's method raised; this carries the failure to the caller.

    The original exception is the ``__cause__`` when the actor is local; across a
    process boundary only its type name, message and traceback text travel.

    Attributes:
        actor: the actor's name.
        method: the method that raised.
        error_type: the qualified name of the original exception's class.
        error_message: ``str()`` of the original exception.
        traceback_text: the original traceback, formatted, as the actor saw it.
    """

    def __init__(
        self, actor: str, method: str, error_type: str, error_message: str, traceback_text: str
    ) -> None:
        self.actor = actor
        self.method = method
        self.error_type = error_type
        self.error_message = error_message
        self.traceback_text = traceback_text
        super().__init__(actor, method, error_type, error_message, traceback_text)

    def __str__(self) -> str:
        return (
            f"actor {self.actor!r} raised {self.error_type} in {self.method!r}: {self.error_message}\n"
            f"--- traceback in actor {self.actor!r} ---\n{self.traceback_text.rstrip()}"
        )

    def __reduce__(self) -> tuple[type, tuple[str, str, str, str, str]]:
        return (
            type(self),
            (self.actor, self.method, self.error_type, self.error_message, self.traceback_text),
        )


class ActorDeadError(RuntimeErrorBase):
    """The actor is not running and will not run again, or it died while handling the ask."""


class AskLostError(ActorDeadError):
    """An ask reached a remote actor, then the line to it dropped before the reply came.

    The call may or may not have run there. Unlike an actor that could not be reached
    at all, this one was reachable until now: a caller that retries may count the time
    it keeps trying from here.
    """


class AskTimeout(RuntimeErrorBase, TimeoutError):
    """An ask got no reply within its timeout. The message may still be handled later."""


class NameTakenError(RuntimeErrorBase, ValueError):
    """An actor with this name is already registered in the runtime."""


class SupervisorEscalation(RuntimeErrorBase):
    """A supervisor exceeded its restart intensity and gave up; its parent must react.

    Attributes:
        supervisor: the supervisor's name.
        child: the child whose failure went over the limit.
        max_restarts: the intensity limit.
        within: the window, in seconds of runtime clock.
    """

    def __init__(self, supervisor: str, child: str, max_restarts: int, within: float) -> None:
        self.supervisor = supervisor
        self.child = child
        self.max_restarts = max_restarts
        self.within = within
        super().__init__(
            f"supervisor {supervisor!r} gave up: child {child!r} failed after {max_restarts} "
            f"restart(s) within {within:g}s; escalating to the parent"
        )
