"""Events end to end: pushed, committed, and starting the workflows that listen, through filters."""

from __future__ import annotations

import pytest
from e2e_helpers import start

from ratchet import BulkPushEvent, Context, DefaultFilter
from ratchet.runtime import ActorError


def _runs_of(r, wf):
    return [run for run in r.runs.list(workflow=wf) if run.workflow == wf.name]


def _wait_all(r, run_ids):
    return [r.runs._wait(run_id) for run_id in run_ids]


def test_an_event_starts_every_workflow_listening_to_its_key(new_client):
    r = new_client()
    exact = r.workflow("exact", on_events=["order:paid"], input_validator=dict)
    wild = r.workflow("wild", on_events=["order:*"], input_validator=dict)
    other = r.workflow("other", on_events=["user:created"], input_validator=dict)
    for wf in (exact, wild, other):

        @wf.task(name=f"{wf.name}-task")
        def handle(inp, ctx: Context):
            return {"amount": inp["amount"], "metadata": dict(ctx.additional_metadata)}

    start(r)
    event = r.event.push("order:paid", {"amount": 5}, additional_metadata={"source": "shop"})
    assert event.key == "order:paid" and len(event.run_ids) == 2
    details = _wait_all(r, event.run_ids)
    assert sorted(d.workflow for d in details) == ["exact", "wild"]
    for d in details:
        assert d.status == "COMPLETED" and d.input == {"amount": 5}
        (out,) = d.output.values()
        assert out == {"amount": 5, "metadata": {"source": "shop"}}
    assert _runs_of(r, other) == []


def test_filters_start_one_run_per_accepting_filter_of_the_event_scope(new_client):
    r = new_client()
    wf = r.workflow(
        "billing",
        on_events=["invoice:*"],
        input_validator=dict,
        default_filters=[DefaultFilter("input.amount > 100", "acme", {"tier": "big"})],
    )

    @wf.task()
    def bill(inp, ctx: Context):
        return {"tier": ctx.filter_payload["tier"]}

    start(r)
    wf.create_filter("input.amount > 0", "acme", {"tier": "any"})
    wf.create_filter("input.amount > 0", "globex", {"tier": "other-scope"})

    big = r.event.push("invoice:new", {"amount": 500}, scope="acme")
    assert sorted(d.output["bill"]["tier"] for d in _wait_all(r, big.run_ids)) == ["any", "big"]
    small = r.event.push("invoice:new", {"amount": 5}, scope="acme")
    assert [d.output["bill"]["tier"] for d in _wait_all(r, small.run_ids)] == ["any"]
    assert r.event.push("invoice:new", {"amount": 500}).run_ids == []  # no scope: no filter applies
    assert r.event.push("invoice:new", {"amount": -1}, scope="acme").run_ids == []


def test_bulk_push_commits_every_event_and_starts_their_runs(new_client):
    r = new_client()
    wf = r.workflow("counter", on_events=["tick"], input_validator=dict)

    @wf.task()
    def count(inp, ctx: Context):
        return inp["i"]

    start(r)
    events = r.event.bulk_push([BulkPushEvent("tick", {"i": i}, priority=2) for i in range(50)])
    assert len({e.id for e in events}) == 50
    outputs = sorted(d.output["count"] for e in events for d in _wait_all(r, e.run_ids))
    assert outputs == list(range(50))
    assert all(run.priority == 2 for run in _runs_of(r, wf))


def test_filters_are_listed_and_deleted(new_client):
    r = new_client()
    wf = r.workflow("listed", on_events=["k"])

    @wf.task()
    def noop(inp, ctx):
        return None

    start(r)
    f = wf.create_filter("true", "s1", {"x": 1})
    assert [x.id for x in r.filters.list(wf)] == [f.id]
    assert r.filters.delete(f.id) is True
    assert r.filters.delete(f.id) is False
    assert r.filters.list() == []


