"""TLS between real processes: ``ratchet engine --listen tls+tcp://...`` with certificates.

The engine process takes its certificate from flags and variables; a worker process and
the ``ratchet tokens`` command reach it with ``RATCHET_TLS_CA``, and a client in this
process runs a workflow through it. A client or worker trusting another CA is refused
with an error that says so, a plaintext client cannot reach it, and an engine given
TLS settings that cannot work stops with a usage error before it opens anything.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from apps import make_client
from click.testing import CliRunner
from process_harness import HERE, Process
from tls_certificates import Certificates, make_certificates

from ratchet import EngineUnreachableError, Ratchet
from ratchet.cli import main
from ratchet.transport import TlsHandshakeError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@dataclass
class TlsEngine:
    address: str
    port: int
    certs: Certificates
    processes: list[Process]

    def worker(self, name: str, ca: Path) -> Process:
        env = {"RATCHET_ENGINE": self.address, "RATCHET_TLS_CA": str(ca), "WORKER_NAME": name}
        proc = Process(f"worker {name}", [sys.executable, str(HERE / "apps.py"), "worker"], env)
        self.processes.append(proc)
        return proc


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A RATCHET_HOME of the test's, for this process and the ones it starts."""
    monkeypatch.setenv("RATCHET_HOME", str(tmp_path / "home"))
    for name in ("RATCHET_ENGINE", "RATCHET_TOKEN", "RATCHET_TLS_CA", "RATCHET_TLS_CERT", "RATCHET_TLS_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


@pytest.fixture
def engine(tmp_path: Path, home: Path, request: pytest.FixtureRequest) -> Iterator[TlsEngine]:
    """``ratchet engine`` over TLS: the certificate by flag, its key by variable."""
    certs = make_certificates(tmp_path / "certs")
    port = free_port()
    address = f"tls+tcp://127.0.0.1:{port}"
    argv = [
        *(sys.executable, "-m", "ratchet.cli", "engine"),
        *("--db", f"sqlite:///{tmp_path / 'ratchet.db'}", "--listen", address),
        *("--tls-cert", str(certs.server_cert)),
    ]
    proc = Process("engine", argv, {"RATCHET_TLS_KEY": str(certs.server_key)}, ready="listening at")
    running = TlsEngine(address, port, certs, [proc])
    try:
        proc.wait_ready()
        yield running
    finally:
        for p in running.processes:
            p.kill()
        report: Any = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print("\n\n".join(f"--- {p.name} ---\n" + "\n".join(p.lines[-60:]) for p in running.processes))


def test_a_worker_and_a_client_trusting_the_engines_ca_run_a_workflow_over_tls(engine: TlsEngine) -> None:
    start_line = next(line for line in engine.processes[0].lines if "listening at" in line)
    assert engine.address in start_line and f"TLS certificate {engine.certs.server_cert}" in start_line

    engine.worker("tls-worker", engine.certs.ca)
    client, workflows = make_client(engine.address, tls_ca=str(engine.certs.ca))
    try:
        wait_until(lambda: client.connection.call("list_workers"), 30, "the worker to sign in over TLS")
        assert workflows["chain"].run({"n": 1})["third"] == {"n": 4}
        assert [run.status.value for run in client.runs.list()] == ["COMPLETED"]
    finally:
        client.close()


def test_the_tokens_command_reaches_the_engine_over_tls(engine: TlsEngine) -> None:
    env = {**os.environ, "RATCHET_ENGINE": engine.address, "RATCHET_TLS_CA": str(engine.certs.ca)}
    listed = subprocess.run(
        [sys.executable, "-m", "ratchet.cli", "tokens", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert "local admin" in listed.stdout


def test_a_client_trusting_another_ca_is_refused_at_once_with_a_clear_error(engine: TlsEngine) -> None:
    wrong = Ratchet(engine=engine.address, tls_ca=str(engine.certs.other_ca), reconnect_timeout=120)
    started = time.monotonic()
    try:
        with pytest.raises(TlsHandshakeError) as caught:
            wrong.runs.list()
    finally:
        wrong.close()
    assert time.monotonic() - started < 20  # not the 120 s reconnect_timeout
    text = str(caught.value)
    assert engine.address in text and str(engine.certs.other_ca) in text and "RATCHET_TLS_CA" in text


def test_a_worker_trusting_another_ca_says_why_it_cannot_connect(engine: TlsEngine) -> None:
    worker = engine.worker("wrong-ca", engine.certs.other_ca)
    line = wait_until(
        lambda: next((text for text in worker.lines if "TLS handshake" in text), None),
        30,
        "the worker's warning",
    )
    assert engine.address in line and str(engine.certs.other_ca) in line
    assert worker.proc.poll() is None  # it keeps trying: a certificate that fits may come


def test_a_plaintext_client_cannot_reach_an_engine_listening_with_tls(engine: TlsEngine) -> None:
    plain = Ratchet(engine=f"tcp://127.0.0.1:{engine.port}", reconnect_timeout=1.0)
    try:
        with pytest.raises(EngineUnreachableError):
            plain.runs.list()
    finally:
        plain.close()


TLS, PLAIN = "tls+tcp://127.0.0.1:{port}", "tcp://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("listen", "flags", "env", "message"),
    [
        (TLS, [], {}, "--tls-cert / RATCHET_TLS_CERT"),
        (TLS, ["--tls-cert", "{cert}"], {}, "--tls-key / RATCHET_TLS_KEY"),
        (
            PLAIN,
            ["--tls-cert", "{cert}", "--tls-key", "{key}"],
            {},
            "only means something",
        ),
        (PLAIN, [], {"RATCHET_TLS_CA": "{ca}"}, "--tls-ca / RATCHET_TLS_CA"),
        (
            TLS,
            ["--tls-cert", "{missing}", "--tls-key", "{key}"],
            {},
            "does not exist",
        ),
        (
            TLS,
            ["--tls-cert", "{key}", "--tls-key", "{key}"],
            {},
            "no PEM certificate",
        ),
        (
            TLS,
            ["--tls-cert", "{cert}", "--tls-key", "{other_key}"],
            {},
            "does not hold the private key",
        ),
        (
            TLS,
            ["--tls-cert", "{cert}", "--tls-key", "{key}", "--tls-ca", "{key}"],
            {},
            "--tls-ca / RATCHET_TLS_CA",
        ),
    ],
)
def test_an_engine_with_tls_settings_that_cannot_work_stops_with_a_usage_error(
    tmp_path: Path, home: Path, listen: str, flags: list[str], env: dict[str, str], message: str
) -> None:
    certs = make_certificates(tmp_path / "certs")
    values = {
        "port": str(free_port()),
        "cert": str(certs.server_cert),
        "key": str(certs.server_key),
        "other_key": str(certs.client_key),
        "ca": str(certs.ca),
        "missing": str(tmp_path / "missing.pem"),
    }
    database = tmp_path / "ratchet.db"
    argv = ["engine", "--db", f"sqlite:///{database}", "--listen", listen.format(**values)]
    argv += [flag.format(**values) for flag in flags]
    result = CliRunner().invoke(main, argv, env={k: v.format(**values) for k, v in env.items()})
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not database.exists() and not home.exists()  # nothing was made: no store, no key
