"""``ratchet engine``'s settings: one flag and one ``RATCHET_*`` variable per knob.

Every field of :class:`~ratchet.actors.EngineOptions` becomes ``--field-name`` and
``RATCHET_FIELD_NAME`` (the flag wins), typed by what the field holds: durations take
``"30s"``/``"1h30m"``/``"250ms"`` or plain seconds, sizes ``"64MiB"``/``"5MB"`` or plain
bytes. The store's own settings (where big payloads go) and the TLS certificate of a
``tls+tcp://`` listener (``--tls-cert``, ``--tls-key``, ``--tls-ca``) come alongside. Every value
is parsed and checked before anything starts; a bad one is a usage error (exit code 2)
that names the flag or the variable it came from and says what is accepted.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._contract.durations import parse_duration

if TYPE_CHECKING:
    from ratchet.transport import ListenerTls

__all__ = ["EngineSettings", "engine_options", "settings_from_params"]

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")


def parse_size(text: str) -> int:
    """Bytes in ``text``: ``"1048576"``, ``"64MiB"``, ``"5MB"``, ``"512KiB"``.

    Raises:
        ValueError: not a size.
    """
    match = _SIZE.fullmatch(text.strip().lower())
    if match is None or match.group(2) not in _SIZE_UNITS:
        raise ValueError(f"{text!r} is not a size; write bytes, or e.g. '64MiB', '5MB', '512KiB'")
    value = float(match.group(1)) * _SIZE_UNITS[match.group(2)]
    if value != int(value):
        raise ValueError(f"{text!r} is not a whole number of bytes")
    return int(value)


def parse_seconds(text: str) -> float:
    """Seconds in ``text``: ``"1.5"``, ``"30s"``, ``"1h30m"``, ``"250ms"``.

    Raises:
        ValueError: not a duration.
    """
    try:
        seconds = float(text)
    except ValueError:
        return parse_duration(text.strip(), what="")
    if not math.isfinite(seconds):
        raise ValueError(f"{text!r} is not a finite number of seconds")
    return seconds


def parse_count(text: str) -> int:
    """An integer in ``text``.

    Raises:
        ValueError: not an integer.
    """
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def _show_size(n: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n % factor == 0:
            return f"{n // factor}{unit}"
    return str(n)


def _show_seconds(s: float) -> str:
    return f"{s:g}s"


class _Text(click.ParamType):
    """A setting typed by ``parse``, whose errors name the flag or the variable the value came from."""

    def __init__(self, name: str, parse: Callable[[str], Any]) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self._parse(value)
        except ValueError as exc:
            self.fail(f"{str(exc).strip()} (from {_source(param, ctx)})", param, ctx)


def _source(param: click.Parameter | None, ctx: click.Context | None) -> str:
    if param is None or ctx is None or param.name is None:
        return "the command line"
    source = ctx.get_parameter_source(param.name)
    envvar = getattr(param, "envvar", None)
    if source is click.core.ParameterSource.ENVIRONMENT and envvar:
        return f"the environment variable {envvar}"
    return f"the flag {param.opts[0]}"


_KINDS: dict[str, tuple[click.ParamType, Callable[[Any], str], str]] = {
    "duration": (_Text("duration", parse_seconds), _show_seconds, "DURATION"),
    "bytes": (_Text("size", parse_size), _show_size, "SIZE"),
    "int": (_Text("integer", parse_count), str, "N"),
    "str": (_Text("text", str), str, "TEXT"),
}


@dataclass(frozen=True)
class _Knob:
    """One EngineOptions field as a command-line setting."""

    field: str
    flag: str
    envvar: str
    kind: str
    help: str
    default: Any


def _knobs() -> list[_Knob]:
    from ratchet.actors import EngineOptions

    out = []
    for f in fields(EngineOptions):
        kind = f.metadata.get("unit") or str(f.type)
        assert kind in _KINDS, f"EngineOptions.{f.name}: no command-line kind for {kind!r}"
        assert f.default is not MISSING
        flag = "--" + f.name.replace("_", "-")
        out.append(_Knob(f.name, flag, "RATCHET_" + f.name.upper(), kind, f.metadata["help"], f.default))
    return out


# The TLS flags: the ListenerTls field each fills, and the flag and variable to name in errors.
_TLS_FLAGS = {
    "tls_cert": ("cert_file", "--tls-cert / RATCHET_TLS_CERT"),
    "tls_key": ("key_file", "--tls-key / RATCHET_TLS_KEY"),
    "tls_ca": ("client_ca_file", "--tls-ca / RATCHET_TLS_CA"),
}


def engine_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add a flag per EngineOptions field, the store's settings and TLS's, to ``command``."""
    store_options = [
        click.option(
            "--secret-key-file",
            envvar="RATCHET_SECRET_KEY_FILE",
            show_envvar=True,
            default=None,
            metavar="FILE",
            help="The key API tokens are signed with; made on first start. Engines sharing a "
            "database must share it. [default: $RATCHET_HOME/engine.key, RATCHET_HOME defaulting "
            "to ~/.ratchet]",
        ),
        click.option(
            "--objects-dir",
            envvar="RATCHET_OBJECTS_DIR",
            show_envvar=True,
            default=None,
            metavar="DIR",
            help="Keep payloads over --offload-bytes as files in DIR, shared by every engine on the "
            "database (back it up with the database). [default: none: every payload is kept "
            "inside the database]",
        ),
        click.option(
            "--offload-bytes",
            envvar="RATCHET_OFFLOAD_BYTES",
            show_envvar=True,
            default=None,
            type=_KINDS["bytes"][0],
            metavar="SIZE",
            help="With --objects-dir: payloads whose JSON is longer than this go to DIR. [default: 64KiB]",
        ),
        click.option(
            "--tls-cert",
            envvar="RATCHET_TLS_CERT",
            show_envvar=True,
            default=None,
            metavar="FILE",
            help="With --listen tls+tcp://...: the engine's certificate, PEM (then any intermediate CA "
            "certificates). Clients verify it against their RATCHET_TLS_CA.",
        ),
        click.option(
            "--tls-key",
            envvar="RATCHET_TLS_KEY",
            show_envvar=True,
            default=None,
            metavar="FILE",
            help="With --tls-cert: its private key, PEM, unencrypted (keep the file private).",
        ),
        click.option(
            "--tls-ca",
            envvar="RATCHET_TLS_CA",
            show_envvar=True,
            default=None,
            metavar="FILE",
            help="With --tls-cert: require every client and worker to present a certificate signed by "
            "a CA in FILE (mutual TLS). [default: none: clients verify the engine and sign in with "
            "tokens]",
        ),
    ]
    knob_options = []
    for knob in _knobs():
        kind, show, metavar = _KINDS[knob.kind]
        knob_options.append(
            click.option(
                knob.flag,
                knob.field,
                envvar=knob.envvar,
                show_envvar=True,
                default=None,
                type=kind,
                metavar=metavar,
                help=f"{knob.help[0].upper()}{knob.help[1:]}. [default: {show(knob.default)}]",
            )
        )
    for option in reversed([*store_options, *knob_options]):
        command = option(command)
    return command


