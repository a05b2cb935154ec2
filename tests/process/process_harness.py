"""Helpers for real-process tests: ``Process`` (a child with its output), ``Cluster``, addresses.

Processes are started with exec (nng is not fork-safe) and killed at the end of each
test whatever happened. (A module of its own, not ``conftest``: every test folder has a
``conftest``, and importing from one by that name finds whichever was loaded last.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

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
            "--http",
            "127.0.0.1:0",
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
