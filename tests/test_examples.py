"""The examples run, as a user would run them, and do what their docstrings say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def run_example(name: str, tmp_path: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--db", f"sqlite:///{tmp_path / 'ratchet.db'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_document_orchestrator_fans_out_one_child_per_page_and_resumes_after_eviction(tmp_path):
    out = run_example("document_orchestrator.py", tmp_path)
    assert "doc-3: {'status': 'success', 'parsed_pages': 3, 'words': 15}" in out
    assert "children: 3 parse-page runs, COMPLETED" in out
    assert "children: 1 parse-page runs, COMPLETED" in out
    # the orchestrator gave its slot back while the pages were parsed, then replayed
    assert out.count("evicted#1, resumed#2, assigned#2, completed#2") == 2


def test_the_document_pipeline_runs_retries_and_reports_a_failure(tmp_path):
    out = run_example("document_pipeline.py", tmp_path)
    assert "result: {'status': 'success'" in out
    assert "failed: fetch-document: LookupError" in out
