"""TLS on the nng wire: ``tls+tcp://`` endpoints with certificates made for each test.

A dialer that trusts the listener's CA talks to it; one that trusts another CA, expects
another name, or lacks the client certificate a listener requires is refused, and says
so in a :class:`TlsHandshakeError` instead of retrying in silence; a plaintext dialer
cannot talk to a TLS listener at all. Settings that cannot work (missing files, a key
that is not the certificate's, TLS for a plain address) are refused before anything
listens or dials.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pynng
import pytest
import trio
from cryptography.hazmat.primitives import serialization
from tls_certificates import Certificates, make_certificates

from ratchet import Context, EngineUnreachableError, Ratchet
from ratchet._client import Settings
from ratchet.transport import (
    DialerTls,
    ListenerTls,
    PeerEventKind,
    Tell,
    TlsHandshakeError,
    TlsSettingError,
    open_nng_network,
)
from ratchet.transport._nng_lifetime import open_sockets

FAST = {"heartbeat_interval": 0.05, "heartbeat_timeout": 2.0}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_tls(certs: Certificates, **extra: object) -> ListenerTls:
    return ListenerTls(certs.server_cert, certs.server_key, **extra)  # type: ignore[arg-type]


async def wait_up(endpoint) -> None:
    with trio.fail_after(10):
        while True:
            event = await endpoint.next_peer_event()
            if event.kind is PeerEventKind.UP:
                return


async def exchange(listener, dialer, address: str) -> None:
    """A message each way: the link works."""
    dialer.send_nowait(address, Tell("actor", "ping", [1], {}))
    with trio.fail_after(10):
        delivery = await listener.receive()
    assert delivery.envelopes[0].message.args == [1]
    listener.send_nowait(delivery.peer, Tell("actor", "pong", [2], {}))
    with trio.fail_after(10):
        back = await dialer.receive()
    assert back.envelopes[0].message.args == [2]


async def refused(dialer) -> TlsHandshakeError:
    with trio.fail_after(15):
        return await dialer.wait_refused()


# -- what works -------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_dialer_trusting_the_listeners_ca_exchanges_messages(certs: Certificates, host: str) -> None:
    address = f"tls+tcp://{host}:{free_port()}"
    async with open_nng_network() as net:
        listener = await net.listen(address, name="server", tls=server_tls(certs), **FAST)
        # no server name given: the host dialed is the name the certificate must carry
        dialer = await net.dial(address, name="client", tls=DialerTls(certs.ca), **FAST)
        await wait_up(dialer)
        await exchange(listener, dialer, address)
        assert dialer.refusal is None


async def test_a_set_server_name_is_the_one_verified(certs: Certificates) -> None:
    address = f"tls+tcp://127.0.0.1:{free_port()}"
    async with open_nng_network() as net:
        listener = await net.listen(address, tls=server_tls(certs), **FAST)
        dialer = await net.dial(address, tls=DialerTls(certs.ca, server_name="localhost"), **FAST)
        await wait_up(dialer)
        await exchange(listener, dialer, address)


async def test_a_listener_requiring_client_certificates_takes_one_signed_by_its_ca(
    certs: Certificates,
) -> None:
    address = f"tls+tcp://127.0.0.1:{free_port()}"
    async with open_nng_network() as net:
        listener = await net.listen(address, tls=server_tls(certs, client_ca_file=certs.ca), **FAST)
        tls = DialerTls(certs.ca, cert_file=certs.client_cert, key_file=certs.client_key)
        dialer = await net.dial(address, tls=tls, **FAST)
        await wait_up(dialer)
        await exchange(listener, dialer, address)


# -- what is refused ------------------------------------------------------------------------


async def test_a_dialer_trusting_another_ca_is_refused_with_a_clear_error(certs: Certificates) -> None:
    address = f"tls+tcp://127.0.0.1:{free_port()}"
    async with open_nng_network() as net:
        listener = await net.listen(address, tls=server_tls(certs), **FAST)
        dialer = await net.dial(address, tls=DialerTls(certs.other_ca), **FAST)
        error = await refused(dialer)
        text = str(error)
        assert address in text and "TLS handshake" in text
        assert str(certs.other_ca) in text  # what it trusted
        assert "'127.0.0.1'" in text  # the name it expected
        assert isinstance(error, ConnectionError) and error.failures >= 1
        assert dialer.refusal is error
        assert not dialer.is_up(address) and listener.peers() == []


async def test_a_dialer_expecting_another_name_is_refused(certs: Certificates) -> None:
    address = f"tls+tcp://127.0.0.1:{free_port()}"
    async with open_nng_network() as net:
        await net.listen(address, tls=server_tls(certs), **FAST)
        dialer = await net.dial(address, tls=DialerTls(certs.ca, server_name="engine.example"), **FAST)
        assert "'engine.example'" in str(await refused(dialer))


async def test_a_dialer_without_the_client_certificate_a_listener_requires_is_refused(
    certs: Certificates,
) -> None:
    address = f"tls+tcp://127.0.0.1:{free_port()}"
    async with open_nng_network() as net:
        listener = await net.listen(address, tls=server_tls(certs, client_ca_file=certs.ca), **FAST)
        dialer = await net.dial(address, tls=DialerTls(certs.ca), **FAST)
        assert "presents no client certificate" in str(await refused(dialer))
        assert listener.peers() == []


async def test_a_plaintext_dialer_cannot_talk_to_a_tls_listener(certs: Certificates) -> None:
    port = free_port()
    async with open_nng_network() as net:
        listener = await net.listen(f"tls+tcp://127.0.0.1:{port}", tls=server_tls(certs), **FAST)
        # nng's own tcp transport, dialing once and waiting for the outcome
        with pynng.Req0() as plain:
            with pytest.raises(pynng.NNGException):
                await trio.to_thread.run_sync(lambda: plain.dial(f"tcp://127.0.0.1:{port}", block=True))
        assert listener.peers() == [] and listener.statistics().frames_received == 0


async def test_a_refused_dialer_connects_once_the_listener_presents_a_certificate_it_trusts(
    certs: Certificates,
) -> None:
    address = f"tls+tcp://127.0.0.1:{free_port()}"
    async with open_nng_network() as net:
        wrong = await net.listen(address, tls=ListenerTls(certs.other_server_cert, certs.other_server_key))
        dialer = await net.dial(address, tls=DialerTls(certs.ca), **FAST)
        await refused(dialer)
        await wrong.aclose()
        listener = await net.listen(address, tls=server_tls(certs), **FAST)
        await wait_up(dialer)
        assert dialer.refusal is None
        await exchange(listener, dialer, address)


# -- settings that cannot work ------------------------------------------------------------------


async def test_tls_addresses_need_tls_settings_and_plain_ones_refuse_them(certs: Certificates) -> None:
    before = open_sockets()
    port = free_port()
    async with open_nng_network() as net:
        with pytest.raises(ValueError, match="without TLS settings: give tls=ListenerTls"):
            await net.listen(f"tls+tcp://127.0.0.1:{port}")
        with pytest.raises(ValueError, match="without TLS settings: give tls=DialerTls"):
            await net.dial(f"tls+tcp://127.0.0.1:{port}")
        with pytest.raises(ValueError, match=r"does not carry TLS; use tls\+tcp://127\.0\.0\.1"):
            await net.listen(f"tcp://127.0.0.1:{port}", tls=server_tls(certs))
        with pytest.raises(ValueError, match="does not carry TLS"):
            await net.dial(f"tcp://127.0.0.1:{port}", tls=DialerTls(certs.ca))
        assert open_sockets() == before  # nothing opened
        # the port is still free: a listener takes it
        await net.listen(f"tls+tcp://127.0.0.1:{port}", tls=server_tls(certs))


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory, certs: Certificates) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    garbage = d / "garbage.pem"
    garbage.write_bytes(b"\x00\xffnot a certificate at all")
    encrypted = d / "encrypted.key"
    key = serialization.load_pem_private_key(certs.server_key.read_bytes(), password=None)
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    return {"garbage": garbage, "encrypted": encrypted, "missing": d / "missing.pem", "directory": d}


@pytest.mark.parametrize(
    ("make", "setting", "problem"),
    [
        (lambda c, b: ListenerTls(b["missing"], c.server_key), "cert_file", "does not exist"),
        (lambda c, b: ListenerTls(b["directory"], c.server_key), "cert_file", "is not a file"),
        (lambda c, b: ListenerTls(b["garbage"], c.server_key), "cert_file", "holds no PEM certificate"),
        (lambda c, b: ListenerTls(c.server_key, c.server_key), "cert_file", "holds no PEM certificate"),
        (lambda c, b: ListenerTls(c.server_cert, c.server_cert), "key_file", "holds no PEM private key"),
        (lambda c, b: ListenerTls(c.server_cert, b["encrypted"]), "key_file", "encrypted private key"),
        (lambda c, b: ListenerTls(c.server_cert, c.client_key), "key_file", "does not hold the private key"),
        (lambda c, b: ListenerTls("", c.server_key), "cert_file", "is empty"),
        (lambda c, b: ListenerTls(c.server_cert, c.server_key, b["garbage"]), "client_ca_file", "no PEM"),
        (lambda c, b: DialerTls(b["missing"]), "ca_file", "does not exist"),
        (lambda c, b: DialerTls(c.server_key), "ca_file", "holds no PEM certificate"),
        (lambda c, b: DialerTls(c.ca, server_name=""), "server_name", "is not a host name"),
        (lambda c, b: DialerTls(c.ca, server_name=" localhost"), "server_name", "is not a host name"),
        (lambda c, b: DialerTls(c.ca, cert_file=c.client_cert), "cert_file", "without a private key file"),
        (lambda c, b: DialerTls(c.ca, key_file=c.client_key), "key_file", "without a certificate file"),
        (
            lambda c, b: DialerTls(c.ca, cert_file=c.client_cert, key_file=c.server_key),
            "key_file",
            "does not hold the private key",
        ),
    ],
)
def test_unusable_tls_settings_are_refused_naming_the_setting(
    certs: Certificates, bad_files: dict[str, Path], make, setting: str, problem: str
) -> None:
    with pytest.raises(TlsSettingError) as caught:
        make(certs, bad_files)
    assert caught.value.setting == setting
    assert problem in caught.value.problem
    assert caught.value.value in str(caught.value)


def test_tls_settings_read_their_files_once_and_compare_by_path(certs: Certificates) -> None:
    a = DialerTls(certs.ca, server_name="localhost")
    assert a == DialerTls(str(certs.ca), server_name="localhost")
    assert a.ca_file == certs.ca.absolute()
    assert "PRIVATE" not in repr(ListenerTls(certs.server_cert, certs.server_key))  # no key in logs
    with pytest.raises(ValueError, match="names no host"):
        DialerTls(certs.ca).expected_name("tls+tcp://:7077")


# -- an engine over TLS, in this process ---------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A RATCHET_HOME of the test's: the engine's key and its local admin token go there."""
    monkeypatch.setenv("RATCHET_HOME", str(tmp_path / "home"))
    for name in ("RATCHET_ENGINE", "RATCHET_TOKEN", "RATCHET_TLS_CA", "RATCHET_TLS_CERT", "RATCHET_TLS_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


async def start_engine(nursery: trio.Nursery, address: str, tls: ListenerTls) -> None:
    from ratchet._host.engine_cli import EngineSettings
    from ratchet._host.serve import serve_engine
    from ratchet.actors import EngineOptions

    await nursery.start(
        serve_engine, "memory://", address, EngineSettings(EngineOptions(), None, None, None, tls)
    )


def tls_client(address: str, **settings: object) -> tuple[Ratchet, Any]:
    """A client of ``address`` (its settings as given) with one task, ``double``."""
    r = Ratchet(engine=address, **settings)  # type: ignore[arg-type]

    @r.task(input_validator=dict)
    async def double(input: dict, ctx: Context) -> dict:
        return {"n": input["n"] * 2}

    return r, double


async def close(*clients: Ratchet) -> None:
    for client in clients:
        await trio.to_thread.run_sync(client.close)


async def test_an_engine_over_tls_serves_a_worker_and_a_client_that_trust_its_ca(
    certs: Certificates, home: Path, nursery: trio.Nursery
) -> None:
    address = f"tls+tcp://127.0.0.1:{free_port()}"
    await start_engine(nursery, address, server_tls(certs))
    r, double = tls_client(address, tls_ca=str(certs.ca))
    try:
        await nursery.start(r.worker("tls-worker", slots=2).async_start)
        with trio.fail_after(30):
            assert await double.aio_run({"n": 21}) == {"n": 42}
            runs = await r.runs.aio_list()
        assert [run.status.value for run in runs] == ["COMPLETED"]
    finally:
        await close(r)


async def test_a_client_trusting_another_ca_is_refused_at_once_and_nothing_runs(
    certs: Certificates, home: Path, nursery: trio.Nursery
) -> None:
    address = f"tls+tcp://127.0.0.1:{free_port()}"
    await start_engine(nursery, address, server_tls(certs))
    # a long reconnect_timeout: the refusal must not wait it out
    wrong, wrong_double = tls_client(address, tls_ca=str(certs.other_ca), reconnect_timeout=120)
    good, _ = tls_client(address, tls_ca=str(certs.ca))
    try:
        with trio.fail_after(20), pytest.raises(TlsHandshakeError) as caught:
            await wrong_double.aio_run_no_wait({"n": 1})
        text = str(caught.value)
        assert address in text and str(certs.other_ca) in text
        assert "RATCHET_TLS_CA" in text and "RATCHET_TLS_SERVER_NAME" in text  # where to fix it
        with trio.fail_after(20):
            assert await good.runs.aio_list() == []  # the refused client created nothing
    finally:
        await close(wrong, good)


async def test_a_plaintext_client_cannot_reach_an_engine_listening_with_tls(
    certs: Certificates, home: Path, nursery: trio.Nursery
) -> None:
    port = free_port()
    await start_engine(nursery, f"tls+tcp://127.0.0.1:{port}", server_tls(certs))
    plain, plain_double = tls_client(f"tcp://127.0.0.1:{port}", reconnect_timeout=1.0)
    try:
        with trio.fail_after(20), pytest.raises(EngineUnreachableError):
            await plain_double.aio_run_no_wait({"n": 1})
    finally:
        await close(plain)


async def test_an_engine_requiring_client_certificates_serves_only_clients_with_one(
    certs: Certificates, home: Path, nursery: trio.Nursery
) -> None:
    address = f"tls+tcp://127.0.0.1:{free_port()}"
    await start_engine(nursery, address, server_tls(certs, client_ca_file=certs.ca))
    with_cert, _ = tls_client(
        address, tls_ca=str(certs.ca), tls_cert=str(certs.client_cert), tls_key=str(certs.client_key)
    )
    without, _ = tls_client(address, tls_ca=str(certs.ca), reconnect_timeout=120)
    try:
        with trio.fail_after(20):
            assert await with_cert.runs.aio_list() == []
        with trio.fail_after(20), pytest.raises(TlsHandshakeError, match="presents no client certificate"):
            await without.runs.aio_list()
    finally:
        await close(with_cert, without)


def test_client_tls_settings_that_cannot_work_are_refused_before_dialing(
    certs: Certificates, home: Path
) -> None:
    before = open_sockets()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"engine": "tls+tcp://127.0.0.1:1"}, "set RATCHET_TLS_CA (or Ratchet(tls_ca=...))"),
        ({"engine": "tcp://127.0.0.1:1", "tls_ca": str(certs.ca)}, "RATCHET_TLS_CA is set, but"),
        (
            {"engine": "tls+tcp://127.0.0.1:1", "tls_ca": str(certs.ca) + ".missing"},
            "does not exist (from RATCHET_TLS_CA or Ratchet(tls_ca=...))",
        ),
        (
            {"engine": "tls+tcp://127.0.0.1:1", "tls_ca": str(certs.ca), "tls_cert": str(certs.client_cert)},
            "go together (from RATCHET_TLS_CERT or Ratchet(tls_cert=...))",
        ),
        (
            {"engine": "tls+tcp://127.0.0.1:1", "tls_ca": str(certs.ca), "tls_server_name": " "},
            "(from RATCHET_TLS_SERVER_NAME or Ratchet(tls_server_name=...))",
        ),
    ]
    for settings, message in cases:
        r, _ = tls_client(settings.pop("engine"), **settings)
        with pytest.raises(ValueError) as caught:
            r.runs.list()
        assert message in str(caught.value), settings
        assert r._connection is None
        with pytest.raises(ValueError, match=re.escape(message)):
            trio.run(r.worker("w").async_start)
    assert open_sockets() == before  # nothing was dialed
    with pytest.raises(ValueError, match=re.escape("RATCHET_TLS_CA or Ratchet(tls_ca=...) must be a path")):
        Ratchet(engine="tls+tcp://127.0.0.1:1", tls_ca=42)  # type: ignore[arg-type]


def test_client_tls_settings_come_from_the_environment_and_lose_to_arguments(certs: Certificates) -> None:
    env = {
        "RATCHET_ENGINE": "tls+tcp://engine.internal:7077",
        "RATCHET_TLS_CA": str(certs.ca),
        "RATCHET_TLS_SERVER_NAME": "localhost",
        "RATCHET_TLS_CERT": str(certs.client_cert),
        "RATCHET_TLS_KEY": str(certs.client_key),
    }
    tls = Settings.from_env(env).dialer_tls()
    assert tls == DialerTls(certs.ca, "localhost", certs.client_cert, certs.client_key)
    assert (
        Settings.from_env({**env, "RATCHET_TLS_SERVER_NAME": ""})
        .dialer_tls()
        .expected_name(env["RATCHET_ENGINE"])
        == "engine.internal"
    )
    assert Settings.from_env(env, tls_server_name="other").dialer_tls().server_name == "other"
    # an embedded engine dials nothing: TLS settings in its environment do not stop it
    with Ratchet(tls_ca=str(certs.ca)).embedded() as embedded:
        assert embedded.runs.list() == []
