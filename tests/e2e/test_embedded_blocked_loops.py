"""An ``async def`` task that blocks its event loop does not make its worker look dead.

Task functions run on an event loop of their own (one per worker and async backend),
apart from the worker's link to the engine, so heartbeats and reports carry on while a
task hogs its loop with blocking code; the worker logs which task blocks it.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import trio
from e2e_helpers import start

from ratchet import Context
from ratchet.actors import EngineOptions

# A worker that misses heartbeats for 1s is given up for dead.
QUICK_LOSS = EngineOptions(heartbeat_interval=0.2, heartbeat_misses=5)
BLOCK_SECONDS = 3.0


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_a_task_blocking_its_loop_keeps_its_worker_and_is_named(new_client, backend, caplog):
    r = new_client()

    @r.task(input_validator=dict, execution_timeout="60s")
    async def hog_the_loop(inp, ctx: Context) -> str:
        await (asyncio.sleep(0) if backend == "asyncio" else trio.sleep(0))
        time.sleep(inp["seconds"])  # blocks the event loop the task runs on
        return "done"

    start(r, options=QUICK_LOSS, async_backend=backend)
    with caplog.at_level(logging.WARNING, logger="ratchet.worker"):
        ref = hog_the_loop.run_no_wait({"seconds": BLOCK_SECONDS})
        assert ref.result() == "done"
    (task,) = r.runs.get(ref.run_id).tasks
    assert task.attempt == 1 and task.status == "COMPLETED"  # never given up for lost
    assert "REASSIGNED" not in [e.kind for e in task.events]
    blocked = [rec.getMessage() for rec in caplog.records if "blocked" in rec.getMessage()]
    assert blocked, "the worker never said its task loop was blocked"
    assert "hog_the_loop" in blocked[0] and ref.run_id in blocked[0]
    assert "time.sleep" in blocked[0] or "test_embedded_blocked_loops.py" in blocked[0]
