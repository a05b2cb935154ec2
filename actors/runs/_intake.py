"""The run intake: every run starts here, and each idempotency key makes one run.

Theory of operation. The gateway (clients' and workers' triggers), durable tasks
(spawned children) and the triggers (events, cron ticks, schedules) all start runs
through :class:`RunIntake`. An answer is given only once it is committed: the id of
the run started, the id of the run an earlier request with the same idempotency key
started, or an error.

A key is decided in one place, in two pure steps around the commit:

- :func:`admit`, before: a key the store already has answers that run
  (:class:`Known`); a key an earlier request of the same batch carries shares that
  request's run (:class:`Same`); a key whose run this engine created and is still
  committing joins that run and waits for its commit (:class:`Join`); anything else
  makes a new run (:class:`New`). The look-up in the store is done by the shell, the
  pending keys are kept by the :class:`~ratchet.actors.runs._coordinator.RunCoordinator`
  (:class:`PendingKeys`), whose mailbox orders every creation.
- :func:`settle`, after: a committed run is the answer; a run whose commit failed
  lost a race for its key (another batch, another engine, a repeat after a restart)
  when the store now holds a run with that key, which is then the answer; otherwise
  the request fails.

Runs committed *together* with other mutations (an event and the runs it starts, a
cron tick or a schedule and its run) are all or nothing: they join no other batch's
run, so a key already taken fails the whole commit, which tells the trigger that
another engine fired first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..store import CommitTicket, Store, StoreError

if TYPE_CHECKING:
    from ratchet.runtime import ActorRef

__all__ = [
    "Admission",
    "Answer",
    "Existing",
    "Join",
    "Known",
    "New",
    "PendingKeys",
    "Refused",
    "RunIntake",
    "RunRequest",
    "Same",
    "Started",
    "Submitted",
    "Together",
    "Unsettled",
    "admit",
    "run_ids",
    "settle",
    "to_wire",
    "unsettled",
]

T = TypeVar("T")


@dataclass(frozen=True)
class RunRequest:
    """A validated request to start a run."""

    workflow: str
    input: Any = None
    additional_metadata: dict[str, Any] = field(default_factory=dict)
    priority: int | None = None
    parent_task_id: str | None = None
    idempotency_key: str | None = None
    filter_payload: Any = None  # the payload of the event filter that started the run
    run_id: str | None = None  # drawn by the caller (default: drawn here)
    desired_worker_labels: tuple[tuple[str, Any], ...] = ()  # the run's worker affinity


# -- before the commit ---------------------------------------------------------------------------


@dataclass(frozen=True)
class New:
    """Start a new run for the request."""


@dataclass(frozen=True)
class Known:
    """The store already has a run with the request's key: it is the answer."""

    run_id: str


@dataclass(frozen=True)
class Same:
    """An earlier request of the batch (at ``index``) has the key: share its run."""

    index: int


@dataclass(frozen=True)
class Join(Generic[T]):
    """A run with the key is being committed (``pending``): answer it once it lands."""

    pending: T


Admission = New | Known | Same | Join[T]


def admit(
    keys: Sequence[str | None],
    *,
    stored: Mapping[str, str] | None = None,
    pending: Mapping[str, T] | None = None,
) -> list[New | Known | Same | Join[T]]:
    """Decide, per request key of a batch, whether it makes a new run.

    Args:
        keys: each request's idempotency key (None: no key, always a new run).
        stored: the run id the store holds for a key (as the shell read it).
        pending: what is known of runs created with a key but not yet committed.

    Returns:
        One admission per key, in order. A key first seen in the batch is decided by
        ``stored``, then ``pending``; later requests with it are :class:`Same` as the
        first.
    """
    stored = stored or {}
    pending = pending or {}
    first: dict[str, int] = {}
    out: list[New | Known | Same | Join[T]] = []
    for i, key in enumerate(keys):
        if key is None:
            out.append(New())
        elif key in first:
            out.append(Same(first[key]))
        else:
            first[key] = i
            if key in stored:
                out.append(Known(stored[key]))
            elif key in pending:
                out.append(Join(pending[key]))
            else:
                out.append(New())
    return out


class PendingKeys:
    """Idempotency keys of runs created but not yet committed, with their commits.

    Owned by the coordinator, which creates every run in its mailbox's order. An entry
    is forgotten once its commit finished (either way): from then on the store answers
    for the key.
    """

    def __init__(self) -> None:
        self._runs: dict[str, tuple[str, CommitTicket]] = {}

    def __len__(self) -> int:
        return len(self._runs)

    def runs(self) -> Mapping[str, tuple[str, CommitTicket]]:
        """``key -> (run id, commit)`` of every pending key."""
        return self._runs

    def add(self, key: str, run_id: str, ticket: CommitTicket) -> None:
        """A run with ``key`` was submitted in the commit ``ticket``."""
        self._runs[key] = (run_id, ticket)

    def settled(self, key: str, ticket: CommitTicket) -> None:
        """The commit ``ticket`` finished: forget the key, unless a later run took it."""
        entry = self._runs.get(key)
        if entry is not None and entry[1] is ticket:
            del self._runs[key]


# -- after the commit ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """The request started this run (committed)."""

    run_id: str


@dataclass(frozen=True)
class Existing:
    """A run started earlier with the request's key (committed): nothing new started."""

    run_id: str


@dataclass(frozen=True)
class Refused:
    """The request started nothing: an unknown workflow, or its commit failed."""

    message: str


@dataclass(frozen=True)
class Unsettled:
    """The commit failed and the store could not say whether the key's run exists."""

    message: str
    cause: Exception


Answer = Started | Existing | Refused | Unsettled


