"""A FastAPI app, served by uvicorn on asyncio, that embeds an engine and triggers runs.

The engine starts in the app's ``lifespan`` (``with ratchet.embedded(...)``), which also
runs a task with the ``aio_`` form and tries a blocking call; the ``/run/{name}`` route
triggers runs and waits for them. What the app saw is returned with every answer, so
the test can check it from outside. ``APP_DB`` names the engine's database.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from ratchet import Context, Ratchet

ratchet = Ratchet()


@ratchet.task(input_validator=dict)
async def greet(inp: dict, ctx: Context) -> dict:
    await asyncio.sleep(0)
    return {"hello": inp["name"], "task_loop": type(asyncio.get_running_loop()).__module__}


@ratchet.task(input_validator=dict)
def add(inp: dict, ctx: Context) -> int:
    return inp["a"] + inp["b"]


seen: dict[str, Any] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    workers = [ratchet.worker("web", async_backend="asyncio")]
    with ratchet.embedded(os.environ.get("APP_DB", "memory://"), workers=workers):
        seen["lifespan_run"] = await greet.aio_run({"name": "lifespan"})
        try:
            add.run({"a": 1, "b": 2})
        except RuntimeError as exc:
            seen["blocking_call"] = str(exc)
        yield
    print("lifespan: engine closed", flush=True)


app = FastAPI(lifespan=lifespan)


@app.get("/run/{name}")
async def run(name: str) -> dict:
    ref = await greet.aio_run_no_wait({"name": name})
    return {
        "greeting": await ref.aio_result(),
        "sum": await add.aio_run({"a": 2, "b": 3}),
        "status": await ratchet.runs.aio_get_status(ref.workflow_run_id),
        "app_loop": type(asyncio.get_running_loop()).__module__,
        "trio_asyncio_loaded": "trio_asyncio" in sys.modules,
        **seen,
    }
