"""The ``critmin`` command line: thin commands that call the library and format its answer.

Each command group lives in its own module and registers itself on :data:`app`.
"""

from __future__ import annotations

import sys

import typer

from critmin.errors import CritminError

app = typer.Typer(
    name="critmin",
    help="Critical-minerals supply-chain security: atlas, supply risk, scenarios, "
    "cooperation and business matchmaking.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from critmin.cli import atlas as _atlas  # noqa: F401  (registers commands)

    for name in ("assess", "metrics", "match", "scenario", "coop", "user", "serve", "scan", "brief", "watch"):
        try:
            __import__(f"critmin.cli.{name}")
        except ModuleNotFoundError as exc:  # a command group not written yet
            if exc.name != f"critmin.cli.{name}":
                raise


#: Commands that read the atlas; before running one on the default atlas when there is none, the
#: command line installs the bundled starter atlas (announced on stderr), so that the quick start
#: works on a fresh machine. The library itself never installs anything implicitly.
_READS_ATLAS = {"assess", "metrics", "scenario", "coop", "serve", "scan", "brief", "watch"}


def install_starter_if_missing(args: list[str]) -> None:
    """Install the starter atlas at the default path when ``args`` run an atlas-reading command
    without ``--db`` and no atlas is there yet."""
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
    _register()
    try:
        install_starter_if_missing(list(sys.argv[1:] if argv is None else argv))
        app(args=argv, prog_name="critmin")
    except CritminError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
