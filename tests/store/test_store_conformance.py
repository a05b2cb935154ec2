"""The store conformance suite: every query and mutation, on memory, SQLite and Postgres.

Each test runs once per backend (the ``store`` fixture) and states one behaviour the
engine relies on. Sequence numbers are compared by order, never by value: Postgres
identities may skip numbers after a rollback.
"""

from __future__ import annotations

import dataclasses

import pytest

from ratchet.actors.store import (
    MIGRATIONS,
    TABLES,
    AcquireConcurrencySlot,
    AppendDurableLog,
    AppendLogLine,
    CancelSchedule,
    CreateApiToken,
    CreateCron,
    CreateEventFilter,
    CreateRun,
    CreateSchedule,
    CreateTasks,
    CreateTenant,
    DeleteCron,
    DeleteEventFilter,
    EnsureTenant,
    FireSchedule,
    Heartbeat,
    MutationRejected,
    NewTask,
    PushEvent,
    PutRateLimit,
    RecordCronFire,
    RegisterWorkflowVersion,
    ReleaseConcurrencySlot,
    RescheduleSchedule,
    RevokeApiToken,
    RunStatus,
    SaveRateLimitWindow,
    SetCurrentWorkflowVersion,
    SetRunStatus,
    SetWorkerStatus,
    Store,
    TaskEventKind,
    TaskStatus,
    TransitionTask,
    UpsertWorker,
    WorkerStatus,
)
from ratchet.actors.store._records import RECORD_TYPES

T = "tenant-1"


def run_of(run_id: str, *tasks: NewTask, at: float = 10.0, **kw) -> CreateRun:
    kw.setdefault("workflow_id", "wf")
    kw.setdefault("workflow_version", 1)
    kw.setdefault("input", {"n": 1})
    return CreateRun(tenant_id=T, id=run_id, tasks=tuple(tasks), at=at, **kw)


def task(task_id: str, **kw) -> NewTask:
    kw.setdefault("name", task_id)
    kw.setdefault("queue", "default")
    return NewTask(id=task_id, **kw)


def move(task_id: str, attempt: int, to: TaskStatus, event: TaskEventKind, *, run_id: str = "r1", **kw):
    kw.setdefault("at", 20.0)
    return TransitionTask(
        tenant_id=T, task_id=task_id, run_id=run_id, attempt=attempt, to_status=to, event=event, **kw
    )


def test_record_types_match_the_schema() -> None:
    for name, table in TABLES.items():
        fields = [f.name for f in dataclasses.fields(RECORD_TYPES[name])]
        assert fields == [c.name for c in table.columns], name


async def test_fresh_store_has_every_migration_applied(store: Store) -> None:
    assert await store.migration_versions() == [m.version for m in MIGRATIONS]


async def test_tenants_and_api_tokens(store: Store) -> None:
    await store.commit([CreateTenant(id=T, name="acme", at=1.0)])
    await store.commit(
        [CreateApiToken(tenant_id=T, id="tok", name="ci", token_hash="h1", at=2.0, role="member")]
    )
    assert (await store.get_tenant(T)).name == "acme"
    assert (await store.get_tenant_by_name("acme")).id == T
    assert await store.get_tenant("nope") is None
    token = await store.find_api_token("h1")
    assert (token.tenant_id, token.revoked, token.expires_at, token.role) == (T, 0, None, "member")
    assert await store.get_api_token(T, "tok") == token
    assert await store.get_api_token("other", "tok") is None
    assert [t.id for t in await store.list_tenants()] == [T]
    assert await store.commit([RevokeApiToken(tenant_id=T, id="tok")]) == [True]
    assert await store.commit([RevokeApiToken(tenant_id=T, id="missing")]) == [False]
    assert (await store.list_api_tokens(T))[0].revoked == 1
    with pytest.raises(MutationRejected, match="CreateTenant"):
        await store.commit([CreateTenant(id="t2", name="acme", at=3.0)])
    assert await store.get_tenant("t2") is None


