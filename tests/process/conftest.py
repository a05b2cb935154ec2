"""Real processes: an engine (``ratchet engine``) and workers (``apps.py worker``), over tcp.

Processes are started with exec (nng is not fork-safe) and killed at the end of each
test whatever happened. Every test runs on SQLite and on Postgres.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


class Process:
    """A child process whose output is collected by a thread (and shown when a test fails)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], ready: str | None = None) -> None:
        self.name = name
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._marker = ready
        self.proc = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=HERE,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if self._marker and self._marker in line:
                self._ready.set()
        self._ready.set()

    def wait_ready(self, timeout: float = 30.0) -> None:
        if not self._ready.wait(timeout) or self.proc.poll() is not None:
            raise AssertionError(f"{self.name} did not start:\n" + "\n".join(self.lines[-40:]))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def freeze(self) -> None:
        """Stop the process where it is (SIGSTOP): it neither runs nor reads its sockets."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a frozen process run on (SIGCONT), with whatever reached its sockets meanwhile."""
        self.proc.send_signal(signal.SIGCONT)

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


class Cluster:
    """Starts and stops the processes of one test."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.address = free_address()
        self.processes: list[Process] = []

    def engine(self) -> Process:
        argv = [
            sys.executable,
            "-m",
            "ratchet.cli",
            "engine",
            "--db",
            self.database,
            "--listen",
            self.address,
        ]
        proc = Process("engine", argv, {}, ready="listening at")
        self.processes.append(proc)
        proc.wait_ready()
        return proc

    def worker(self, name: str = "worker", slots: int = 20) -> Process:
        argv = [sys.executable, str(HERE / "apps.py"), "worker"]
        env = {"RATCHET_ENGINE": self.address, "WORKER_NAME": name, "WORKER_SLOTS": str(slots)}
        proc = Process(f"worker {name}", argv, env)
        self.processes.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.processes:
            proc.kill()

    def output(self) -> str:
        return "\n\n".join(f"--- {p.name} ---\n" + "\n".join(p.lines[-60:]) for p in self.processes)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL: a SQLite file, or a fresh Postgres database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ratchet.db'}"
    return request.getfixturevalue("pg_databases").create()


@pytest.fixture
def cluster(database: str, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    c = Cluster(database)
    try:
        yield c
    finally:
        c.close()
        report: Any = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(c.output())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
