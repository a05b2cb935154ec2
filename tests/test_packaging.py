"""The package installs and imports as the README says, from a source tree and from a wheel."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tomllib
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
_FOLDERS = {
    "sdk": "ratchet",
    "runtime": "ratchet.runtime",
    "transport": "ratchet.transport",
    "actors": "ratchet.actors",
    "simulation": "ratchet.simulation",
}


def _packages_in_tree() -> tuple[str, ...]:
    """Every package of the source tree: each folder holding an ``__init__.py``."""
    found = []
    for folder, package in _FOLDERS.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.append(".".join((package, *parts)))
    return tuple(found)


SUBPACKAGES = _packages_in_tree()


def test_every_package_in_the_tree_is_listed_for_installation() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(pyproject["tool"]["setuptools"]["packages"])
    assert set(SUBPACKAGES) == listed, (
        f"pyproject.toml's packages differ from the tree: missing {sorted(set(SUBPACKAGES) - listed)}, "
        f"extra {sorted(listed - set(SUBPACKAGES))}"
    )
    assert len(SUBPACKAGES) > len(_FOLDERS)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in readme.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2, "the README's setup is two commands"
    test_command = commands[1]
    assert "pytest" in test_command
    assert test_command in ci.splitlines()


def test_console_script_prints_version_and_help() -> None:
    script = pathlib.Path(sys.executable).with_name("ratchet")
    out = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert "ratchet" in out.stdout
    out = subprocess.run([script, "--help"], capture_output=True, text=True, check=True)
    assert "Usage" in out.stdout and "demo" in out.stdout


def test_demo_runs_and_shows_the_restart() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ratchet.cli", "demo", "--seed", "3"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert out.stdout.count("saved as doc-") == 5
    assert "name='parse'" in out.stdout and "restarts=1" in out.stdout


@pytest.mark.slow
def test_built_wheel_contains_and_imports_every_subpackage(tmp_path: pathlib.Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("ratchet-*.whl")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(unpacked)
    for package in SUBPACKAGES:
        assert package.replace(".", "/") + "/__init__.py" in names
    code = (
        "import importlib, sys\n"
        f"for name in {SUBPACKAGES!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(unpacked)!r}), module.__file__\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "ok"