@dataclass(frozen=True)
class EngineSettings:
    """What ``ratchet engine`` was asked for, checked.

    Attributes:
        options: the engine's knobs.
        objects_dir: where big payloads go (None: inside the database).
        offload_bytes: with ``objects_dir``: payloads longer than this many characters of
            JSON go there.
        secret_key_file: the signing key's file (None: the default, see
            :mod:`ratchet._host.secrets_files`).
        tls: the certificate of a ``tls+tcp://`` listener, checked (None: no TLS).
    """

    options: Any
    objects_dir: Path | None
    offload_bytes: int | None
    secret_key_file: Path | None = None
    tls: ListenerTls | None = None


def settings_from_params(params: Mapping[str, Any], *, listen: str | None = None) -> EngineSettings:
    """Check the parsed flags together and build the engine's settings.

    Args:
        params: the parsed flags.
        listen: the address the engine will listen at, to check the TLS flags against
            (None: not checked against an address).

    Raises:
        click.BadParameter: a value out of range, naming its flag and variable.
    """
    from ratchet.actors import EngineOptions

    given: dict[str, Any] = {}
    for knob in _knobs():
        value = params.get(knob.field)
        if value is None:
            continue
        try:
            EngineOptions(**{knob.field: value})  # checks this one value on its own
        except ValueError as exc:
            reason = str(exc).replace(f"EngineOptions.{knob.field} ", "", 1)
            source = "the environment variable" if _from_env(knob.field) else "the flag"
            raise click.BadParameter(
                f"{reason} (from {source})", param_hint=f"{knob.flag} / {knob.envvar}"
            ) from None
        given[knob.field] = value
    options = EngineOptions(**given)
    objects_dir = _objects_dir(params.get("objects_dir"))
    offload = params.get("offload_bytes")
    if offload is not None and objects_dir is None:
        raise click.BadParameter(
            "only means something with an object store; give --objects-dir (RATCHET_OBJECTS_DIR) too, "
            "or drop it to keep every payload inside the database",
            param_hint="--offload-bytes / RATCHET_OFFLOAD_BYTES",
        )
    key_file = params.get("secret_key_file")
    if key_file is not None and not str(key_file).strip():
        raise click.BadParameter(
            "is empty; give a file, or leave it unset",
            param_hint="--secret-key-file / RATCHET_SECRET_KEY_FILE",
        )
    return EngineSettings(
        options,
        objects_dir,
        offload,
        Path(key_file).expanduser().absolute() if key_file else None,
        _listener_tls(params, listen),
    )


