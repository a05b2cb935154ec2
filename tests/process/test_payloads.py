"""Big payloads through real processes: client, ``ratchet engine`` and a worker, over tcp.

A payload of several megabytes goes from this process (the client) through the engine
process to a worker process and back, and is kept inside the database unless an object
store is configured.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
import trio
from payload_apps import make_client
from process_harness import HERE, Cluster, Process

from ratchet.actors.store import TABLES, open_store

FIVE_MB = 5 * 1000 * 1000


def _payload_refs(database: str) -> list[str]:
    """Every object-store reference the database holds (offloaded payloads)."""

    async def read() -> list[str]:
        refs: list[str] = []
        async with open_store(database) as store:
            for table in TABLES.values():
                for col in table.columns:
                    if col.offload:
                        rows = await store._select(table.name, [])
                        refs += [r[f"{col.name}_ref"] for r in rows if r[f"{col.name}_ref"] is not None]
        return refs

    return trio.run(read)


def _worker(cluster: Cluster) -> Process:
    argv = [sys.executable, str(HERE / "payload_apps.py"), "worker"]
    proc = Process("payload worker", argv, {"RATCHET_ENGINE": cluster.address})
    cluster.processes.append(proc)
    return proc


def _wait_for_worker(client: Any) -> None:
    deadline = time.monotonic() + 60
    while not client.connection.call("list_workers"):
        if time.monotonic() > deadline:
            raise AssertionError("the payload worker did not register within 60s")
        time.sleep(0.05)


def test_a_5_mb_input_and_output_travel_between_processes_and_stay_in_the_database(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.engine()
    worker = _worker(cluster)
    client, mirror = make_client(cluster.address)
    try:
        _wait_for_worker(client)
        text = "".join(chr(ord("a") + i % 26) for i in range(FIVE_MB))
        ref = mirror.run_no_wait({"text": text})
        output = ref.result()
        assert output["text"] == text[::-1]
        assert output["pid"] == worker.proc.pid
        details = client.runs.get(ref.workflow_run_id)
        assert details.status == "COMPLETED"
    finally:
        client.close()
    assert _payload_refs(cluster.database) == []  # inline: a backup of the database holds them
    assert not list(HERE.glob("ratchet-objects")) and not list(tmp_path.glob("*.objects"))


def test_engine_settings_from_variables_put_big_payloads_in_an_object_store_and_sweep_it(
    cluster: Cluster, tmp_path: Path
) -> None:
    objects = tmp_path / "objects"
    env = {
        "RATCHET_OBJECTS_DIR": str(objects),
        "RATCHET_OFFLOAD_BYTES": "1MiB",
        "RATCHET_MAX_PAYLOAD_BYTES": "8MiB",
        "RATCHET_OBJECT_SWEEP_INTERVAL": "1s",
        "RATCHET_OBJECT_ORPHAN_AGE": "2s",
    }
    argv = [
        sys.executable,
        "-m",
        "ratchet.cli",
        "engine",
        "--db",
        cluster.database,
        "--listen",
        cluster.address,
    ]
    engine = Process("engine", argv, env, ready="listening at")
    cluster.processes.append(engine)
    engine.wait_ready()
    assert f"payloads over 1048576 characters in {objects}" in engine.lines[-1]
    _worker(cluster)
    client, mirror = make_client(cluster.address)
    try:
        _wait_for_worker(client)
        text = "ab" * (FIVE_MB // 2)
        ref = mirror.run_no_wait({"text": text})
        assert ref.result()["text"] == text[::-1]
        with pytest.raises(Exception, match=r"over the engine's limit of 8388608 bytes"):
            mirror.run({"text": "c" * 9_000_000})
    finally:
        client.close()

    refs = _payload_refs(cluster.database)  # the run's input and its task's output
    assert len(refs) == 2
    # a leftover of a writer killed between writing an object and committing
    orphan = objects / "ff" / "obj-ff00000000000000000000000000000000"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b'{"never":"committed"}')
    deadline = time.monotonic() + 60
    while orphan.exists():
        assert time.monotonic() < deadline, "the engine did not sweep the orphaned object"
        time.sleep(0.1)
    assert {p.name for p in objects.glob("*/obj-*")} == set(refs)  # referenced objects stay