def test_filters_list_shows_declared_default_filters_with_stored_ones(new_client):
    r = new_client()
    wf = r.workflow(
        "billing",
        on_events=["invoice:*"],
        input_validator=dict,
        default_filters=[DefaultFilter("input.amount > 100", "acme", {"tier": "big"})],
    )
    other = r.workflow("plain", on_events=["k"])

    @wf.task()
    def bill(inp, ctx: Context):
        return ctx.filter_payload

    @other.task()
    def noop(inp, ctx: Context):
        return None

    start(r)
    stored = wf.create_filter("input.amount > 0", "acme", {"tier": "any"})

    listed = r.filters.list(wf)
    assert [(f.workflow, f.scope, f.expression, f.payload, f.declared) for f in listed] == [
        ("billing", "acme", "input.amount > 100", {"tier": "big"}, True),
        ("billing", "acme", "input.amount > 0", {"tier": "any"}, False),
    ]
    assert listed[1].id == stored.id
    assert r.filters.list() == listed  # `plain` has no filters
    assert r.filters.list(other) == []

    declared = listed[0]
    with pytest.raises(ValueError, match="declared in the code of workflow 'billing'"):
        r.filters.delete(declared.id)
    assert r.filters.list(wf) == listed  # nothing changed
    # and the declared filter still applies
    event = r.event.push("invoice:new", {"amount": 500}, scope="acme")
    tiers = sorted(r.runs._wait(run_id).output["bill"]["tier"] for run_id in event.run_ids)
    assert tiers == ["any", "big"]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("",), {}, "key"),
        (("   ",), {}, "event key"),
        (("a\x00b",), {}, "event key"),
        (("k" * 201,), {}, "key"),
        ((5,), {}, "key"),
        (("k", {"x": "y" * 3000}), {}, "over the engine's limit"),
        (("k", {1, 2}), {}, "cannot be encoded"),
        (("k",), {"scope": ""}, "scope"),
        (("k",), {"priority": 7}, "priority"),
        (("k",), {"additional_metadata": ["not", "a", "dict"]}, "additional_metadata"),
    ],
)
def test_bad_events_are_refused_and_nothing_is_pushed(new_client, args, kwargs, message):
    from ratchet.actors import EngineOptions

    r = new_client()
    wf = r.workflow("listener", on_events=["*"])

    @wf.task()
    def noop(inp, ctx):
        return None

    start(r, options=EngineOptions(max_payload_bytes=2000))
    with pytest.raises(ValueError, match=message):
        r.event.push(*args, **kwargs)
    assert _runs_of(r, wf) == []


def test_bulk_push_refuses_more_than_1000_events_and_bad_items(new_client):
    r = new_client()
    wf = r.workflow("bulk-listener", on_events=["*"])

    @wf.task()
    def noop(inp, ctx):
        return None

    start(r)
    with pytest.raises(ValueError, match="1 to 1000 events"):
        r.event.bulk_push([BulkPushEvent("k")] * 1001)
    with pytest.raises(ValueError, match="1 to 1000 events"):
        r.event.bulk_push([])
    with pytest.raises(ValueError, match="event #2"):
        r.event.bulk_push([{"key": "ok"}, {"key": ""}])  # one bad event: none is pushed
    with pytest.raises(ActorError, match="1 to 1000"):
        r.connection.call("push_events", [{"key": "k"}] * 1001)
    assert _runs_of(r, wf) == []


@pytest.mark.parametrize(
    ("expression", "scope", "message"),
    [("input.(", "s", "bad CEL expression"), ("", "s", "expression"), ("true", "", "scope")],
)
def test_bad_filters_are_refused(new_client, expression, scope, message):
    r = new_client()
    wf = r.workflow("filtered", on_events=["k"])

    @wf.task()
    def noop(inp, ctx):
        return None

    start(r)
    with pytest.raises(ValueError, match=message):
        wf.create_filter(expression, scope)
    with pytest.raises(ValueError, match="unknown workflow 'ghost'"):
        r.filters.create("ghost", "true", "s")
    assert r.filters.list() == []


def test_bad_declared_triggers_fail_at_declaration(new_client):
    from ratchet import DefinitionError

    r = new_client()
    with pytest.raises(DefinitionError, match="bad CEL expression"):
        r.workflow("a", on_events=["k"], default_filters=[DefaultFilter("input.(", "s")])
    with pytest.raises(DefinitionError, match="needs a scope"):
        r.workflow("b", on_events=["k"], default_filters=[DefaultFilter("true", "")])
    with pytest.raises(DefinitionError, match="no on_events"):
        r.workflow("c", default_filters=[DefaultFilter("true", "s")])
    with pytest.raises(DefinitionError, match="bad cron expression"):
        r.workflow("d", on_crons=["61 * * * *"])
