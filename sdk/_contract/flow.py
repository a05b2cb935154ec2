"""Flow-control declarations: concurrency, rate limits, priorities, worker affinity.

The value types a user writes on workflows, tasks and workers, with hatchet-sdk's
names: :class:`ConcurrencyExpression` and :class:`ConcurrencyLimitStrategy`,
:class:`RateLimit` and :class:`RateLimitDuration`, :class:`Priority`,
:class:`WorkerLabel`, :class:`DesiredWorkerLabel` and :class:`WorkerLabelComparator`,
:class:`StickyStrategy`. Each checks itself when built (a CEL expression is compiled
there and then), so a bad declaration fails at import time with a
:class:`~ratchet.DefinitionError` naming the expression and the parser's message; each
has a plain dict form for the wire and the store, checked again on the way back in.
"""

from __future__ import annotations

import enum
import reprlib
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Any, TypeVar

from .._errors import DefinitionError

__all__ = [
    "MAX_MAX_RUNS",
    "MAX_RATE_LIMIT",
    "ConcurrencyExpression",
    "ConcurrencyLimitStrategy",
    "DesiredWorkerLabel",
    "Priority",
    "RateLimit",
    "RateLimitDuration",
    "StickyStrategy",
    "WorkerLabel",
    "WorkerLabelComparator",
    "check_cel",
    "check_worker_labels",
    "concurrency_list",
    "desired_labels",
    "rate_limit_list",
]

MAX_MAX_RUNS = 100_000
MAX_RATE_LIMIT = 1_000_000_000
MAX_ENTRIES = 16  # concurrency expressions or rate limits on one task or workflow
MAX_LABELS = 64
MAX_LABEL_TEXT = 200


def _show(value: object) -> str:
    try:
        return reprlib.repr(value)
    except ValueError:
        return f"<{type(value).__name__} too large to show>"


def check_cel(text: object, what: str) -> str:
    """Compile ``text`` as CEL (cached), or raise :class:`DefinitionError` saying why.

    Args:
        text: the expression.
        what: where it appears, for the message (``"concurrency expression"``).
    """
    # imported here: the engine imports this module's users, and the CEL module lives
    # in the engine's package
    from ratchet._contract.cel import CelError, compile_cel

    try:
        # (ignored below: compile_cel rejects a non-string with CelError, turned into DefinitionError here)
        compile_cel(text)  # type: ignore[arg-type]
    except CelError as exc:
        raise DefinitionError(f"{what}: {exc}") from None
    return text  # type: ignore[return-value]  # compiled above, so text is a string


