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

    for name in ("assess", "metrics", "match", "scenario", "coop", "user", "serve", "scan", "brief",
                 "valuechain"):
        try:
            __import__(f"critmin.cli.{name}")
        except ModuleNotFoundError as exc:  # a command group not written yet
            if exc.name != f"critmin.cli.{name}":
                raise


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``critmin`` console script."""
    _register()
    try:
        app(args=argv, prog_name="critmin")
    except CritminError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
