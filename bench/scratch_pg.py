"""A scratch Postgres database for a benchmark: created on entry, dropped on exit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def scratch_database(admin_dsn: str) -> Iterator[str]:
    """A new empty database on ``admin_dsn``'s server; yields its DSN."""
    name = f"ratchet_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(admin_dsn, f"CREATE DATABASE {name}"))
    try:
        yield admin_dsn.rpartition("/")[0] + "/" + name
    finally:
        asyncio.run(_admin(admin_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
