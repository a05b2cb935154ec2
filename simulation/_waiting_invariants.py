"""The invariants of work that waits: durable runs, events and crons.

Checked once the world has stopped (:func:`waiting_checks`), against four sources: what
the store committed; the workload (what should have happened); the
:class:`~._durables.DurableTrail` (what every execution of the durable task did); and
the :class:`~._world.WorldLog` (the pushes the engine acknowledged, when the engine or
its Triggers actor was down, when the clock jumped, when commits were slow or failed).
Each rule's precise statement is in :mod:`._invariants`, with the other names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ratchet._contract.status import TaskStatus
from ratchet.actors.durable._log import is_gate_seq

from ._crons import CronShape, cron_name
from ._durables import CHILD_WORKFLOW, DURABLE_WORKFLOW, LOOKBACK, DurableTrail, Execution, wait_key
from ._events import expected_matches, listener_name
from ._workload import Workload
from ._world import WorldCheck, WorldLog

__all__ = ["CRON_GRACE", "CRON_RESTART_SLACK", "RESUME_GRACE", "waiting_checks"]

TENANT = "default"
CRON_GRACE = 3.0
"""Seconds an engine that is up (and whose clock did not jump) may take from a cron tick to
committing its run: the timer, the run's creation and a group commit (slow commits add
their window to it)."""
CRON_RESTART_SLACK = 1.0
"""Seconds between an engine incarnation reading the time to catch up missed ticks and the
simulation seeing it up."""
RESUME_GRACE = 3.0
"""Seconds an evicted durable task whose sleep ended may take to be queued again."""
_EPSILON = 1e-3


@dataclass
class _Snapshot:
    """The store's runs, by workflow name, and the events, read once."""

    ids: dict[str, str]
    runs: dict[str, list[Any]]
    events: list[Any]
    tasks: dict[str, list[Any]] = field(default_factory=dict)

    def runs_of(self, workflow: str) -> list[Any]:
        return self.runs.get(workflow, [])


async def _snapshot(store: Any) -> _Snapshot:
    names = {wf.id: wf.name for wf in await store.list_workflows(TENANT)}
    runs: dict[str, list[Any]] = {}
    for run in sorted(await store.list_runs(TENANT, limit=None), key=lambda r: (r.created_at, r.id)):
        runs.setdefault(names.get(run.workflow_id, run.workflow_id), []).append(run)
    events = await store.list_events(TENANT, limit=None)
    return _Snapshot({name: wid for wid, name in names.items()}, runs, events)


async def _tasks(store: Any, snap: _Snapshot, run_id: str) -> list[Any]:
    if run_id not in snap.tasks:
        snap.tasks[run_id] = await store.list_tasks(TENANT, run_id)
    return snap.tasks[run_id]


def _input(run: Any) -> dict[str, Any]:
    return run.input if isinstance(run.input, dict) else {}


def waiting_checks(workload: Workload, trail: DurableTrail) -> list[WorldCheck]:
    """The checks of ``workload``'s durable runs, events and crons (none for a DAG-only one)."""
    if not (workload.durables or workload.event_pushes() or workload.crons):
        return []

    async def check(store: Any, log: WorldLog) -> list[str]:
        snap = await _snapshot(store)
        found = await _check_durables(store, snap, workload, trail, log)
        found += await _check_events(store, snap, workload, log)
        found += _check_crons(await store.list_crons(TENANT), snap, workload.crons, log)
        return found

    return [check]


# -- durable runs -----------------------------------------------------------------------------------


def _expected_log(steps: Sequence[Any]) -> list[tuple[int, str]]:
    """The durable log a run's steps make: ``(step, kind)`` per entry, in order."""
    out: list[tuple[int, str]] = []
    for k, step in enumerate(steps):
        if step.kind == "sleep":
            out.append((k, "sleep"))
        elif step.kind == "wait":
            out.append((k, "event"))
        else:
            out += [(k, "spawn"), (k, "wait_runs")]
    return out