def _whole(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DefinitionError(f"{what} must be a whole number from {low} to {high}, got {_show(value)}")
    if not low <= value <= high:
        raise DefinitionError(f"{what} must be from {low} to {high}, got {_show(value)}")
    return int(value)


def _label_text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(f"{what} must be a non-empty string, got {_show(value)}")
    if len(value) > MAX_LABEL_TEXT or not value.isprintable():
        raise DefinitionError(
            f"{what} {value[:40]!r} must be printable and at most {MAX_LABEL_TEXT} characters"
        )
    return value


_E = TypeVar("_E", bound=enum.Enum)


def _enum(kind: type[_E], value: object, what: str) -> _E:
    if isinstance(value, kind):
        return value
    for member in kind:
        if value == member.value or (isinstance(value, str) and value == member.name):
            return member
    names = ", ".join(m.name for m in kind)
    raise DefinitionError(f"{what} must be one of {names}, got {_show(value)}")


def _items(value: object, what: str) -> tuple[Any, ...]:
    if isinstance(value, str | bytes | bytearray | Mapping | Set) or not isinstance(value, Iterable):
        raise DefinitionError(f"{what} must be a list, got {_show(value)}")
    items = tuple(value)
    if len(items) > MAX_ENTRIES:
        raise DefinitionError(f"{what} has {len(items)} entries; at most {MAX_ENTRIES} are allowed")
    return items


# -- concurrency ---------------------------------------------------------------------------------


class ConcurrencyLimitStrategy(enum.StrEnum):
    """What a concurrency group does with a run that arrives when it is full.

    Attributes:
        GROUP_ROUND_ROBIN: the run waits; groups are served fairly, in turn.
        CANCEL_IN_PROGRESS: the oldest running run of the group is cancelled for it.
        CANCEL_NEWEST: the arriving run is cancelled.
    """

    GROUP_ROUND_ROBIN = "GROUP_ROUND_ROBIN"
    CANCEL_IN_PROGRESS = "CANCEL_IN_PROGRESS"
    CANCEL_NEWEST = "CANCEL_NEWEST"

    def __repr__(self) -> str:
        return f"ConcurrencyLimitStrategy.{self.name}"


@dataclass(frozen=True)
class ConcurrencyExpression:
    """A concurrency limit: at most ``max_runs`` at once per value of ``expression``.

    On a workflow it limits whole runs (a run holds its place until it finishes); on a
    task, that task's runs (held until the task finishes, across its retries).

    Args:
        expression: CEL over ``input`` and ``additional_metadata`` giving the group key,
            e.g. ``"input.user_id"``; a constant such as ``"'all'"`` makes one group.
        max_runs: runs a group admits at once (1 to 100,000).
        limit_strategy: what happens to a run arriving at a full group.

    Raises:
        DefinitionError: a bad expression (with the parser's message), max_runs or strategy.
    """

    expression: str
    max_runs: int
    limit_strategy: ConcurrencyLimitStrategy = ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN

    def __post_init__(self) -> None:
        check_cel(self.expression, "concurrency expression")
        object.__setattr__(
            self,
            "max_runs",
            _whole(self.max_runs, f"concurrency {self.expression!r}: max_runs", 1, MAX_MAX_RUNS),
        )
        object.__setattr__(
            self,
            "limit_strategy",
            _enum(
                ConcurrencyLimitStrategy,
                self.limit_strategy,
                f"concurrency {self.expression!r}: limit_strategy",
            ),
        )

    @staticmethod
    def from_int(max_runs: int) -> ConcurrencyExpression:
        """One group for every run: ``concurrency=5`` means this."""
        return ConcurrencyExpression("'constant'", max_runs, ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN)

    def to_dict(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "max_runs": self.max_runs,
            "strategy": self.limit_strategy.value,
        }

    @classmethod
    def from_dict(cls, data: object) -> ConcurrencyExpression:
        if not isinstance(data, Mapping):
            raise DefinitionError(f"a concurrency entry must be a mapping, got {_show(data)}")
        for field in ("expression", "max_runs"):
            if field not in data:
                raise DefinitionError(f"a concurrency entry is missing the field {field!r}")
        return cls(data["expression"], data["max_runs"], data.get("strategy", "GROUP_ROUND_ROBIN"))


def concurrency_list(value: object, where: str) -> tuple[ConcurrencyExpression, ...]:
    """``concurrency=`` as written (None, an int, an expression, or a list of them), as a tuple."""
    if value is None:
        return ()
    items = (
        (value,) if isinstance(value, int | ConcurrencyExpression) else _items(value, f"{where}: concurrency")
    )
    out = []
    for item in items:
        if isinstance(item, bool):
            raise DefinitionError(
                f"{where}: concurrency must be an int or a ConcurrencyExpression, got {item!r}"
            )
        if isinstance(item, int):
            try:
                item = ConcurrencyExpression.from_int(item)
            except DefinitionError as exc:
                raise DefinitionError(f"{where}: {exc}") from None
        if not isinstance(item, ConcurrencyExpression):
            raise DefinitionError(
                f"{where}: concurrency must be an int or a ConcurrencyExpression, got {_show(item)}"
            )
        out.append(item)
    return tuple(out)


# -- rate limits ---------------------------------------------------------------------------------


class RateLimitDuration(enum.StrEnum):
    """The window of a rate limit. A month is 30 days, a year 365 days."""

    SECOND = "SECOND"
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"

    @property
    def seconds(self) -> float:
        """The window's length in seconds."""
        return _DURATION_SECONDS[self]

    def __repr__(self) -> str:
        return f"RateLimitDuration.{self.name}"


_DURATION_SECONDS = {
    RateLimitDuration.SECOND: 1.0,
    RateLimitDuration.MINUTE: 60.0,
    RateLimitDuration.HOUR: 3600.0,
    RateLimitDuration.DAY: 86400.0,
    RateLimitDuration.WEEK: 7 * 86400.0,
    RateLimitDuration.MONTH: 30 * 86400.0,
    RateLimitDuration.YEAR: 365 * 86400.0,
}


def rate_limit_duration(value: object, what: str = "duration") -> RateLimitDuration:
    """A :class:`RateLimitDuration` from itself or its name (``"MINUTE"``)."""
    return _enum(RateLimitDuration, value, what)


def _units_or_cel(value: object, what: str, high: int) -> int | str:
    if isinstance(value, str):
        return check_cel(value, what)
    return _whole(value, what, 1, high)


@dataclass(frozen=True)
class RateLimit:
    """A rate limit a task consumes ``units`` of each time it starts.

    The engine promises that in **any** interval of length ``duration``, the units
    admitted under one key never exceed its limit; a task over the limit waits and starts
    as soon as the window allows, it never fails for it.

    Args:
        static_key: a key declared with ``ratchet.rate_limits.put(key, limit, duration)``.
        dynamic_key: CEL over ``input`` and ``additional_metadata`` giving the key
            (``"input.user_id"``: a limit per user); needs ``limit``.
        units: units one start consumes: a whole number or CEL (default 1).
        limit: for a dynamic key, units per ``duration``: a whole number or CEL.
        duration: for a dynamic key, the window (a static key's comes from ``put``).

    Raises:
        DefinitionError: both or neither key, a dynamic key without a limit, a limit on a
            static key, a bad CEL expression, units or limit out of range.
    """

    static_key: str | None = None
    dynamic_key: str | None = None
    units: int | str = 1
    limit: int | str | None = None
    duration: RateLimitDuration = RateLimitDuration.MINUTE

    def __post_init__(self) -> None:
        if (self.static_key is None) == (self.dynamic_key is None):
            raise DefinitionError("a RateLimit needs exactly one of static_key and dynamic_key")
        if self.static_key is not None:
            where = f"rate limit {_label_text(self.static_key, 'rate limit static_key')!r}"
            if self.limit is not None:
                raise DefinitionError(
                    f"{where}: a static key takes its limit from ratchet.rate_limits.put(); "
                    "drop limit=, or use dynamic_key="
                )
        else:
            where = f"rate limit {check_cel(self.dynamic_key, 'rate limit dynamic_key')!r}"
            if self.limit is None:
                raise DefinitionError(f"{where}: a dynamic key needs limit= (a whole number or CEL)")
            object.__setattr__(self, "limit", _units_or_cel(self.limit, f"{where}: limit", MAX_RATE_LIMIT))
        object.__setattr__(self, "units", _units_or_cel(self.units, f"{where}: units", MAX_RATE_LIMIT))
        object.__setattr__(self, "duration", rate_limit_duration(self.duration, f"{where}: duration"))

    @property
    def key(self) -> str:
        """The static key, or the dynamic key's expression."""
        # (ignored below: exactly one of the two keys is set (checked in __post_init__))
        return self.static_key if self.static_key is not None else self.dynamic_key  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"units": self.units, "duration": self.duration.value}
        if self.static_key is not None:
            out["static_key"] = self.static_key
        else:
            out["dynamic_key"] = self.dynamic_key
            out["limit"] = self.limit
        return out

    @classmethod
    def from_dict(cls, data: object) -> RateLimit:
        if not isinstance(data, Mapping):
            raise DefinitionError(f"a rate limit entry must be a mapping, got {_show(data)}")
        unknown = set(data) - {"static_key", "dynamic_key", "units", "limit", "duration"}
        if unknown:
            raise DefinitionError(f"a rate limit entry has unknown fields {sorted(map(str, unknown))}")
        return cls(
            static_key=data.get("static_key"),
            dynamic_key=data.get("dynamic_key"),
            units=data.get("units", 1),
            limit=data.get("limit"),
            duration=data.get("duration", "MINUTE"),
        )


