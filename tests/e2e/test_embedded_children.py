"""Child workflows spawned from tasks: parents recorded, metadata inherited, no duplicates."""

from __future__ import annotations

import threading

from e2e_helpers import start

from ratchet import Context


def _family(r):
    leaf = r.workflow("leaf", input_validator=dict)

    @leaf.task()
    async def grow(inp, ctx: Context):
        return {"n": inp["n"], "metadata": dict(ctx.additional_metadata)}

    mid = r.workflow("mid", input_validator=dict)

    @mid.task()
    async def spawn_leaf(inp, ctx: Context):
        out = await leaf.aio_run({"n": inp["n"] * 10}, additional_metadata={"level": "leaf"})
        return {"leaf": out["grow"], "metadata": dict(ctx.additional_metadata)}

    return leaf, mid


def test_child_runs_record_their_parent_task(new_client):
    r = new_client()
    _, mid = _family(r)
    start(r)

    ref = mid.run_no_wait({"n": 2})
    assert ref.result()["spawn_leaf"]["leaf"]["n"] == 20
    parent = r.runs.get(ref.run_id).task("spawn_leaf")
    children = r.runs.list(parent_task_id=parent.task_id)
    assert [c.workflow for c in children] == ["leaf"]
    assert children[0].parent_task_id == parent.task_id


def test_metadata_flows_to_children_and_grandchildren(new_client):
    r = new_client()
    _, mid = _family(r)
    top = r.workflow("top")

    @top.task()
    async def spawn_mid(inp, ctx: Context):
        return await mid.aio_run({"n": 1}, additional_metadata={"level": "mid"})

    start(r)
    out = top.run(additional_metadata={"tenant": "acme", "level": "top"})
    mid_out = out["spawn_mid"]["spawn_leaf"]
    assert mid_out["metadata"] == {"tenant": "acme", "level": "mid"}
    assert mid_out["leaf"]["metadata"] == {"tenant": "acme", "level": "leaf"}


def test_a_retried_parent_does_not_spawn_its_children_again(new_client):
    r = new_client()
    child = r.workflow("child", input_validator=dict)
    started: list[int] = []
    lock = threading.Lock()

    @child.task()
    def work(inp, ctx: Context):
        with lock:
            started.append(inp["i"])
        return inp["i"]

    parent = r.workflow("parent")

    @parent.task(retries=2)
    async def fan(inp, ctx: Context):
        outs = await child.aio_run_many([child.create_bulk_run_item({"i": i}) for i in range(3)])
        keyed = await child.aio_run({"i": 99}, key="the-one")
        if ctx.attempt_number < 3:
            raise RuntimeError("fail after spawning, to be retried")
        return {"outs": outs, "keyed": keyed}

    start(r)
    ref = parent.run_no_wait()
    out = ref.result()["fan"]
    assert [o["work"] for o in out["outs"]] == [0, 1, 2]
    assert out["keyed"]["work"] == 99
    assert sorted(started) == [0, 1, 2, 99]  # three attempts, one run of each child
    task_id = r.runs.get(ref.run_id).task("fan").task_id
    assert len(r.runs.list(parent_task_id=task_id)) == 4


def test_trigger_with_a_known_key_returns_the_existing_run(new_client):
    r = new_client()
    leaf, _ = _family(r)
    start(r)
    first = leaf.run_no_wait({"n": 1}, key="order-7")
    second = leaf.run_no_wait({"n": 2}, key="order-7")
    assert first.run_id == second.run_id
    assert second.result()["grow"]["n"] == 1
