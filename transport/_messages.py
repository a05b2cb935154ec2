"""The protocol's message types: frozen value types with a validated wire schema.

Theory of operation: every message class is a frozen, slotted dataclass registered
under a short wire name (``"ask"``, ``"result"``...). Its fields, in declaration order,
are its body on the wire (a msgpack array, not a map: smaller and faster). At
registration the field annotations are compiled into one type check per field, so
decoding a message is a list comprehension of ``isinstance`` calls, not a pydantic
model build; pydantic stays at the user-facing edge.

An :class:`Envelope` wraps one message with its correlation id (which ties a reply to
its request) and the sender's credential. The protocol version travels once per frame (see
:mod:`ratchet.transport._codec`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

__all__ = [
    "MESSAGE_TYPES",
    "ActorGone",
    "Ask",
    "Envelope",
    "Failure",
    "Heartbeat",
    "Message",
    "ProtocolErrorReport",
    "Result",
    "Tell",
    "message_type",
]

M = TypeVar("M", bound="Message")

#: Wire name -> message class, for every registered message type.
MESSAGE_TYPES: dict[str, type[Message]] = {}

FieldCheck = Callable[[Any], bool]


class Message:
    """Base class of every protocol message.

    Subclasses are frozen dataclasses registered with :func:`message_type`.
    """

    __slots__ = ()
    TYPE: ClassVar[str] = ""
    #: (field name, check, human-readable expected type), in wire order.
    SCHEMA: ClassVar[tuple[tuple[str, FieldCheck, str], ...]] = ()

    def fields(self) -> list[Any]:
        """The body as it goes on the wire: field values in declaration order."""
        return [getattr(self, name) for name, _, _ in self.SCHEMA]


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_float(v: Any) -> bool:
    # msgpack keeps 1.0 a float, but a peer written in another language may send 1.
    return type(v) is float or type(v) is int


def _is_str_keyed_dict(v: Any) -> bool:
    return type(v) is dict and all(type(k) is str for k in v)


_SIMPLE: dict[Any, tuple[FieldCheck, str]] = {
    str: (lambda v: type(v) is str, "str"),
    bytes: (lambda v: type(v) is bytes, "bytes"),
    bool: (lambda v: type(v) is bool, "bool"),
    int: (_is_int, "int"),
    float: (_is_float, "float"),
    list: (lambda v: type(v) is list, "list"),
    dict: (_is_str_keyed_dict, "dict with str keys"),
    Any: (lambda v: True, "any"),
}


def _compile(annotation: Any) -> tuple[FieldCheck, str]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"unsupported union {annotation!r} in a message schema")
        inner, name = _compile(members[0])
        return (lambda v: v is None or inner(v)), f"{name} or None"
    base = origin if origin is not None else annotation
    if base not in _SIMPLE:
        raise TypeError(f"unsupported field type {annotation!r} in a message schema")
    return _SIMPLE[base]


def message_type(name: str) -> Callable[[type[M]], type[M]]:
    """Register a frozen dataclass as the message type ``name`` and compile its schema.

    Args:
        name: the wire name; unique across the protocol.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def register(cls: type[M]) -> type[M]:
        if name in MESSAGE_TYPES:
            raise ValueError(f"message type {name!r} is already registered by {MESSAGE_TYPES[name]!r}")
        hints = typing.get_type_hints(cls)
        cls.TYPE = name
        cls.SCHEMA = tuple(
            (f.name, *_compile(hints[f.name]))
            # (ignored below: cls is a dataclass type, checked by the decorator)
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        )
        MESSAGE_TYPES[name] = cls
        return cls

    return register


@message_type("hb")
@dataclass(frozen=True, slots=True)
class Heartbeat(Message):
    """I am alive. Sent on an idle link every heartbeat interval."""


@message_type("perr")
@dataclass(frozen=True, slots=True)
class ProtocolErrorReport(Message):
    """Your frame or message was invalid; its correlation id is in the envelope (0 if unknown).

    Attributes:
        code: the reason code of the :class:`~ratchet.transport.RemoteProtocolError`.
        detail: its explanation.
    """

    code: str
    detail: str


@message_type("ask")
@dataclass(frozen=True, slots=True)
class Ask(Message):
    """Call ``actor.method(*args, **kwargs)`` and reply with :class:`Result` or :class:`Failure`.

    Attributes:
        actor: the registered name of the actor on the receiving side.
        method: the public method to call.
        args: positional arguments (msgpack turns tuples into lists).
        kwargs: keyword arguments.
        timeout: how long the caller waits, in seconds, or None; informational.
    """

    actor: str
    method: str
    args: list[Any]
    kwargs: dict[str, Any]
    timeout: float | None = None


@message_type("tell")
@dataclass(frozen=True, slots=True)
class Tell(Message):
    """Call ``actor.method(*args, **kwargs)`` with no reply."""

    actor: str
    method: str
    args: list[Any]
    kwargs: dict[str, Any]


@message_type("result")
@dataclass(frozen=True, slots=True)
class Result(Message):
    """The value an asked method returned."""

    value: Any


@message_type("fail")
@dataclass(frozen=True, slots=True)
class Failure(Message):
    """The asked method raised; carries what :class:`~ratchet.runtime.ActorError` needs."""

    actor: str
    method: str
    error_type: str
    error_message: str
    traceback: str


@message_type("gone")
@dataclass(frozen=True, slots=True)
class ActorGone(Message):
    """The asked actor does not exist or is not running (or died handling the call)."""

    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message with its routing data.

    Attributes:
        message: the message.
        correlation_id: ties a reply to its request (0 when there is none).
        credential: the session credential the sender signed in for ("" before it has;
            an engine that requires one refuses calls without it).
    """

    message: Message
    correlation_id: int = 0
    credential: str = ""
