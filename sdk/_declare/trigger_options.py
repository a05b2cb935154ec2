"""A workflow's triggers as declared: default filters, checks, and its trigger shortcuts.

``ratchet.workflow(on_events=[...], default_filters=[DefaultFilter(...)],
on_crons=[...], cron_input=...)`` is checked when it is declared, so a bad cron string or
CEL expression fails at import time, naming the workflow. :class:`TriggerMethods` gives
a workflow ``create_filter``, ``create_cron`` and ``schedule`` (with ``aio_`` forms),
shortcuts to the clients of :mod:`ratchet._clients.triggers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._errors import DefinitionError

if TYPE_CHECKING:
    from .._client import Ratchet
    from .._clients.triggers import CronWorkflow, EventFilter, ScheduledWorkflow

__all__ = ["DefaultFilter", "TriggerMethods", "check_triggers", "declared_filters"]


@dataclass(frozen=True)
class DefaultFilter:
    """An event filter declared with its workflow.

    Attributes:
        expression: CEL over ``input`` (the event payload), ``additional_metadata``,
            ``payload`` (this filter's payload), ``event_key`` and ``scope``.
        scope: the event scope the filter applies to.
        payload: data the run sees as ``ctx.filter_payload``.
    """

    expression: str
    scope: str
    payload: Any = None


def declared_filters(filters: Sequence[Any], workflow: str) -> tuple[dict[str, Any], ...]:
    """``default_filters`` as spec mappings.

    Raises:
        DefinitionError: an entry is not a :class:`DefaultFilter` (or such a mapping).
    """
    if isinstance(filters, str | dict) or not isinstance(filters, Sequence):
        raise DefinitionError(f"workflow {workflow!r}: default_filters must be a list of DefaultFilter")
    out = []
    for f in filters:
        if isinstance(f, DefaultFilter):
            out.append({"expression": f.expression, "scope": f.scope, "payload": f.payload})
        elif isinstance(f, dict):
            out.append(dict(f))
        else:
            raise DefinitionError(f"workflow {workflow!r}: {f!r} is not a DefaultFilter")
    return tuple(out)


def check_triggers(
    workflow: str, on_events: Sequence[str], on_crons: Sequence[str], filters: Sequence[dict[str, Any]]
) -> None:
    """Check a declaration's triggers now rather than when a worker registers it."""
    from .._contract.spec import RetryPolicy, TaskSpec, WorkflowSpec

    WorkflowSpec(
        name=workflow,
        tasks=(TaskSpec("_check", retry=RetryPolicy()),),
        on_events=tuple(on_events),
        on_crons=tuple(on_crons),
        default_filters=tuple(filters),
    )


class TriggerMethods:
    """``create_filter``, ``create_cron`` and ``schedule`` of a workflow."""

    name: str

    def _client(self) -> Ratchet:  # provided by Workflow
        raise NotImplementedError

    def create_filter(self, expression: str, scope: str, payload: Any = None) -> EventFilter:
        """Add an event filter: events of ``scope`` start this workflow when ``expression`` holds.

        Raises:
            ValueError: a bad CEL expression or scope, or an unregistered workflow.
        """
        return self._client().filters.create(self, expression, scope, payload)

    async def aio_create_filter(self, expression: str, scope: str, payload: Any = None) -> EventFilter:
        """The ``aio_`` form of :meth:`create_filter`."""
        return await self._client().filters.aio_create(self, expression, scope, payload)

    def create_cron(
        self,
        cron_name: str,
        expression: str,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> CronWorkflow:
        """Run this workflow on every tick of the cron ``expression`` (UTC).

        Raises:
            ValueError: a bad cron string (the message says what is accepted), or a
                name this workflow already uses.
        """
        return self._client().cron.create(self, cron_name, expression, input, additional_metadata, priority)

    async def aio_create_cron(
        self,
        cron_name: str,
        expression: str,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> CronWorkflow:
        """The ``aio_`` form of :meth:`create_cron`."""
        return await self._client().cron.aio_create(
            self, cron_name, expression, input, additional_metadata, priority
        )

    def schedule(
        self,
        run_at: datetime | float,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> ScheduledWorkflow:
        """Run this workflow once at ``run_at`` (a datetime, naive means local; or epoch seconds).

        Raises:
            ValueError: not a time, or more than a day in the past.
        """
        return self._client().scheduled.create(self, run_at, input, additional_metadata, priority)

    async def aio_schedule(
        self,
        run_at: datetime | float,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> ScheduledWorkflow:
        """The ``aio_`` form of :meth:`schedule`."""
        return await self._client().scheduled.aio_create(self, run_at, input, additional_metadata, priority)