async def _check_durables(
    store: Any, snap: _Snapshot, workload: Workload, trail: DurableTrail, log: WorldLog
) -> list[str]:
    out: list[str] = []
    dup = "durable-replays-without-duplicates"
    seen = "waits-see-their-event"
    stored: dict[int, list[Any]] = {}
    for run in snap.runs_of(DURABLE_WORKFLOW):
        stored.setdefault(_input(run).get("run", -1), []).append(run)
    children: dict[str | None, list[Any]] = {}
    for run in snap.runs_of(CHILD_WORKFLOW):
        children.setdefault(run.parent_task_id, []).append(run)
    executions: dict[int, list[Execution]] = {}
    for e in trail.executions:
        executions.setdefault(e.run, []).append(e)
    events_by_key: dict[str, list[Any]] = {}
    for event in snap.events:
        events_by_key.setdefault(event.key, []).append(event)
    for i, shape in enumerate(workload.durables):
        runs = stored.get(i, [])
        if len(runs) > 1:
            out.append(f"{dup}: durable run {i} was stored {len(runs)} times")
        if len(runs) != 1:
            continue  # a lost run is acknowledged-runs-not-lost's to report
        run = runs[0]
        (task,) = await _tasks(store, snap, run.id)
        entries = sorted(
            (e for e in await store.read_durable_log(TENANT, task.id) if not is_gate_seq(e.seq)),
            key=lambda e: e.seq,
        )
        expected = _expected_log(shape.steps)
        kinds = [e.kind for e in entries]
        if kinds != [kind for _, kind in expected[: len(kinds)]] or [e.seq for e in entries] != list(
            range(len(entries))
        ):
            out.append(
                f"{dup}: durable run {i} ({run.id}) logged {kinds}; its steps make "
                f"{[kind for _, kind in expected]} (each once, in order)"
            )
            continue
        ended = TaskStatus(task.status).is_terminal
        if task.status == TaskStatus.COMPLETED and len(kinds) != len(expected):
            out.append(
                f"{dup}: durable run {i} completed with {len(kinds)} of its {len(expected)} log entries"
            )
        if task.status == TaskStatus.EVICTED:
            out += _check_resumed(i, run.id, entries, log)
        entry_of = {expected[e.seq]: e for e in entries}
        mine = executions.get(i, [])
        out += _check_children(i, task, children.get(task.id, []), entry_of, shape.steps)
        for k, step in enumerate(shape.steps):
            if step.kind == "sleep" and (k, "sleep") in entry_of:
                out += _check_sleep(i, k, entry_of[(k, "sleep")], mine, log)
            elif step.kind == "wait" and (k, "event") in entry_of:
                entry = entry_of[(k, "event")]
                out += [
                    f"{seen}: {text}"
                    for text in _check_wait(
                        i, k, entry, ended, events_by_key.get(wait_key(i, k), []), mine, log
                    )
                ]
    return out


def _check_resumed(i: int, run_id: str, entries: list[Any], log: WorldLog) -> list[str]:
    """An evicted durable task is resumed once what it waits for is over."""
    waiting = []
    for e in entries:
        data = e.data or {}
        if data.get("resolved"):
            continue
        until = (data.get("request") or {}).get("until") if e.kind == "sleep" else None
        if until is None or log.at(float(until)) > log.end - RESUME_GRACE:
            waiting.append(f"{e.kind}({e.key!r})")
    if waiting:
        return []  # still waiting: every-run-ends says it did not end, if it should have
    last = f"{entries[-1].kind}({entries[-1].key!r})" if entries else "nothing"
    return [
        f"durable-waits-resume: durable run {i} ({run_id}) is left EVICTED, though everything it "
        f"waited for is over (its last durable call, {last}, is resolved)"
    ]


