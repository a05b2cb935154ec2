"""Real processes: an engine (``ratchet engine``) and workers (``apps.py worker``), over tcp.

Processes are started with exec (nng is not fork-safe) and killed at the end of each
test whatever happened. Every test runs on SQLite and on Postgres.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from process_harness import Cluster


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL: a SQLite file, or a fresh Postgres database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ratchet.db'}"
    return request.getfixturevalue("pg_databases").create()


@pytest.fixture
def cluster(database: str, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    c = Cluster(database)
    try:
        yield c
    finally:
        c.close()
        report: Any = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(c.output())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
