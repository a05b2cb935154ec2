"""The run machine's typed facts, and the store mutations derived from them (no Trio, no I/O).

The machine decides what a transition means (its :class:`TaskEventKind`, whether it starts
a new attempt); :func:`mutations_for` only translates. Under random event streams the
mutations keep the store's copy of every task on the machine's: each one is accepted by
the store's fence, and after each event the stored status (and a live task's attempt) is
the machine's; a finished run is rebuilt from the store, as the coordinator does.
Rewording the machine's messages changes no fact but its detail.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_run_machine_properties import run_specs

from ratchet._contract.codes import EXECUTION_TIMEOUT_MESSAGE
from ratchet._contract.spec import RetryPolicy, TaskKind, TaskSpec, WorkflowSpec
from ratchet._contract.status import RunStatus, TaskEventKind, TaskStatus
from ratchet.actors.runs import _machine as m
from ratchet.actors.runs._changes import error_from_json, error_json, mutations_for
from ratchet.actors.store import SetRunStatus, TransitionTask

NOW = 1_000.0
BOOM = m.ErrorInfo("ValueError", "boom")


@dataclass
class Ids:
    """A run's identity in the store, as the coordinator's ActiveRun gives it."""

    tenant_id: str = "default"
    run_id: str = "run-1"
    task_ids: dict[str, str] = field(default_factory=dict)


def ids(run: m.RunState) -> Ids:
    return Ids(run_id=run.run_id, task_ids={name: f"id-{name}" for name in run.tasks})


def started(*tasks: TaskSpec) -> m.RunState:
    run = m.RunState("run-1", WorkflowSpec("wf", tasks))
    m.apply(run, m.StartRun())
    return run


def running(*tasks: TaskSpec) -> m.RunState:
    run = started(*tasks)
    m.apply(run, m.TaskAssigned(tasks[0].name, 1, "w1"))
    return run


def facts(commands: list[m.Command]) -> dict[str, m.TaskChanged]:
    return {c.task: c for c in commands if isinstance(c, m.TaskChanged)}


def kinds(commands: list[m.Command]) -> dict[str, TaskEventKind]:
    return {name: fact.kind for name, fact in facts(commands).items()}


# -- the machine decides the kind, from what happened -----------------------------------------


def test_an_execution_timeout_the_engine_noticed_is_timed_out():
    run = running(TaskSpec("a"), TaskSpec("b", parents=("a",)))
    commands = m.apply(run, m.TimedOut("a", 1))
    assert kinds(commands) == {"a": TaskEventKind.TIMED_OUT, "b": TaskEventKind.CANCELLED}


def test_an_execution_timeout_the_worker_reported_is_timed_out_whatever_its_message():
    run = running(TaskSpec("a"))
    error = m.ErrorInfo("TimeoutError", "reworded: too slow")
    commands = m.apply(run, m.TaskFailed("a", 1, error, timed_out=True))
    assert kinds(commands) == {"a": TaskEventKind.TIMED_OUT}


def test_a_timeout_error_the_task_raised_itself_is_a_plain_failure():
    run = running(TaskSpec("a"))
    error = m.ErrorInfo("TimeoutError", EXECUTION_TIMEOUT_MESSAGE.format(timeout=5))
    assert kinds(m.apply(run, m.TaskFailed("a", 1, error))) == {"a": TaskEventKind.FAILED}


def test_a_timeout_with_retries_left_is_one_retrying_entry_that_tells_both_steps():
    run = running(TaskSpec("a", retry=RetryPolicy(retries=1, backoff_factor=2.0)))
    (fact,) = facts(m.apply(run, m.TimedOut("a", 1))).values()
    assert (fact.kind, fact.new_attempt, fact.from_attempt, fact.attempt) == (
        TaskEventKind.RETRYING,
        True,
        1,
        2,
    )
    assert fact.detail.startswith("TimeoutError: ") and "; retry 1 in " in fact.detail
    assert fact.retry_delay is not None and fact.retry_delay > 0


def test_a_schedule_timeout_names_the_task_that_waited_and_cancels_its_children():
    run = started(TaskSpec("a"), TaskSpec("b", parents=("a",)))
    commands = m.apply(run, m.ScheduleTimedOut("a", 1))
    assert kinds(commands) == {"a": TaskEventKind.SCHEDULE_TIMED_OUT, "b": TaskEventKind.CANCELLED}


def test_a_skipped_task_is_skipped_not_completed():
    parent_holds = {"kind": "parent", "parent": "a", "expression": "true"}
    run = running(TaskSpec("a"), TaskSpec("b", parents=("a",), skip_if=((parent_holds,),)))
    commands = m.apply(run, m.TaskCompleted("a", 1, {}))
    assert kinds(commands) == {"a": TaskEventKind.COMPLETED, "b": TaskEventKind.SKIPPED}


def test_a_resumed_task_starts_a_new_attempt_and_its_evicted_one_ends_evicted():
    run = running(TaskSpec("d", kind=TaskKind.DURABLE))
    assert kinds(m.apply(run, m.TaskEvicted("d", 1))) == {"d": TaskEventKind.EVICTED}
    (fact,) = facts(m.apply(run, m.Resume("d"))).values()
    assert (fact.kind, fact.new_attempt, fact.outcome) == (TaskEventKind.RESUMED, True, TaskStatus.EVICTED)


def test_a_lost_worker_is_a_reassignment():
    run = running(TaskSpec("a"))
    (fact,) = facts(m.apply(run, m.WorkerLost("a", 1))).values()
    assert (fact.kind, fact.new_attempt, fact.internal_retries) == (TaskEventKind.REASSIGNED, True, 1)


def test_a_run_change_says_why_the_run_failed():
    run = running(TaskSpec("a"))
    (change,) = [c for c in m.apply(run, m.TaskFailed("a", 1, BOOM)) if isinstance(c, m.RunChanged)]
    assert change == m.RunChanged(RunStatus.RUNNING, RunStatus.FAILED, "a: ValueError: boom")


# -- mutations_for translates, and decides nothing ---------------------------------------------


def test_a_retry_moves_the_stored_task_to_its_new_attempt_and_keeps_the_error():
    run = running(TaskSpec("a", retry=RetryPolicy(retries=1, backoff_factor=2.0)))
    commands = m.apply(run, m.TaskFailed("a", 1, BOOM))
    (fact,) = facts(commands).values()
    (mutation,) = mutations_for(ids(run), commands, NOW)
    assert mutation == TransitionTask(
        tenant_id="default",
        task_id="id-a",
        run_id="run-1",
        attempt=1,
        to_status=TaskStatus.QUEUED,
        event=TaskEventKind.RETRYING,
        at=NOW,
        from_statuses=(TaskStatus.RUNNING,),
        new_attempt=2,
        message=fact.detail,
        error=error_json(BOOM),
        clear_worker=True,
        retry_count=1,
        internal_retry_count=0,
        timeout_at=NOW + (fact.retry_delay or 0),
    )


def test_a_replayed_task_waits_for_its_parents_at_its_next_attempt_and_the_run_reopens():
    run = running(TaskSpec("a"), TaskSpec("b", parents=("a",)))
    m.apply(run, m.TaskFailed("a", 1, BOOM))
    commands = m.apply(run, m.Replay())
    mutations = mutations_for(ids(run), commands, NOW)
    by_task = {mu.task_id: mu for mu in mutations if isinstance(mu, TransitionTask)}
    # a: FAILED at 1 -> queued as attempt 2; b: CANCELLED before it ever ran -> PENDING, next attempt 1
    assert (by_task["id-a"].attempt, by_task["id-a"].new_attempt, by_task["id-a"].event) == (
        1,
        2,
        TaskEventKind.RETRYING,
    )
    assert (by_task["id-b"].to_status, by_task["id-b"].event, by_task["id-b"].message) == (
        TaskStatus.PENDING,
        TaskEventKind.CREATED,
        "replay",
    )
    assert by_task["id-b"].new_attempt == 1
    (status,) = [mu for mu in mutations if isinstance(mu, SetRunStatus)]
    assert (status.status, status.reopen, status.from_statuses) == (
        RunStatus.RUNNING,
        True,
        (RunStatus.FAILED,),
    )


def test_commands_that_are_not_facts_write_nothing():
    run = m.RunState("run-1", WorkflowSpec("wf", (TaskSpec("a"),)))
    commands = [m.QueueTask("a", 1, False), m.StartTimer(m.TimerKind.RETRY, "a", 1, 1.0)]
    assert mutations_for(ids(run), commands, NOW) == []


def test_errors_round_trip_through_the_store():
    error = m.ErrorInfo("ValueError", "boom", "Traceback ...")
    assert error_from_json(error_json(error)) == error
    assert error_from_json("not json") == m.ErrorInfo("Error", "not json")
    assert error_from_json(None) is None


# -- under random event streams ----------------------------------------------------------------


@dataclass
class StoredTask:
    status: TaskStatus
    attempt: int


def stored_after_start(run: m.RunState, commands: list[m.Command]) -> dict[str, StoredTask]:
    """The store's rows as the coordinator creates them with the run (CreateRun)."""
    queued = {c.task for c in commands if isinstance(c, m.QueueTask)}
    return {
        name: StoredTask(TaskStatus.QUEUED if name in queued else TaskStatus.PENDING, 1) for name in run.tasks
    }


