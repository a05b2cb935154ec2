"""What importing and using Ratchet leaves behind in an application's process.

Each check runs in a fresh interpreter, so nothing the test session imported counts:
``import ratchet`` loads no test machinery.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
