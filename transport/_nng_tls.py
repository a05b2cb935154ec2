"""TLS on the nng wire: a listener's and a dialer's certificate settings, checked when made.

Theory of operation. nng's ``tls+tcp://`` transport (Mbed TLS, built into pynng's wheel)
wraps each connection in TLS before nng's own handshake. A listener presents its
certificate and key (:class:`ListenerTls`); a dialer verifies that certificate against
the CA certificates it was given and the name it expects (:class:`DialerTls`). nng does
not take that name from the address by itself, and Mbed TLS refuses to verify without
one, so a dialer expects the address's host unless told another name. A listener given
a CA of its own requires every dialer to present a certificate signed by it (mutual TLS),
and a dialer then presents its own certificate and key.

Both settings read their files when made and check them with ``cryptography``: a missing
file, a file without a PEM certificate, an encrypted key or a key that does not belong
to its certificate is a :class:`TlsSettingError` naming the setting, before anything
listens or dials. nng itself would say only "Cryptographic error", and only at the first
connection. Each socket gets a fresh ``pynng.TLSConfig``; nng keeps its own reference
to it, so the Python object can go once the socket has it.

A handshake that fails is invisible in nng's API (the dialer just tries again); the
dialer learns of it from nng's statistics and reports :class:`TlsHandshakeError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pynng
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

__all__ = [
    "TLS_SCHEMES",
    "DialerTls",
    "ListenerTls",
    "TlsHandshakeError",
    "TlsSettingError",
    "check_tls_for",
    "is_tls_address",
]

#: The nng address schemes that carry TLS.
TLS_SCHEMES = ("tls+tcp://", "tls+tcp4://", "tls+tcp6://")

# What each setting is, for errors.
_WHAT = {
    "cert_file": "certificate file",
    "key_file": "private key file",
    "ca_file": "CA certificate file",
    "client_ca_file": "client CA certificate file",
    "server_name": "server name",
}


class TlsSettingError(ValueError):
    """A TLS setting is unusable: a file missing or holding the wrong thing.

    Attributes:
        setting: the field at fault (``cert_file``, ``key_file``, ``ca_file``,
            ``client_ca_file``, ``server_name``), so that a caller can name its own flag or
            variable for it.
        value: the path (or name) given.
        problem: what is wrong with it, as the end of a sentence about it.
    """

    def __init__(self, setting: str, value: object, problem: str) -> None:
        self.setting = setting
        self.value = str(value)
        self.problem = problem
        super().__init__(f"the TLS {_WHAT.get(setting, setting)} {self.value!r} {problem}")


class TlsHandshakeError(ConnectionError):
    """TLS handshakes with a listener keep failing: certificates that do not fit.

    Either end may be refusing: the dialer did not accept the listener's certificate (not
    signed by a CA it trusts, or not naming the host it expects), or the listener wants a
    client certificate the dialer did not present or that its CA did not sign.

    Attributes:
        address: the listener's address.
        failures: failed handshakes counted so far.
        detail: what the dialer trusts and presents, and what to check.
    """

    def __init__(self, address: str, failures: int, detail: str) -> None:
        self.address = address
        self.failures = failures
        self.detail = detail
        super().__init__(
            f"the TLS handshake with {address} failed ({failures} attempt(s)); the connection was "
            f"refused because certificates do not fit: {detail}"
        )

    def with_detail(self, more: str) -> TlsHandshakeError:
        """This error with ``more`` added to its detail (where the settings came from)."""
        return TlsHandshakeError(self.address, self.failures, f"{self.detail}; {more}")

    def __reduce__(self) -> tuple[type, tuple[str, int, str]]:
        return (type(self), (self.address, self.failures, self.detail))


def is_tls_address(address: str) -> bool:
    """Whether ``address`` is an nng TLS address (``tls+tcp://host:port``)."""
    return address.startswith(TLS_SCHEMES)


def check_tls_for(address: str, tls: object, *, role: str, settings: str) -> None:
    """Check that TLS settings are given exactly for TLS addresses.

    Args:
        address: the nng address to listen at or dial.
        tls: the settings given (None: none).
        role: ``"listen"`` or ``"dial"``, for the error.
        settings: the settings' class name, for the error.

    Raises:
        ValueError: a ``tls+tcp://`` address without settings, or settings for an address
            that does not carry TLS.
    """
    if is_tls_address(address) and tls is None:
        raise ValueError(
            f"cannot {role} {address} without TLS settings: give tls={settings}(...) "
            "(certificates), or use tcp:// for a connection without TLS"
        )
    if tls is not None and not is_tls_address(address):
        raise ValueError(
            f"TLS settings were given to {role} {address}, which does not carry TLS; use "
            f"tls+tcp://{address.partition('://')[2] or 'host:port'} or drop the settings"
        )


def _read(setting: str, path: Path) -> bytes:
    if not path.exists():
        raise TlsSettingError(setting, path, "does not exist")
    if not path.is_file():
        raise TlsSettingError(setting, path, "is not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TlsSettingError(setting, path, f"cannot be read ({exc.strerror or exc})") from None


def _certificates(setting: str, path: Path) -> tuple[str, list[x509.Certificate]]:
    """The PEM text of a certificate file, and its certificates (at least one)."""
    data = _read(setting, path)
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TlsSettingError(
            setting, path, "holds no PEM certificate (a block starting '-----BEGIN CERTIFICATE-----')"
        ) from None
    return data.decode("ascii", errors="replace"), certificates


def _key_for(setting: str, path: Path, certificate: x509.Certificate, cert_path: Path) -> str:
    """The PEM text of the private key of ``certificate``."""
    data = _read(setting, path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise TlsSettingError(
            setting,
            path,
            "holds an encrypted private key; give it without a passphrase "
            "(and make the file readable only by the user that runs the process)",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise TlsSettingError(
            setting, path, "holds no PEM private key (a block starting '-----BEGIN ... PRIVATE KEY-----')"
        ) from None
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*raw) != certificate.public_key().public_bytes(*raw):
        raise TlsSettingError(
            setting, path, f"does not hold the private key of the certificate in {str(cert_path)!r}"
        )
    return data.decode("ascii", errors="replace")


def _own_pair(cert_file: Path | None, key_file: Path | None) -> tuple[str, str] | None:
    """The PEM texts of a certificate and its key, checked (None if neither is given)."""
    if cert_file is None and key_file is None:
        return None
    if cert_file is None or key_file is None:
        given, missing = ("cert_file", "key_file") if key_file is None else ("key_file", "cert_file")
        raise TlsSettingError(
            given,
            cert_file if key_file is None else key_file,
            f"was given without a {_WHAT[missing]}; a certificate and its key go together",
        )
    cert_pem, chain = _certificates("cert_file", cert_file)
    return cert_pem, _key_for("key_file", key_file, chain[0], cert_file)


def _path(setting: str, value: str | Path | None) -> Path | None:
    """``value`` as an absolute path (None stays None).

    Raises:
        TlsSettingError: an empty path.
    """
    if value is None:
        return None
    text = str(value)
    if not text.strip():
        raise TlsSettingError(setting, text, "is empty; give a file, or leave the setting out")
    return Path(text).expanduser().absolute()


def _nng_config(
    mode: int,
    *,
    shown: dict[str, object],
    ca: tuple[str, str] | None,
    own: tuple[str, str] | None,
    server_name: str | None = None,
    require_peer: bool = False,
) -> pynng.TLSConfig:
    """A ``pynng.TLSConfig``; Mbed TLS's refusal of a setting is a :class:`TlsSettingError`.

    Args:
        mode: ``pynng.TLSConfig.MODE_SERVER`` or ``MODE_CLIENT``.
        shown: each setting's value as given, to name the one refused.
        ca: the CA setting's name and its PEM text.
        own: this end's certificate and key, in PEM.
        server_name: the name the peer's certificate must carry (a dialer).
        require_peer: whether the peer must present a certificate (a listener with a CA).
    """
    step = "cert_file"
    try:
        config = pynng.TLSConfig(mode)
        if own is not None:
            config.set_own_cert(own[0], own[1])
        if ca is not None:
            step = ca[0]
            config.set_ca_chain(ca[1])
        if server_name is not None:
            step = "server_name"
            config.set_server_name(server_name)
        if require_peer:
            config.set_auth_mode(pynng.TLSConfig.AUTH_MODE_REQUIRED)
    except pynng.NNGException as exc:
        raise TlsSettingError(
            step,
            shown.get(step),
            f"was refused by nng's TLS engine ({exc}); Mbed TLS takes RSA and ECDSA (P-256, P-384) "
            "certificates and keys in PEM",
        ) from None
    return config


@dataclass(frozen=True)
class ListenerTls:
    """How a listener at a ``tls+tcp://`` address presents itself, and whom it lets in.

    Args:
        cert_file: a PEM file with the listener's certificate, then any intermediate CA
            certificates (the chain dialers need to reach the CA they trust).
        key_file: a PEM file with the certificate's private key, unencrypted.
        client_ca_file: a PEM file of CA certificates; given, every dialer must present a
            certificate signed by one of them (mutual TLS). Not given, any dialer that
            verifies the listener may connect (and authenticates with its token).

    Raises:
        TlsSettingError: a file is missing, unreadable, holds no certificate or key, or
            the key is not the certificate's.
    """

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    _own: tuple[str, str] = field(init=False, repr=False, compare=False)
    _client_ca: str | None = field(init=False, repr=False, compare=False)

    def __init__(
        self, cert_file: str | Path, key_file: str | Path, client_ca_file: str | Path | None = None
    ) -> None:
        cert, key = _path("cert_file", cert_file), _path("key_file", key_file)
        own = _own_pair(cert, key)
        assert own is not None
        client_ca = _path("client_ca_file", client_ca_file)
        client_ca_pem = _certificates("client_ca_file", client_ca)[0] if client_ca is not None else None
        for name, value in (
            ("cert_file", cert),
            ("key_file", key),
            ("client_ca_file", client_ca),
            ("_own", own),
            ("_client_ca", client_ca_pem),
        ):
            object.__setattr__(self, name, value)
        self.nng_config()  # Mbed TLS's own checks, now rather than at the first connection

    def nng_config(self) -> pynng.TLSConfig:
        """A fresh server-side ``pynng.TLSConfig`` for one socket."""
        ca = ("client_ca_file", self._client_ca) if self._client_ca is not None else None
        return _nng_config(
            pynng.TLSConfig.MODE_SERVER,
            shown={"cert_file": self.cert_file, "client_ca_file": self.client_ca_file},
            ca=ca,
            own=self._own,
            require_peer=self._client_ca is not None,
        )

    def describe(self) -> str:
        """One line for logs: the certificate, and whether clients need certificates."""
        clients = (
            f"clients need certificates signed by {self.client_ca_file}"
            if self.client_ca_file is not None
            else "clients verify it and sign in with tokens"
        )
        return f"TLS certificate {self.cert_file}; {clients}"


@dataclass(frozen=True)
class DialerTls:
    """How a dialer of a ``tls+tcp://`` address verifies the listener, and what it presents.

    Args:
        ca_file: a PEM file of the CA certificates to trust: the listener's certificate
            must be signed by one of them. (Mbed TLS does not read the system's CA store;
            for a public CA give the system bundle, e.g.
            ``/etc/ssl/certs/ca-certificates.crt``.)
        server_name: the name the listener's certificate must carry (a DNS name or an IP
            address in its subject alternative names). Default: the host of the address
            dialed.
        cert_file: a PEM file with this dialer's certificate, for a listener that requires
            client certificates; with ``key_file``.
        key_file: the private key of ``cert_file``, unencrypted.

    Raises:
        TlsSettingError: a file is missing, unreadable or holds the wrong thing, or the
            server name is empty.
    """

    ca_file: Path
    server_name: str | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    _ca: str = field(init=False, repr=False, compare=False)
    _own: tuple[str, str] | None = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        ca_file: str | Path,
        server_name: str | None = None,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
    ) -> None:
        ca = _path("ca_file", ca_file)
        cert, key = _path("cert_file", cert_file), _path("key_file", key_file)
        assert ca is not None
        ca_pem = _certificates("ca_file", ca)[0]
        if server_name is not None and (not server_name.strip() or server_name != server_name.strip()):
            raise TlsSettingError(
                "server_name", server_name, "is not a host name; give the name the certificate carries"
            )
        own = _own_pair(cert, key)
        for name, value in (
            ("ca_file", ca),
            ("server_name", server_name),
            ("cert_file", cert),
            ("key_file", key),
            ("_ca", ca_pem),
            ("_own", own),
        ):
            object.__setattr__(self, name, value)
        self.nng_config("tls+tcp://localhost:1")  # Mbed TLS's own checks, now

    def expected_name(self, address: str) -> str:
        """The name the listener at ``address`` must prove: ``server_name``, else its host.

        Raises:
            ValueError: no server name, and ``address`` has no host.
        """
        if self.server_name is not None:
            return self.server_name
        try:
            host = urlsplit(address).hostname
        except ValueError:
            host = None
        if not host:
            raise ValueError(f"{address!r} names no host to verify the certificate against; give server_name")
        return host

    def nng_config(self, address: str) -> pynng.TLSConfig:
        """A fresh client-side ``pynng.TLSConfig`` for one socket dialing ``address``."""
        return _nng_config(
            pynng.TLSConfig.MODE_CLIENT,
            shown={"cert_file": self.cert_file, "ca_file": self.ca_file, "server_name": self.server_name},
            ca=("ca_file", self._ca),
            own=self._own,
            server_name=self.expected_name(address),
        )

    def describe(self, address: str) -> str:
        """What this dialer trusts and presents, for a :class:`TlsHandshakeError`."""
        presents = (
            f"it presents the certificate {self.cert_file}"
            if self.cert_file is not None
            else "it presents no client certificate"
        )
        return (
            f"the dialer trusts the CA certificates in {self.ca_file} and expects a certificate for "
            f"{self.expected_name(address)!r}; {presents}. Check that the listener's certificate is "
            "signed by that CA and names that host (or set the server name it does carry), and, if "
            "the listener requires client certificates, that this one is signed by its CA"
        )
