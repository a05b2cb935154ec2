"""Fixtures of the HTTP API tests: real engines behind the app (see ``api_harness``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_harness import Api, open_api


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    """The app in front of two tenants' engines, each with a worker."""
    async with open_api() as opened:
        yield opened
