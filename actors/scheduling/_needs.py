"""From a workflow spec and a run's input to what flow control asks of each task.

The RunCoordinator calls :class:`RunFlow` once per run that has flow control: the
concurrency keys, dynamic rate-limit keys, units and limits are CEL expressions over the
run's ``input`` and ``additional_metadata``, evaluated here (each expression compiled
once per process, see :mod:`ratchet._contract.cel`) and cached per task, since they
cannot change during the run. An expression that fails for this run's values raises
:class:`FlowKeyError`, which fails that run's task with the message and harms no other.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from ratchet._contract.cel import CelError, compile_cel
from ratchet._contract.flow import DesiredWorkerLabel
from ratchet._contract.spec import TaskSpec, WorkflowSpec

from ._admission import FlowNeeds, GroupKey, GroupNeed
from ._affinity import LabelWish, wishes_from_spec
from ._rate_limits import RateNeed

__all__ = ["FLOW_ERROR", "FlowKeyError", "RunFlow"]

FLOW_ERROR = "FlowControlError"
MAX_KEY_LENGTH = 500
MAX_UNITS = 1_000_000_000


class FlowKeyError(Exception):
    """A concurrency or rate-limit expression failed for one run's values."""


def _evaluate(text: str, activation: dict[str, Any], what: str) -> Any:
    try:
        return compile_cel(text).evaluate(activation)
    except CelError as exc:
        raise FlowKeyError(f"{what} could not be evaluated for this run: {exc}") from None


def _key(value: Any, text: str, what: str) -> str:
    """A key value as text: strings as they are, numbers and booleans in JSON."""
    if isinstance(value, str):
        key = value
    elif value is None or isinstance(value, list | dict):
        raise FlowKeyError(
            f"{what} {text!r} gave {json.dumps(value)[:80]} for this run; a key must be a string or a number"
        )
    else:
        key = json.dumps(value)
    if not key or len(key) > MAX_KEY_LENGTH:
        raise FlowKeyError(
            f"{what} {text!r} gave a key of {len(key)} characters; keys are 1 to {MAX_KEY_LENGTH}"
        )
    return key


def _count(value: Any, text: str, what: str) -> int:
    """A whole number of at least 1 (units or a limit)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_UNITS:
        raise FlowKeyError(
            f"{what} {text!r} gave {value!r} for this run; it must be a whole number from 1 to {MAX_UNITS}"
        )
    return value


class RunFlow:
    """The flow-control needs of one run's tasks, evaluated once.

    Args:
        spec: the run's workflow version.
        input: the run's input.
        metadata: the run's additional metadata.
        run_labels: the run's own ``desired_worker_labels`` (given when it was triggered).
    """

    def __init__(
        self,
        spec: WorkflowSpec,
        input: Any,
        metadata: dict[str, Any],
        run_labels: Sequence[tuple[str, DesiredWorkerLabel]] = (),
    ) -> None:
        self.spec = spec
        self._run_labels = dict(run_labels)
        self._activation = {"input": input, "additional_metadata": metadata}
        self._run_groups: tuple[GroupNeed, ...] | None = None
        self._tasks: dict[str, tuple[tuple[GroupNeed, ...], tuple[RateNeed, ...], tuple[LabelWish, ...]]] = {}

    def _groups(self, scope: str, task: TaskSpec | None) -> tuple[GroupNeed, ...]:
        entries = self.spec.concurrency if task is None else task.concurrency
        where = f"workflow {self.spec.name!r}" if task is None else f"task {scope!r}"
        out = []
        for c in entries:
            what = f"{where}: concurrency expression"
            value = _key(
                _evaluate(c.expression, self._activation, f"{what} {c.expression!r}"), c.expression, what
            )
            key = GroupKey(scope, c.expression, c.limit_strategy.value, value)
            out.append(GroupNeed(key, c.limit_strategy, c.max_runs))
        return tuple(out)

    def run_groups(self) -> tuple[GroupNeed, ...]:
        if self._run_groups is None:
            self._run_groups = self._groups(self.spec.name, None)
        return self._run_groups

    def _task(self, name: str) -> tuple[tuple[GroupNeed, ...], tuple[RateNeed, ...], tuple[LabelWish, ...]]:
        cached = self._tasks.get(name)
        if cached is not None:
            return cached
        task = self.spec.task(name)
        scope = f"{self.spec.name}.{name}"
        groups = self._groups(scope, task)
        rates = []
        for limit in task.rate_limits:
            where = f"task {scope!r}: rate limit"
            units = limit.units
            if isinstance(units, str):
                units = _count(
                    _evaluate(units, self._activation, f"{where} units {units!r}"), units, f"{where} units"
                )
            if limit.static_key is not None:
                rates.append(RateNeed(limit.static_key, units))
                continue
            expression = limit.dynamic_key
            assert expression is not None
            key = _key(
                _evaluate(expression, self._activation, f"{where} key {expression!r}"),
                expression,
                f"{where} key",
            )
            cap = limit.limit
            if isinstance(cap, str):
                cap = _count(
                    _evaluate(cap, self._activation, f"{where} limit {cap!r}"), cap, f"{where} limit"
                )
            assert isinstance(cap, int)
            rates.append(RateNeed(key, units, cap, limit.duration.seconds))
        # the run's wishes apply to every task; a task's own wish for a key wins
        labels = {**self._run_labels, **dict(task.desired_worker_labels)}
        entry = (groups, tuple(rates), wishes_from_spec(sorted(labels.items())))
        self._tasks[name] = entry
        return entry

    def needs(
        self, task: str, run_id: str, task_id: str, *, reclaim_run: bool = False, reclaim_task: bool = False
    ) -> FlowNeeds:
        """What flow control asks of an attempt of ``task``.

        Raises:
            FlowKeyError: an expression failed for this run (the message says which and why).
        """
        task_groups, rates, wishes = self._task(task)
        return FlowNeeds(
            run_id,
            task_id,
            run_groups=self.run_groups(),
            task_groups=task_groups,
            rates=rates,
            wishes=wishes,
            sticky=self.spec.sticky,
            reclaim_run=reclaim_run,
            reclaim_task=reclaim_task,
        )