async def test_ensure_tenant_creates_once_and_keeps_the_first_row(store: Store) -> None:
    await store.commit([EnsureTenant(id=T, name="acme", at=1.0)])
    await store.commit([EnsureTenant(id=T, name="acme", at=2.0), EnsureTenant(id=T, name="acme", at=3.0)])
    assert (await store.get_tenant(T)).created_at == 1.0
    with pytest.raises(MutationRejected, match="EnsureTenant"):
        await store.commit([EnsureTenant(id="t2", name="acme", at=4.0)])  # the name is taken
    assert await store.get_tenant("t2") is None


async def test_workflow_versions_are_immutable_and_runs_stay_bound(store: Store) -> None:
    def version(n: int) -> RegisterWorkflowVersion:
        return RegisterWorkflowVersion(
            tenant_id=T, workflow_id="wf", name="etl", version=n, checksum=f"c{n}", definition={"v": n}, at=n
        )

    await store.commit([version(1)])
    await store.commit([run_of("r1")])
    await store.commit([version(2)])
    assert (await store.get_workflow_version(T, "wf")).definition == {"v": 2}
    assert (await store.get_workflow_version(T, "wf", 1)).checksum == "c1"
    assert [v.version for v in await store.list_workflow_versions(T, "wf")] == [1, 2]
    assert (await store.get_workflow_by_name(T, "etl")).id == "wf"
    assert [w.name for w in await store.list_workflows(T)] == ["etl"]
    # the first writer wins: another engine writing the number, or the name, changes nothing
    again = RegisterWorkflowVersion(
        tenant_id=T, workflow_id="wf2", name="etl", version=1, checksum="x", definition={"v": "x"}, at=9
    )
    await store.commit([dataclasses.replace(version(1), checksum="x", definition={"v": "x"}), again])
    assert (await store.get_workflow_version(T, "wf", 1)).definition == {"v": 1}
    assert [(w.id, w.name) for w in await store.list_workflows(T)] == [("wf", "etl")]
    assert (await store.get_run(T, "r1")).workflow_version == 1


async def test_the_current_workflow_version_is_kept_and_moved(store: Store) -> None:
    def current(workflow: str, version: int, at: float) -> SetCurrentWorkflowVersion:
        return SetCurrentWorkflowVersion(
            tenant_id=T, workflow_id=workflow, version=version, checksum=f"c{version}", at=at
        )

    assert await store.list_current_workflow_versions(T) == []
    await store.commit([current("wf", 1, 1.0), current("other", 4, 1.0)])
    await store.commit([current("wf", 2, 2.0)])
    await store.commit([current("wf", 1, 3.0)])  # a rollback points back
    rows = await store.list_current_workflow_versions(T)
    assert [(r.workflow_id, r.version, r.checksum, r.updated_at) for r in rows] == [
        ("other", 4, "c4", 1.0),
        ("wf", 1, "c1", 3.0),
    ]
    assert await store.list_current_workflow_versions("another-tenant") == []


async def test_create_run_writes_run_tasks_and_timeline(store: Store) -> None:
    await store.commit(
        [
            run_of(
                "r1",
                task("a", input={"x": 1}, priority=3, max_retries=2),
                task("b", parents=("a",), status=TaskStatus.PENDING),
                additional_metadata={"user": "u1"},
                idempotency_key="idem-1",
            )
        ]
    )
    run = await store.get_run(T, "r1")
    assert (run.status, run.input, run.additional_metadata) == ("QUEUED", {"n": 1}, {"user": "u1"})
    assert (await store.find_run_by_idempotency_key(T, "idem-1")).id == "r1"
    a, b = await store.list_tasks(T, "r1")
    assert (a.id, a.status, a.attempt, a.input, a.priority, a.max_retries) == (
        "a",
        "QUEUED",
        1,
        {"x": 1},
        3,
        2,
    )
    assert (b.status, b.parents, b.queued_at) == ("PENDING", ["a"], None)
    events = await store.list_task_events(T, run_id="r1")
    assert [(e.task_id, e.kind) for e in events] == [("a", "QUEUED"), ("b", "CREATED")]
    await store.commit([CreateTasks(tenant_id=T, run_id="r1", tasks=(task("c"),), at=11.0)])
    assert [t.id for t in await store.list_tasks(T, "r1")] == ["a", "b", "c"]
    with pytest.raises(MutationRejected):
        await store.commit([run_of("r2", idempotency_key="idem-1")])
    assert await store.get_run(T, "r2") is None


