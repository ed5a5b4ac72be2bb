"""Imports follow the layers of docs/architecture.md: no lower layer imports a higher one.

Every module under ``src/critmin`` is parsed (no import is executed), each ``import`` /
``from ... import`` naming a critmin module is resolved (relative imports included, and imports
inside functions too), and the edge is checked against the layer table below. The same table is
printed in ``docs/architecture.md``; the test fails when a package is missing from either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "critmin"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

#: layer rank of each top-level module or package of critmin; a module may import only modules of a
#: strictly lower rank, or modules of its own package. Surfaces (rank 9) may import each other only
#: along the edges listed in SURFACE_EDGES.
LAYERS: dict[str, int] = {
    "errors": 0,
    "_texttable": 0,
    "schema": 1,
    "inputs": 1,
    "output": 1,
    "countries": 2,
    "data": 2,
    "provenance": 2,
    "reference": 3,
    "sources": 4,
    "atlas": 5,
    "storage": 5,
    "starter": 6,
    "engine": 6,
    "plans": 6,
    "synthetic": 6,
    "metrics": 7,
    "auth": 7,
    "assessment": 8,
    "scenarios": 8,
    "cooperation": 8,
    "matchmaking": 8,
    "valuechain": 8,
    "watch": 8,
    "reports": 9,
    "api": 9,
    "web": 9,
    "cli": 9,
    "__init__": 10,
    "__main__": 10,
}

#: the only imports allowed between two surfaces (importer, imported)
SURFACE_EDGES: set[tuple[str, str]] = {
    ("cli", "api"),      # critmin serve starts the HTTP app
    ("cli", "reports"),  # critmin brief writes a report
    ("api", "web"),      # the app mounts the dashboard pages
    ("api", "reports"),  # the API serves the same report views as JSON
    ("web", "api"),      # pages share the server's atlas pool, principal and roundtable store
    ("web", "reports"),  # pages reuse the report views and charts
    ("reports", "web"),  # a self-contained brief inlines the dashboard's bundled plotly.js
}

#: analysis packages that may use each other (the cooperation what-if runs scenarios, the watch
#: rules evaluate metrics of every analysis)
ANALYSIS_EDGES: set[tuple[str, str]] = {
    ("cooperation", "assessment"),
    ("cooperation", "scenarios"),
    ("scenarios", "assessment"),
    ("watch", "assessment"),
    ("watch", "scenarios"),
    ("watch", "cooperation"),
    ("watch", "valuechain"),
    ("valuechain", "assessment"),
    ("valuechain", "scenarios"),
    ("valuechain", "cooperation"),
}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    rel = path.relative_to(SRC.parent).with_suffix("")
    package = list(rel.parts if path.name == "__init__.py" else rel.parts[:-1])
    if path.name == "__init__.py":
        package = package[:-1] if package[-1] == "__init__" else package
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "critmin"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
                if not node.module:  # from . import x
                    out += [(node.lineno, f"{target}.{a.name}") for a in node.names]
                    continue
            else:
                target = node.module or ""
            if target == "critmin":  # from critmin import errors
                out += [(node.lineno, f"critmin.{a.name}") for a in node.names]
            elif target.split(".")[0] == "critmin":
                out.append((node.lineno, target))
    return out


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_package_has_a_layer() -> None:
    tops = {p.relative_to(SRC).parts[0].removesuffix(".py") for p in _modules()}
    assert sorted(tops - LAYERS.keys()) == [], "add the new package to LAYERS and docs/architecture.md"


def test_architecture_page_lists_every_package() -> None:
    page = DOCS.read_text()
    tops = {p.relative_to(SRC).parts[0].removesuffix(".py") for p in _modules()} - {"__init__", "__main__"}
    missing = sorted(t for t in tops if f"`{t}" not in page and f"critmin/{t}" not in page)
    assert missing == [], f"docs/architecture.md does not mention: {missing}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layers(path: Path) -> None:
    here = path.relative_to(SRC).parts[0].removesuffix(".py")
    bad = []
    for line, target in _imports(path):
        there = _top(target)
        if there == here or there not in LAYERS:
            continue
        rank_here, rank_there = LAYERS[here], LAYERS[there]
        if rank_there < rank_here:
            continue
        if (here, there) in SURFACE_EDGES | ANALYSIS_EDGES:
            continue
        bad.append(f"{path.relative_to(SRC)}:{line} imports {target} ({here} -> {there})")
    assert bad == [], "\n".join(bad)