def _listener_tls(params: Mapping[str, Any], listen: str | None) -> ListenerTls | None:
    """The ``ListenerTls`` the TLS flags ask for, checked against ``listen`` (None: no TLS).

    Raises:
        click.BadParameter: TLS flags without a ``tls+tcp://`` address or the other way
            round, or a file that cannot serve (naming its flag and variable).
    """
    given: dict[str, str] = {flag: str(params[flag]) for flag in _TLS_FLAGS if params.get(flag) is not None}
    tls_address = listen is not None and listen.startswith("tls+")
    if listen is not None and given and not tls_address:
        raise click.BadParameter(
            f"only means something with --listen tls+tcp://...; the engine would listen at {listen} "
            "without TLS. Listen at a tls+tcp:// address, or unset the TLS settings",
            param_hint=_TLS_FLAGS[next(iter(given))][1],
        )
    if not given and not tls_address:
        return None
    for flag in ("tls_cert", "tls_key"):
        if flag not in given:
            raise click.BadParameter(
                f"is needed to listen at {listen or 'a tls+tcp:// address'}: TLS takes the engine's "
                "certificate (--tls-cert) and its private key (--tls-key)",
                param_hint=_TLS_FLAGS[flag][1],
            )
    from ratchet.transport import ListenerTls, TlsSettingError

    try:
        return ListenerTls(given["tls_cert"], given["tls_key"], given.get("tls_ca"))
    except TlsSettingError as exc:
        hint = next((h for field, h in _TLS_FLAGS.values() if field == exc.setting), None)
        raise click.BadParameter(f"{exc.value!r} {exc.problem}", param_hint=hint) from None


def _from_env(name: str) -> bool:
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.get_parameter_source(name) is click.core.ParameterSource.ENVIRONMENT


def _objects_dir(text: str | None) -> Path | None:
    if text is None:
        return None
    hint = "--objects-dir / RATCHET_OBJECTS_DIR"
    if not text.strip():
        raise click.BadParameter("is empty; give a directory, or leave it unset", param_hint=hint)
    path = Path(text).expanduser().absolute()
    existing = path
    while not existing.exists():
        existing = existing.parent
    if existing == path and not path.is_dir():
        raise click.BadParameter(f"{str(path)!r} exists and is not a directory", param_hint=hint)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise click.BadParameter(
            f"{str(existing)!r} is not writable by this user, so objects could not be stored under "
            f"{str(path)!r}",
            param_hint=hint,
        )
    return path
