"""The run intake: one run per idempotency key, answered only once committed.

Unit tests of the pure :func:`~ratchet.actors.runs._intake.admit` and
:func:`~ratchet.actors.runs._intake.settle`, of :class:`PendingKeys`, of the
:class:`RunIntake` shell against a coordinator and a store played by hand, and a
Hypothesis state machine that plays concurrent batches with duplicate keys (within a
batch and across batches, commits landing in any order, other engines taking keys,
the coordinator restarting and forgetting its pending keys) through the same two pure
steps the coordinator and the shell take: every answer for a key names the one run
the store holds for it, and every answer is a committed run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import outcome
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ratchet.actors.runs._intake import (
    Existing,
    Join,
    Known,
    New,
    PendingKeys,
    Refused,
    RunIntake,
    RunRequest,
    Same,
    Started,
    Submitted,
    Unsettled,
    admit,
    run_ids,
    settle,
    to_wire,
)
from ratchet.actors.store import CommitTicket, MutationRejected, StoreError

DUPLICATE = MutationRejected("CreateRun", "a run with this idempotency key exists")

# -- admit ---------------------------------------------------------------------------------------


def test_request_without_key_always_makes_a_new_run() -> None:
    assert admit([None, None], stored={}, pending={}) == [New(), New()]


def test_key_the_store_holds_answers_its_run() -> None:
    assert admit(["k"], stored={"k": "r1"}) == [Known("r1")]


def test_key_still_being_committed_joins_that_run() -> None:
    assert admit(["k"], pending={"k": "pending-r1"}) == [Join("pending-r1")]


def test_store_wins_over_pending_for_the_same_key() -> None:
    assert admit(["k"], stored={"k": "r1"}, pending={"k": "r2"}) == [Known("r1")]


def test_duplicate_key_in_a_batch_shares_the_first_requests_run() -> None:
    assert admit(["a", "b", "a", None, "b"]) == [New(), New(), Same(0), New(), Same(1)]


def test_duplicate_of_a_known_key_in_a_batch_points_at_the_first() -> None:
    assert admit(["k", "k"], stored={"k": "r1"}) == [Known("r1"), Same(0)]


# -- settle --------------------------------------------------------------------------------------


def test_committed_run_is_started() -> None:
    assert settle("r1", None) == Started("r1")


def test_committed_run_of_another_request_is_existing() -> None:
    assert settle("r1", None, joined=True) == Existing("r1")


def test_failed_commit_whose_key_is_stored_answers_the_stored_run() -> None:
    assert settle("r2", DUPLICATE, stored="r1") == Existing("r1")


def test_failed_commit_without_a_stored_run_is_refused() -> None:
    answer = settle("r2", StoreError("disk full"))
    assert answer == Refused("the run could not be stored: disk full")


def test_answers_as_the_api_spells_them() -> None:
    assert to_wire(Started("r1")) == {"run_id": "r1"}
    assert to_wire(Existing("r1")) == {"run_id": "r1"}
    assert to_wire(Refused("no")) == {"error": "no"}
    assert run_ids([Started("r1"), Refused("unknown workflow 'x'")]) == ["r1", "unknown workflow 'x'"]


# -- PendingKeys ---------------------------------------------------------------------------------


def test_pending_key_is_forgotten_only_by_its_own_commit() -> None:
    pending = PendingKeys()
    first, second = CommitTicket([]), CommitTicket([])
    pending.add("k", "r1", first)
    pending.add("k", "r2", second)  # a later run took the key (the first commit failed)
    pending.settled("k", first)
    assert pending.runs() == {"k": ("r2", second)}
    pending.settled("k", second)
    assert len(pending) == 0


# -- the shell -----------------------------------------------------------------------------------


class _Method:
    def __init__(self, fn: Any) -> None:
        self.ask = fn


@dataclass
class _Run:
    id: str


@dataclass
class _Store:
    """Runs by idempotency key; ``broken`` makes every look-up fail."""

    runs: dict[str, str] = field(default_factory=dict)
    broken: bool = False
    lookups: list[str] = field(default_factory=list)

    async def find_run_by_idempotency_key(self, tenant_id: str, key: str) -> _Run | None:
        self.lookups.append(key)
        if self.broken:
            raise StoreError("store unreachable")
        run_id = self.runs.get(key)
        return None if run_id is None else _Run(run_id)


def _ticket(error: Exception | None = None) -> CommitTicket:
    ticket = CommitTicket([])
    ticket._resolve(outcome.Error(error) if error else outcome.Value([]))
    return ticket


class _Coordinator:
    """Answers ``create_runs`` with prepared entries and records what it was given."""

    def __init__(self, entries: list[Submitted], *later: list[Submitted]) -> None:
        self.entries = entries
        self.later = list(later)  # answers to the calls after the first, in order
        self.given: list[tuple[list[RunRequest], dict[str, str]]] = []
        self.known: list[list[str]] = []
        self.create_runs = _Method(self._create)
        self.know_workflows = _Method(self._know)

    async def _know(self, names: list[str]) -> None:
        self.known.append(names)

    async def _create(self, requests: list[RunRequest], stored: dict[str, str]) -> list[Submitted]:
        self.given.append((requests, stored))
        return self.later.pop(0) if len(self.given) > 1 else self.entries


async def test_intake_passes_what_the_store_holds_to_the_coordinator() -> None:
    store = _Store({"k": "r0"})
    coordinator = _Coordinator([Submitted("r0", known=True), Submitted("r1", _ticket())])
    intake = RunIntake(store, "t", coordinator)  # type: ignore[arg-type]  # stand-ins
    answers = await intake.create_runs([RunRequest("wf", idempotency_key="k"), RunRequest("wf")])
    assert answers == [Existing("r0"), Started("r1")]
    assert coordinator.given[0][1] == {"k": "r0"}
    assert coordinator.known == []  # a workflow the engine holds costs no read of the store


async def test_intake_reads_a_workflow_another_engine_registered_and_tries_again() -> None:
    unknown = Submitted(error="unknown workflow 'wf'", unknown_workflow=True)
    coordinator = _Coordinator([Submitted("r0", _ticket()), unknown], [Submitted("r1", _ticket())])
    intake = RunIntake(_Store(), "t", coordinator)  # type: ignore[arg-type]  # stand-ins
    answers = await intake.create_runs([RunRequest("old"), RunRequest("wf")])
    assert answers == [Started("r0"), Started("r1")]
    assert coordinator.known == [["wf"]]
    assert [r.workflow for r in coordinator.given[1][0]] == ["wf"]  # only the refused one again


async def test_intake_refuses_a_workflow_no_engine_registered() -> None:
    unknown = Submitted(error="unknown workflow 'wf'", unknown_workflow=True)
    coordinator = _Coordinator([unknown], [unknown])
    intake = RunIntake(_Store(), "t", coordinator)  # type: ignore[arg-type]  # stand-ins
    assert await intake.create_runs([RunRequest("wf")]) == [Refused("unknown workflow 'wf'")]


async def test_intake_answers_the_stored_run_when_its_commit_lost_the_key() -> None:
    store = _Store()
    coordinator = _Coordinator([Submitted("r2", _ticket(DUPLICATE))])
    intake = RunIntake(store, "t", coordinator)  # type: ignore[arg-type]  # stand-ins
    store.runs["k"] = "r1"  # another engine committed it between the look-up and the commit
    answers = await intake.create_runs([RunRequest("wf", idempotency_key="k")], look_up_first=False)
    assert answers == [Existing("r1")]
    assert store.lookups == ["k"]  # only after the failed commit


async def test_intake_says_unsettled_when_neither_commit_nor_look_up_succeeds() -> None:
    store = _Store(broken=True)
    coordinator = _Coordinator([Submitted("r2", _ticket(StoreError("commit failed")))])
    intake = RunIntake(store, "t", coordinator)  # type: ignore[arg-type]  # stand-ins
    (answer,) = await intake.create_runs([RunRequest("wf", idempotency_key="k")])
    assert isinstance(answer, Unsettled)
    assert isinstance(answer.cause, StoreError)
    assert to_wire(answer) == {"error": "the run could not be stored: commit failed"}


async def test_intake_passes_refusals_through() -> None:
    coordinator = _Coordinator([Submitted(error="unknown workflow 'x'")])
    intake = RunIntake(_Store(), "t", coordinator)  # type: ignore[arg-type]  # stand-ins
    assert await intake.create_runs([RunRequest("x")]) == [Refused("unknown workflow 'x'")]


# -- concurrent batches, played ------------------------------------------------------------------

KEYS = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))


@dataclass(eq=False)
class _Commit:
    """One run's commit on its way to the store."""

    run_id: str
    key: str | None
    ok: bool | None = None  # None: not landed yet