def rate_limit_list(value: object, where: str) -> tuple[RateLimit, ...]:
    """``rate_limits=`` as written, as a tuple of :class:`RateLimit`."""
    if value is None:
        return ()
    items = _items(value, f"{where}: rate_limits")
    for item in items:
        if not isinstance(item, RateLimit):
            raise DefinitionError(f"{where}: rate_limits must hold RateLimit values, got {_show(item)}")
    keys = [item.key for item in items]
    if len(set(keys)) != len(keys):
        raise DefinitionError(f"{where}: rate_limits names a key twice: {keys}")
    return items


def check_rate_limit_put(key: object, limit: object, duration: object) -> tuple[str, int, RateLimitDuration]:
    """The arguments of ``ratchet.rate_limits.put``, checked.

    Raises:
        ValueError: naming the bad argument.
    """
    try:
        return (
            _label_text(key, "rate limit key"),
            _whole(limit, f"rate limit {key!r}: limit", 1, MAX_RATE_LIMIT),
            rate_limit_duration(duration, f"rate limit {key!r}: duration"),
        )
    except DefinitionError as exc:
        raise ValueError(str(exc)) from None


def check_rate_limit_key(key: object) -> str:
    """A static rate limit's key, checked (``ratchet.rate_limits.delete``).

    Raises:
        ValueError: the key is not a non-empty printable string of at most 200 characters.
    """
    try:
        return _label_text(key, "rate limit key")
    except DefinitionError as exc:
        raise ValueError(str(exc)) from None


