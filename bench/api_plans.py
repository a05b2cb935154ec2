"""The reads of listing runs: the store's own SQL captured and explained, and what a page costs.

:func:`explained_list` runs what the gateway's ``list_runs`` runs to find a page (the
gateway's own :func:`~ratchet.actors.gateway._run_search.find_runs` over a
:class:`~ratchet.actors.store.PostgresStore`), with the store's connection pool wrapped
so that every statement it sends is first run under ``EXPLAIN (ANALYZE, BUFFERS)``. The
plans are therefore those of the exact SQL and parameters the engine sends, not of a
query rewritten by hand.

:func:`page_reads` times, in this process against the same store, the reads behind one
page as the gateway makes them: finding the runs, then describing each (its workflow and
its tasks, two queries a run), against reading the tasks of all of them in one query.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ratchet._contract.protocol import ListRunsRequest
from ratchet.actors.gateway._run_search import find_runs, search_of
from ratchet.actors.store import PostgresStore

__all__ = ["ExplainedList", "explained_list", "page_reads", "seq_scans"]


@dataclass
class ExplainedList:
    """The statements one page of a list sent, each with its plan, and the rows it found."""

    statements: list[tuple[str, list[Any], str]] = field(default_factory=list)
    rows: int = 0


class _ExplainingPool:
    """A stand-in for the store's asyncpg pool that explains each ``fetch`` before running it."""

    def __init__(self, pool: Any, into: ExplainedList) -> None:
        self._pool = pool
        self._into = into

    async def fetch(self, sql: str, *params: Any) -> list[Any]:
        plan = await self._pool.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
        self._into.statements.append((sql, list(params), "\n".join(row[0] for row in plan)))
        rows: list[Any] = await self._pool.fetch(sql, *params)
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


@contextmanager
def _explaining(store: PostgresStore, into: ExplainedList) -> Iterator[None]:
    pool = store._pool  # the store's own pool: its statements are the engine's
    if pool is None:
        raise RuntimeError("explained_list: open the store first")
    store._pool = _ExplainingPool(pool, into)  # type: ignore[assignment]
    try:
        yield
    finally:
        store._pool = pool


async def explained_list(store: PostgresStore, tenant_id: str, filters: Mapping[str, Any]) -> ExplainedList:
    """One page of ``list_runs`` with ``filters`` (the gateway's filters), explained.

    Args:
        store: an open Postgres store on the engine's database.
        tenant_id: the tenant.
        filters: what a client sends as ``list_runs`` filters (see
            :class:`~ratchet._contract.protocol.ListRunsRequest`).
    """
    request = ListRunsRequest.model_validate(dict(filters))
    search = await search_of(store, tenant_id, request, request.statuses)
    out = ExplainedList()
    with _explaining(store, out):
        out.rows = len(await find_runs(store, tenant_id, search, request.offset, request.limit))
    # resolving workflow names reads the small workflows table; only the runs' reads matter
    out.statements = [s for s in out.statements if "workflow_runs" in s[0]]
    return out


def seq_scans(explained: ExplainedList, table: str = "workflow_runs") -> list[str]:
    """The plans among ``explained``'s that read all of ``table`` (a ``Seq Scan on`` it)."""
    return [plan for _, _, plan in explained.statements if f"Seq Scan on {table}" in plan]


async def page_reads(
    store: PostgresStore, tenant_id: str, filters: Mapping[str, Any], repeat: int = 9
) -> dict[str, float]:
    """Median milliseconds of the reads behind one page of ``list_runs`` with ``filters``.

    Returns:
        ``find`` (the runs), ``describe each`` (per run its workflow and tasks, as the
        gateway's ``list_runs`` does), ``tasks at once`` (every run's tasks in one query),
        and ``runs``, how many the page holds.
    """
    request = ListRunsRequest.model_validate(dict(filters))
    search = await search_of(store, tenant_id, request, request.statuses)
    times: dict[str, list[float]] = {"find": [], "describe each": [], "tasks at once": []}
    runs: list[Any] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        runs = await find_runs(store, tenant_id, search, request.offset, request.limit)
        t1 = time.perf_counter()
        for run in runs:
            await store.get_workflow(tenant_id, run.workflow_id)
            await store.list_tasks(tenant_id, run.id)
        t2 = time.perf_counter()
        await store.list_tasks_of_runs(tenant_id, [run.id for run in runs])
        t3 = time.perf_counter()
        for key, seconds in zip(times, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            times[key].append(seconds * 1000)
    return {**{key: statistics.median(ms) for key, ms in times.items()}, "runs": float(len(runs))}
