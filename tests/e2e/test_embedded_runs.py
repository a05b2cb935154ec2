"""Runs that succeed, end to end in embedded mode: DAG order and outputs, standalone tasks,
refs, bulk runs, metadata and listing."""

from __future__ import annotations

import dataclasses
import threading

import pydantic
import pytest
from e2e_helpers import start, tasks_by_name

from ratchet import Context, FailedTaskRunExceptionGroup
from ratchet._clients.runs import WorkflowRunRef


def _pipeline(r):
    wf = r.workflow("pipe", input_validator=dict)

    @wf.task()
    def fetch(inp, ctx: Context):
        return {"doc": inp["url"] * 2}

    @wf.task(parents=[fetch])
    async def parse(inp, ctx: Context):
        return {"n": len(ctx.task_output(fetch)["doc"])}

    @wf.task(parents=[parse])
    def report(inp, ctx: Context):
        return f"{inp['url']}: {ctx.task_output('parse')['n']}"

    return wf


def test_workflow_run_returns_every_task_output_by_name(new_client):
    r = new_client()
    wf = _pipeline(r)
    start(r)

    assert wf.run({"url": "abc"}) == {
        "fetch": {"doc": "abcabc"},
        "parse": {"n": 6},
        "report": "abc: 6",
    }


def test_children_start_only_after_their_parents_completed(new_client):
    r = new_client()
    wf = _pipeline(r)
    start(r)

    ref = wf.run_no_wait({"url": "x"})
    ref.result()
    tasks = tasks_by_name(r.runs.get(ref.run_id))

    def at(task, kind):
        (event,) = [e for e in tasks[task].events if e.kind == kind]
        return event.at

    assert at("parse", "ASSIGNED") >= at("fetch", "COMPLETED")
    assert at("report", "ASSIGNED") >= at("parse", "COMPLETED")
    # a child waits as CREATED (pending) until its parents are done, then is queued
    assert [e.kind for e in tasks["report"].events] == ["CREATED", "QUEUED", "ASSIGNED", "COMPLETED"]


def test_fan_out_then_fan_in_sees_every_parent_output(new_client):
    r = new_client()
    wf = r.workflow("fan", input_validator=dict)
    problems: list[str] = []

    @wf.task()
    def root(inp, ctx):
        return {"base": inp["base"]}

    def make_leaf(i):
        def leaf(inp, ctx):
            if i == 0:
                try:
                    ctx.task_output("leaf1")  # a sibling: not upstream, so not available
                except ValueError as exc:
                    problems.append(str(exc))
            return ctx.task_output(root)["base"] + i

        return wf.task(name=f"leaf{i}", parents=[root])(leaf)

    leaves = [make_leaf(i) for i in range(5)]

    @wf.task(parents=leaves)
    async def join(inp, ctx):
        base = ctx.task_output(root)["base"]  # an ancestor's output reaches its descendants
        return sorted(ctx.task_output(leaf) - base for leaf in leaves)

    start(r, slots=8)
    ref = wf.run_no_wait({"base": 100})
    result = ref.result()

    assert result["join"] == [0, 1, 2, 3, 4]
    assert {f"leaf{i}": 100 + i for i in range(5)}.items() <= result.items()
    assert len(problems) == 1 and "leaf1" in problems[0]
    tasks = tasks_by_name(r.runs.get(ref.run_id))
    join_assigned = next(e.at for e in tasks["join"].events if e.kind == "ASSIGNED")
    for i in range(5):
        completed = next(e.at for e in tasks[f"leaf{i}"].events if e.kind == "COMPLETED")
        assert join_assigned >= completed


def test_standalone_task_run_returns_its_output(new_client):
    r = new_client()

    @r.task(input_validator=dict)
    def hello(inp, ctx):
        return "hi " + inp["name"]

    start(r)
    assert hello.run({"name": "ada"}) == "hi ada"
    assert hello.run_no_wait({"name": "bob"}).result() == "hi bob"


def test_run_without_waiting_returns_a_ref(new_client):
    r = new_client()

    @r.task(input_validator=dict)
    def echo(inp, ctx):
        return inp

    start(r)
    ref = echo.run({"v": 1}, wait_for_result=False)
    assert isinstance(ref, WorkflowRunRef)
    assert ref.result() == {"v": 1}


def test_ref_result_works_long_after_the_run_finished(new_client):
    r = new_client()
    wf = _pipeline(r)
    start(r)

    ref = wf.run_no_wait({"url": "late"})
    first = ref.result()
    # plenty of other runs come and go; the finished run is long gone from the engine's memory
    wf.run_many([wf.create_bulk_run_item({"url": str(i)}) for i in range(20)])
    assert r.runs.get(ref.run_id).done

    assert ref.result() == first
    assert WorkflowRunRef(r, ref.run_id).result() == first  # a ref made from the id alone


def test_ref_result_of_a_failed_run_raises_long_after_it_finished(new_client):
    r = new_client()

    @r.task(input_validator=dict)
    def broken(inp, ctx):
        raise KeyError("nope")

    start(r)
    ref = broken.run_no_wait({})
    with pytest.raises(FailedTaskRunExceptionGroup):
        ref.result()
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        ref.result()
    assert info.value.exceptions[0].exc_type == "KeyError"


