"""The StoreWriter actor: group commit for every actor of the engine.

Theory of operation: an actor handles one message at a time, so the writer must never
hold its mailbox while a transaction is in flight. :meth:`StoreWriter.submit` is
therefore instant: it queues the caller's mutations with a :class:`CommitTicket` and
returns the ticket; the caller awaits :meth:`CommitTicket.wait`. A background task
(started in ``on_start``) runs the commit loop: when work arrives it lingers up to
``max_delay`` seconds of runtime clock for more (or until ``max_batch`` rows are
queued), takes the queue as one batch, and commits it in one transaction through
:meth:`Store.commit_many`. Mutations arriving during a commit form the next batch, so
under load batches grow by themselves and commits stay one at a time.

Each caller gets exactly its own outcome: its results, or the error that rejected its
mutations (the rest of the batch still commits). If the writer stops or crashes, every
caller still waiting gets :class:`StoreWriterStopped`: none hangs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import outcome
import trio

from ratchet.runtime import Actor, ActorRef, LocalActorRef

from ._errors import StoreError, StoreWriterStopped
from ._mutations import Mutation
from ._store import Store, stream_broken

__all__ = ["CommitTicket", "StoreWriter", "StoreWriterStatistics", "commit", "commit_one", "wait_settled"]


def _checked(mutations: Sequence[Mutation] | Mutation) -> list[Mutation]:
    muts = [mutations] if isinstance(mutations, Mutation) else list(mutations)
    for m in muts:
        if not isinstance(m, Mutation):
            raise TypeError(f"StoreWriter takes Mutation values, got {type(m).__name__}: {m!r}")
    return muts


class CommitTicket:
    """A caller's claim on the commit that will contain its mutations.

    Args:
        mutations: committed together or not at all.
        stream: tickets of one stream build on each other: once one fails, the writer
            writes none of the later ones (they fail with
            :class:`~ratchet.actors.store.StreamBroken`). None: independent.
    """

    __slots__ = ("_event", "_outcome", "mutations", "rows", "stream")

    def __init__(self, mutations: list[Mutation], *, stream: Hashable | None = None) -> None:
        self.mutations = mutations
        self.stream = stream
        self.rows = max(1, len(mutations))
        self._event = trio.Event()
        self._outcome: outcome.Outcome[list[Any]] | None = None

    @property
    def done(self) -> bool:
        """Whether the commit finished (either way)."""
        return self._outcome is not None

    @property
    def succeeded(self) -> bool:
        """Whether the commit finished and wrote these mutations."""
        return isinstance(self._outcome, outcome.Value)

    def _resolve(self, result: outcome.Outcome[list[Any]]) -> None:
        if self._outcome is None:
            self._outcome = result
            self._event.set()

    async def wait(self) -> list[Any]:
        """Wait for the commit and return one result per mutation (see :class:`Mutation`).

        Cancelling the wait does not withdraw the mutations: they may still commit.

        Raises:
            MutationRejected: these mutations cannot be stored; none of them was written.
            StoreError: the store failed; none of them was written.
            StoreWriterStopped: the writer stopped first; none of them was written.
        """
        await self._event.wait()
        result = self._outcome
        assert result is not None
        # Not ``unwrap()``: an Outcome can be unwrapped once, and a ticket may have several
        # waiters (the caller that submitted it, and whoever acts after its commit).
        if isinstance(result, outcome.Error):
            raise result.error
        assert isinstance(result, outcome.Value)
        rows: list[Any] = result.value
        return rows


@dataclass(frozen=True)
class StoreWriterStatistics:
    """The writer's counters.

    Attributes:
        batches: transactions attempted (one per batch).
        units: caller submissions committed or failed.
        mutations: mutations in those submissions.
        largest_batch: most submissions in one batch.
        pending: submissions waiting for the next batch.
        in_flight: submissions in the commit now running.
    """

    batches: int
    units: int
    mutations: int
    largest_batch: int
    pending: int
    in_flight: int


class StoreWriter(Actor):
    """Gathers mutations from all callers and commits them in one transaction per batch.

    Messages (refs are untyped: this is the route in):
        from the RunCoordinator, QueueScheduler, Dispatcher, Triggers, DurableTasks
            and Gateway: ``enqueue`` (a :class:`CommitTicket` the sender awaits);
            :func:`wait_settled` enqueues an empty one to let earlier commits land.
        from :func:`commit` called in another process: ``submit``.
        from tests and statistics: ``writer_statistics``.

    Args:
        store: an open :class:`Store`.
        max_batch: commit as soon as this many mutations are queued.
        max_delay: otherwise wait at most this long (seconds of runtime clock) after the
            first queued mutation before committing; 0 commits at once, batching only
            what arrived during the previous commit.
    """

    def __init__(self, store: Store, *, max_batch: int = 2000, max_delay: float = 0.001) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        if max_delay < 0:
            raise ValueError(f"max_delay must be >= 0, not {max_delay}")
        self.store = store
        self.max_batch = max_batch
        self.max_delay = max_delay
        self._pending: deque[CommitTicket] = deque()
        self._pending_rows = 0
        self._in_flight: list[CommitTicket] = []
        self._arrived = trio.Event()
        self._full = trio.Event()
        self._committed = trio.Event()
        self._batches = 0
        self._units = 0
        self._mutations = 0
        self._largest = 0
        self._broken: set[Hashable] = set()  # streams with a failed commit

    async def on_start(self) -> None:
        self.context.start_soon(self._commit_loop)

    async def on_stop(self) -> None:
        # A graceful stop commits what callers already handed us, without lingering.
        self.max_delay = 0
        self._full.set()
        while self._pending or self._in_flight:
            self._committed = trio.Event()
            await self._committed.wait()

    def submit(self, mutations: Sequence[Mutation] | Mutation) -> CommitTicket:
        """Queue ``mutations`` (one caller's, committed together or not at all) for the next batch.

        Returns at once; await the ticket's :meth:`~CommitTicket.wait` for the outcome.
        """
        ticket = CommitTicket(_checked(mutations))
        self.enqueue(ticket)
        return ticket

    def enqueue(self, ticket: CommitTicket) -> None:
        """Queue a ticket the caller made (what :func:`commit` tells, saving the ask's reply)."""
        self._pending.append(ticket)
        self._pending_rows += ticket.rows
        self._arrived.set()
        if self._pending_rows >= self.max_batch:
            self._full.set()

    def writer_statistics(self) -> StoreWriterStatistics:
        """The writer's counters (``statistics`` on the ref is the actor's own)."""
        return StoreWriterStatistics(
            self._batches,
            self._units,
            self._mutations,
            self._largest,
            len(self._pending),
            len(self._in_flight),
        )

    def _take_batch(self) -> list[CommitTicket]:
        batch: list[CommitTicket] = []
        rows = 0
        while self._pending and (not batch or rows + self._pending[0].rows <= self.max_batch):
            t = self._pending.popleft()
            rows += t.rows
            batch.append(t)
        self._pending_rows -= rows
        if not self._pending:
            self._arrived = trio.Event()
        if self._pending_rows < self.max_batch:
            self._full = trio.Event()
        return batch

    async def _commit_loop(self) -> None:
        try:
            while True:
                await self._arrived.wait()
                if self.max_delay > 0 and self._pending_rows < self.max_batch:
                    with trio.move_on_after(self.max_delay):
                        await self._full.wait()
                batch = self._take_batch()
                for ticket in batch:
                    if ticket.stream is not None and ticket.stream in self._broken:
                        ticket._resolve(outcome.Error(stream_broken()))
                self._in_flight = [t for t in batch if not t.done]
                # Shielded: once a transaction starts, its callers get its real outcome, even
                # if the writer is being stopped; an abandoned commit would leave them unsure.
                with trio.CancelScope(shield=True):
                    outcomes = await self.store.commit_many(
                        [t.mutations for t in self._in_flight], [t.stream for t in self._in_flight]
                    )
                for ticket, result in zip(self._in_flight, outcomes, strict=True):
                    if ticket.stream is not None and isinstance(result, outcome.Error):
                        self._broken.add(ticket.stream)
                self._batches += 1
                self._units += len(self._in_flight)
                self._mutations += sum(len(t.mutations) for t in self._in_flight)
                self._largest = max(self._largest, len(self._in_flight))
                for ticket, result in zip(self._in_flight, outcomes, strict=True):
                    ticket._resolve(result)
                self._in_flight = []
                self._committed.set()
        finally:
            stopped = StoreWriterStopped(
                f"StoreWriter {self.context.name!r} stopped before committing these mutations; "
                "nothing of them was written: submit them again to the writer's next incarnation"
            )
            for ticket in [*self._in_flight, *self._pending]:
                ticket._resolve(outcome.Error(stopped))
            self._in_flight = []
            self._pending.clear()
            self._pending_rows = 0


async def commit(writer: ActorRef, mutations: Sequence[Mutation] | Mutation) -> list[Any]:
    """Submit ``mutations`` to a StoreWriter and wait for the commit that holds them.

    Returns:
        One result per mutation (``None``, or whether a fenced mutation applied).

    Raises:
        MutationRejected: these mutations cannot be stored; none was written.
        StoreError: the store failed; none was written.
        StoreWriterStopped: the writer stopped first; none was written.
    """
    if isinstance(writer, LocalActorRef):
        # Same process: make the ticket here and tell it; the caller waits on the ticket
        # alone, not on an ask's reply as well.
        ticket = CommitTicket(_checked(mutations))
        writer.enqueue.tell(ticket)
    else:
        ticket = await writer.submit.ask(mutations)
    return await ticket.wait()


async def commit_one(writer: ActorRef, mutation: Mutation) -> Any:
    """:func:`commit` for a single mutation; returns its result."""
    (result,) = await commit(writer, [mutation])
    return result


async def wait_settled(writer: ActorRef) -> None:
    """Wait until everything submitted to ``writer`` before this call has committed or failed.

    The writer commits in submission order, so an empty ticket queued now resolves only
    after every earlier one. An actor that rebuilds its state from the store after a
    restart calls this first: its previous incarnation's last commits may still be in
    flight, and state read before they land would miss them.
    """
    ticket = CommitTicket([])
    writer.enqueue.tell(ticket)
    try:
        await ticket.wait()
    except StoreError:
        pass  # the empty commit failed, but everything queued before it is settled