def commit(rows: dict[str, StoredTask], mutations: list[Any], names: dict[str, str]) -> None:
    """Apply ``mutations`` as the store's fence would; every one must apply."""
    for mutation in mutations:
        if not isinstance(mutation, TransitionTask):
            continue
        row = rows[names[mutation.task_id]]
        assert mutation.attempt == row.attempt, f"{mutation} fenced out: the store is at {row}"
        assert row.status in mutation.from_statuses, f"{mutation} fenced out: the store is at {row}"
        row.status = TaskStatus(mutation.to_status)
        if mutation.new_attempt is not None:
            row.attempt = mutation.new_attempt


@st.composite
def events(draw: st.DrawFn, run: m.RunState) -> m.Event:
    name = draw(st.sampled_from(sorted(run.tasks)))
    current = run.tasks[name].attempt
    attempt = draw(st.sampled_from([current, current, current, current - 1, current + 1]))
    return draw(
        st.sampled_from(
            [
                m.TaskAssigned(name, attempt, "w1"),
                m.TaskAssigned(name, attempt, "w1"),
                m.TaskCompleted(name, attempt, "out"),
                m.TaskCompleted(name, attempt, "out"),
                m.TaskFailed(name, attempt, BOOM),
                m.TaskFailed(name, attempt, BOOM, retryable=False),
                m.TaskFailed(name, attempt, m.ErrorInfo("TimeoutError", "late"), timed_out=True),
                m.TimedOut(name, attempt),
                m.ScheduleTimedOut(name, attempt),
                m.WorkerLost(name, attempt),
                m.RetryDue(name, attempt),
                m.TaskEvicted(name, attempt),
                m.Resume(name),
                m.GateDecided(name, "run"),
                m.GateDecided(name, "skip"),
                m.GateDecided(name, "cancel"),
                m.CancelTask(name, attempt, "chosen"),
                m.CancelRun(),
                m.Replay(),
            ]
        )
    )


