"""What importing and using Ratchet leaves behind in an application's process.

Each check runs in a fresh interpreter, so nothing the test session imported counts:
``import ratchet`` loads no test machinery, and a client (embedded engine, workers of
either async backend, a Postgres store) never changes the process's asyncio.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

TEST_MACHINERY = ("pytest", "_pytest", "hypothesis", "trio.testing")


def run_python(code: str, timeout: float = 120.0) -> str:
    """Run ``code`` in a fresh interpreter; its stdout (the test fails with its stderr)."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout
    )
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out.stdout


def test_import_ratchet_loads_no_test_machinery() -> None:
    loaded = run_python(
        f"""
        import sys
        import ratchet
        machinery = {TEST_MACHINERY!r}
        print(sorted(m for m in sys.modules if m in machinery or m.split(".")[0] in machinery))
        """
    )
    assert loaded.strip() == "[]"


ASYNCIO_LEFT_ALONE = """
    import asyncio, json, sys
    import trio
    from ratchet import Ratchet

    policy = type(asyncio.get_event_loop_policy())
    r = Ratchet()

    @r.task(input_validator=dict)
    async def where(inp: dict, ctx) -> str:
        if BACKEND == "asyncio":
            await asyncio.sleep(0)
            return type(asyncio.get_running_loop()).__module__
        await trio.sleep(0)
        return "trio"

    with r.embedded(DATABASE, workers=[r.worker("w", async_backend=BACKEND)]):
        task_loop = where.run({})

    async def main() -> str:
        return type(asyncio.get_running_loop()).__module__

    print(json.dumps({
        "task_loop": task_loop,
        "later_loop": asyncio.run(main()),
        "same_policy": type(asyncio.get_event_loop_policy()) is policy,
        "trio_asyncio_loaded": "trio_asyncio" in sys.modules,
    }))
"""


def left_behind(database: str, backend: str) -> dict:
    code = f"DATABASE, BACKEND = {database!r}, {backend!r}\n" + textwrap.dedent(ASYNCIO_LEFT_ALONE)
    return json.loads(run_python(code))


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_a_client_with_an_embedded_engine_leaves_asyncio_alone(backend: str) -> None:
    found = left_behind("memory://", backend)
    # asyncio task functions run on a plain asyncio loop, and the application's own
    # asyncio.run afterwards gets one too
    assert found["task_loop"] == ("trio" if backend == "trio" else "asyncio.unix_events")
    assert found["later_loop"] == "asyncio.unix_events"
    assert found["same_policy"] is True
    assert found["trio_asyncio_loaded"] is False


def test_an_embedded_engine_on_postgres_leaves_asyncio_alone(pg_databases) -> None:
    found = left_behind(pg_databases.create(), "asyncio")
    assert found["task_loop"] == found["later_loop"] == "asyncio.unix_events"
    assert found["same_policy"] is True
    assert found["trio_asyncio_loaded"] is False