async def test_list_runs_filters_and_orders_newest_first(store: Store) -> None:
    for i in range(5):
        await store.commit([run_of(f"r{i}", at=100.0 + i, workflow_id="wf" if i % 2 else "other")])
    await store.commit([SetRunStatus(tenant_id=T, run_id="r3", status=RunStatus.RUNNING, at=200.0)])
    assert [r.id for r in await store.list_runs(T)] == ["r4", "r3", "r2", "r1", "r0"]
    assert [r.id for r in await store.list_runs(T, workflow_id="wf")] == ["r3", "r1"]
    assert [r.id for r in await store.list_runs(T, statuses=[RunStatus.RUNNING])] == ["r3"]
    assert [r.id for r in await store.list_runs(T, since=101.0, until=103.0)] == ["r2", "r1"]
    assert [r.id for r in await store.list_runs(T, limit=2)] == ["r4", "r3"]
    assert await store.list_runs("other-tenant") == []
    assert await store.list_runs(T, statuses=[]) == []


async def test_task_lifecycle_records_attempts_output_and_timeline(store: Store) -> None:
    await store.commit([run_of("r1", task("a"))])
    assign = move("a", 1, TaskStatus.RUNNING, TaskEventKind.ASSIGNED, worker_id="w1", at=21.0)
    start = move(
        "a", 1, TaskStatus.RUNNING, TaskEventKind.STARTED, from_statuses=(TaskStatus.RUNNING,), at=22.0
    )
    done = move(
        "a",
        1,
        TaskStatus.COMPLETED,
        TaskEventKind.COMPLETED,
        output={"ok": True},
        at=23.0,
        from_statuses=(TaskStatus.RUNNING,),
    )
    assert await store.commit([assign, start, done]) == [True, True, True]
    t = await store.get_task(T, "a")
    assert (t.status, t.output, t.worker_id, t.started_at, t.finished_at) == (
        "COMPLETED",
        {"ok": True},
        "w1",
        22.0,
        23.0,
    )
    (attempt,) = await store.list_task_attempts(T, "a")
    assert (attempt.status, attempt.worker_id, attempt.started_at, attempt.finished_at) == (
        "COMPLETED",
        "w1",
        22.0,
        23.0,
    )
    kinds = [e.kind for e in await store.list_task_events(T, task_id="a")]
    assert kinds == ["QUEUED", "ASSIGNED", "STARTED", "COMPLETED"]
    seqs = [e.seq for e in await store.list_task_events(T, task_id="a")]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    later = await store.list_task_events(T, task_id="a", after_seq=seqs[1])
    assert [e.kind for e in later] == ["STARTED", "COMPLETED"]


async def test_a_late_message_for_an_old_attempt_is_fenced_off(store: Store) -> None:
    await store.commit([run_of("r1", task("a", max_retries=1))])
    await store.commit([move("a", 1, TaskStatus.RUNNING, TaskEventKind.ASSIGNED, worker_id="w1")])
    retry = move(
        "a",
        1,
        TaskStatus.QUEUED,
        TaskEventKind.RETRYING,
        new_attempt=2,
        retry_count=1,
        error="boom",
        clear_worker=True,
        from_statuses=(TaskStatus.RUNNING,),
    )
    assert await store.commit([retry]) == [True]
    before = await store.list_task_events(T, task_id="a")
    late = move("a", 1, TaskStatus.COMPLETED, TaskEventKind.COMPLETED, output={"late": 1})
    assert await store.commit([late]) == [False]
    t = await store.get_task(T, "a")
    assert (t.status, t.attempt, t.retry_count, t.output, t.worker_id) == ("QUEUED", 2, 1, None, None)
    assert await store.list_task_events(T, task_id="a") == before
    assert [(a.attempt, a.status, a.error) for a in await store.list_task_attempts(T, "a")] == [
        (1, "FAILED", "boom"),
        (2, "QUEUED", None),
    ]