def settle(
    run_id: str,
    failure: Exception | None,
    *,
    joined: bool = False,
    stored: str | None = None,
) -> Answer:
    """The answer to a request whose run was submitted as ``run_id``.

    Args:
        run_id: the run the request made or joined.
        failure: why its commit failed; None if it committed.
        joined: the run was another request's (same batch or pending): an existing run.
        stored: after a failure, the run id the store holds for the request's key
            (None: no such run, or the request had no key). When the look-up itself
            fails, the answer is :func:`unsettled` instead.
    """
    if failure is None:
        return Existing(run_id) if joined else Started(run_id)
    if stored is not None:
        return Existing(stored)  # lost a race for the key, or a repeat: the first run is the answer
    return Refused(f"the run could not be stored: {failure}")


def unsettled(failure: Exception, lookup_error: StoreError) -> Unsettled:
    """The commit failed and so did the look-up of the key's run."""
    return Unsettled(f"the run could not be stored: {failure}", lookup_error)


def run_ids(answers: Sequence[Answer]) -> list[str]:
    """Each answer's run id, or its error message (how event and cron answers list runs)."""
    return [a.run_id if isinstance(a, Started | Existing) else a.message for a in answers]


def to_wire(answer: Answer) -> dict[str, Any]:
    """An answer as the API spells it: ``{"run_id": ...}`` or ``{"error": ...}``."""
    if isinstance(answer, Started | Existing):
        return {"run_id": answer.run_id}
    return {"error": answer.message}


# -- the Trio shell ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    """What the coordinator did with one request: a run on its way, or an error."""

    run_id: str | None = None
    ticket: CommitTicket | None = None
    joined: bool = False  # the run is another request's (same key)
    known: bool = False  # the store already had it: nothing to wait for
    error: str | None = None
    unknown_workflow: bool = False  # refused: this engine holds no version of the workflow


@dataclass(frozen=True)
class Together:
    """Runs submitted in one commit with other mutations (see :meth:`RunIntake.submit_with`)."""

    answers: list[Started | Refused]
    ticket: CommitTicket

    async def wait(self) -> list[Started | Refused]:
        """Wait for the commit; the answers once it landed.

        Raises:
            StoreError: the commit failed; none of its runs and mutations was written.
        """
        await self.ticket.wait()
        return self.answers


class RunIntake:
    """Starts runs for one of the engine's actors, through the run coordinator.

    Args:
        store: the store, to look keys up.
        tenant_id: the tenant whose runs these are.
        coordinator: the :class:`~ratchet.actors.runs._coordinator.RunCoordinator`.
    """

    def __init__(self, store: Store, tenant_id: str, coordinator: ActorRef) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self._coordinator = coordinator

    async def create_runs(
        self, requests: Sequence[RunRequest], *, look_up_first: bool = True
    ) -> list[Answer]:
        """Start runs; one committed answer per request, in order.

        Args:
            requests: the runs to start.
            look_up_first: read the store for each key before creating anything. Skip
                it for keys that are new but for a restart (a durable task's spawn):
                the store then refuses the duplicate and the key's run is the answer.
        """
        if not requests:
            return []
        stored: dict[str, str] = {}
        if look_up_first:
            for request in requests:
                key = request.idempotency_key
                if key is not None and key not in stored:
                    run_id = await self._stored_run(key, quiet=True)
                    if run_id is not None:
                        stored[key] = run_id
        submitted: list[Submitted] = await self._coordinator.create_runs.ask(list(requests), stored)
        retry = [i for i, s in enumerate(submitted) if s.unknown_workflow]
        if retry:  # another engine on the database may have registered them: read, then try again
            await self._coordinator.know_workflows.ask(sorted({requests[i].workflow for i in retry}))
            again = await self._coordinator.create_runs.ask([requests[i] for i in retry], stored)
            for i, entry in zip(retry, again, strict=True):
                submitted[i] = entry
        return [await self._settle(r, s) for r, s in zip(requests, submitted, strict=True)]

    async def submit_with(self, requests: Sequence[RunRequest], extra: Sequence[Any]) -> Together:
        """Submit runs to commit together with ``extra`` mutations, all or nothing.

        Returns at once; :meth:`Together.wait` waits for the commit. A request for an
        unknown workflow is refused and the rest still commit.
        """
        submitted, ticket = await self._coordinator.create_runs_with.ask(list(requests), list(extra))
        answers: list[Started | Refused] = [
            Refused(s.error) if s.error is not None else Started(str(s.run_id)) for s in submitted
        ]
        return Together(answers, ticket)

    async def _settle(self, request: RunRequest, submitted: Submitted) -> Answer:
        if submitted.error is not None:
            return Refused(submitted.error)
        assert submitted.run_id is not None
        if submitted.known:
            return Existing(submitted.run_id)
        assert submitted.ticket is not None
        try:
            await submitted.ticket.wait()
        except Exception as exc:
            key = request.idempotency_key
            try:
                stored = None if key is None else await self._stored_run(key, quiet=False)
            except StoreError as lookup_error:
                return unsettled(exc, lookup_error)
            return settle(submitted.run_id, exc, joined=submitted.joined, stored=stored)
        return settle(submitted.run_id, None, joined=submitted.joined)

    async def _stored_run(self, key: str, *, quiet: bool) -> str | None:
        """The id of the stored run created with ``key``; None if there is none.

        ``quiet``: a store that cannot say counts as none (the request then stands or
        falls on its own commit).
        """
        try:
            run = await self.store.find_run_by_idempotency_key(self.tenant_id, key)
        except StoreError:
            if quiet:
                return None
            raise
        return None if run is None else run.id