# -- priorities ------------------------------------------------------------------------------------


class Priority(enum.IntEnum):
    """Run priority: higher runs first within a queue and within a concurrency group."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3


# -- worker affinity --------------------------------------------------------------------------------


class WorkerLabelComparator(enum.IntEnum):
    """How a worker's label value is compared with a desired one (``worker <op> desired``).

    EQUAL and NOT_EQUAL compare strings or whole numbers; the others whole numbers only.
    """

    EQUAL = 0
    NOT_EQUAL = 1
    GREATER_THAN = 2
    GREATER_THAN_OR_EQUAL = 3
    LESS_THAN = 4
    LESS_THAN_OR_EQUAL = 5


def _label_value(value: object, what: str) -> str | int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise DefinitionError(f"{what} must be a string or a whole number, got {_show(value)}")
    if isinstance(value, str):
        if len(value) > MAX_LABEL_TEXT or not value.isprintable():
            raise DefinitionError(
                f"{what} {value[:40]!r} must be printable and at most {MAX_LABEL_TEXT} characters"
            )
        return value
    if not -(2**63) <= value < 2**63:
        raise DefinitionError(f"{what} must fit in 64 bits, got {_show(value)}")
    return int(value)


@dataclass(frozen=True)
class WorkerLabel:
    """One label of a worker: ``WorkerLabel("model", "llama-3")``.

    Workers also take labels as a dict, ``labels={"model": "llama-3", "memory": 512}``.
    """

    key: str
    value: str | int

    def __post_init__(self) -> None:
        _label_text(self.key, "worker label key")
        object.__setattr__(self, "value", _label_value(self.value, f"worker label {self.key!r}: value"))


def check_worker_labels(labels: object, where: str) -> dict[str, str | int]:
    """A worker's labels (a dict, or a list of :class:`WorkerLabel`) as a checked dict.

    Raises:
        ValueError: naming the worker and the bad label.
    """
    try:
        if labels is None:
            return {}
        if isinstance(labels, Mapping):
            pairs = [WorkerLabel(k, v) for k, v in labels.items()]
        else:
            items = list(labels) if isinstance(labels, list | tuple) else None
            if items is None or not all(isinstance(x, WorkerLabel) for x in items):
                raise DefinitionError(f"labels must be a dict or a list of WorkerLabel, got {_show(labels)}")
            pairs = items
        if len(pairs) > MAX_LABELS:
            raise DefinitionError(f"at most {MAX_LABELS} labels are allowed, got {len(pairs)}")
        out: dict[str, str | int] = {}
        for label in pairs:
            if label.key in out:
                raise DefinitionError(f"the label {label.key!r} is given twice")
            out[label.key] = label.value
        return out
    except DefinitionError as exc:
        raise ValueError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class DesiredWorkerLabel:
    """What a task wants of its worker's label (see ``desired_worker_labels=``).

    Args:
        value: the value compared with the worker's label.
        required: a worker without a matching label never gets the task (it waits);
            otherwise the match only adds ``weight`` to the worker's score.
        weight: how much a match counts when choosing among free workers.
        comparator: ``worker_value <comparator> value``.

    Raises:
        DefinitionError: a bad value, weight or comparator (an ordering comparator needs
            a whole-number value).
    """

    value: str | int
    required: bool = False
    weight: int = 100
    comparator: WorkerLabelComparator = WorkerLabelComparator.EQUAL

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _label_value(self.value, "desired worker label value"))
        if not isinstance(self.required, bool):
            raise DefinitionError(
                f"desired worker label: required must be True or False, got {_show(self.required)}"
            )
        object.__setattr__(self, "weight", _whole(self.weight, "desired worker label weight", 0, 1_000_000))
        comparator = _enum(WorkerLabelComparator, self.comparator, "desired worker label comparator")
        if comparator not in (
            WorkerLabelComparator.EQUAL,
            WorkerLabelComparator.NOT_EQUAL,
        ) and not isinstance(self.value, int):
            raise DefinitionError(
                f"desired worker label: {comparator.name} compares whole numbers, "
                f"but the value is {self.value!r}"
            )
        object.__setattr__(self, "comparator", comparator)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "required": self.required,
            "weight": self.weight,
            "comparator": self.comparator.name,
        }

    @classmethod
    def from_dict(cls, data: object) -> DesiredWorkerLabel:
        if not isinstance(data, Mapping) or "value" not in data:
            raise DefinitionError(f"a desired worker label must be a mapping with a value, got {_show(data)}")
        return cls(
            data["value"],
            data.get("required", False),
            data.get("weight", 100),
            data.get("comparator", "EQUAL"),
        )


def desired_labels(value: object, where: str) -> tuple[tuple[str, DesiredWorkerLabel], ...]:
    """``desired_worker_labels=`` as written (key to label or plain value), sorted by key."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise DefinitionError(
            f"{where}: desired_worker_labels must be a dict of label key to DesiredWorkerLabel"
        )
    if len(value) > MAX_LABELS:
        raise DefinitionError(f"{where}: at most {MAX_LABELS} desired worker labels are allowed")
    out = []
    for key, label in value.items():
        _label_text(key, f"{where}: desired worker label key")
        try:
            if not isinstance(label, DesiredWorkerLabel):
                label = DesiredWorkerLabel(label)
        except DefinitionError as exc:
            raise DefinitionError(f"{where}: label {key!r}: {exc}") from None
        out.append((key, label))
    return tuple(sorted(out, key=lambda kv: kv[0]))


class StickyStrategy(enum.StrEnum):
    """Keep a run's tasks on the worker that ran its first task.

    Attributes:
        SOFT: prefer that worker; use another when it has no free slot.
        HARD: only that worker; the tasks wait for it.
    """

    SOFT = "SOFT"
    HARD = "HARD"

    def __repr__(self) -> str:
        return f"StickyStrategy.{self.name}"


def sticky_strategy(value: object, where: str) -> StickyStrategy | None:
    """``sticky=`` as written (None, a :class:`StickyStrategy` or its name)."""
    if value is None:
        return None
    return _enum(StickyStrategy, value, f"{where}: sticky")