def _check_children(
    i: int, task: Any, kids: list[Any], entry_of: dict[tuple[int, str], Any], steps: Sequence[Any]
) -> list[str]:
    dup = "durable-replays-without-duplicates"
    out = []
    counts = Counter((_input(r).get("step"), _input(r).get("index")) for r in kids)
    for (k, j), n in sorted(counts.items(), key=str):
        if n > 1:
            out.append(f"{dup}: durable run {i} spawned child {j} of step {k} {n} times")
    for r in kids:
        if _input(r).get("run") != i:
            out.append(f"{dup}: run {r.id} is a child of durable run {i} but was spawned for {_input(r)}")
    by_place = {(_input(r).get("step"), _input(r).get("index")): r.id for r in kids}
    for k, step in enumerate(steps):
        entry = entry_of.get((k, "spawn"))
        if entry is None:
            continue
        answers = (entry.data or {}).get("result") or []
        want = step.children if step.kind == "spawn" else 1
        if len(answers) != want:
            out.append(
                f"{dup}: durable run {i} logged {len(answers)} children for step {k}, which spawns {want}"
            )
        for j, answer in enumerate(answers):
            if isinstance(answer, dict) and "run_id" in answer and by_place.get((k, j)) != answer["run_id"]:
                out.append(
                    f"{dup}: durable run {i} logged child {j} of step {k} as run {answer['run_id']}, "
                    f"but the store holds {by_place.get((k, j), 'no such child')}"
                )
    if task.status == TaskStatus.COMPLETED:
        logged = {k for (k, kind) in entry_of if kind == "spawn"}
        stray = sorted({k for (k, _) in counts if k not in logged}, key=str)
        if stray:
            out.append(f"{dup}: durable run {i} has children of steps {stray} that its log never spawned")
    return out


def _check_sleep(i: int, k: int, entry: Any, executions: list[Execution], log: WorldLog) -> list[str]:
    dup = "durable-replays-without-duplicates"
    out = []
    deadline = log.at(float((entry.data or {}).get("request", {}).get("until", 0.0)))
    for e in executions:
        passed = e.passed.get(k)
        if passed is not None and passed - log.start < deadline - _EPSILON:
            out.append(
                f"{dup}: durable run {i} execution #{e.serial} passed its sleep (step {k}) at "
                f"t={passed - log.start:.3f}, before its deadline t={deadline:.3f}"
            )
        reached = e.reached.get(k)
        if (
            reached is not None
            and passed is None
            and e.ended == "EvictedError"
            and reached - log.start >= deadline + _EPSILON
        ):
            out.append(
                f"{dup}: durable run {i} execution #{e.serial} reached its sleep (step {k}) at "
                f"t={reached - log.start:.3f}, after it ended at t={deadline:.3f}, "
                "and was evicted to sleep again"
            )
    return out


def _check_wait(
    i: int, k: int, entry: Any, ended: bool, events: list[Any], executions: list[Execution], log: WorldLog
) -> list[str]:
    key = wait_key(i, k)
    expected = {"push": f"w{i}-{k}", "ok": True}
    since = log.at(entry.created_at) - LOOKBACK
    mine = [e for e in events if e.payload == expected and log.at(e.created_at) >= since - _EPSILON]
    data = entry.data or {}
    if not data.get("resolved"):
        if mine and not ended:
            first = mine[0]
            return [
                f"durable run {i} still waits (step {k}) for {key!r}, though event {first.id} was "
                f"pushed at t={log.at(first.created_at):.3f}, within its look-back from t="
                f"{log.at(entry.created_at):.3f}"
            ]
        return []
    result = data.get("result") or {}
    out = []
    if result.get("id") not in {e.id for e in mine} or result.get("payload") != expected:
        out.append(
            f"durable run {i} (step {k}) waiting for {key!r} got {result.get('id')} with "
            f"{result.get('payload')!r}; the events it may take: {[e.id for e in mine]}"
        )
    for e in executions:
        got = e.results.get(k)
        if got is not None and got.get("id") != result.get("id"):
            out.append(
                f"durable run {i} execution #{e.serial} got event {got.get('id')} from its wait (step "
                f"{k}); the log holds {result.get('id')}"
            )
    return out


