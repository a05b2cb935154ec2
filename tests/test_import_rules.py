"""The plan of the house, proven on the source tree: who may import whom.

Read with :mod:`ast` (nothing is imported), every ``import`` and ``from ... import`` of
every module, at the top or deferred inside a function, counts; an import under
``if TYPE_CHECKING:`` counts only where a rule says so. The rules:

- ``ratchet._contract`` is a leaf: of Ratchet it imports only ``ratchet._errors`` (and itself);
- the engine (``ratchet.actors``) imports of Ratchet only ``ratchet._contract``,
  ``ratchet._errors``, ``ratchet.runtime``, ``ratchet.transport`` and itself;
- the SDK imports the engine only where it hosts it: ``ratchet._host`` and ``ratchet.cli``;
- inside the engine, folders stand on floors (``_engine.py`` on top, then ``api``,
  ``gateway``, ``triggers`` with ``durable``, ``auth`` and ``webhooks``, then ``limits``,
  ``runs``, ``scheduling``, ``store`` and ``timers``), and no import runs back up a floor
  or sideways to another folder of the same floor, except for annotations (under ``TYPE_CHECKING``).

A rule that breaks is fixed in the tree, not here.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Import:
    """One import statement's target, as an absolute module name."""

    source: str  # the importing module
    target: str  # the imported module (or the package a name was imported from)
    line: int
    type_checking: bool  # only under ``if TYPE_CHECKING:``

    def __str__(self) -> str:
        where = " (TYPE_CHECKING)" if self.type_checking else ""
        return f"{self.source}:{self.line} imports {self.target}{where}"