async def test_a_terminal_task_never_moves_back(store: Store) -> None:
    await store.commit([run_of("r1", task("a"))])
    assert await store.commit([move("a", 1, TaskStatus.CANCELLED, TaskEventKind.CANCELLED)]) == [True]
    assert await store.commit([move("a", 1, TaskStatus.RUNNING, TaskEventKind.ASSIGNED)]) == [False]
    assert await store.commit([move("missing", 1, TaskStatus.RUNNING, TaskEventKind.ASSIGNED)]) == [False]
    assert (await store.get_task(T, "a")).status == "CANCELLED"


async def test_run_status_is_fenced_once_terminal(store: Store) -> None:
    await store.commit([run_of("r1")])
    ok = await store.commit(
        [
            SetRunStatus(tenant_id=T, run_id="r1", status=RunStatus.RUNNING, at=1.0),
            SetRunStatus(tenant_id=T, run_id="r1", status=RunStatus.FAILED, at=2.0, error="step a failed"),
            SetRunStatus(tenant_id=T, run_id="r1", status=RunStatus.COMPLETED, at=3.0),
        ]
    )
    assert ok == [True, True, False]
    run = await store.get_run(T, "r1")
    assert (run.status, run.error, run.started_at, run.finished_at) == ("FAILED", "step a failed", 1.0, 2.0)


async def test_tasks_by_status_come_in_priority_then_creation_order(store: Store) -> None:
    await store.commit([run_of("r1", task("low", priority=1), task("hi", priority=3), at=1.0)])
    await store.commit([run_of("r2", task("hi2", priority=3), task("other", queue="q2"), at=2.0)])
    got = await store.list_tasks_by_status(T, [TaskStatus.QUEUED], queue="default")
    assert [t.id for t in got] == ["hi", "hi2", "low"]
    assert [t.id for t in await store.list_tasks_by_status(T, [TaskStatus.QUEUED], limit=1)] == ["hi"]
    assert await store.list_tasks_by_status(T, [TaskStatus.RUNNING]) == []


async def test_workers_register_heartbeat_and_drain(store: Store) -> None:
    reg = UpsertWorker(
        tenant_id=T, id="w1", name="box", at=1.0, slots=5, labels={"gpu": True}, actions=("a",)
    )
    await store.commit([reg])
    await store.commit([UpsertWorker(tenant_id=T, id="w2", name="box2", at=1.0)])
    assert await store.commit([Heartbeat(tenant_id=T, worker_id="w1", at=5.0)]) == [True]
    assert await store.commit([Heartbeat(tenant_id=T, worker_id="ghost", at=5.0)]) == [False]
    await store.commit([SetWorkerStatus(tenant_id=T, worker_id="w1", status=WorkerStatus.DRAINING)])
    w = await store.get_worker(T, "w1")
    assert (w.slots, w.labels, w.actions, w.status, w.last_heartbeat_at) == (
        5,
        {"gpu": True},
        ["a"],
        "DRAINING",
        5.0,
    )
    assert [w.id for w in await store.list_workers(T, heartbeat_since=4.0)] == ["w1"]
    assert [w.id for w in await store.list_workers(T, status=WorkerStatus.ACTIVE)] == ["w2"]
    await store.commit([dataclasses.replace(reg, at=9.0, slots=7)])
    w = await store.get_worker(T, "w1")
    assert (w.slots, w.registered_at, w.last_heartbeat_at, w.status) == (7, 1.0, 9.0, "ACTIVE")


