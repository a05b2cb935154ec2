"""Fixtures shared by every test folder: scratch Postgres databases.

Tests that need Postgres create uniquely named databases and drop them at the end of the
session. When the server is unreachable they skip, except under ``CI``, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

PG_ADMIN_DSN = os.environ.get("RATCHET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_dsn(database: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class PostgresDatabases:
    """Creates uniquely named databases on the test server and drops them at the end."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def create(self) -> str:
        """A new empty database; returns its DSN."""
        name = f"ratchet_test_{uuid.uuid4().hex[:12]}"
        try:
            asyncio.run(_admin(f"CREATE DATABASE {name}"))
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            message = f"Postgres at {PG_ADMIN_DSN} is unreachable: {exc}"
            if os.environ.get("CI"):
                pytest.fail(message + " (CI is set: Postgres tests must run)")
            pytest.skip(message)
        self.created.append(name)
        return _pg_dsn(name)

    def drop_all(self) -> None:
        for name in self.created:
            asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PostgresDatabases]:
    """Make Postgres databases for this test run; all are dropped at the end."""
    dbs = PostgresDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(autouse=True, scope="session")
def _ratchet_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Engines and clients of the tests keep their keys and local tokens in a directory of
    the test session (inherited by the processes tests start), never in the user's own
    ``~/.ratchet``; their REST APIs listen on free ports."""
    previous = {name: os.environ.get(name) for name in ("RATCHET_HOME", "RATCHET_HTTP")}
    os.environ["RATCHET_HOME"] = str(tmp_path_factory.mktemp("ratchet-home"))
    # engines the tests start serve their REST API on a free port, never on one another's
    os.environ["RATCHET_HTTP"] = "127.0.0.1:0"
    yield
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
