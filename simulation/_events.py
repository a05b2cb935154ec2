"""Event-triggered workflows and the events the client pushes, as data.

A :class:`Listener` is a workflow declared with ``on_events`` (key patterns, ``*``
wildcards allowed) and, optionally, declared filters (:class:`FilterShape`: a scope and
the CEL expression ``input.n % modulus == remainder``). A :class:`Push` is one event the
client pushes at a given moment through the gateway.

:func:`expected_matches` is the simulation's own statement of the engine's rule
(see :mod:`ratchet.actors.triggers._rules`), written apart from the engine's code so that the
invariant checks the engine against it rather than against itself: a listener with no
filters starts one run per event whose key matches one of its patterns; one with filters
starts one run per filter whose scope is the event's and whose expression holds (an
event without a scope, or whose payload has no ``n``, is accepted by none).

Every event the simulation pushes (these, and the events durable waits wait for) has a
payload naming it (``{"push": "p3", ...}``), so the runs it started can be counted by
their input, whatever the engine keys them by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import trio

from ratchet._declare.trigger_options import DefaultFilter
from ratchet._declare.workflow import Workflow
from ratchet._errors import NonRetryableException
from ratchet.runtime import RandomSource

__all__ = [
    "EVENT_KEYS",
    "PATTERNS",
    "SCOPES",
    "FilterShape",
    "Listener",
    "Push",
    "build_listeners",
    "draw_events",
    "expected_matches",
    "listener_name",
    "pattern_matches",
]

EVENT_KEYS = ("order:paid", "order:shipped", "user:created", "user:deleted")
PATTERNS = ("order:paid", "order:*", "user:*", "*:created", "*")
SCOPES = ("acme", "globex")
PUSH_BEHAVIOURS = ("ok", "fail", "fatal")


def listener_name(index: int) -> str:
    """The name of listener number ``index``."""
    return f"sim-listener-{index}"


@dataclass(frozen=True)
class FilterShape:
    """A declared filter: events of ``scope`` whose ``n`` is ``remainder`` modulo ``modulus``."""

    scope: str
    modulus: int = 2
    remainder: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.scope, str) or not self.scope:
            raise ValueError(f"filter scope must be a non-empty string, got {self.scope!r}")
        if not 1 <= self.modulus <= 10 or not 0 <= self.remainder < self.modulus:
            raise ValueError(f"filter: need 1 <= modulus <= 10 and 0 <= remainder < modulus, got {self}")

    @property
    def expression(self) -> str:
        return f"input.n % {self.modulus} == {self.remainder}"

    def accepts(self, payload: Any, scope: str | None) -> bool:
        n = payload.get("n") if isinstance(payload, dict) else None
        return scope == self.scope and isinstance(n, int) and n % self.modulus == self.remainder


@dataclass(frozen=True)
class Listener:
    """A workflow started by events: its key patterns, its declared filters, its task's retries."""

    patterns: tuple[str, ...]
    filters: tuple[FilterShape, ...] = ()
    retries: int = 1

    def __post_init__(self) -> None:
        if not self.patterns or not all(isinstance(p, str) and p for p in self.patterns):
            raise ValueError(f"a listener needs one or more non-empty key patterns, got {self.patterns!r}")


@dataclass(frozen=True)
class Push:
    """One event the client pushes at ``at``: its key, a number ``n`` filters test, a scope,
    and how each attempt of the runs it starts behaves (``ok``, ``fail``, ``fatal``)."""

    at: float
    key: str
    n: int = 0
    scope: str | None = None
    plan: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.at < 1e6:
            raise ValueError(f"push: at must be 0 to 1e6 seconds, got {self.at!r}")
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"push: the key must be a non-empty string, got {self.key!r}")
        bad = [b for b in self.plan if b not in PUSH_BEHAVIOURS]
        if bad:
            raise ValueError(f"push plan: unknown behaviours {bad}; one of {PUSH_BEHAVIOURS}")

    def payload(self, index: int) -> dict[str, Any]:
        return {"push": f"p{index}", "n": self.n, "plan": list(self.plan)}


def pattern_matches(pattern: str, key: str) -> bool:
    """Whether ``key`` matches ``pattern``, where ``*`` stands for any characters."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), key, re.DOTALL) is not None


def expected_matches(listener: Listener, key: str, payload: Any, scope: str | None) -> list[int | None]:
    """The runs one event starts of ``listener``: the index of each accepting filter, or
    ``[None]`` (one run) for a listener without filters whose pattern matches."""
    if not any(pattern_matches(p, key) for p in listener.patterns):
        return []
    if not listener.filters:
        return [None]
    return [i for i, f in enumerate(listener.filters) if f.accepts(payload, scope)]


async def _handle(input: dict[str, Any], ctx: Any) -> dict[str, Any]:
    plan = input.get("plan") or []
    behaviour = plan[ctx.retry_count] if ctx.retry_count < len(plan) else "ok"
    await trio.sleep(0.05)
    if behaviour == "fail":
        raise RuntimeError(f"planned failure of the run of event {input.get('push')}")
    if behaviour == "fatal":
        raise NonRetryableException(f"planned fatal failure of the run of event {input.get('push')}")
    return {"push": input.get("push"), "filter": ctx.filter_payload}


def build_listeners(listeners: tuple[Listener, ...]) -> list[Workflow]:
    """Real workflows for ``listeners``; each run returns its event and its filter's payload."""
    out = []
    for i, shape in enumerate(listeners):
        filters = [DefaultFilter(f.expression, f.scope, {"filter": j}) for j, f in enumerate(shape.filters)]
        wf = Workflow(
            None,
            listener_name(i),
            on_events=list(shape.patterns),
            default_filters=filters,
            input_validator=dict,
        )
        wf.task(name="handle", retries=shape.retries, execution_timeout=5.0, schedule_timeout=3600.0)(_handle)
        out.append(wf)
    return out


def draw_events(
    random: RandomSource, *, listeners: int, pushes: int, horizon: float
) -> tuple[tuple[Listener, ...], tuple[Push, ...]]:
    """Listeners with one or two patterns (a third of them filtered), and events pushed within ``horizon``."""
    shapes = []
    for _ in range(listeners):
        patterns = tuple(sorted({random.choice(PATTERNS) for _ in range(random.randint(1, 2))}))
        filters: tuple[FilterShape, ...] = ()
        if random.random() < 0.35:
            filters = tuple(
                FilterShape(
                    random.choice(SCOPES), modulus := random.randint(1, 3), random.randint(0, modulus - 1)
                )
                for _ in range(random.randint(1, 2))
            )
        shapes.append(Listener(patterns, filters, random.randint(0, 2)))
    events = []
    for _ in range(pushes):
        plan = tuple(random.choice(("ok", "ok", "ok", "fail", "fatal")) for _ in range(random.randint(0, 2)))
        scope = random.choice((None, *SCOPES))
        events.append(
            Push(random.uniform(0, horizon), random.choice(EVENT_KEYS), random.randint(0, 9), scope, plan)
        )
    events.sort(key=lambda p: p.at)
    return tuple(shapes), tuple(events)
