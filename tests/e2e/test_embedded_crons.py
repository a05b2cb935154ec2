"""Crons and schedules through the client: created, listed, fired, deleted; bad input refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import trio
from e2e_helpers import eventually, start


def _workflow(r):
    wf = r.workflow("report", input_validator=dict)

    @wf.task()
    def build(inp, ctx):
        return inp

    return wf


def test_a_cron_is_created_listed_fired_and_deleted(new_client):
    r = new_client()
    wf = _workflow(r)
    start(r)
    cron = wf.create_cron("every-second", "* * * * * *", {"kind": "cron"})
    assert [c.id for c in r.cron.list(wf)] == [cron.id]
    assert r.cron.get(cron.id).expression == "* * * * * *"
    eventually(lambda: any(run.input == {"kind": "cron"} for run in r.runs.list(workflow=wf)), "a cron run")
    assert r.cron.delete(cron.id) is True
    assert r.cron.list() == []
    with pytest.raises(LookupError, match="no cron"):
        r.cron.get(cron.id)


def test_a_schedule_runs_once_at_its_time(new_client):
    r = new_client()
    wf = _workflow(r)
    start(r)
    when = datetime.now(UTC) + timedelta(seconds=0.3)
    scheduled = wf.schedule(when, {"kind": "once"})
    assert r.scheduled.get(scheduled.id).status == "PENDING"
    eventually(lambda: r.scheduled.get(scheduled.id).status == "FIRED", "the schedule to fire")
    run = r.runs._wait(r.scheduled.get(scheduled.id).run_id)
    assert run.output == {"build": {"kind": "once"}} and run.created_at >= when.timestamp()
    assert [s.id for s in r.scheduled.list(wf)] == [scheduled.id]


def test_schedules_are_updated_and_deleted(new_client):
    r = new_client()
    wf = _workflow(r)
    start(r)
    s = r.scheduled.create(wf, time.time() + 3600, {"a": 1})
    assert r.scheduled.update(s.id, time.time() + 7200) is True
    assert r.scheduled.get(s.id).trigger_at > time.time() + 3600
    assert r.scheduled.delete(s.id) is True
    assert r.scheduled.get(s.id).status == "CANCELLED"
    assert r.scheduled.update(s.id, time.time() + 60) is False


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r, wf: wf.create_cron("c", "not a cron"), "bad cron expression 'not a cron'"),
        (lambda r, wf: wf.create_cron("c", "* * * * * * *"), "7 fields"),
        (lambda r, wf: wf.create_cron("", "@daily"), "name"),
        (lambda r, wf: r.cron.create("missing", "c", "@daily"), "unknown workflow 'missing'"),
        (lambda r, wf: wf.schedule("tomorrow"), "datetime or epoch seconds"),
        (lambda r, wf: wf.schedule(timedelta(hours=1)), "not a timedelta"),
        (lambda r, wf: wf.schedule(float("inf")), "finite"),
        (lambda r, wf: wf.schedule(datetime(2000, 1, 1, tzinfo=UTC)), "more than a day in the past"),
        (lambda r, wf: r.scheduled.update("no-such", "soon"), "datetime or epoch seconds"),
    ],
)
def test_bad_crons_and_schedules_are_refused(new_client, call, message):
    r = new_client()
    wf = _workflow(r)
    start(r)
    with pytest.raises(ValueError, match=message):
        call(r, wf)
    assert r.cron.list() == [] and r.scheduled.list() == []


def test_a_cron_is_disabled_enabled_and_run_now_through_the_client(new_client):
    r = new_client()
    wf = _workflow(r)
    start(r)
    cron = wf.create_cron("nightly", "0 3 * * *", {"kind": "now"})
    assert cron.enabled is True
    disabled = r.cron.disable(cron.id)
    assert disabled.enabled is False and disabled.next_fire_at is None
    assert r.cron.get(cron.id).enabled is False
    run_id = r.cron.run_now(cron.id)
    assert r.runs._wait(run_id).output == {"build": {"kind": "now"}}
    assert trio.run(r.cron.aio_run_now, cron.id) != run_id
    assert trio.run(r.cron.aio_enable, cron.id).enabled is True
    assert trio.run(r.cron.aio_disable, cron.id).enabled is False
    assert r.cron.enable(cron.id).next_fire_at is not None
    for call in (r.cron.enable, r.cron.disable, r.cron.run_now):
        with pytest.raises(LookupError, match="no cron with id 'nope'"):
            call("nope")
    with pytest.raises(ValueError, match="pause_cron"):
        r.cron.disable("")
    assert r.cron.get(cron.id).enabled is True
