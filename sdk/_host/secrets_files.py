"""The files an engine keeps beside its database: its signing key and the local admin token.

- The **key** signs every API token and session credential (``--secret-key-file``,
  ``RATCHET_SECRET_KEY_FILE``; default ``$RATCHET_HOME/engine.key``). Made on first start,
  32 random bytes in hex, readable only by its owner. Engines sharing a database must
  share the key file's content: a token one engine signed is refused by an engine with
  another key.
- The **local admin token** (:func:`ratchet._session.local_token_path`): written on start
  when the file is missing or holds a token this engine no longer takes, so the CLI and SDK
  of the engine's owner on this machine sign in without set-up.

Both files are created with mode 0600 (never readable by other users) and replaced
atomically, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
from pathlib import Path

__all__ = ["default_key_path", "load_or_create_key", "write_private"]

_KEY_BYTES = 32


def default_key_path() -> Path:
    """``$RATCHET_HOME/engine.key``."""
    from .._session import ratchet_home

    return ratchet_home() / "engine.key"


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``, made there first if the file does not exist.

    Raises:
        ValueError: the file exists but holds no key, or other users may read it.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another engine made it meanwhile: use theirs
        else:
            with os.fdopen(fd, "w") as out:
                # the operating system's randomness, not the runtime's: a signing key must be
                # unpredictable, and this runs in the engine's host before any runtime exists
                # (the simulation and in-process engines get their key from the runtime's seam)
                out.write(secrets.token_hex(_KEY_BYTES) + "\n")
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(
            f"the engine's key file {path} may be read by other users (mode {stat.S_IMODE(mode):o}); "
            f"run 'chmod 600 {path}'"
        )
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < _KEY_BYTES:
        raise ValueError(
            f"the engine's key file {path} must hold at least {_KEY_BYTES} bytes in hex; "
            "delete it to have a new key made (tokens signed with the old one stop working)"
        )
    return key


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable only by its owner."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:  # mkstemp makes the file 0600
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
