"""The ``aio_`` forms, end to end in embedded mode, called from Trio (pytest-trio runs the
async tests) and from asyncio (``asyncio.run`` inside a sync test); and asyncio task
functions on a worker whose ``async_backend`` is asyncio."""

from __future__ import annotations

import asyncio
import threading

import pytest
import trio
from e2e_helpers import sleep_until_cancelled, start, wait_set

from ratchet import Context, FailedTaskRunExceptionGroup
from ratchet._runs import RunCancelledError, WorkflowRunRef


def _declare(r):
    wf = r.workflow("aio-pipe", input_validator=dict)

    @wf.task()
    def fetch(inp, ctx):
        if inp.get("fail"):
            raise ValueError(f"cannot fetch {inp['url']}")
        return {"doc": inp["url"]}

    @wf.task(parents=[fetch])
    async def parse(inp, ctx: Context):
        await trio.sleep(0)
        return {"n": len(ctx.task_output(fetch)["doc"])}

    @r.task(input_validator=dict)
    def hello(inp, ctx):
        return "hi " + inp["name"]

    return wf, hello


async def test_aio_forms_under_trio(new_client):
    r = new_client()
    wf, hello = _declare(r)
    start(r)

    assert await wf.aio_run({"url": "abc"}) == {"fetch": {"doc": "abc"}, "parse": {"n": 3}}
    assert await hello.aio_run({"name": "trio"}) == "hi trio"

    ref = await wf.aio_run_no_wait({"url": "abcd"}, additional_metadata={"via": "trio"})
    assert isinstance(ref, WorkflowRunRef)
    first = await ref.aio_result()
    assert first == {"fetch": {"doc": "abcd"}, "parse": {"n": 4}}
    await wf.aio_run({"url": "later"})
    assert await ref.aio_result() == first  # a wait after the run finished works too
    assert isinstance(await wf.aio_run({"url": "e"}, wait_for_result=False), WorkflowRunRef)

    details = await r.runs.aio_get(ref.run_id)
    assert details.status == "COMPLETED" and details.additional_metadata == {"via": "trio"}
    assert await r.runs.aio_get_status(ref.run_id) == "COMPLETED"
    listed = await r.runs.aio_list(workflow=wf, additional_metadata={"via": "trio"})
    assert [d.run_id for d in listed] == [ref.run_id]

    results = await wf.aio_run_many(
        [wf.create_bulk_run_item({"url": "ab"}), wf.create_bulk_run_item({"url": "q", "fail": True})],
        return_exceptions=True,
    )
    assert results[0]["parse"] == {"n": 2}
    assert isinstance(results[1], FailedTaskRunExceptionGroup)
    with pytest.raises(FailedTaskRunExceptionGroup):
        await wf.aio_run_many([wf.create_bulk_run_item({"url": "q", "fail": True})])
    refs = await hello.aio_run_many_no_wait([hello.create_bulk_run_item({"name": str(i)}) for i in range(3)])
    assert [await ref.aio_result() for ref in refs] == ["hi 0", "hi 1", "hi 2"]


async def test_concurrent_aio_runs_under_trio(new_client):
    r = new_client()
    _, hello = _declare(r)
    start(r, slots=8)
    results: dict[int, str] = {}

    async def one(i: int) -> None:
        results[i] = await hello.aio_run({"name": str(i)})

    async with trio.open_nursery() as nursery:
        for i in range(10):
            nursery.start_soon(one, i)

    assert results == {i: f"hi {i}" for i in range(10)}


async def test_aio_cancel_under_trio(new_client):
    r = new_client()
    running = threading.Event()
    cancelled = threading.Event()

    @r.task(input_validator=dict)
    async def long(inp, ctx):
        running.set()
        await sleep_until_cancelled(cancelled)

    start(r)
    ref = await long.aio_run_no_wait({})
    await trio.to_thread.run_sync(wait_set, running, "the task to start")
    assert await r.runs.aio_cancel(ref.run_id) is True
    with pytest.raises(RunCancelledError):
        await ref.aio_result()
    await trio.to_thread.run_sync(wait_set, cancelled, "the task to be cancelled")
    assert await r.runs.aio_bulk_cancel([ref.run_id]) == 0


def test_aio_forms_under_asyncio(new_client):
    r = new_client()
    wf, hello = _declare(r)
    start(r, slots=8)

    async def main() -> None:
        assert await wf.aio_run({"url": "abc"}) == {"fetch": {"doc": "abc"}, "parse": {"n": 3}}
        greetings = await asyncio.gather(*(hello.aio_run({"name": str(i)}) for i in range(8)))
        assert greetings == [f"hi {i}" for i in range(8)]

        ref = await wf.aio_run_no_wait({"url": "ab"}, additional_metadata={"via": "asyncio"})
        assert (await ref.aio_result())["parse"] == {"n": 2}
        assert (await r.runs.aio_get(ref.run_id)).additional_metadata == {"via": "asyncio"}
        assert [d.run_id for d in await r.runs.aio_list(additional_metadata={"via": "asyncio"})] == [
            ref.run_id
        ]

        results = await wf.aio_run_many(
            [wf.create_bulk_run_item({"url": "x", "fail": True}), wf.create_bulk_run_item({"url": "xyz"})],
            return_exceptions=True,
        )
        assert isinstance(results[0], FailedTaskRunExceptionGroup)
        assert results[0].exceptions[0].message == "cannot fetch x"
        assert results[1]["parse"] == {"n": 3}

    asyncio.run(main())


def test_asyncio_task_functions_run_on_an_asyncio_worker(new_client):
    r = new_client()
    cancelled = threading.Event()

    @r.task(input_validator=dict, execution_timeout="0.3s")
    async def on_asyncio(inp, ctx: Context):
        await asyncio.sleep(0)
        if inp.get("hang"):
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.set()
                raise
        return type(asyncio.get_running_loop()).__name__

    start(r, async_backend="asyncio")
    assert on_asyncio.run({}) == "TrioEventLoop"  # trio-asyncio's loop, inside the worker

    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        on_asyncio.run({"hang": True})
    assert info.value.exceptions[0].exc_type == "TimeoutError"
    wait_set(cancelled, "the asyncio task to be cancelled")