# -- events -----------------------------------------------------------------------------------------


async def _check_events(store: Any, snap: _Snapshot, workload: Workload, log: WorldLog) -> list[str]:
    name = "events-start-one-run-each"
    out = []
    stored = {e.id: e for e in snap.events}
    for push in log.pushes:
        if push.event_id not in stored:
            out.append(f"{name}: event {push.event_id} ({push.key!r}) was acknowledged but is not stored")
    copies: dict[str, list[Any]] = {}
    for event in snap.events:
        label = event.payload.get("push") if isinstance(event.payload, dict) else None
        copies.setdefault(str(label), []).append(event)
    for index, listener in enumerate(workload.listeners):
        workflow = listener_name(index)
        runs: dict[str, list[Any]] = {}
        for run in snap.runs_of(workflow):
            runs.setdefault(str(_input(run).get("push")), []).append(run)
        for label in sorted(set(runs) - set(copies)):
            out.append(
                f"{name}: {len(runs[label])} runs of {workflow} name event {label}, which was never stored"
            )
        for label, events in sorted(copies.items()):
            first = events[0]
            matches = expected_matches(listener, first.key, first.payload, first.scope)
            want = len(matches) * len(events)
            got = runs.get(label, [])
            if len(got) != want:
                out.append(
                    f"{name}: event {label} ({first.key!r}, scope {first.scope}, stored {len(events)} "
                    f"time(s)) started {len(got)} runs of {workflow} (patterns {list(listener.patterns)}, "
                    f"{len(listener.filters)} filters); expected {want}"
                )
                continue
            if not listener.filters:
                continue
            filters: Counter[Any] = Counter()
            for run in got:
                for task in await _tasks(store, snap, run.id):
                    if task.status == TaskStatus.COMPLETED and isinstance(task.output, dict):
                        filters[(task.output.get("filter") or {}).get("filter")] += 1
            if any(n > matches.count(f) * len(events) for f, n in filters.items()):
                out.append(
                    f"{name}: event {label} started runs of {workflow} through filters "
                    f"{dict(filters)}; the filters accepting it: {matches}"
                )
    return out


# -- crons --------------------------------------------------------------------------------------------


def _overlaps(windows: Sequence[tuple[float, float]], a: float, b: float) -> bool:
    return any(start <= b and end >= a for start, end in windows)


def _after_slow_commits(log: WorldLog, a: float, b: float) -> float:
    """When a run due from ``a`` must be committed by, if it had until ``b``: ``b``, or,
    if the store was slow meanwhile, ``CRON_GRACE`` after the slow commits ended (every
    commit then takes longer, a failed one is tried again in another slow commit)."""
    for start, end in log.slow():
        if start <= b and end >= a:
            b = max(b, end + CRON_GRACE)
    return b


def _calm(log: WorldLog, a: float, b: float) -> bool:
    """Whether a tick's run due from ``a`` had until ``b`` to commit: the Triggers actor
    ran and the clock did not jump from ``a`` until ``b``, or, if the store was slow
    meanwhile, until ``CRON_GRACE`` after the slow commits ended. A failed commit is no
    excuse: the engine tries a tick's commit again."""
    b = _after_slow_commits(log, a, b)
    jumps = [(at, at + seconds) for at, seconds in log.jumps]
    return b < log.end and not (_overlaps(log.restarts, a, b) or _overlaps(jumps, a, b))


def _lateness(log: WorldLog, tick: float, created: float) -> float:
    """How late a run created at ``created`` was for ``tick``, not counting clock jumps."""
    jumped = sum(max(0.0, min(at + seconds, created) - max(at, tick)) for at, seconds in log.jumps)
    return created - tick - jumped


