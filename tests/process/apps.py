"""Workflows for the multi-process tests, shared by the test process and worker processes.

A worker process runs ``python apps.py worker`` with ``RATCHET_ENGINE`` set. Tasks that
take a ``marker`` directory in their input write a file named after the task and
attempt when they start, so a test can wait for "the task is running" without guessing.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import trio

from ratchet import ConcurrencyExpression, Context, DurableContext, Ratchet, RateLimit, Workflow


def _mark(input: dict, ctx: Context, name: str) -> None:
    marker = input.get("marker")
    if marker:
        Path(marker, f"{ctx.workflow_run_id}.{name}.{ctx.attempt_number}").touch()


def make_client(engine: str | None = None, **options: Any) -> tuple[Ratchet, dict[str, Workflow]]:
    """A client (for ``engine``, with ``options`` for :class:`Ratchet`) with the test workflows."""
    r = Ratchet(engine=engine, **options)

    chain = r.workflow("chain", input_validator=dict)

    @chain.task(retries=2)
    async def first(input: dict, ctx: Context) -> dict:
        _mark(input, ctx, "first")
        await trio.sleep(input.get("sleep", 0))
        return {"n": input.get("n", 0) + 1}

    @chain.task(parents=[first], retries=2)
    def second(input: dict, ctx: Context) -> dict:
        _mark(input, ctx, "second")
        import time

        time.sleep(input.get("sleep", 0))
        return {"n": ctx.task_output(first)["n"] + 1}

    @chain.task(parents=[second], retries=2)
    async def third(input: dict, ctx: Context) -> dict:
        _mark(input, ctx, "third")
        await trio.sleep(input.get("sleep", 0))
        return {"n": ctx.task_output(second)["n"] + 1}

    @r.task(input_validator=dict)
    async def slow(input: dict, ctx: Context) -> dict:
        _mark(input, ctx, "slow")
        await trio.sleep(input.get("seconds", 1))
        return {"pid": os.getpid(), "retry_count": ctx.retry_count}

    @r.task(input_validator=dict)
    async def noop(input: dict, ctx: Context) -> int:
        return 1

    @r.task(input_validator=dict)
    async def lingering(input: dict, ctx: Context) -> dict:
        """Its first attempt runs long, and notes it if it learns it was superseded."""
        _mark(input, ctx, "lingering")
        if ctx.attempt_number == 1:
            try:
                await trio.sleep(input["first_attempt_seconds"])
            finally:
                if ctx.is_superseded:
                    _mark(input, ctx, "lingering-superseded")
        return {"pid": os.getpid(), "attempt": ctx.attempt_number}

    @r.task(input_validator=dict, retries=2)
    async def unserializable(input: dict, ctx: Context) -> dict:
        _mark(input, ctx, "unserializable")
        return {"o": object()}

    @r.task(input_validator=dict)
    async def page(input: dict, ctx: Context) -> int:
        _mark(input, ctx, "page")
        return input["n"] * 10

    @r.durable_task(input_validator=dict, eviction_delay=0.2)
    async def approval(input: dict, ctx: DurableContext) -> dict:
        _mark(input, ctx, "approval")
        pages = await page.aio_run_many([page.create_bulk_run_item({**input, "n": n}) for n in range(3)])
        event = await ctx.aio_wait_for_event("approval:decided", f"input.request == {input['request']!r}")
        return {"pages": pages, "approved_by": event["payload"]["by"]}

    # one run per key at a time; each attempt writes when it started and ended (wall time)
    per_key = r.workflow("per-key", input_validator=dict, concurrency=ConcurrencyExpression("input.key", 1))

    @per_key.task(rate_limits=[RateLimit(static_key="process-api")])
    async def hold(input: dict, ctx: Context) -> dict:
        times = Path(input["marker"], f"{ctx.workflow_run_id}.{ctx.attempt_number}")
        times.write_text(f"{input['key']} {time.time()}")
        try:
            await trio.sleep(input.get("seconds", 0.2))
        finally:  # a cancelled attempt notes when it stopped too
            times.write_text(f"{times.read_text()} {time.time()}")
        return {"key": input["key"]}

    return r, {
        "chain": chain,
        "slow": slow,
        "noop": noop,
        "unserializable": unserializable,
        "lingering": lingering,
        "page": page,
        "approval": approval,
        "per-key": per_key,
    }


if __name__ == "__main__" and sys.argv[1:] == ["worker"]:
    client, workflows = make_client()
    client.worker(
        os.environ.get("WORKER_NAME", "worker"), slots=int(os.environ.get("WORKER_SLOTS", "20"))
    ).start()
