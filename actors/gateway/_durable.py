"""Checks of a durable call, as the gateway receives it from a running durable task.

Plain functions the :class:`~ratchet.actors.gateway._gateway.Gateway` calls: the call is
checked here (kinds, sizes, CEL, conditions) before the gateway hands it to the
:class:`~ratchet.actors.durable._tasks.DurableTasks` actor.
"""

from __future__ import annotations

import math
from typing import Any

from ratchet._contract.cel import CelError, compile_cel
from ratchet._contract.conditions import ConditionError, check_groups
from ratchet._contract.protocol import (
    MAX_ID_LENGTH,
    ErrorCode,
    RequestError,
    check_id,
    check_payload_size,
    error_code,
)
from ratchet._contract.spec import MAX_EVICTION_DELAY
from ratchet.runtime import ActorError, ActorRef

from ..durable._log import KINDS
from ..durable._tasks import NonDeterminismError

__all__ = ["MAX_DURABLE_WAIT", "ask_durable_step", "check_step"]

MAX_DURABLE_WAIT = MAX_EVICTION_DELAY  # a durable task's eviction_delay, checked at declaration
MAX_SEQ = 1_000_000
MAX_SPAWN = 10_000


def check_step(
    task_id: Any, seq: Any, kind: Any, key: Any, request: Any, wait: Any, max_payload_bytes: int
) -> tuple[Any, float]:
    """One durable call as the gateway receives it: its request, normalised, and its wait.

    Raises:
        RequestError: a malformed call.
    """
    check_id(task_id, "durable_step", "a task run id")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise RequestError(f"durable_step: seq must be a whole number from 0 to {MAX_SEQ}, got {seq!r}")
    if kind not in KINDS:
        raise RequestError(f"durable_step: unknown kind {kind!r}; one of {sorted(KINDS)}")
    if not isinstance(key, str) or len(key) > 1000:
        raise RequestError("durable_step: key must be a string of at most 1000 characters")
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= MAX_DURABLE_WAIT:
        raise RequestError(f"durable_step: wait must be 0 to {MAX_DURABLE_WAIT:g} seconds, got {wait!r}")
    check_payload_size(request, max_payload_bytes, f"durable call {kind}({key!r})")
    return _check_request(kind, key, request), float(wait)


async def ask_durable_step(durable: ActorRef, *args: Any) -> dict[str, Any]:
    """Ask the DurableTasks actor for a step; a divergence reaches the caller as itself."""
    try:
        answer: dict[str, Any] = await durable.step.ask(*args)
    except ActorError as exc:  # the caller sees the durable actor's own error
        if error_code(exc.error_type) is ErrorCode.NON_DETERMINISM:
            raise NonDeterminismError(exc.error_message) from None
        raise
    return answer


def _check_request(kind: str, key: str, request: Any) -> Any:
    where = f"durable call {kind}({key!r})"
    if kind == "now":
        return None
    if not isinstance(request, dict):
        raise RequestError(f"{where}: the request must be a mapping")
    if kind == "sleep":
        if "seconds" in request:
            seconds = request["seconds"]
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, int | float)
                or not 0 <= seconds <= 366 * 86400
            ):
                raise RequestError(f"{where}: a sleep lasts 0 to 366 days, got {seconds!r}")
            return {"seconds": float(seconds)}
        until = request.get("until")
        if isinstance(until, bool) or not isinstance(until, int | float) or not math.isfinite(until):
            raise RequestError(f"{where}: 'until' must be epoch seconds")
        return {"until": float(until)}
    if kind == "event":
        if not key.strip() or len(key) > MAX_ID_LENGTH:
            raise RequestError(
                f"{where}: an event key is a non-empty string of at most {MAX_ID_LENGTH} characters"
            )
        expression, scope, lookback = request.get("expression"), request.get("scope"), request.get("lookback")
        if expression is not None:
            try:
                compile_cel(expression)
            except CelError as exc:
                raise RequestError(f"{where}: {exc}") from None
        if scope is not None and (not isinstance(scope, str) or not 0 < len(scope) <= MAX_ID_LENGTH):
            raise RequestError(f"{where}: scope must be a non-empty string or None")
        if lookback is not None and (
            isinstance(lookback, bool)
            or not isinstance(lookback, int | float)
            or not 0 <= lookback <= 366 * 86400
        ):
            raise RequestError(f"{where}: lookback_window must be 0 to 366 days, got {lookback!r}")
        return {"expression": expression, "scope": scope, "lookback": lookback}
    if kind == "conditions":
        try:
            return {"groups": check_groups(request.get("groups"), where)}
        except ConditionError as exc:
            raise RequestError(str(exc)) from None
    if kind == "spawn":
        items = request.get("items")
        if (
            not isinstance(items, list)
            or not 1 <= len(items) <= MAX_SPAWN
            or not isinstance(request.get("workflow"), str)
        ):
            raise RequestError(f"{where}: expected a workflow and 1 to {MAX_SPAWN} items")
        return {"workflow": request["workflow"], "items": items}
    run_ids = request.get("run_ids")  # wait_runs
    if not isinstance(run_ids, list) or not all(isinstance(r, str) for r in run_ids):
        raise RequestError(f"{where}: expected a list of run ids")
    return {"run_ids": run_ids}