_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(spec=run_specs(), data=st.data())
def test_the_store_follows_the_machine_through_any_event_stream(spec: WorkflowSpec, data: st.DataObject):
    run = m.RunState("run-1", spec)
    rows = stored_after_start(run, m.apply(run, m.StartRun()))
    names = {f"id-{name}": name for name in run.tasks}
    for _ in range(data.draw(st.integers(1, 40), label="events")):
        before = {name: (t.status, t.attempt) for name, t in run.tasks.items()}
        commands = m.apply(run, data.draw(events(run)))
        changed = {name for name, t in run.tasks.items() if (t.status, t.attempt) != before[name]}
        assert set(facts(commands)) == changed, "one fact per task whose status or attempt moved"
        commit(rows, mutations_for(ids(run), commands, NOW), names)
        for name, task in run.tasks.items():
            assert rows[name].status is task.status, name
            if not task.status.is_terminal:  # (a task cancelled while PENDING keeps its next attempt)
                assert rows[name].attempt == m.recorded_attempt(task.status, task.attempt), name
        if run.status.is_terminal:
            rebuild(run, rows)


def rebuild(run: m.RunState, rows: dict[str, StoredTask]) -> None:
    """A finished run leaves the coordinator's memory; a replay rebuilds it from the store."""
    for name, task in run.tasks.items():
        stored = rows[name]
        task.attempt = stored.attempt - 1 if stored.status is TaskStatus.PENDING else stored.attempt


_MESSAGES = {
    "SCHEDULE_TIMEOUT_MESSAGE": "queue wait over ({task}, {timeout})",
    "WORKER_LOST_MESSAGE": "lost x{times}",
    "CANCEL_IF_MESSAGE": "{task}: cancel condition",
    "PARENT_ENDED_MESSAGE": "upstream {parent} is {status}",
    "EXECUTION_TIMEOUT_MESSAGE": "ran too long ({timeout:g}s)",
}


@contextmanager
def reworded() -> Iterator[None]:
    """Every message the machine writes, in other words."""
    saved = {name: getattr(m, name) for name in _MESSAGES}
    try:
        for name, text in _MESSAGES.items():
            setattr(m, name, text)
        yield
    finally:
        for name, text in saved.items():
            setattr(m, name, text)


def without_text(commands: list[m.Command]) -> list[Any]:
    """The commands with every human-readable text blanked out."""
    out: list[Any] = []
    for c in commands:
        if isinstance(c, m.TaskChanged):
            c = replace(c, detail="", error=None)
        elif isinstance(c, m.RunChanged):
            c = replace(c, error=None)
        elif isinstance(c, m.CancelAttempt):
            c = replace(c, reason="")
        out.append(c)
    return out


@_SETTINGS
@given(spec=run_specs(), data=st.data())
def test_rewording_the_machines_messages_changes_no_fact_but_its_text(
    spec: WorkflowSpec, data: st.DataObject
):
    plain, other = m.RunState("run-1", spec), m.RunState("run-1", spec)
    m.apply(plain, m.StartRun())
    m.apply(other, m.StartRun())
    for _ in range(data.draw(st.integers(1, 40), label="events")):
        event = data.draw(events(plain))
        expected = without_text(m.apply(plain, event))
        with reworded():
            assert without_text(m.apply(other, event)) == expected


def test_the_reworded_messages_are_the_ones_the_machine_writes():
    run = running(TaskSpec("a"))
    with reworded():
        commands = m.apply(run, m.TimedOut("a", 1))
    assert facts(commands)["a"].detail == "TimeoutError: ran too long (60s)"
