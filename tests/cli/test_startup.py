"""The command line starts without the heavy libraries: they load in the commands that use them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "numpy", "pyarrow", "ibis", "duckdb", "fastapi", "ortools", "sqlalchemy",
         "pyspark", "rich")


def test_help_imports_no_heavy_library() -> None:
    code = ("import sys, io, contextlib\n"
            "from critmin.cli import app\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n"
            "        app(['--help'], prog_name='critmin')\n"
            "    except SystemExit:\n"
            "        pass\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(filter(None, out.stdout.strip().split(",")))
    # typer renders help with rich when it is installed; nothing else heavy may load
    assert loaded <= {"rich"}, f"critmin --help imported {sorted(loaded - {'rich'})}"


def test_cli_import_loads_no_heavy_library() -> None:
    code = f"import sys, critmin.cli\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
