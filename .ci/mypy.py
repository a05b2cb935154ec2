"""Type-check the `ratchet` package with mypy, as installed, although its folders are not named `ratchet`.

`pyproject.toml` maps `ratchet` to `sdk/`, `ratchet.actors` to `actors/` and so on, and the editable
install serves that mapping through an import hook, which mypy does not run. So this script lays out the
package as the mapping says, as a tree of symbolic links (rebuilt on every run, cheap), runs
`mypy -p ratchet` over it with the settings of `[tool.mypy]`, and prints the errors with the paths of the
real files. Exit status is mypy's: non-zero when a module has an error.

Usage: `.venv/bin/python .ci/mypy.py [extra mypy arguments]`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".venv" / "mypy"


def package_dirs() -> dict[str, Path]:
    """Return the `[tool.setuptools] package-dir` mapping, package name -> source folder."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {name: (ROOT / folder).resolve() for name, folder in mapping.items()}


def build_tree(tree: Path) -> None:
    """Lay out every mapped package under `tree` as links to its source folder.

    Raises:
        SystemExit: when a mapped package cannot be placed (its parent folder is not mapped).
    """
    shutil.rmtree(tree, ignore_errors=True)
    dirs = package_dirs()
    for name in sorted(dirs, key=lambda n: n.count(".")):
        target = tree.joinpath(*name.split("."))
        if target.resolve() == dirs[name]:
            continue  # reached already through its parent's link (e.g. actors/store)
        if target.exists() or target.is_symlink():
            raise SystemExit(f".ci/mypy.py: package {name!r} clashes with {target}; map it to its own folder")
        if "." not in name:
            # The top package is a real folder so that its mapped subpackages can sit beside its files.
            target.mkdir(parents=True)
            for entry in sorted(dirs[name].iterdir()):
                if entry.name != "__pycache__":
                    (target / entry.name).symlink_to(entry)
        else:
            if not target.parent.is_dir() or target.parent.is_symlink():
                raise SystemExit(f".ci/mypy.py: cannot place package {name!r}: its parent is not mapped")
            target.symlink_to(dirs[name], target_is_directory=True)


def real_path(line: str, tree: Path) -> str:
    """Rewrite a mypy message's leading path from the link tree to the real file, relative to the repo."""
    path, sep, rest = line.partition(":")
    if not sep or not path.endswith((".py", ".pyi")):
        return line
    full = (tree / path).resolve()
    try:
        return f"{full.relative_to(ROOT)}{sep}{rest}"
    except ValueError:
        return line


def main(argv: list[str]) -> int:
    """Build the tree, run mypy over it and print its report; return mypy's exit status."""
    tree = WORK / "src"
    build_tree(tree)
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--cache-dir",
        str(WORK / "cache"),
        "-p",
        "ratchet",
        *argv,
    ]
    env = {**os.environ, "MYPY_FORCE_COLOR": "0"}
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        print(real_path(line, tree))
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
