"""The ``critmin`` command line: thin commands that call the library and format its answer.

Each command group lives in its own module and registers itself on :data:`app`; every table goes
out through :func:`emit` (the shared output layer :mod:`critmin.output`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from critmin.errors import CritminError
from critmin.output import Format

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Format", "app", "emit", "main"]

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


#: Commands that read the atlas; before running one on the default atlas when there is none, the
#: command line installs the bundled starter atlas (announced on stderr), so that the quick start
#: works on a fresh machine. The library itself never installs anything implicitly.
_READS_ATLAS = {"assess", "metrics", "scenario", "coop", "serve", "scan", "brief", "watch"}


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
    """Entry point of the ``critmin`` console script."""
    try:
        install_starter_if_missing(list(sys.argv[1:] if argv is None else argv))
        app(args=argv, prog_name="critmin")
    except CritminError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)


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
    watch,
)