@dataclass(eq=False)
class _Batch:
    keys: list[str | None]
    stored: dict[str, str] | None = None  # what the look-up read
    entries: list[tuple[str, _Commit | None, bool]] | None = None  # run, its commit, joined
    answers: list[Any] | None = None


class IntakeMachine(RuleBasedStateMachine):
    """Batches of keyed requests through look-up, admission, commits and settling.

    The coordinator's part is :func:`admit` with :class:`PendingKeys`; the shell's is
    the look-up before and :func:`settle` after; the store refuses a second run with a
    key, as its unique index does.
    """

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[str, str] = {}  # key -> run id (unique)
        self.committed: set[str] = set()
        self.pending = PendingKeys()
        self.in_flight: list[_Commit] = []
        self.batches: list[_Batch] = []
        self.counter = 0

    def _admit(self, batch: _Batch, stored: dict[str, str]) -> None:
        entries: list[tuple[str, _Commit | None, bool]] = []
        admissions = admit(batch.keys, stored=stored, pending=self.pending.runs())
        for key, admission in zip(batch.keys, admissions, strict=True):
            if isinstance(admission, Known):
                entries.append((admission.run_id, None, True))
            elif isinstance(admission, Join):
                run_id, commit = admission.pending
                entries.append((run_id, commit, True))
            elif isinstance(admission, Same):
                run_id, commit, _ = entries[admission.index]
                entries.append((run_id, commit, True))
            else:
                self.counter += 1
                commit = _Commit(f"r{self.counter}", key)
                self.in_flight.append(commit)
                if key is not None:
                    self.pending.add(key, commit.run_id, commit)  # type: ignore[arg-type]  # a stand-in
                entries.append((commit.run_id, commit, False))
        batch.entries = entries

    def _land(self, commit: _Commit) -> None:
        self.in_flight.remove(commit)
        commit.ok = commit.key is None or commit.key not in self.store
        if commit.ok:
            self.committed.add(commit.run_id)
            if commit.key is not None:
                self.store[commit.key] = commit.run_id
        if commit.key is not None:
            self.pending.settled(commit.key, commit)  # type: ignore[arg-type]  # a stand-in

    @rule(keys=st.lists(KEYS, min_size=1, max_size=6))
    def arrive(self, keys: list[str | None]) -> None:
        """A batch arrives and the shell looks its keys up."""
        stored = {k: self.store[k] for k in keys if k is not None and k in self.store}
        self.batches.append(_Batch(keys, stored))

    @rule(data=st.data(), look_up=st.booleans())
    def submit(self, data: st.DataObject, look_up: bool) -> None:
        """The coordinator admits a batch (its look-up may be stale, or skipped)."""
        waiting = [b for b in self.batches if b.entries is None]
        if waiting:
            batch = data.draw(st.sampled_from(waiting))
            self._admit(batch, (batch.stored or {}) if look_up else {})

    @rule(data=st.data())
    def land(self, data: st.DataObject) -> None:
        """A commit lands, in any order; the store refuses a key it already holds."""
        if self.in_flight:
            self._land(data.draw(st.sampled_from(self.in_flight)))

    @rule(key=st.sampled_from(["a", "b", "c"]))
    def other_engine(self, key: str) -> None:
        """Another engine commits a run with the key, if it is free."""
        if key not in self.store:
            self.counter += 1
            self.store[key] = f"r{self.counter}"
            self.committed.add(self.store[key])

    @rule()
    def coordinator_restarts(self) -> None:
        """The coordinator restarts: its pending keys are gone, its commits still land."""
        self.pending = PendingKeys()

    @rule()
    def answer(self) -> None:
        """The shell settles every batch whose commits all landed."""
        for batch in self.batches:
            if batch.answers is not None or batch.entries is None:
                continue
            if any(c is not None and c.ok is None for _, c, _ in batch.entries):
                continue
            batch.answers = [
                Existing(run_id)
                if commit is None
                else settle(
                    run_id,
                    None if commit.ok else DUPLICATE,
                    joined=joined,
                    stored=None if key is None else self.store.get(key),
                )
                for key, (run_id, commit, joined) in zip(batch.keys, batch.entries, strict=True)
            ]

    @rule()
    def drain(self) -> None:
        """Time passes: every batch is admitted, every commit lands, all are answered."""
        for batch in self.batches:
            if batch.entries is None:
                self._admit(batch, batch.stored or {})
        while self.in_flight:
            self._land(self.in_flight[0])
        self.answer()
        assert all(b.answers is not None for b in self.batches)

    @invariant()
    def every_answer_is_the_one_committed_run_of_its_key(self) -> None:
        unkeyed: set[str] = set()
        for batch in self.batches:
            for key, answer in zip(batch.keys, batch.answers or (), strict=False):
                assert isinstance(answer, Started | Existing), answer
                assert answer.run_id in self.committed
                if key is not None:
                    assert answer.run_id == self.store[key]
                else:
                    assert isinstance(answer, Started)
                    assert answer.run_id not in unkeyed
                    unkeyed.add(answer.run_id)

    @invariant()
    def a_batch_makes_at_most_one_run_per_key(self) -> None:
        for batch in self.batches:
            made = [
                k
                for k, (_, _, joined) in zip(batch.keys, batch.entries or (), strict=False)
                if k and not joined
            ]
            assert len(made) == len(set(made))


IntakeMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
TestConcurrentBatches = IntakeMachine.TestCase
