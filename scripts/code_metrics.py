"""Size figures of the source tree for docs/benchmarks.md: code lines per package and the longest
functions.

A code line is a non-blank line that is neither a comment nor part of a docstring (SQL files
under the package are counted apart). A function's length is its ``def`` line to its last line.

    python scripts/code_metrics.py [SRC]        # SRC defaults to src/critmin
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path


def _docstring_lines(tree: ast.Module) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                out.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return out


def measure(src: Path) -> tuple[Counter[str], list[tuple[int, str]], int]:
    """(code lines per package, [(length, 'file:function')] longest first, SQL lines)."""
    per_package: Counter[str] = Counter()
    functions: list[tuple[int, str]] = []
    for path in sorted(src.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        skip = _docstring_lines(tree)
        code = sum(1 for i, line in enumerate(text.splitlines(), 1)
                   if line.strip() and not line.strip().startswith("#") and i not in skip)
        rel = path.relative_to(src)
        per_package[rel.parts[0] if len(rel.parts) > 1 else "(top-level modules)"] += code
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                functions.append((length, f"{rel}:{node.name}"))
    sql = sum(1 for p in src.rglob("*.sql") for line in p.read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.strip().startswith("--"))
    return per_package, sorted(functions, reverse=True), sql


def main(argv: list[str]) -> None:
    src = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "src" / "critmin"
    per_package, functions, sql = measure(src)
    print("| package | code lines |\n|---|---:|")
    for name, n in sorted(per_package.items()):
        print(f"| {name} | {n:,} |")
    print(f"| **total** | **{sum(per_package.values()):,}** |")
    print(f"\nSQL files: {sql:,} code lines")
    print("\nlongest functions: " + "; ".join(f"`{f}` {n}" for n, f in functions[:5]))


if __name__ == "__main__":
    main(sys.argv[1:])
