"""The ``critmin`` command line: thin commands that call the library and format its answer.

Each command group lives in its own module and registers itself on :data:`app`; every table goes
out through :func:`emit` (the shared output layer :mod:`critmin.output`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from critmin.errors import CritminError
from critmin.output import Format

if TYPE_CHECKING:
    import pandas as pd

    from critmin.atlas import Atlas
    from critmin.engine import ParquetAtlas

__all__ = ["Format", "analytic_atlas", "app", "duckdb_atlas", "emit", "main", "run_analytic"]

T = TypeVar("T")

app = typer.Typer(
    name="critmin",
    help="Critical-minerals supply-chain security: atlas, supply risk, scenarios, "
    "cooperation and business matchmaking.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(release: Annotated[list[str] | None, typer.Option(
        "--release", help="Pin a source family to a release (e.g. MCS2024; repeatable). By "
        "default every analysis reads each family's latest release.")] = None) -> None:
    if release:
        import os

        from critmin.atlas import RELEASE_ENV

        os.environ[RELEASE_ENV] = ",".join(release)


def emit(df: pd.DataFrame, fmt: Format | str, *, title: str | None = None,
         output: str | None = None, notes: list[str] | None = None,
         ann: dict[str, Any] | None = None) -> None:
    """Write ``df`` in ``fmt`` to ``output`` (a file) or stdout.

    ``table`` prints a terminal table with ``notes`` (footnotes) and the sources of ``ann`` below
    it; the file formats write :func:`critmin.output.write` (parquet and xlsx to a file or a
    non-terminal stdout), with the sources in the file where the format has room (parquet
    metadata, an xlsx sheet)."""
    from critmin import output as out

    fmt = Format(fmt)
    if fmt is Format.table:
        lines = list(notes or [])
        if ann:
            lines += [f"Sources: {ann['source']}" if ann.get("source") else "",
                      f"Licence: {ann['licence']}" if ann.get("licence") else ""]
        text = out.text_table(df, title=title, notes=[x for x in lines if x])
        if output:
            with open(output, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            sys.stdout.write(text)
        return
    data = out.write(df, fmt, ann=ann)
    if output:
        with open(output, "wb") as f:
            f.write(data)
    elif fmt in (Format.parquet, Format.xlsx) and sys.stdout.isatty():
        raise CritminError(f"--format {fmt.value} writes binary data: give --output FILE or "
                           "redirect stdout to a file")
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


def analytic_atlas(db: Path | None, engine: str | None = None, parquet: str | None = None,
                   master: str | None = None) -> Atlas | ParquetAtlas:
    """The atlas on the chosen engine (``--engine``, else ``$CRITMIN_ENGINE``, else DuckDB), for
    the commands whose library calls run on both engines."""
    from critmin.engine import open_atlas

    return open_atlas(engine, parquet=parquet, path=db, master=master)


def run_analytic(fn: Callable[[Any], T], db: Path | None, engine: str | None = None,
                 parquet: str | None = None, master: str | None = None
                 ) -> tuple[T, dict[str, Any]]:
    """``fn(atlas)`` on the chosen engine, and the annotations (sources, licence, atlas
    version) of the tables and source families it read (:mod:`critmin.provenance`)."""
    from critmin import provenance

    with analytic_atlas(db, engine, parquet, master) as handle:
        with provenance.recording() as reads:
            result = fn(handle)
        return result, provenance.atlas_annotations(handle, reads)


def duckdb_atlas(db: Path | None, command: str) -> Atlas:
    """The DuckDB atlas for a command that runs on DuckDB only; with ``$CRITMIN_ENGINE=spark``
    it refuses (one line) rather than run silently on DuckDB."""
    from critmin.atlas import Atlas
    from critmin.engine import engine_name

    if engine_name() != "duckdb":
        raise CritminError(f"'critmin {command}' runs on DuckDB only: unset $CRITMIN_ENGINE or "
                           "set it to duckdb")
    return Atlas.open(db)


#: Commands that read the atlas; before running one on the default atlas when there is none, the
#: command line installs the bundled starter atlas (announced on stderr), so that the quick start
#: works on a fresh machine. The library itself never installs anything implicitly.
_READS_ATLAS = {"assess", "concentration", "geopolrisk", "scenario", "coop", "serve", "scan",
                "brief", "watch"}


def install_starter_if_missing(args: list[str]) -> None:
    """Install the starter atlas at the default path when ``args`` run an atlas-reading command
    without ``--db`` and no atlas is there yet."""
    while args[:1] == ["--release"]:  # the global option comes before the command
        args = args[2:]
    if not args or any(a in ("--help", "-h") for a in args):
        return
    reads = args[0] in _READS_ATLAS or args[:2] == ["atlas", "info"]
    if not reads or any(a == "--db" or a.startswith("--db=") for a in args):
        return
    from critmin.atlas import default_path

    path = default_path()
    if not path.exists():
        from critmin import starter

        starter.install(path)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``critmin`` console script.

    Bad input (an unknown value, a missing option, a CritminError from the library) is one
    ``error: ...`` line on stderr and exit status 1, never a traceback or a usage box."""
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    try:
        install_starter_if_missing(list(sys.argv[1:] if argv is None else argv))
        rv = app(args=argv, prog_name="critmin", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # the help was printed
        sys.exit(exc.exit_code)
    except UsageError as exc:
        msg = exc.format_message().replace("Value error, ", "")
        typer.echo(f"error: {' '.join(msg.split())}", err=True)
        sys.exit(1)
    except CritminError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)


# the command groups register themselves on ``app`` (plain imports: a missing module is an error)
from critmin.cli import (  # noqa: E402, F401
    assess,
    atlas,
    brief,
    coop,
    match,
    metrics,
    scan,
    scenario,
    serve,
    user,
    valuechain,
    watch,
)
