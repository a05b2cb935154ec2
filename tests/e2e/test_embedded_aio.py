"""The ``aio_`` forms, end to end in embedded mode, called from Trio (pytest-trio runs the
async tests) and from asyncio (``asyncio.run`` inside a sync test); and asyncio task
functions on a worker whose ``async_backend`` is asyncio."""

from __future__ import annotations

import asyncio
import threading

import pytest
import trio
from e2e_helpers import engine_restarts, sleep_until_cancelled, start, wait_set

from ratchet import Context, FailedTaskRunExceptionGroup
from ratchet._clients.runs import RunCancelledError, WorkflowRunRef
from ratchet._worker.worker import WorkerConfig


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
    assert on_asyncio.run({}) == "_UnixSelectorEventLoop"  # a plain asyncio loop of the worker's

    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        on_asyncio.run({"hang": True})
    assert info.value.exceptions[0].exc_type == "TimeoutError"
    wait_set(cancelled, "the asyncio task to be cancelled")


def test_an_asyncio_task_spawns_children_with_aio_run_many(new_client):
    r = new_client()

    @r.task(input_validator=dict)
    async def double(inp, ctx):
        await asyncio.sleep(0)
        return inp["n"] * 2

    @r.task(input_validator=dict)
    async def fan_out(inp, ctx):
        doubled = await double.aio_run_many([double.create_bulk_run_item({"n": n}) for n in range(3)])
        one = await double.aio_run({"n": 10})
        ref = await double.aio_run_no_wait({"n": 20})
        return [*doubled, one, await ref.aio_result()]

    start(r, async_backend="asyncio", slots=4)
    assert fan_out.run({}) == [0, 2, 4, 20, 40]
    children = r.runs.list(workflow=double)
    assert len(children) == 5 and all(c.parent_task_id for c in children)
    assert set(engine_restarts(r).values()) == {0}


def test_a_blocking_call_inside_an_event_loop_names_the_aio_form(new_client):
    r = new_client()
    _, hello = _declare(r)
    start(r)

    async def on_asyncio() -> None:
        with pytest.raises(RuntimeError, match=r"inside a running asyncio event loop.*aio_run"):
            hello.run({"name": "x"})
        assert await hello.aio_run({"name": "y"}) == "hi y"  # and the aio_ form works there

    async def on_trio() -> None:
        with pytest.raises(RuntimeError, match=r"inside a running trio event loop.*aio_run"):
            r.runs.get("no-such-run")

    asyncio.run(on_asyncio())
    trio.run(on_trio)
    assert hello.run({"name": "z"}) == "hi z"  # outside any loop the blocking form works


async def _sleep(backend: str, seconds: float) -> None:
    await (asyncio.sleep(seconds) if backend == "asyncio" else trio.sleep(seconds))


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_refresh_timeout_from_an_async_task_reaches_its_worker(new_client, backend):
    r = new_client()

    @r.task(input_validator=dict, execution_timeout="0.3s")
    async def needs_more_time(inp, ctx: Context):
        ctx.log("asking for more time")
        ctx.refresh_timeout("5s")
        await _sleep(backend, 0.6)  # longer than the original timeout
        return "finished"

    start(r, async_backend=backend)
    assert needs_more_time.run({}) == "finished"
    assert set(engine_restarts(r).values()) == {0}


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_an_async_task_cancels_its_own_run(new_client, backend):
    r = new_client()
    cancelled = threading.Event()

    @r.task(input_validator=dict)
    async def give_up(inp, ctx: Context):
        ctx.cancel()
        try:
            await _sleep(backend, 10)
        except (trio.Cancelled, asyncio.CancelledError):
            cancelled.set()
            raise

    start(r, async_backend=backend)
    ref = give_up.run_no_wait({})
    with pytest.raises(RunCancelledError):
        ref.result()
    wait_set(cancelled, "the task to see its cancellation")


def test_an_asyncio_worker_without_threads_is_refused_with_its_name(new_client):
    r = new_client()
    _declare(r)
    with pytest.raises(ValueError, match=r"worker 'sim': asyncio task functions run on an asyncio loop"):
        WorkerConfig(name="sim", workflows=list(r.workflows.values()), threads=False, async_backend="asyncio")