async def test_events_are_listed_in_commit_order_with_lookback(store: Store) -> None:
    for i, key in enumerate(["user:created", "user:deleted", "user:created"]):
        await store.commit([PushEvent(tenant_id=T, id=f"e{i}", key=key, payload={"i": i}, at=10.0 + i)])
    assert [e.id for e in await store.list_events(T)] == ["e0", "e1", "e2"]
    assert [e.id for e in await store.list_events(T, key="user:created")] == ["e0", "e2"]
    assert [e.id for e in await store.list_events(T, since=11.0)] == ["e1", "e2"]
    first = (await store.list_events(T))[0]
    assert [e.id for e in await store.list_events(T, after_seq=first.seq, limit=1)] == ["e1"]
    assert (await store.get_event(T, "e2")).payload == {"i": 2}
    with pytest.raises(MutationRejected, match="PushEvent"):
        await store.commit([PushEvent(tenant_id=T, id="e0", key="k", payload=None, at=20.0)])


async def test_event_filters(store: Store) -> None:
    f = CreateEventFilter(tenant_id=T, id="f1", workflow_id="wf", scope="s", expression="input.x > 1", at=1.0)
    await store.commit([f, dataclasses.replace(f, id="f2", workflow_id="wf2", payload={"p": 1})])
    assert [x.id for x in await store.list_event_filters(T)] == ["f1", "f2"]
    assert [x.payload for x in await store.list_event_filters(T, workflow_id="wf2")] == [{"p": 1}]
    assert await store.commit([DeleteEventFilter(tenant_id=T, id="f1")]) == [True]
    assert await store.commit([DeleteEventFilter(tenant_id=T, id="f1")]) == [False]
    assert [x.id for x in await store.list_event_filters(T)] == ["f2"]


async def test_crons_fire_once_per_tick_even_with_two_engines(store: Store) -> None:
    c = CreateCron(tenant_id=T, id="c1", workflow_id="wf", name="daily", expression="0 0 * * *", at=1.0)
    await store.commit([c])
    with pytest.raises(MutationRejected):
        await store.commit([dataclasses.replace(c, id="c2")])
    fire = RecordCronFire(tenant_id=T, id="c1", fired_at=100.0, previous=None)
    assert await store.commit([fire, fire]) == [True, False]
    assert await store.commit([RecordCronFire(tenant_id=T, id="c1", fired_at=200.0, previous=100.0)]) == [
        True
    ]
    assert (await store.get_cron(T, "c1")).last_fired_at == 200.0
    assert [x.id for x in await store.list_crons(T, workflow_id="wf")] == ["c1"]
    assert await store.commit([DeleteCron(tenant_id=T, id="c1")]) == [True]
    assert await store.list_crons(T) == []


async def test_one_time_schedules(store: Store) -> None:
    for i, at in enumerate([50.0, 30.0, 70.0]):
        await store.commit(
            [CreateSchedule(tenant_id=T, id=f"s{i}", workflow_id="wf", trigger_at=at, at=1.0, input={"i": i})]
        )
    assert [s.id for s in await store.list_due_schedules(60.0)] == ["s1", "s0"]
    assert await store.commit([RescheduleSchedule(tenant_id=T, id="s2", trigger_at=10.0)]) == [True]
    assert await store.commit([FireSchedule(tenant_id=T, id="s1", run_id="run-9")]) == [True]
    assert await store.commit([FireSchedule(tenant_id=T, id="s1", run_id="run-10")]) == [False]
    assert await store.commit([CancelSchedule(tenant_id=T, id="s0")]) == [True]
    assert await store.commit([RescheduleSchedule(tenant_id=T, id="s0", trigger_at=5.0)]) == [False]
    assert [s.id for s in await store.list_due_schedules(100.0)] == ["s2"]
    fired = await store.get_schedule(T, "s1")
    assert (fired.status, fired.run_id, fired.input) == ("FIRED", "run-9", {"i": 1})
    assert [s.id for s in await store.list_schedules(T)] == ["s2", "s1", "s0"]
    assert [s.id for s in await store.list_schedules(T, status="CANCELLED")] == ["s0"]


