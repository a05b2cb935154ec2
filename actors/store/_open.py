"""Opening a store from a URL, with whatever the backend needs around it.

``memory://`` gives a :class:`MemoryStore`; ``sqlite:///path/to/file.db`` (or a bare
path ending in ``.db``/``.sqlite``) a :class:`SQLiteStore`; ``postgresql://...`` a
:class:`PostgresStore` (asyncpg on an asyncio thread of its own, which leaves the
process's asyncio as it was).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from ._memory import MemoryStore
from ._postgres import PostgresStore
from ._sqlite import SQLiteStore
from ._store import Store

__all__ = ["open_store", "store_from_url"]


def store_from_url(url: str, **options: Any) -> Store:
    """An unopened store for ``url``; ``options`` go to the backend's constructor.

    Raises:
        ValueError: the URL names no known backend.
    """
    if url.startswith("memory:"):
        return MemoryStore(**options)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url, **options)
    if url.startswith("sqlite:///"):
        return SQLiteStore(url[len("sqlite:///") :], **options)
    if url.endswith((".db", ".sqlite", ".sqlite3")) and "://" not in url:
        return SQLiteStore(url, **options)
    raise ValueError(
        f"no store backend for {url!r}: use 'memory://', 'sqlite:///relative.db', "
        "'sqlite:////absolute/path.db' or 'postgresql://user@host:port/database'"
    )


@contextlib.asynccontextmanager
async def open_store(url_or_store: str | Store, **options: Any) -> AsyncIterator[Store]:
    """Open a store (migrating it) for the duration of the block, then close it.

    Args:
        url_or_store: a URL (see the module docstring) or an unopened :class:`Store`.
        options: passed to the backend's constructor when a URL is given.
    """
    store = store_from_url(url_or_store, **options) if isinstance(url_or_store, str) else url_or_store
    await store.open()
    try:
        yield store
    finally:
        await store.close()
