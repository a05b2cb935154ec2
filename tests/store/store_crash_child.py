"""A writer process for the crash test: streams batches through a StoreWriter and prints acks.

Usage: ``python store_crash_child.py STORE_URL OBJECTS_DIR [--wait]``. Four producers each submit
batches (one CreateRun with five tasks plus a PushEvent, committed together or not at
all) and print ``ack <batch>`` once the batch's commit returned. It runs until killed.
Each event's payload is big enough to go to the object store, so a kill between writing
an object and committing its batch leaves an object no row references. With ``--wait``
it prints ``ready`` once the store is open and starts producing when a line arrives on
its stdin (so a test can lock the database in between).
"""

from __future__ import annotations

import sys

import trio

from ratchet.actors.store import (
    CreateRun,
    DirectoryObjectStore,
    NewTask,
    PushEvent,
    StoreWriter,
    commit,
    open_store,
)
from ratchet.runtime import open_runtime

TENANT = "crash"
TASKS_PER_BATCH = 5
OFFLOAD = 100  # characters: every event's payload is an object


def batch(b: int) -> list:
    tasks = tuple(
        NewTask(id=f"b{b}-t{i}", name=f"t{i}", queue="q", input={"i": i}) for i in range(TASKS_PER_BATCH)
    )
    return [
        CreateRun(
            tenant_id=TENANT,
            id=f"b{b}",
            workflow_id="wf",
            workflow_version=1,
            input={"b": b},
            tasks=tasks,
            at=1.0,
        ),
        PushEvent(
            tenant_id=TENANT, id=f"b{b}-event", key="batch", payload={"b": b, "pad": "x" * 200}, at=1.0
        ),
    ]


async def main(url: str, objects: str, wait: bool) -> None:
    async with (
        open_store(url, objects=DirectoryObjectStore(objects), offload_threshold=OFFLOAD) as store,
        open_runtime(seed=1) as system,
    ):
        writer = await system.spawn(StoreWriter, store, max_batch=40, max_delay=0.002, name="store-writer")

        async def producer(p: int) -> None:
            b = p
            while True:
                await commit(writer, batch(b))
                print(f"ack {b}", flush=True)
                b += 4

        print("ready", flush=True)
        if wait:
            await trio.to_thread.run_sync(sys.stdin.readline)
        async with trio.open_nursery() as nursery:
            for p in range(4):
                nursery.start_soon(producer, p)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2], sys.argv[3:] == ["--wait"])
