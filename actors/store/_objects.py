"""The object store: where payloads too big for a row go.

Objects are content-addressed (``sha256-<hex>``), so writing the same payload twice is
harmless and an object written for a transaction that then rolled back is merely an
orphan, never a wrong answer. An object is durable (fsynced) before the transaction that
references it commits.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from pathlib import Path

import trio

from ._errors import StoreError

__all__ = ["DirectoryObjectStore", "MemoryObjectStore", "ObjectStore", "object_key"]


def object_key(data: bytes) -> str:
    """The content address of ``data``."""
    return "sha256-" + hashlib.sha256(data).hexdigest()


class ObjectStore(ABC):
    """Where offloaded payloads live, keyed by content."""

    @abstractmethod
    async def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its key."""

    @abstractmethod
    async def get(self, key: str) -> bytes:
        """The bytes stored under ``key``.

        Raises:
            StoreError: no object has that key.
        """


class MemoryObjectStore(ObjectStore):
    """Objects in a dict: for the memory backend (no files, survives a simulated crash)."""

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}

    async def put(self, data: bytes) -> str:
        await trio.lowlevel.checkpoint()
        key = object_key(data)
        self._objects[key] = bytes(data)
        return key

    async def get(self, key: str) -> bytes:
        await trio.lowlevel.checkpoint()
        try:
            return self._objects[key]
        except KeyError:
            raise StoreError(f"object {key!r} is missing from the in-memory object store") from None

    def __len__(self) -> int:
        return len(self._objects)


class DirectoryObjectStore(ObjectStore):
    """Objects as files under a directory, fanned out by the first two hex digits.

    Args:
        root: the directory (created if missing).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not key.startswith("sha256-") or "/" in key or ".." in key:
            raise StoreError(f"{key!r} is not an object key of this store")
        return self.root / key[7:9] / key

    def _put_sync(self, data: bytes, key: str) -> None:
        path = self._path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
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

    async def put(self, data: bytes) -> str:
        key = object_key(data)
        await trio.to_thread.run_sync(self._put_sync, data, key)
        return key

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await trio.to_thread.run_sync(path.read_bytes)
        except FileNotFoundError:
            raise StoreError(
                f"object {key!r} is missing from {self.root}; the directory was moved or pruned"
            ) from None
