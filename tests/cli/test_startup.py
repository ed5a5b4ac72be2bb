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
