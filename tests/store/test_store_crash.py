"""Crash test with real processes: SIGKILL a writer mid-stream, restart, check every ack.

A child process streams batches through a StoreWriter and prints an ack after each
commit. We kill it with SIGKILL while batches are in flight, reopen the database, and
check that every acknowledged batch is fully present and that no batch is half-present
(a run without all its tasks, or without its event). Event payloads go to an object
store: after a sweep, every object left is one a row references, and every row's object
is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import trio

from ratchet.actors.store import MIGRATIONS, DirectoryObjectStore, Store, open_store

CHILD = Path(__file__).with_name("store_crash_child.py")
ACKS_BEFORE_KILL = 60


def _run_child_until_killed(url: str, objects: Path) -> set[int]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), url, str(objects)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.strip())
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    acks: set[int] = set()
    try:
        while len(acks) < ACKS_BEFORE_KILL:
            line = lines.get(timeout=60)
            if line is None:
                raise AssertionError(f"the writer process died on its own: {proc.stderr.read()}")  # type: ignore[union-attr]
            if line.startswith("ack "):
                acks.add(int(line.split()[1]))
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    reader.join(timeout=30)
    # Acks printed after our count but before the kill are acknowledged too.
    while True:
        line = lines.get_nowait() if not lines.empty() else None
        if line is None:
            break
        if line.startswith("ack "):
            acks.add(int(line.split()[1]))
    assert proc.returncode == -signal.SIGKILL
    return acks


async def _check(store: Store, acks: set[int]) -> int:
    runs = await store.list_runs("crash", limit=None)
    present = {int(r.id[1:]) for r in runs}
    assert acks <= present, f"acknowledged batches lost: {sorted(acks - present)[:10]}"
    tasks_per_run: dict[str, int] = {}
    for r in runs:
        tasks_per_run[r.id] = len(await store.list_tasks("crash", r.id))
    assert set(tasks_per_run.values()) == {5}, "a run is missing some of its tasks"
    events = {e.id for e in await store.list_events("crash", limit=None)}
    assert events == {f"b{b}-event" for b in present}, "an event without its run, or a run without its event"
    return len(present)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_every_acknowledged_batch_survives_sigkill(backend: str, tmp_path: Path, request) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.db'}"
    else:
        url = request.getfixturevalue("pg_databases").create()
    objects = tmp_path / "objects"
    acks = _run_child_until_killed(url, objects)
    assert len(acks) >= ACKS_BEFORE_KILL

    async def verify() -> int:
        async with open_store(url, objects=DirectoryObjectStore(objects)) as store:
            assert await store.migration_versions() == [m.version for m in MIGRATIONS]
            assert store.objects is not None
            referenced = {r["payload_ref"] for r in await store._select("events", [])}
            written = set(await store.objects.older_than(0))
            assert referenced <= written
            # the kill may have come between writing a batch's object and its commit
            assert await store.sweep_objects(0) == len(written - referenced)
            assert set(await store.objects.older_than(0)) == referenced
            return await _check(store, acks)

    present = trio.run(verify)
    assert present >= len(acks)


@contextlib.contextmanager
def _writes_blocked(url: str) -> Iterator[None]:
    """Hold the database's write lock (SQLite) or the events table's (Postgres) for the block."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    locked, release = threading.Event(), threading.Event()

    async def hold() -> None:
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE events IN EXCLUSIVE MODE")  # reads still pass
                locked.set()
                await asyncio.get_running_loop().run_in_executor(None, release.wait)
        finally:
            await conn.close()

    holder = threading.Thread(target=asyncio.run, args=(hold(),), daemon=True)
    holder.start()
    assert locked.wait(30), "could not lock the events table"
    try:
        yield
    finally:
        release.set()
        holder.join(30)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_writer_killed_between_writing_objects_and_committing_leaves_orphans_the_sweep_removes(
    backend: str, tmp_path: Path, request
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.db'}"
    else:
        url = request.getfixturevalue("pg_databases").create()
    objects = tmp_path / "objects"
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), url, str(objects), "--wait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()  # type: ignore[union-attr]
        with _writes_blocked(url):
            proc.stdin.write("go\n")
            proc.stdin.flush()
            # the child writes its first batches' objects, then waits on the lock
            deadline = time.monotonic() + 60
            while not list(objects.glob("*/obj-*")):
                assert time.monotonic() < deadline, "the child wrote no object"
                assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)

    async def sweep() -> tuple[int, int, int]:
        async with open_store(url, objects=DirectoryObjectStore(objects)) as store:
            assert store.objects is not None
            assert await store.list_events("crash", limit=None) == []  # nothing committed
            orphans = len(await store.objects.older_than(0))
            spared = await store.sweep_objects(3600)  # young: a commit might still be coming
            swept = await store.sweep_objects(0)
            return orphans, spared, swept

    orphans, spared, swept = trio.run(sweep)
    assert orphans >= 1
    assert (spared, swept) == (0, orphans)
    assert not list(objects.glob("*/obj-*"))