def _maybe_failing(r):
    @r.task(input_validator=dict)
    def maybe(inp, ctx):
        if inp["fail"]:
            raise ValueError(f"item {inp['i']} failed")
        return inp["i"] * 10

    return maybe


def test_run_many_returns_results_in_order(new_client):
    r = new_client()
    maybe = _maybe_failing(r)
    start(r)

    items = [maybe.create_bulk_run_item({"i": i, "fail": False}) for i in range(12)]
    assert maybe.run_many(items) == [i * 10 for i in range(12)]


def test_run_many_raises_the_failure_without_return_exceptions(new_client):
    r = new_client()
    maybe = _maybe_failing(r)
    start(r)

    items = [maybe.create_bulk_run_item({"i": i, "fail": i == 2}) for i in range(4)]
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        maybe.run_many(items)
    assert info.value.exceptions[0].message == "item 2 failed"


def test_run_many_with_return_exceptions_puts_each_failure_in_its_place(new_client):
    r = new_client()
    maybe = _maybe_failing(r)
    start(r)

    items = [maybe.create_bulk_run_item({"i": i, "fail": i % 2 == 1}) for i in range(6)]
    results = maybe.run_many(items, return_exceptions=True)

    assert [results[i] for i in (0, 2, 4)] == [0, 20, 40]
    for i in (1, 3, 5):
        assert isinstance(results[i], FailedTaskRunExceptionGroup)
        assert results[i].exceptions[0].message == f"item {i} failed"


def test_additional_metadata_reaches_the_task_and_shows_in_get_and_list(new_client):
    r = new_client()
    seen: list[dict] = []

    @r.task(input_validator=dict)
    def tagged(inp, ctx: Context):
        seen.append(dict(ctx.additional_metadata))
        return inp["i"]

    start(r)
    refs = tagged.run_many_no_wait(
        [
            tagged.create_bulk_run_item({"i": 0}, additional_metadata={"team": "red", "env": "test"}),
            tagged.create_bulk_run_item({"i": 1}, additional_metadata={"team": "blue", "env": "test"}),
            tagged.create_bulk_run_item({"i": 2}, additional_metadata={"team": "red", "env": "prod"}),
        ]
    )
    for ref in refs:
        ref.result()

    assert sorted(seen, key=lambda m: (m["team"], m["env"])) == [
        {"team": "blue", "env": "test"},
        {"team": "red", "env": "prod"},
        {"team": "red", "env": "test"},
    ]
    assert r.runs.get(refs[0].run_id).additional_metadata == {"team": "red", "env": "test"}

    red = r.runs.list(additional_metadata={"team": "red"})
    assert {d.run_id for d in red} == {refs[0].run_id, refs[2].run_id}
    assert all(d.additional_metadata["team"] == "red" for d in red)
    red_test = r.runs.list(additional_metadata={"team": "red", "env": "test"})
    assert [d.run_id for d in red_test] == [refs[0].run_id]
    assert r.runs.list(additional_metadata={"team": "green"}) == []


def test_list_filters_by_status_and_workflow(new_client):
    r = new_client()
    release = threading.Event()
    maybe = _maybe_failing(r)

    @r.task(input_validator=dict)
    def waiting(inp, ctx):
        release.wait(10)
        return "done"

    start(r)
    ok = maybe.run_no_wait({"i": 1, "fail": False})
    bad = maybe.run_no_wait({"i": 2, "fail": True})
    pending = waiting.run_no_wait({})
    ok.result()
    with pytest.raises(FailedTaskRunExceptionGroup):
        bad.result()

    try:
        assert [d.run_id for d in r.runs.list(workflow=maybe, statuses=["FAILED"])] == [bad.run_id]
        assert [d.run_id for d in r.runs.list(workflow=maybe, statuses=["COMPLETED"])] == [ok.run_id]
        assert {d.run_id for d in r.runs.list(workflow=maybe)} == {ok.run_id, bad.run_id}
        assert [d.run_id for d in r.runs.list(statuses=["QUEUED", "RUNNING"])] == [pending.run_id]
        assert r.runs.list(workflow="no-such-workflow") == []
        assert r.runs.get_status(ok.run_id) == "COMPLETED"
    finally:
        release.set()
    assert pending.result() == "done"
    with pytest.raises(LookupError):
        r.runs.get("no-such-run")


class Order(pydantic.BaseModel):
    item: str
    qty: int = 1


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_tasks_receive_validated_pydantic_and_dataclass_inputs(new_client):
    r = new_client()

    @r.task(input_validator=Order)
    def order(inp: Order, ctx):
        assert isinstance(inp, Order)
        return inp.model_copy(update={"qty": inp.qty * 2})

    @r.task(input_validator=Point)
    def norm(inp: Point, ctx):
        assert isinstance(inp, Point)
        return inp.x * inp.x + inp.y * inp.y

    start(r)
    assert order.run(Order(item="tea", qty=3)) == {"item": "tea", "qty": 6}
    assert order.run({"item": "jam"}) == {"item": "jam", "qty": 2}
    assert norm.run(Point(3, 4)) == 25
