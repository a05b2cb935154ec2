"""A worker process for the big-payload tests: ``python payload_apps.py`` with ``RATCHET_ENGINE`` set."""

from __future__ import annotations

import os
import sys

from ratchet import Context, Ratchet, Standalone


def make_client(engine: str | None = None) -> tuple[Ratchet, Standalone]:
    """A client (for ``engine``) with the ``mirror`` task declared on it."""
    r = Ratchet(engine=engine)

    @r.task(input_validator=dict)
    async def mirror(input: dict, ctx: Context) -> dict:
        """Return the input's text reversed: an output as big as the input."""
        return {"text": input["text"][::-1], "pid": os.getpid()}

    return r, mirror


if __name__ == "__main__" and sys.argv[1:] == ["worker"]:
    client, _ = make_client()
    client.worker("payloads", slots=2).start()
