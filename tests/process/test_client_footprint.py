"""A client process that only declares and triggers never loads the engine.

The client declares a workflow with CEL concurrency and triggers a run against a remote
``ratchet engine`` (another real process); at its end, its ``sys.modules`` holds nothing
of the engine (:mod:`ratchet.actors`), of the store backends or of their drivers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from process_harness import Cluster

ENGINE_ONLY = ("ratchet.actors", "asyncpg", "sqlite3", "_sqlite3")

CLIENT = """
    import json, sys
    from ratchet import ConcurrencyExpression, Ratchet

    r = Ratchet(engine=ENGINE)
    wf = r.workflow(
        "footprint", input_validator=dict, concurrency=ConcurrencyExpression("input.user", 1)
    )

    @wf.task()
    def only(input: dict, ctx) -> dict:
        return input

    ref = wf.run_no_wait({"user": "ada"})
    status = r.runs.get_status(ref.workflow_run_id)
    r.close()
    loaded = sorted(
        m for m in sys.modules if any(m == p or m.startswith(p + ".") for p in ENGINE_ONLY)
    )
    print(json.dumps({"status": str(status), "loaded": loaded}))
"""


def test_a_client_that_declares_and_triggers_never_imports_the_engine(tmp_path: Path) -> None:
    cluster = Cluster(f"sqlite:///{tmp_path / 'ratchet.db'}")
    try:
        cluster.engine()
        code = f"ENGINE, ENGINE_ONLY = {cluster.address!r}, {ENGINE_ONLY!r}\n" + textwrap.dedent(CLIENT)
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
        assert out.returncode == 0, f"exit {out.returncode}\n{out.stdout}\n{out.stderr}\n{cluster.output()}"
        found = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        cluster.close()
    assert found["status"] == "QUEUED"  # the run exists: the engine took it, no worker serves it
    assert found["loaded"] == []
