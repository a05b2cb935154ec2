"""An anyio application on the Trio backend that embeds an engine and triggers runs.

Prints what it saw as JSON: results of concurrent ``aio_run`` calls from a task group,
the error of a blocking call made on its event loop, and the loop of its task functions.
"""

from __future__ import annotations

import json
import sys

import anyio
import sniffio

from ratchet import Context, Ratchet

ratchet = Ratchet()


@ratchet.task(input_validator=dict)
async def double(inp: dict, ctx: Context) -> dict:
    await anyio.sleep(0)
    return {"n": inp["n"] * 2, "library": sniffio.current_async_library()}


async def main() -> None:
    results: dict[int, dict] = {}
    seen: dict[str, object] = {"app_library": sniffio.current_async_library()}

    async def one(n: int) -> None:
        results[n] = await double.aio_run({"n": n})

    with ratchet.embedded("memory://", workers=[ratchet.worker("w", slots=4)]):
        async with anyio.create_task_group() as group:
            for n in range(8):
                group.start_soon(one, n)
        try:
            double.run({"n": 0})
        except RuntimeError as exc:
            seen["blocking_call"] = str(exc)
    seen["results"] = [results[n] for n in range(8)]
    seen["trio_asyncio_loaded"] = "trio_asyncio" in sys.modules
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    anyio.run(main, backend="trio")
