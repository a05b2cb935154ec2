"""``DurableContext``: what a durable task receives; each durable call is a log entry.

Every call below is one entry of the task's durable log, kept by the engine. The first
time through, the call is recorded and carried out (sleep, wait, spawn); when the task
runs again (it was evicted while waiting, its worker crashed, the engine restarted),
the same calls in the same order return what they returned before without doing it
again: a finished sleep returns at once, a satisfied wait returns the same event,
spawned children are not spawned again. A call that differs from the log at its
position raises :class:`NonDeterminismError`.

Rules for durable task code: make durable calls one at a time (not concurrently from a
nursery), and in the same order on every run; keep other side effects in child tasks
or idempotent. While a call waits longer than the task's eviction delay, the task is
evicted: its attempt ends without an outcome, it holds no slot, and it runs again
(replaying its log) when the wait is over.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from .._contract.durations import Duration, parse_duration
from .._declare.conditions import condition_groups
from .._errors import DefinitionError, NonDeterminismError
from .context import AttemptInfo, Context, WorkerLink

__all__ = ["DurableContext", "EvictedError"]


class EvictedError(BaseException):
    """Raised inside a durable task to end its attempt while it waits (internal).

    A ``BaseException``, so task code's ``except Exception`` does not swallow it.

    Args:
        message: what waits.
        seq: the log position of the call that waits.
    """

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class DurableContext(Context):
    """The ``ctx`` of a durable task: :class:`Context` plus durable calls.

    Args:
        info: the attempt.
        link: the way to the engine.
        eviction_delay: seconds a waiting call keeps the slot before the task is evicted.
    """

    def __init__(self, info: AttemptInfo, link: WorkerLink, eviction_delay: float = 1.0) -> None:
        super().__init__(info, link)
        self.eviction_delay = eviction_delay
        self._seq = 0

    async def _step(self, kind: str, key: str, request: Any = None) -> Any:
        seq = self._seq
        self._seq += 1
        step = getattr(self._link, "durable_step", None)
        if step is None:
            raise RuntimeError(f"durable task {self._info.task!r} runs without an engine to keep its log")
        answer = await step(self._info, seq, kind, key, request, self.eviction_delay)
        if "nondeterminism" in answer:
            raise NonDeterminismError(answer["nondeterminism"])
        if not answer.get("done"):
            raise EvictedError(f"{kind}({key!r}) waits; the task is evicted until it is over", seq)
        return answer.get("result")

    async def aio_now(self) -> datetime:
        """The current time (UTC), recorded once: a replay gets the same value."""
        return datetime.fromtimestamp(await self._step("now", "now"), UTC)

    async def aio_sleep_for(self, duration: Duration) -> None:
        """Sleep for ``duration`` (seconds, a timedelta or ``"5m"``) without holding a slot.

        A replay after the sleep ended returns at once; a replay during it sleeps only
        what is left.
        """
        seconds = parse_duration(duration, what="aio_sleep_for")
        await self._step("sleep", f"for {seconds:g}s", {"seconds": seconds})

    async def aio_sleep_until(self, when: datetime | float) -> None:
        """Sleep until ``when`` (an aware datetime, naive means local; or epoch seconds)."""
        until = when.timestamp() if isinstance(when, datetime) else when
        if isinstance(until, bool) or not isinstance(until, int | float) or not math.isfinite(until):
            raise ValueError(f"aio_sleep_until takes a datetime or epoch seconds, got {when!r}")
        await self._step("sleep", f"until {float(until)!r}", {"until": float(until)})

    async def aio_wait_for_event(
        self,
        key: str,
        expression: str | None = None,
        scope: str | None = None,
        lookback_window: Duration | None = None,
    ) -> dict[str, Any]:
        """Wait for an event on ``key`` for which ``expression`` (CEL over ``input``) holds.

        Events pushed from ``lookback_window`` before the wait began count too, so one
        pushed just before the wait is not missed. Returns the event:
        ``{"id", "key", "payload", "additional_metadata", "scope", "created_at"}``.
        """
        lookback = (
            None if lookback_window is None else parse_duration(lookback_window, what="lookback_window")
        )
        request = {"expression": expression, "scope": scope, "lookback": lookback}
        return await self._step("event", key, request)

    async def aio_wait_for(self, key: str, *conditions: Any) -> list[Any]:
        """Wait until every condition (or ``or_`` group) holds; ``key`` names the wait.

        Returns, per item, what satisfied it: ``{"sleep": seconds}`` or ``{"event": event}``.

        Raises:
            DefinitionError: a malformed condition (nothing is recorded).
        """
        if not isinstance(key, str) or not key:
            raise DefinitionError(f"aio_wait_for: key must be a non-empty string, got {key!r}")
        groups = condition_groups(conditions, f"aio_wait_for({key!r})")
        if any(c["kind"] == "parent" for g in groups for c in g):
            raise DefinitionError(
                f"aio_wait_for({key!r}): a durable wait takes sleeps and events, not parents"
            )
        return await self._step("conditions", key, {"groups": groups})

    async def _make_known(self, definition: dict[str, Any]) -> None:
        """Have the engine know a workflow this task is about to spawn (no worker may have
        registered it yet); not a durable call: nothing is logged."""
        make_known = getattr(self._link, "make_known", None)
        if make_known is not None:
            await make_known(definition)

    async def _spawn(self, workflow: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Start child runs once: a replay gets the same run ids."""
        return await self._step("spawn", workflow, {"workflow": workflow, "items": items})

    async def _wait_runs(self, run_ids: list[str]) -> list[dict[str, Any]]:
        """Wait, without a slot, until the runs finished; their outcomes, as logged."""
        return await self._step("wait_runs", f"{len(run_ids)} runs", {"run_ids": run_ids})
