"""The ``ratchet`` command line: version, and bad arguments to ``ratchet engine``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

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


# -- ratchet engine's settings: one flag and one RATCHET_* variable per EngineOptions field --

# Per setting: values refused when parsed, and values refused by the range check.
BAD_VALUES: dict[str, list[str]] = {
    "tenant": ["", " padded ", "x" * 201, "tab\there"],
    "heartbeat_interval": ["abc", "0", "-1s", "2h", "nan", "inf"],
    "heartbeat_misses": ["many", "0", "-3", "2.5"],
    "commit_max_batch": ["lots", "0", "1000001"],
    "commit_max_delay": ["-1", "11s", "soon"],
    "max_payload_bytes": ["64 furlongs", "1000", "257MiB", "1.5B", "-5MB"],
    "max_restarts": ["-1", "ten"],
    "restart_window": ["0", "forever", "-5m"],
    "object_sweep_interval": ["0.5", "never"],
    "object_orphan_age": ["0", "old"],
}


def test_every_engine_option_has_a_flag_and_a_variable_in_help() -> None:
    from dataclasses import fields

    from click.testing import CliRunner

    from ratchet.actors import EngineOptions
    from ratchet.cli import main

    result = CliRunner().invoke(main, ["engine", "--help"], terminal_width=200)
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    for f in fields(EngineOptions):
        assert f"--{f.name.replace('_', '-')} " in help_text, f.name
        assert f"RATCHET_{f.name.upper()}" in help_text, f.name
    for extra in ("--objects-dir", "RATCHET_OBJECTS_DIR", "--offload-bytes", "RATCHET_OFFLOAD_BYTES"):
        assert extra in help_text
    assert set(BAD_VALUES) == {f.name for f in fields(EngineOptions)}  # every option is tested below


def _taken_port() -> tuple[socket.socket, str]:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    return taken, f"tcp://127.0.0.1:{taken.getsockname()[1]}"


# An empty variable counts as unset, as for every RATCHET_* variable.
BAD_SETTINGS = [
    (field, value, via)
    for field, values in BAD_VALUES.items()
    for value in values
    for via in ("flag", "env")
    if value or via == "flag"
]


@pytest.mark.parametrize(("field", "value", "via"), BAD_SETTINGS)
def test_engine_refuses_a_bad_option_value_and_starts_nothing(
    field: str, value: str, via: str, tmp_path
) -> None:
    from click.testing import CliRunner

    from ratchet.cli import main

    flag, envvar = f"--{field.replace('_', '-')}", f"RATCHET_{field.upper()}"
    db = tmp_path / "r.db"
    # Were the value wrongly accepted, the engine would open the store and then fail to
    # listen on this taken port (exit code 1), instead of blocking the test.
    taken, address = _taken_port()
    with taken:
        args = ["engine", "--db", f"sqlite:///{db}", "--listen", address]
        if via == "flag":
            result = CliRunner().invoke(main, [*args, flag, value])
        else:
            result = CliRunner().invoke(main, args, env={envvar: value})
    assert result.exit_code == 2, result.output
    assert flag in result.output
    assert ("environment variable" if via == "env" else "flag") in result.output
    assert "Traceback" not in result.output
    assert not db.exists()


def test_a_flag_wins_over_its_variable(tmp_path) -> None:
    from click.testing import CliRunner

    from ratchet.cli import main

    taken, address = _taken_port()
    with taken:
        args = ["engine", "--db", f"sqlite:///{tmp_path / 'r.db'}", "--listen", address]
        result = CliRunner().invoke(main, [*args, "--max-restarts", "-1"], env={"RATCHET_MAX_RESTARTS": "3"})
    assert result.exit_code == 2
    assert "got -1" in result.output


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--offload-bytes", "1MiB"], {}, "--objects-dir"),
        ([], {"RATCHET_OFFLOAD_BYTES": "lots"}, "not a size"),
        (["--objects-dir", ""], {}, "is empty"),
        ([], {"RATCHET_OBJECTS_DIR": "FILE"}, "is not a directory"),
    ],
)
def test_engine_refuses_bad_object_store_settings(
    args: list[str], env: dict[str, str], message: str, tmp_path
) -> None:
    from click.testing import CliRunner

    from ratchet.cli import main

    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    env = {k: str(a_file) if v == "FILE" else v for k, v in env.items()}
    db = tmp_path / "r.db"
    taken, address = _taken_port()
    with taken:
        result = CliRunner().invoke(
            main, ["engine", "--db", f"sqlite:///{db}", "--listen", address, *args], env=env
        )
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not db.exists()


def test_an_engine_process_refuses_a_bad_variable_before_opening_anything(tmp_path) -> None:
    db = tmp_path / "r.db"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ratchet.cli",
            "engine",
            "--db",
            f"sqlite:///{db}",
            "--listen",
            "tcp://127.0.0.1:1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "RATCHET_HEARTBEAT_INTERVAL": "-1"},
    )
    assert result.returncode == 2
    assert "RATCHET_HEARTBEAT_INTERVAL" in result.stderr and "environment variable" in result.stderr
    assert "Traceback" not in result.stderr
    assert not db.exists()
