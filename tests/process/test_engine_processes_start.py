"""``ratchet engine`` processes started at the same moment on one fresh database all come up."""

from __future__ import annotations

import sys

from apps import make_client
from process_harness import Cluster, Process, free_address

ENGINES = 3


def test_engine_processes_started_together_on_a_fresh_database_all_serve(cluster: Cluster) -> None:
    addresses = [free_address() for _ in range(ENGINES)]
    engines = [
        Process(
            f"engine {n}",
            [sys.executable, "-m", "ratchet.cli", "engine", "--db", cluster.database, "--listen", address],
            {},
            ready="listening at",
        )
        for n, address in enumerate(addresses)
    ]
    cluster.processes.extend(engines)
    for engine in engines:
        engine.wait_ready(timeout=60)
    for engine, address in zip(engines, addresses, strict=True):
        assert engine.proc.poll() is None, f"{engine.name} exited:\n" + "\n".join(engine.lines)
        assert not [line for line in engine.lines if "Traceback" in line]
        client, _ = make_client(address)
        try:
            assert client.connection.call("list_workers") == []
        finally:
            client.close()
