"""One set of statuses: no status or event kind is spelled as a string outside ratchet._contract.status."""

from __future__ import annotations

import ast
import pathlib

from ratchet._contract.status import (
    RunStatus,
    ScheduleStatus,
    TaskEventKind,
    TaskStatus,
    WorkerState,
    WorkerStatus,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
STATUS_MODULE = ROOT / "sdk" / "_contract" / "status.py"
NAMES = {
    m.value
    for enum in (RunStatus, TaskStatus, TaskEventKind, WorkerStatus, WorkerState, ScheduleStatus)
    for m in enum
}


def _prose(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are prose: docstrings and pieces of f-strings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
        if isinstance(node, ast.JoinedStr):
            found.update(id(inner) for inner in ast.walk(node) if isinstance(inner, ast.Constant))
    return found


def status_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string literal in ``source`` that is a status or event-kind name."""
    tree = ast.parse(source)
    prose = _prose(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in NAMES
        and id(node) not in prose
    ]


def test_the_scan_finds_a_status_spelled_as_a_string() -> None:
    assert status_literals('done = run.status == "COMPLETED"\n') == [(1, "COMPLETED")]
    assert (
        status_literals(
            '"""COMPLETED"""\nx = TaskStatus.COMPLETED\nprint(f"{\'ok\' if x else \'FAILED\'}")\n'
        )
        == []
    )


def test_no_status_is_spelled_as_a_string_outside_the_status_module() -> None:
    offenders = []
    for folder in ("actors", "sdk", "simulation", "runtime", "transport"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == STATUS_MODULE:
                continue
            for line, text in status_literals(path.read_text()):
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    assert not offenders, "use the enums of ratchet._contract.status instead:\n" + "\n".join(offenders)


def test_statuses_equal_their_names_on_the_wire() -> None:
    assert RunStatus.COMPLETED == "COMPLETED" and str(TaskStatus.EVICTED) == "EVICTED"
    assert {s for s in TaskStatus if s.is_terminal} == {
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
    }
    assert {s for s in RunStatus if s.is_terminal} == {
        RunStatus.COMPLETED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
    }
