"""Opening a store from a URL, with whatever the backend needs around it.

``memory://`` gives a :class:`MemoryStore`; ``sqlite:///path/to/file.db`` (or a bare
path ending in ``.db``/``.sqlite``) a :class:`SQLiteStore`; ``postgresql://...`` a
:class:`PostgresStore`, run inside a trio-asyncio loop (the one already running in this
task, or a new one for the duration of the block).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import trio_asyncio

from ratchet.runtime._groups import single_error

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
    if not (isinstance(store, PostgresStore) and trio_asyncio.current_loop.get() is None):
        await store.open()
        try:
            yield store
        finally:
            await store.close()
        return
    try:
        async with trio_asyncio.open_loop():
            await store.open()
            try:
                yield store
            finally:
                await store.close()
    except BaseExceptionGroup as group:
        # trio-asyncio's loop runs a nursery, which wraps whatever the block raised in a
        # group; hand the caller the one real error, as if there were no loop.
        single = single_error(group)
        if single is None:
            raise
        raise single from None
