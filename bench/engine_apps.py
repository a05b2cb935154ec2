"""Workflows for ``engine_bench.py``; run as ``python engine_apps.py`` to be a worker."""

from __future__ import annotations

import os
import time

from ratchet import Context, Ratchet, Workflow


def make_client(engine: str | None = None) -> tuple[Ratchet, dict[str, Workflow]]:
    r = Ratchet(engine=engine)

    @r.task(input_validator=dict)
    async def noop(input: dict, ctx: Context) -> int:
        return 1

    @r.task(input_validator=dict)
    async def stamp(input: dict, ctx: Context) -> float:
        return time.time()

    dag = r.workflow("dag3", input_validator=dict)

    @dag.task()
    async def step1(input: dict, ctx: Context) -> int:
        return 1

    @dag.task(parents=[step1])
    async def step2(input: dict, ctx: Context) -> int:
        return ctx.task_output(step1) + 1

    @dag.task(parents=[step2])
    async def step3(input: dict, ctx: Context) -> int:
        return ctx.task_output(step2) + 1

    return r, {"noop": noop, "stamp": stamp, "dag3": dag}


if __name__ == "__main__":
    client, _ = make_client()
    client.worker("bench", slots=int(os.environ.get("WORKER_SLOTS", "200"))).start()
