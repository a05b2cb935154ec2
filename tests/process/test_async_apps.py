"""Ratchet inside async applications: a FastAPI app under uvicorn (asyncio), an anyio app on Trio.

Each runs as a real process with an embedded engine. The ``aio_`` forms work from the
app's own event loop (a route, the lifespan, a task group), a blocking call made there
refuses with an error that names the ``aio_`` form, the application's asyncio stays
plain asyncio, and the process shuts down cleanly.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from process_harness import HERE, Process, free_address

AIO_HINT = "use its aio_ form"


def test_a_fastapi_app_under_uvicorn_triggers_runs_from_routes_and_lifespan(tmp_path: Path) -> None:
    port = int(free_address().rsplit(":", 1)[1])
    server = Process(
        "uvicorn",
        [sys.executable, "-m", "uvicorn", "asgi_app:app", "--port", str(port), "--loop", "asyncio"],
        {"APP_DB": f"sqlite:///{tmp_path / 'app.db'}"},
        ready="Application startup complete",
    )
    try:
        server.wait_ready(60)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda i: http.get(f"/run/n{i}").json(), range(16)))
        # uvicorn shuts down gracefully on SIGTERM (recent versions then re-raise it to die of it)
        assert server.terminate(60) in (0, -signal.SIGTERM), "\n".join(server.lines)
    finally:
        server.kill()
    for i, answer in enumerate(answers):
        assert answer["greeting"] == {"hello": f"n{i}", "task_loop": "asyncio.unix_events"}
        assert answer["sum"] == 5 and answer["status"] == "COMPLETED"
        assert answer["app_loop"] == "asyncio.unix_events"
        assert answer["trio_asyncio_loaded"] is False
    lifespan = answers[0]
    assert lifespan["lifespan_run"] == {"hello": "lifespan", "task_loop": "asyncio.unix_events"}
    assert AIO_HINT in lifespan["blocking_call"] and "asyncio" in lifespan["blocking_call"]
    output = "\n".join(server.lines)
    assert "lifespan: engine closed" in output  # leaving `with ratchet.embedded(...)` worked
    assert "Application shutdown complete" in output
    assert "Traceback" not in output, output


def test_an_anyio_app_on_trio_triggers_runs_from_a_task_group() -> None:
    out = subprocess.run(
        [sys.executable, str(HERE / "anyio_trio_app.py")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
    seen = json.loads(out.stdout)
    assert seen["app_library"] == "trio"
    assert seen["results"] == [{"n": 2 * n, "library": "trio"} for n in range(8)]
    assert AIO_HINT in seen["blocking_call"] and "trio" in seen["blocking_call"]
    assert seen["trio_asyncio_loaded"] is False


def test_a_fastapi_app_with_an_engine_exits_cleanly_on_ctrl_c() -> None:
    port = int(free_address().rsplit(":", 1)[1])
    server = Process(
        "uvicorn",
        [sys.executable, "-m", "uvicorn", "asgi_app:app", "--port", str(port), "--loop", "asyncio"],
        {},
        ready="Application startup complete",
    )
    try:
        server.wait_ready(60)
        assert httpx.get(f"http://127.0.0.1:{port}/run/x", timeout=60).json()["sum"] == 5
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(60) == 0
    finally:
        server.kill()
    output = "\n".join(server.lines)
    assert "lifespan: engine closed" in output and "Traceback" not in output, output
