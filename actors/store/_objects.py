"""The object store: where payloads go when a store is configured to keep big ones out of rows.

Without one, a store keeps every payload inside its database (the default): a backup of
the database is then a backup of everything. With one (``DirectoryObjectStore``, shared
by every engine on the database), payloads above the store's threshold are written here
and the row keeps the key.

Theory of operation: every :meth:`ObjectStore.put` writes a new object under a fresh
key, and the object is durable before the transaction that references it starts. A
key is referenced by the one row written with it, so an object becomes garbage when
that row is deleted or overwritten, or when its transaction never commits (rolled back,
rejected, or the process died in between). :meth:`~ratchet.actors.store.Store.sweep_objects`
deletes objects that are older than a grace age and referenced by no row; the age keeps
it off objects whose transaction is still on its way.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

import trio

from ._errors import StoreError

__all__ = ["DirectoryObjectStore", "MemoryObjectStore", "ObjectStore"]

_KEY_PREFIX = "obj-"
# Keys written before objects got keys of their own were content addresses; rows may
# still hold them, so they stay readable (and are swept like the others).
_LEGACY_PREFIX = "sha256-"
_PREFIXES = (_KEY_PREFIX, _LEGACY_PREFIX)
_TEMP_SUFFIX = ".tmp"


def _key_body(key: str) -> str:
    """The key's random (or hash) part, checked: keys come from rows, never trusted as paths."""
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            body = key[len(prefix) :].removesuffix(_TEMP_SUFFIX)
            if len(body) >= 2 and body.isascii() and body.isalnum():
                return body
    raise StoreError(f"{key!r} is not an object key of this store")


class ObjectStore(ABC):
    """Where offloaded payloads live, each under a key of its own."""

    @abstractmethod
    async def put(self, data: bytes) -> str:
        """Store ``data`` durably under a new key and return the key."""

    @abstractmethod
    async def get(self, key: str) -> bytes:
        """The bytes stored under ``key``.

        Raises:
            StoreError: no object has that key.
        """

    @abstractmethod
    async def older_than(self, age: float) -> list[str]:
        """Keys of the objects written more than ``age`` seconds ago (by this store's clock)."""

    @abstractmethod
    async def delete(self, keys: Iterable[str]) -> int:
        """Delete these objects (missing ones are skipped); returns how many were deleted."""


class MemoryObjectStore(ObjectStore):
    """Objects in a dict, aged on Trio's clock (virtual under a simulation's clock).

    Pass the same instance to a store reopened after a simulated crash: its objects
    survive, as files in a directory would.
    """

    def __init__(self) -> None:
        self._objects: dict[str, tuple[bytes, float]] = {}
        self._next = 0

    async def put(self, data: bytes) -> str:
        await trio.lowlevel.checkpoint()
        self._next += 1
        key = f"{_KEY_PREFIX}{self._next:016x}"
        self._objects[key] = (bytes(data), trio.current_time())
        return key

    async def get(self, key: str) -> bytes:
        await trio.lowlevel.checkpoint()
        try:
            return self._objects[key][0]
        except KeyError:
            raise StoreError(f"object {key!r} is missing from the in-memory object store") from None

    async def older_than(self, age: float) -> list[str]:
        await trio.lowlevel.checkpoint()
        cutoff = trio.current_time() - age
        return [key for key, (_, written) in self._objects.items() if written < cutoff]

    async def delete(self, keys: Iterable[str]) -> int:
        await trio.lowlevel.checkpoint()
        return sum(self._objects.pop(key, None) is not None for key in keys)

    def __len__(self) -> int:
        return len(self._objects)


class DirectoryObjectStore(ObjectStore):
    """Objects as files under a directory, fanned out by two characters of their key.

    Engines sharing a database must share the directory (a network file system for
    engines on several machines). Ages are the files' modification times.

    Args:
        root: the directory (created on first write).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"DirectoryObjectStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / _key_body(key)[:2] / key

    def _put_sync(self, data: bytes) -> str:
        # A store backend: real randomness is its business (keys never reach a simulation).
        key = _KEY_PREFIX + os.urandom(16).hex()
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(key + _TEMP_SUFFIX)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return key

    async def put(self, data: bytes) -> str:
        try:
            return await trio.to_thread.run_sync(self._put_sync, data)
        except OSError as exc:
            raise StoreError(f"cannot write an object under {self.root}: {exc}") from exc

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await trio.to_thread.run_sync(path.read_bytes)
        except FileNotFoundError:
            raise StoreError(
                f"object {key!r} is missing from {self.root}; the directory was moved or pruned"
            ) from None

    def _older_than_sync(self, age: float) -> list[str]:
        # Wall time, not the runtime's clock, on purpose: the ages compared are the files'
        # modification times, which the operating system stamps with its own wall clock (a
        # simulated or mock clock would make every file look new or ancient).
        cutoff = time.time() - age
        keys: list[str] = []
        if not self.root.is_dir():
            return keys
        for fan in os.scandir(self.root):
            if not fan.is_dir():
                continue
            for entry in os.scandir(fan.path):
                # "obj-....tmp" files are writes in progress, or cut short by a crash:
                # listed too, under their own names, which no row ever references.
                if entry.name.startswith(_PREFIXES):
                    try:
                        if entry.stat().st_mtime < cutoff:
                            keys.append(entry.name)
                    except FileNotFoundError:
                        pass  # another engine's sweep got there first
        return keys

    async def older_than(self, age: float) -> list[str]:
        return await trio.to_thread.run_sync(self._older_than_sync, age)

    def _delete_sync(self, keys: list[str]) -> int:
        deleted = 0
        for key in keys:
            try:
                self._path(key).unlink()
                deleted += 1
            except FileNotFoundError:
                pass
        return deleted

    async def delete(self, keys: Iterable[str]) -> int:
        return await trio.to_thread.run_sync(self._delete_sync, list(keys))
