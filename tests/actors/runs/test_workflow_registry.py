"""The workflow registry: versions by content, and which version new runs use.

Unit tests of :class:`~ratchet.actors.runs._registry.WorkflowRegistry` with commits resolved by
hand, and a property test that plays random registrations (deploys, reconnections,
clients; commits that land or fail) against a memory store and a plain model: the
current version is always the model's, and an engine restarting on the store agrees.
"""

from __future__ import annotations

from typing import Any

import outcome
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet._declare.workflow import Workflow
from ratchet.actors.runs._registry import Registration, WorkflowRegistry
from ratchet.actors.store import CommitTicket, MemoryStore, StoreError, open_store

DEPLOY, RECONNECT, CLIENT = Registration.DEPLOY, Registration.RECONNECT, Registration.CLIENT


def spec(*tasks: str) -> Any:
    """A definition of workflow ``wf`` with ``tasks`` in a chain."""
    wf = Workflow(None, "wf")
    parents: list[str] = []
    for name in tasks:
        wf.task(name=name, parents=parents)(lambda input, ctx: None)
        parents = [name]
    return wf.spec


V1, V2, V3 = spec("a", "b"), spec("a", "b", "c"), spec("z")


def register(
    registry: WorkflowRegistry, definition: Any, who: Registration
) -> tuple[int, CommitTicket | None]:
    """Register; returns the version number and the new commit (None: nothing to write)."""
    entry, number, mutations, _ = registry.register("t", definition, who, at=0.0)
    if not mutations:
        return number, None
    ticket = CommitTicket(mutations)
    registry.submitted(entry, ticket)
    return number, ticket


def land(registry: WorkflowRegistry, ticket: CommitTicket | None) -> None:
    if ticket is not None:
        ticket._resolve(outcome.Value([None] * len(ticket.mutations)))
        registry.settle("t", "wf", ticket)


def fail(registry: WorkflowRegistry, ticket: CommitTicket | None) -> None:
    if ticket is not None:
        ticket._resolve(outcome.Error(StoreError("the commit failed")))
        registry.settle("t", "wf", ticket)


def current(registry: WorkflowRegistry) -> int | None:
    entry = registry.get("t", "wf")
    return None if entry is None else entry.current


def test_a_rollback_makes_the_earlier_definition_current_again_under_its_own_number() -> None:
    registry = WorkflowRegistry()
    one, ticket = register(registry, V1, DEPLOY)
    land(registry, ticket)
    two, ticket = register(registry, V2, DEPLOY)
    land(registry, ticket)
    assert (one, two, current(registry)) == (1, 2, 2)
    again, ticket = register(registry, V1, DEPLOY)
    assert again == 1 and ticket is not None
    assert [type(m).__name__ for m in ticket.mutations] == ["SetCurrentWorkflowVersion"]  # no new version
    assert current(registry) == 2  # until the move is committed
    land(registry, ticket)
    assert current(registry) == 1


def test_a_deploy_of_the_current_definition_writes_nothing() -> None:
    registry = WorkflowRegistry()
    _, ticket = register(registry, V1, DEPLOY)
    land(registry, ticket)
    assert register(registry, V1, DEPLOY) == (1, None)


def test_a_reconnecting_worker_does_not_undo_a_rollback() -> None:
    registry = WorkflowRegistry()
    for definition in (V1, V2, V1):
        land(registry, register(registry, definition, DEPLOY)[1])
    number, ticket = register(registry, V2, RECONNECT)  # the v2 worker, back after an engine restart
    assert (number, ticket, current(registry)) == (2, None, 1)


def test_a_client_registers_only_a_workflow_the_engine_does_not_know() -> None:
    registry = WorkflowRegistry()
    number, ticket = register(registry, V2, CLIENT)
    assert number == 1 and ticket is not None
    land(registry, ticket)
    assert current(registry) == 1
    assert register(registry, V3, CLIENT) == (1, None)  # known: the client's definition is not kept
    land(registry, register(registry, V1, DEPLOY)[1])  # a worker comes with its own code
    assert current(registry) == 2
    assert register(registry, V2, CLIENT) == (2, None)


def test_concurrent_deploys_settle_on_the_one_registered_last() -> None:
    registry = WorkflowRegistry()
    land(registry, register(registry, V1, DEPLOY)[1])
    _, second = register(registry, V2, DEPLOY)
    _, third = register(registry, V3, DEPLOY)
    assert second is not None and third is not None
    # both land (the writer commits in order); their settlements run in either order
    second._resolve(outcome.Value([None, None]))
    third._resolve(outcome.Value([None, None]))
    assert current(registry) == 3
    registry.settle("t", "wf", third)
    registry.settle("t", "wf", second)
    assert current(registry) == 3


def test_a_move_whose_commit_failed_leaves_the_one_before() -> None:
    registry = WorkflowRegistry()
    land(registry, register(registry, V1, DEPLOY)[1])
    _, ticket = register(registry, V2, DEPLOY)
    fail(registry, ticket)
    assert current(registry) == 1
    number, ticket = register(registry, V2, DEPLOY)  # the worker registers again
    land(registry, ticket)
    assert (number, current(registry)) == (3, 3)  # a forgotten number is never reused


def test_a_move_to_a_version_whose_own_commit_failed_never_becomes_current() -> None:
    registry = WorkflowRegistry()
    land(registry, register(registry, V1, DEPLOY)[1])
    two, first = register(registry, V2, DEPLOY)  # writes version 2 and moves to it
    again, second = register(registry, V1, DEPLOY)
    other, third = register(registry, V2, DEPLOY)  # waits on version 2's commit, moves again
    assert (two, again, other) == (2, 1, 2)
    fail(registry, first)
    land(registry, second)
    land(registry, third)
    assert current(registry) == 1


# -- a random history against a model -------------------------------------------------------------

DEFINITIONS = [V1, V2, V3]
steps = st.lists(
    st.tuples(st.sampled_from([DEPLOY, RECONNECT, CLIENT]), st.sampled_from([0, 1, 2]), st.booleans()),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_the_current_version_follows_the_registrations_and_survives_a_restart(history) -> None:
    registry = WorkflowRegistry()
    store = MemoryStore()
    expected: int | None = None  # index into DEFINITIONS of the definition new runs use
    known = False  # whether some version of the workflow is stored

    async def commit(ticket: CommitTicket) -> None:
        await store.commit(ticket.mutations)

    async def check_restart() -> None:
        async with open_store(store):
            for who, which, lands in history:
                _, ticket = register(registry, DEFINITIONS[which], who)
                if ticket is not None and lands:
                    await commit(ticket)
                    land(registry, ticket)
                else:
                    fail(registry, ticket)
                model(who, which, lands and ticket is not None)
                entry = registry.get("t", "wf")
                now = None if entry is None or entry.current is None else entry.versions[entry.current]
                assert now == (None if expected is None else DEFINITIONS[expected])
            restarted = WorkflowRegistry()
            await restarted.load(store, "t")
            entry = restarted.get("t", "wf")
            after = None if entry is None or entry.current is None else entry.versions[entry.current]
            assert after == (None if expected is None else DEFINITIONS[expected])
            if entry is not None:  # every stored content kept its number
                before = registry.get("t", "wf")
                assert before is not None
                assert entry.by_checksum == before.by_checksum

    def model(who: Registration, which: int, landed: bool) -> None:
        nonlocal expected, known
        if who is CLIENT and known:
            return
        if landed and (who is DEPLOY or expected is None):
            expected = which
            known = True

    trio.run(check_restart)
