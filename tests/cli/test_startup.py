"""The command line starts without the heavy libraries: they load in the commands that use them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


def test_opening_the_atlas_and_running_a_plan_loads_neither_pyarrow_nor_pandas(
        fixture_atlas: Path) -> None:
    """A command line opens the atlas and starts its saved queries (with their reference
    tables) in the background while it imports pandas: none of that may need pyarrow, pandas
    or numpy, or the queries would wait for the import instead of running beside it."""
    code = ("import sys\n"
            "from critmin import plans\n"
            "from critmin.atlas import Atlas\n"
            f"a = Atlas({str(fixture_atlas)!r})\n"
            "cur = a.duckdb_connection.cursor()\n"
            "plans._register(cur, {'critmin_ref_x': {'types': {'m': 'string', 'f': 'float64'},"
            " 'columns': {'m': ['cobalt'], 'f': [0.5]}}})\n"
            "n = cur.execute('SELECT count(*) FROM production JOIN critmin_ref_x "
            "ON production.mineral = critmin_ref_x.m').fetchall()[0][0]\n"
            "assert n > 0, n\n"
            "print(','.join(m for m in ('pyarrow', 'pandas', 'numpy') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_top_level_help_lists_every_command_with_its_help(cli: object) -> None:
    """The root group lists light entries (no command is built for ``--help``); each carries the
    first line of the command's own help, as the full command tree would."""
    import typer
    from typer._click.core import Context

    from critmin.cli import app
    from critmin.cli.docs import commands

    out = subprocess.run([sys.executable, "-m", "critmin.cli", "--help"], capture_output=True,
                         text=True, check=True, env={**__import__("os").environ,
                                                     "COLUMNS": "400"}).stdout
    top = {name: cmd for name, cmd in commands() if " " not in name}
    assert {"assess", "concentration", "geopolrisk", "scenario", "atlas", "serve"} <= set(top)
    for name, cmd in top.items():
        first = " ".join((cmd.help or "").split("\n\n")[0].split())
        assert f" {name} " in out, name
        assert first[:60] in " ".join(out.split()), name
    root = typer.main.get_command(app)
    assert root.get_command(Context(root), "asses") is None  # unknown names stay unknown


def test_unknown_command_suggests_the_closest(capsys: object) -> None:
    out = subprocess.run([sys.executable, "-m", "critmin.cli", "asess"], capture_output=True,
                         text=True)
    assert out.returncode == 1
    assert out.stderr.strip() == "error: No such command 'asess'. Did you mean 'assess'?"


#: Interactive commands whose hot path runs package SQL on DuckDB (issue 17 item 3), and the
#: libraries they must not load for it.
SQL_PATH_COMMANDS = [
    (["geopolrisk", "--economy", "JPN", "--year", "2022"], ("ibis",)),
    (["concentration", "--mineral", "cobalt"], ("ibis",)),
    # their Ibis queries' SQL is kept after a first run (critmin.plans): warm, no Ibis
    (["assess", "JPN"], ("ibis",)),
    (["scenario", "n-minus-1", "--year", "2024"], ("ibis",)),
]


@pytest.mark.parametrize(("args", "absent"), SQL_PATH_COMMANDS,
                         ids=[" ".join(a[:2]) for a, _ in SQL_PATH_COMMANDS])
def test_interactive_command_runs_without_ibis(fixture_atlas: Path, args: list[str],
                                               absent: tuple[str, ...]) -> None:
    code = ("import atexit, sys\n"
            "atexit.register(lambda: sys.stderr.write('LOADED=' + ','.join(\n"
            f"    m for m in {HEAVY!r} if m in sys.modules) + '\\n'))\n"
            "from critmin.cli import main\n"
            f"main({[*args, '--db', str(fixture_atlas)]!r})\n")
    for _ in range(2):  # the second run is warm (a plan saved by the first, critmin.plans)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) > 1  # a header and rows: the command did its work
    loaded = set(out.stderr.rsplit("LOADED=", 1)[1].strip().split(","))
    assert not loaded & set(absent), f"critmin {' '.join(args)} imported {sorted(loaded)}"
