"""Waiting for a run lasts as long as the run does, whatever ``reconnect_timeout`` says.

``reconnect_timeout`` bounds how long a client keeps trying to reach an engine it has
lost; a wait the engine is answering is not an outage. Each test makes it far shorter
than the run it waits for.
"""

from __future__ import annotations

import trio
from e2e_helpers import start

from ratchet import Context, Ratchet

RECONNECT = 0.2
RUN_SECONDS = 1.0  # five times RECONNECT


def _slow_client() -> tuple[Ratchet, object]:
    r = Ratchet(reconnect_timeout=RECONNECT)

    @r.task(input_validator=dict)
    async def slow(input: dict, ctx: Context) -> str:
        await trio.sleep(RUN_SECONDS)
        return "done"

    return r, slow


def test_run_waits_longer_than_reconnect_timeout_for_its_result() -> None:
    r, slow = _slow_client()
    with start(r):
        assert r.connection.reconnect_timeout == RECONNECT
        assert slow.run({}) == "done"
        ref = slow.run_no_wait({})
        assert ref.result() == "done"


async def test_aio_run_waits_longer_than_reconnect_timeout_for_its_result() -> None:
    r, slow = _slow_client()
    with start(r):
        assert await slow.aio_run({}) == "done"
        ref = await slow.aio_run_no_wait({})
        assert await ref.aio_result() == "done"