def _modules() -> dict[str, Path]:
    """Every module of the package, by its dotted name, found from pyproject's ``package-dir``."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dir: dict[str, str] = setuptools["package-dir"]
    out: dict[str, Path] = {}
    for package in setuptools["packages"]:
        # the nearest mapped ancestor decides where a package's folder is
        base = max((p for p in package_dir if package == p or package.startswith(p + ".")), key=len)
        folder = (
            ROOT
            / package_dir[base]
            / Path(*package[len(base) :].lstrip(".").split(".") if package != base else ())
        )
        for file in folder.glob("*.py"):
            name = package if file.stem == "__init__" else f"{package}.{file.stem}"
            out[name] = file
    return out


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_of(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.stem == "__init__" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, type_checking: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_checking)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(module, alias.name, node.lineno, type_checking))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                origin = f"{base}.{node.module}" if node.module else base
            else:
                origin = node.module or ""
            for alias in node.names:
                # ``from pkg import mod`` imports the module ``pkg.mod``
                candidate = f"{origin}.{alias.name}"
                target = candidate if candidate in MODULES else origin
                found.append(Import(module, target, node.lineno, type_checking))
        for child in ast.iter_child_nodes(node):
            visit(child, type_checking)

    visit(tree, False)
    return found


IMPORTS = [imp for module, path in sorted(MODULES.items()) for imp in _imports_of(module, path)]


def _within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _ratchet_imports(*sources: str) -> list[Import]:
    return [imp for imp in IMPORTS if _within(imp.source, *sources) and _within(imp.target, "ratchet")]


def test_the_source_tree_is_found() -> None:
    assert {"ratchet._contract.protocol", "ratchet.actors._engine", "ratchet.actors.store._store"} <= set(
        MODULES
    )
    assert len(IMPORTS) > 500


def test_the_contract_imports_nothing_of_ratchet_but_errors() -> None:
    bad = [
        imp
        for imp in _ratchet_imports("ratchet._contract")
        if not _within(imp.target, "ratchet._contract", "ratchet._errors")
    ]
    assert not bad, "\n".join(map(str, bad))


ENGINE_MAY_IMPORT = (
    "ratchet.actors",
    "ratchet._contract",
    "ratchet._errors",
    "ratchet.runtime",
    "ratchet.transport",
)


def test_the_engine_imports_only_the_contract_of_the_sdk() -> None:
    bad = [imp for imp in _ratchet_imports("ratchet.actors") if not _within(imp.target, *ENGINE_MAY_IMPORT)]
    assert not bad, "\n".join(map(str, bad))


NOT_SDK = ("ratchet.actors", "ratchet.runtime", "ratchet.transport", "ratchet.simulation")
HOSTS = ("ratchet._host", "ratchet.cli")


def test_the_sdk_imports_the_engine_only_where_it_hosts_it() -> None:
    sdk = [imp for imp in IMPORTS if not _within(imp.source, *NOT_SDK)]
    engine = [imp for imp in sdk if _within(imp.target, "ratchet.actors")]
    bad = [imp for imp in engine if not _within(imp.source, *HOSTS)]
    assert not bad, "\n".join(map(str, bad))
    assert engine, "the hosts import the engine: the rule must see them"


#: The engine's floors, top first: a module imports only from its own folder or a lower floor.
#: The top floor is the modules of ``actors/`` itself (``_engine.py``, the package's face);
#: the actors' names (``_names.py``, constants that import nothing) are the ground every floor
#: stands on.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("ratchet.actors",),
    ("ratchet.actors.api",),
    ("ratchet.actors.gateway",),
    ("ratchet.actors.triggers", "ratchet.actors.durable", "ratchet.actors.auth", "ratchet.actors.webhooks"),
    ("ratchet.actors.limits",),
    ("ratchet.actors.runs",),
    ("ratchet.actors.scheduling",),
    ("ratchet.actors.store", "ratchet.actors.timers"),
    ("ratchet.actors._names",),
)
#: Modules of ``actors/`` itself that stand on a floor of their own rather than the top one.
GROUND = ("ratchet.actors._names",)


def _room(module: str) -> tuple[int, str]:
    """A module's floor (0 is the top) and its folder.

    Raises:
        LookupError: a module in a folder of ``actors/`` that stands on no floor.
    """
    parts = module.split(".")
    is_package = module in MODULES and MODULES[module].name == "__init__.py"
    if module in GROUND:
        folder = module
    elif len(parts) > 3 or (len(parts) == 3 and is_package):
        folder = ".".join(parts[:3])  # a module of a folder of actors/, or the folder's face
    else:
        folder = "ratchet.actors"  # a module of actors/ itself, or the package's face
    for floor, folders in enumerate(FLOORS):
        if folder in folders:
            return floor, folder
    raise LookupError(f"{module} is in {folder}, which stands on no floor: add it to FLOORS")


def test_every_engine_module_stands_on_a_floor() -> None:
    for module in MODULES:
        if _within(module, "ratchet.actors"):
            _room(module)  # raises LookupError for a module on no floor


def test_no_engine_import_runs_back_up_a_floor() -> None:
    bad = []
    for imp in IMPORTS:
        if imp.type_checking or not _within(imp.source, "ratchet.actors"):
            continue
        if not _within(imp.target, "ratchet.actors"):
            continue
        (floor, folder), (to_floor, to_folder) = _room(imp.source), _room(imp.target)
        if folder != to_folder and to_floor <= floor:
            bad.append(imp)
    assert not bad, "\n".join(map(str, bad))


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("ratchet.actors.gateway._gateway", "ratchet.actors.runs._coordinator", True),
        ("ratchet.actors.runs._coordinator", "ratchet.actors.gateway._gateway", False),
        ("ratchet.actors.triggers._triggers", "ratchet.actors.durable._tasks", False),
        ("ratchet.actors.scheduling._queues", "ratchet.actors.scheduling._machine", True),
        ("ratchet.actors.store._store", "ratchet.actors.timers._heap", False),
        ("ratchet.actors.scheduling._scheduler", "ratchet.actors._names", True),
        ("ratchet.actors._names", "ratchet.actors.store._store", False),
        ("ratchet.actors.runs._coordinator", "ratchet.actors._engine", False),
    ],
)
def test_the_floor_rule_itself(source: str, target: str, allowed: bool) -> None:
    (floor, folder), (to_floor, to_folder) = _room(source), _room(target)
    assert (folder == to_folder or to_floor > floor) is allowed
