"""The package reads top-down as the pipeline: each layer imports only the layers below it.

Imports inside functions count too (they are how heavy tools stay lazy, not a way round the
order). ``TYPE_CHECKING`` blocks are exempt: a type may name a higher layer's class.
"""

from __future__ import annotations

import ast
from pathlib import Path

import hilrig

PACKAGE = Path(hilrig.__file__).resolve().parent

# Lowest first. A module may import its own layer and any layer before it.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset(
        {
            "errors",
            "deadline",
            "capabilities",
            "limits",
            "processes",
            "forkserver",
            "results",
            "pack",
        }
    ),
    frozenset({"targets"}),
    frozenset({"transport"}),
    frozenset({"boards"}),
    frozenset({"flash"}),
    frozenset({"mpy"}),
    frozenset({"compare"}),
    frozenset({"run"}),
    frozenset({"gate"}),
    # A simulated board is no step of the pipeline: it stands beside it, where only the top
    # layer (the `hilrig sim` command) can reach it. It needs boards/ (the host VM) and below.
    frozenset({"sim"}),
    frozenset({"plugin", "cli", "api"}),
)


def _layer(name: str) -> int:
    for index, members in enumerate(LAYERS):
        if name in members:
            return index
    raise AssertionError(f"hilrig.{name} is in no layer of tests/test_layout.py")


def _part(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "hilrig" or len(parts) < 2:
        return None
    return parts[1]


def _imports(tree: ast.Module) -> list[tuple[int, str]]:
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            exempt.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if id(node) in exempt:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "hilrig":
                found += [(node.lineno, f"hilrig.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def test_every_module_imports_only_its_own_layer_or_lower() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) == 1 and rel.name == "__init__.py":
            continue
        own = _layer(rel.parts[0].removesuffix(".py"))
        for line, module in _imports(ast.parse(path.read_text(), str(path))):
            part = _part(module)
            if part is not None and part != "__version__" and _layer(part) > own:
                upward.append(f"hilrig/{rel}:{line} imports {module}")
    assert upward == []


def test_every_subpackage_says_what_it_is() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.parent.name}/ has no docstring"
