"""``critmin serve`` (the HTTP API and web pages) and ``critmin db upgrade``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from critmin.cli import app

db_app = typer.Typer(help="The operational database (accounts, matchmaking, audit log).",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade_cmd(
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Default: $CRITMIN_DATABASE_URL or a SQLite file in the user "
        "data dir.")] = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Run the database migrations (creates the database on first use)."""
    from critmin.storage import Store

    store = Store(database_url)
    store.upgrade(revision)
    typer.echo(f"database at revision {store.current_revision()}: {store.engine.url!r}")


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Default: $CRITMIN_DATABASE_URL or a SQLite file in the user "
        "data dir.")] = None,
    db: Annotated[Path | None, typer.Option("--db", help="Atlas file (default: $CRITMIN_ATLAS "
                                            "or the user data dir).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API (/api/v1, docs at /docs) and the web pages with uvicorn."""
    import os

    import uvicorn

    from critmin.atlas import Atlas
    from critmin.storage import Store

    atlas_path = Atlas.open(db).path  # installs the starter atlas on first use
    store = Store(database_url)
    store.upgrade()  # migrations run on first start
    os.environ["CRITMIN_ATLAS"] = str(atlas_path)
    os.environ["CRITMIN_DATABASE_URL"] = store.url
    uvicorn.run("critmin.api:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=log_level)
