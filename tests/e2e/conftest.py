"""Fixtures of the end-to-end tests: fresh clients that are closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ratchet import Ratchet


@pytest.fixture
def new_client() -> Iterator[Callable[[], Ratchet]]:
    """Make fresh :class:`Ratchet` clients; each one (and its embedded engine) closes at teardown."""
    made: list[Ratchet] = []

    def new() -> Ratchet:
        r = Ratchet()
        made.append(r)
        return r

    yield new
    for r in reversed(made):
        r.close()
