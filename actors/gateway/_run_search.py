"""Finding runs by filter: what ``list_runs`` lists and bulk cancel and replay act on.

Theory of operation. A filter becomes store conditions wherever an index serves them
(tenant, status and creation time; workflows; the spawning task run; the triggering
event, through the idempotency keys of the runs it started, see
:func:`ratchet._contract.keys.event_key_prefix`; metadata that must hold all its
pairs), so a query reads the runs that match and no others. Two filters are applied here:

- ``worker_id``: the store gives the runs with an attempt on that worker (its
  attempts are indexed by worker); the rest of the filter is checked on those runs;
- ``additional_metadata`` with ``match="any"``: matched pair by pair on the runs the
  indexed conditions leave, read in pages of ids and metadata only (no payloads).

Metadata values match when equal as JSON, by one rule everywhere
(:func:`ratchet.actors.store.metadata_holds`).

Bulk operations collect every matching id first and act afterwards: acting while
paging would move runs out of the status the pages are read by, and skip some.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ratchet._contract.keys import event_key_prefix
from ratchet._contract.protocol import ListRunsRequest, RequestError, RunFilterRequest

from ..store import Run, RunFilter, Store, metadata_holds

__all__ = ["MAX_BULK_RUNS", "RunSearch", "find_run_ids", "find_runs", "metadata_matches", "search_of"]

#: Runs one bulk cancel or replay by filter acts on at most.
MAX_BULK_RUNS = 100_000
_PAGE = 1000  # ids read per page when metadata is matched here


def metadata_matches(metadata: Any, wanted: Mapping[str, Any] | None, match: str) -> bool:
    """Whether a run's ``metadata`` holds all (``match="all"``) or any (``"any"``) of the
    ``wanted`` pairs; no pairs wanted matches every run."""
    if not wanted:
        return True
    if match == "any":
        return any(metadata_holds(metadata, {key: value}) for key, value in wanted.items())
    return metadata_holds(metadata, wanted)


@dataclass(frozen=True)
class RunSearch:
    """A filter on runs, resolved: workflow names turned into ids, the event into a key prefix."""

    statuses: tuple[str, ...] | None = None
    since: float | None = None
    until: float | None = None
    run_filter: RunFilter = field(default_factory=RunFilter)
    metadata: Mapping[str, Any] | None = None
    match: str = "all"
    worker_id: str | None = None

    def admits(self, run: Run) -> bool:
        """Whether ``run`` meets every condition (those the store applies included)."""
        f = self.run_filter
        prefix = f.idempotency_key_prefix
        return (
            (self.statuses is None or run.status in self.statuses)
            and (self.since is None or run.created_at >= self.since)
            and (self.until is None or run.created_at < self.until)
            and (f.workflow_ids is None or run.workflow_id in f.workflow_ids)
            and (f.parent_task_id is None or run.parent_task_id == f.parent_task_id)
            and (not prefix or (run.idempotency_key or "").startswith(prefix))
            and metadata_matches(run.additional_metadata, self.metadata, self.match)
        )


async def _workflow_ids(store: Store, tenant_id: str, wanted: Sequence[str]) -> tuple[str, ...]:
    """The ids of the workflows ``wanted`` names by id or by name (unknown ones name none)."""
    wanted_set = set(wanted)
    return tuple(
        wf.id for wf in await store.list_workflows(tenant_id) if wf.id in wanted_set or wf.name in wanted_set
    )


async def search_of(
    store: Store, tenant_id: str, request: ListRunsRequest | RunFilterRequest, statuses: Sequence[str] | None
) -> RunSearch:
    """The :class:`RunSearch` of a ``list_runs`` request or a bulk operation's filter.

    Args:
        store: the store, to resolve workflow names.
        tenant_id: the tenant.
        request: the validated filter.
        statuses: the statuses to keep (the request's, narrowed by the caller), or None for any.
    """
    workflow_ids: tuple[str, ...] | None = None
    if request.workflow_ids is not None:
        workflow_ids = await _workflow_ids(store, tenant_id, request.workflow_ids)
    parent = worker = event = None
    if isinstance(request, ListRunsRequest):
        if request.workflow is not None:
            named = await _workflow_ids(store, tenant_id, [request.workflow])
            workflow_ids = named if workflow_ids is None else tuple(w for w in named if w in workflow_ids)
        parent, worker, event = request.parent_task_id, request.worker_id, request.triggering_event_id
    try:
        run_filter = RunFilter(
            workflow_ids=workflow_ids,
            parent_task_id=parent,
            idempotency_key_prefix=None if event is None else event_key_prefix(event),
            metadata=request.additional_metadata if request.metadata_match == "all" else None,
        )
    except ValueError as exc:
        raise RequestError(f"additional_metadata: {exc}") from None
    return RunSearch(
        statuses=None if statuses is None else tuple(str(s) for s in statuses),
        since=request.since,
        until=request.until,
        run_filter=run_filter,
        metadata=request.additional_metadata,
        match=request.metadata_match,
        worker_id=worker,
    )


async def _worker_runs(store: Store, tenant_id: str, search: RunSearch) -> list[Run]:
    """The runs ``search.worker_id`` took part in that meet the search, newest first."""
    assert search.worker_id is not None
    ids = await store.list_worker_run_ids(tenant_id, search.worker_id, since=search.since)
    runs = [run for run in await store.get_runs(tenant_id, sorted(ids)) if search.admits(run)]
    return sorted(runs, key=lambda r: (r.created_at, r.id), reverse=True)


async def find_runs(store: Store, tenant_id: str, search: RunSearch, offset: int, limit: int) -> list[Run]:
    """The runs that meet ``search``, newest first, from the ``offset``-th, at most ``limit``."""
    if search.worker_id is not None:
        return (await _worker_runs(store, tenant_id, search))[offset : offset + limit]
    if not search.metadata or search.run_filter.metadata is not None:  # the store matches it
        return await store.list_runs(
            tenant_id,
            statuses=search.statuses,
            since=search.since,
            until=search.until,
            run_filter=search.run_filter,
            offset=offset,
            limit=limit,
        )
    wanted: list[str] = []
    async for page in _pages(store, tenant_id, search):
        wanted.extend(page)
        if len(wanted) >= offset + limit:
            break
    chosen = wanted[offset : offset + limit]
    by_id = {run.id: run for run in await store.get_runs(tenant_id, chosen)}
    return [by_id[i] for i in chosen if i in by_id]


async def find_run_ids(store: Store, tenant_id: str, search: RunSearch) -> list[str]:
    """Every run id that meets ``search``, newest first.

    Raises:
        RequestError: more than :data:`MAX_BULK_RUNS` runs match (nothing was done).
    """
    if search.worker_id is not None:
        ids = [run.id for run in await _worker_runs(store, tenant_id, search)]
    else:
        ids = []
        async for page in _pages(store, tenant_id, search):
            ids.extend(page)
            if len(ids) > MAX_BULK_RUNS:
                break
    if len(ids) > MAX_BULK_RUNS:
        raise RequestError(
            f"the filter matches more than {MAX_BULK_RUNS} runs; nothing was done: "
            "narrow it (a shorter time window, statuses, workflows or metadata) and repeat"
        )
    return ids


async def _pages(store: Store, tenant_id: str, search: RunSearch) -> AsyncIterator[list[str]]:
    """Pages of the ids of matching runs, newest first (metadata matched here)."""
    offset = 0
    while True:
        page = await store.list_run_ids(
            tenant_id,
            statuses=search.statuses,
            since=search.since,
            until=search.until,
            run_filter=search.run_filter,
            limit=_PAGE,
            offset=offset,
        )
        yield [
            run_id for run_id, metadata in page if metadata_matches(metadata, search.metadata, search.match)
        ]
        if len(page) < _PAGE:
            return
        offset += _PAGE
