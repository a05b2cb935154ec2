"""The ``ratchet`` command line: version, and bad arguments to ``ratchet engine``."""

from __future__ import annotations

import socket
import subprocess
import sys

import ratchet


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ratchet.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert ratchet.__version__ in result.stdout


def test_engine_refuses_an_unknown_database_url() -> None:
    result = run_cli("engine", "--db", "bogus://nowhere", "--listen", "tcp://127.0.0.1:1")
    assert result.returncode == 2
    assert "no store backend for 'bogus://nowhere'" in result.stderr


def test_engine_refuses_a_malformed_listen_address(tmp_path) -> None:
    result = run_cli("engine", "--db", f"sqlite:///{tmp_path / 'r.db'}", "--listen", "not an address")
    assert result.returncode == 2
    assert "--listen" in result.stderr


def test_engine_reports_an_address_in_use(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "engine", "--db", f"sqlite:///{tmp_path / 'r.db'}", "--listen", f"tcp://127.0.0.1:{port}"
        )
    assert result.returncode == 1
    assert f"cannot listen at tcp://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