async def test_durable_log_appends_in_order_and_refuses_rewrites(store: Store) -> None:
    entries = [
        AppendDurableLog(tenant_id=T, task_id="d", seq=i, kind=k, key=f"k{i}", data={"i": i}, at=float(i))
        for i, k in enumerate(["spawn", "sleep", "wait_event"])
    ]
    await store.commit(entries[:2])
    await store.commit(entries[2:])
    log = await store.read_durable_log(T, "d")
    assert [(e.seq, e.kind, e.data) for e in log] == [
        (0, "spawn", {"i": 0}),
        (1, "sleep", {"i": 1}),
        (2, "wait_event", {"i": 2}),
    ]
    with pytest.raises(MutationRejected, match="AppendDurableLog"):
        await store.commit([dataclasses.replace(entries[1], kind="other")])
    assert (await store.read_durable_log(T, "d"))[1].kind == "sleep"


async def test_rate_limits_put_and_replace(store: Store) -> None:
    await store.commit(
        [PutRateLimit(tenant_id=T, key="openai", limit_units=10, duration_seconds=60.0, at=1.0)]
    )
    await store.commit(
        [PutRateLimit(tenant_id=T, key="openai", limit_units=20, duration_seconds=1.0, at=2.0)]
    )
    await store.commit([PutRateLimit(tenant_id=T, key="a", limit_units=1, duration_seconds=1.0, at=2.0)])
    rl = await store.get_rate_limit(T, "openai")
    assert (rl.limit_units, rl.duration_seconds, rl.updated_at) == (20, 1.0, 2.0)
    assert [r.key for r in await store.list_rate_limits(T)] == ["a", "openai"]


async def test_rate_limit_windows_are_kept_and_replaced(store: Store) -> None:
    first = SaveRateLimitWindow(
        tenant_id=T, key="openai", limit_units=10, duration_seconds=60.0, log=[(1.0, 1.5, 3)], at=2.0
    )
    # two saves of one key in one batch: the later one wins
    later = dataclasses.replace(first, log=[(1.0, 1.5, 3), (30.0, 30.0, 1)], at=30.0)
    other = dataclasses.replace(first, key="user:7", limit_units=2, log=[], at=3.0)
    await store.commit([first, other, later])
    windows = {w.key: w for w in await store.list_rate_limit_windows(T)}
    assert sorted(windows) == ["openai", "user:7"]
    assert windows["openai"].log == [[1.0, 1.5, 3], [30.0, 30.0, 1]]
    assert (windows["openai"].limit_units, windows["openai"].updated_at) == (10, 30.0)
    assert windows["user:7"].log == []


async def test_concurrency_slots_are_held_once(store: Store) -> None:
    acq = AcquireConcurrencySlot(tenant_id=T, group_key="user:1", task_id="a", run_id="r1", at=1.0)
    await store.commit([acq, dataclasses.replace(acq, task_id="b", at=2.0)])
    with pytest.raises(MutationRejected):
        await store.commit([acq])
    assert [s.task_id for s in await store.list_concurrency_slots(T, group_key="user:1")] == ["a", "b"]
    rel = ReleaseConcurrencySlot(tenant_id=T, group_key="user:1", task_id="a")
    assert await store.commit([rel]) == [True]
    assert await store.commit([rel]) == [False]
    assert [s.task_id for s in await store.list_concurrency_slots(T)] == ["b"]


async def test_log_lines(store: Store) -> None:
    lines = [
        AppendLogLine(tenant_id=T, task_id="a", attempt=1, level="INFO", message=f"line {i}", at=float(i))
        for i in range(3)
    ]
    await store.commit(lines)
    got = await store.list_log_lines(T, "a")
    assert [x.message for x in got] == ["line 0", "line 1", "line 2"]
    assert [x.message for x in await store.list_log_lines(T, "a", after_seq=got[0].seq, limit=1)] == [
        "line 1"
    ]