def _check_crons(rows: list[Any], snap: _Snapshot, crons: Sequence[CronShape], log: WorldLog) -> list[str]:
    name = "crons-fire-once-per-tick"
    out = []
    for index, cron in enumerate(crons):
        workflow = cron_name(index)
        wid = snap.ids.get(workflow)
        if wid is None:
            continue  # never registered: no worker came up (other invariants say why)
        mine = [r for r in rows if r.workflow_id == wid]
        if len(mine) != 1:
            out.append(f"{name}: {workflow} has {len(mine)} stored crons; it declares one")
            continue
        row = mine[0]
        created = log.at(row.created_at)
        ticks = cron.ticks()
        prefix = f"cron:{wid}:{row.name}:"
        fired: dict[int, list[Any]] = {}
        for run in snap.runs_of(workflow):
            key = run.idempotency_key or ""
            tick = key[len(prefix) :]
            if key.startswith(prefix) and tick.isdigit():
                at = round(log.at(int(tick)))
                if at not in ticks:
                    out.append(f"{name}: run {run.id} of {workflow} fired for t={at}, not a tick of it")
            else:
                out.append(f"{name}: run {run.id} of {workflow} names no tick (key {key!r})")
                # still counted: for the latest tick when it was made
                made = log.at(run.created_at)
                latest = max((t for t in ticks if t <= made + _EPSILON), default=None)
                if latest is None:
                    continue
                at = latest
            fired.setdefault(at, []).append(run)
        for at, runs in sorted(fired.items()):
            if len(runs) > 1:
                out.append(f"{name}: tick t={at} of {workflow} started {len(runs)} runs")
            made = log.at(runs[0].created_at)
            late = _lateness(log, at, made)
            allowed = CRON_GRACE
            if not _overlaps(log.restarts, at, made):
                # The Triggers actor fired it on time and kept trying to commit it: it had
                # the time a tick it requires has (see _calm). One that restarted meanwhile
                # may fire this tick only as its catch-up (see _caught_up).
                allowed = _after_slow_commits(log, at, at + CRON_GRACE) - at
            if late > allowed and not _caught_up(log, ticks, at, made):
                out.append(
                    f"{name}: tick t={at} of {workflow} fired at t={made:.3f}, {late:.3f}s late "
                    f"({allowed:.3f}s allowed), and not as the latest tick missed while the engine's "
                    "Triggers actor was down (older ones are skipped)"
                )
        for at, why in _required_ticks(log, ticks, created):
            if at not in fired:
                out.append(f"{name}: tick t={at} of {workflow} never fired; {why}")
    return out


def _caught_up(log: WorldLog, ticks: list[int], tick: int, made: float) -> bool:
    """Whether a run for ``tick`` made at ``made`` is a restart's catch-up: ``tick`` was the
    latest tick when the Triggers actor started again, by then."""
    for down, up in log.restarts:
        if tick <= up + CRON_RESTART_SLACK and down - _EPSILON <= made <= up + CRON_GRACE:
            if not [t for t in ticks if tick < t <= up - CRON_RESTART_SLACK]:
                return True
    return False


def _required_ticks(log: WorldLog, ticks: list[int], created: float) -> list[tuple[int, str]]:
    """The ticks the engine promises to fire, each with the reason (see ``crons-fire-once-per-tick``)."""
    required: dict[int, str] = {}
    for tick in ticks:
        if created < tick and _calm(log, tick, tick + CRON_GRACE):
            required[tick] = "nothing stopped the engine committing its run (restart, jump, failed commit)"
    for down, up in log.restarts:
        latest = max((t for t in ticks if t <= up), default=None)
        if latest is None or latest <= created:
            continue
        if _calm(log, up + _EPSILON, up + CRON_GRACE):
            required.setdefault(
                latest,
                f"it was the latest tick when the Triggers actor, down from t={down:.3f}, started again "
                f"at t={up:.3f}, and nothing stopped it from committing the tick's run",
            )
    return sorted(required.items())
