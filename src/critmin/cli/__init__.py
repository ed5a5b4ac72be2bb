"""The ``critmin`` command line: thin commands that call the library and format its answer.

Each command group lives in its own module and registers itself on :data:`app`; every table goes
out through :func:`emit` (the shared output layer :mod:`critmin.output`).
"""

from __future__ import annotations

import os
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

#: The modules holding the commands, imported in this order (the order of the help listing).
COMMAND_MODULES = ("assess", "atlas", "brief", "coop", "match", "metrics", "scan", "scenario",
                   "serve", "user", "valuechain", "watch")


class _LazyGroup(typer.core.TyperGroup):
    """The root command group, whose commands are turned into click commands only when needed.

    Building the click command of every command (typer inspects each signature) costs more than
    the whole top-level help; so a command is built when it runs or its own help is shown, and the
    top-level help lists light entries carrying the same name and help text."""

    _listing = False

    def _infos(self) -> dict[str, Any]:
        import importlib

        for mod in COMMAND_MODULES:  # (cheap: the modules import nothing heavy)
            importlib.import_module(f"critmin.cli.{mod}")
        out: dict[str, Any] = {}
        for info in app.registered_commands:
            out[info.name or typer.main.get_command_name(info.callback.__name__)] = info
        for ginfo in app.registered_groups:
            out[ginfo.name or ""] = ginfo
        return out

    def list_commands(self, ctx: Any) -> list[str]:
        return [n for n in self._infos() if n]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        info = self._infos().get(cmd_name)
        if info is None:
            return None
        opts = {"pretty_exceptions_short": app.pretty_exceptions_short,
                "rich_markup_mode": app.rich_markup_mode}
        if isinstance(info, typer.models.CommandInfo):
            if self._listing:
                return typer.core.TyperCommand(
                    cmd_name, help=typer.main.inspect.getdoc(info.callback)
                    if info.help is None else typer.main.inspect.cleandoc(info.help),
                    short_help=info.short_help, hidden=info.hidden,
                    deprecated=info.deprecated, rich_help_panel=info.rich_help_panel)
            cmd = typer.main.get_command_from_info(info, **opts)
        else:
            if self._listing:
                solved = typer.main.solve_typer_info_defaults(info)
                return typer.core.TyperGroup(
                    name=cmd_name, help=solved.help, short_help=solved.short_help,
                    hidden=solved.hidden, deprecated=solved.deprecated,
                    rich_help_panel=solved.rich_help_panel)
            cmd = typer.main.get_group_from_info(
                info, suggest_commands=app.suggest_commands, **opts)
        self.commands[cmd_name] = cmd
        return cmd

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and self.get_command(ctx, args[0]) is None:
            for name in self.list_commands(ctx):  # "did you mean ...?" looks at every command
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="critmin",
    cls=_LazyGroup,
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
    from critmin import plans, provenance
    from critmin.atlas import RELEASE_ENV, Atlas

    # this command line, where it runs: the key of the plans it used last time (critmin.plans)
    run_key = "\0".join([os.getcwd(), os.environ.get(RELEASE_ENV, ""), *_argv])
    handle = analytic_atlas(db, engine, parquet, master)
    try:
        if isinstance(handle, Atlas):  # opened, and the queries the same command ran last time
            plans.prefetch(handle, run_key)  # started, while ``fn`` imports what it needs
            handle.open_in_background()
        try:
            with provenance.recording() as reads:
                result = fn(handle)
        finally:
            plans.forget()
        plans.remember(run_key)
        ann = provenance.atlas_annotations(handle, reads)
    except BaseException:
        handle.close()
        raise
    if isinstance(handle, Atlas):
        # the command only prints from here: its atlas closes when main() returns, or not at
        # all when the process ends at once (console(): closing DuckDB takes 15-40 ms)
        handle.wait_for_background()
        _open_atlases.append(handle)
    else:
        handle.close()
    global _quick_exit
    _quick_exit = True
    return result, ann


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


#: The arguments of the running command line (set by :func:`main`).
_argv: list[str] = []
#: Set by a command that only read and printed (:func:`run_analytic`): the process may end
#: without tearing the interpreter down (:func:`console`).
_quick_exit = False
#: Atlases a command read and left open for its output (:func:`run_analytic`), closed when
#: :func:`main` returns unless the process ends at once (:func:`console`).
_open_atlases: list[Atlas] = []
#: Set by :func:`console`: the process ends when :func:`main` returns.
_ending = False


def _close_atlases() -> None:
    while _open_atlases:
        _open_atlases.pop().close()


def console() -> None:
    """The ``critmin`` console script and ``python -m critmin.cli``: :func:`main`, then, after a
    command that only read the atlas and printed, the process ends with :func:`os._exit` once
    the ``atexit`` handlers have run and the standard streams are flushed: freeing pandas' and
    DuckDB's objects one by one at interpreter shutdown takes about 60 ms a person waits for
    and nothing needs (docs/benchmarks.md, interactive commands)."""
    global _ending
    _ending = True
    try:
        main()
    except SystemExit as exc:
        if not _quick_exit:
            raise
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
        import atexit
        import contextlib

        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # (a closed pipe: nothing to write)
                stream.flush()
        os._exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``critmin`` console script.

    Bad input (an unknown value, a missing option, a CritminError from the library) is one
    ``error: ...`` line on stderr and exit status 1, never a traceback or a usage box."""
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    global _argv
    _argv = list(sys.argv[1:] if argv is None else argv)
    try:
        install_starter_if_missing(_argv)
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
    finally:
        if not (_ending and _quick_exit):
            _close_atlases()
    sys.exit(rv if isinstance(rv, int) else 0)


# the command modules register themselves on ``app`` when the root group first lists or runs a
# command (:class:`_LazyGroup`), so that ``critmin --help`` builds no command it does not show
