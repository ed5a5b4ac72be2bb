"""``critmin serve`` (the HTTP API and web pages) and ``critmin db upgrade``."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from critmin.cli import app

if TYPE_CHECKING:
    import uvicorn

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


def tcp_listener(sock: socket.socket) -> socket.socket:
    """``sock`` declared as a TCP socket (``proto == IPPROTO_TCP``) if it is a TCP socket.

    asyncio sets ``TCP_NODELAY`` on an accepted connection only if the socket object says
    ``IPPROTO_TCP``, and an accepted socket inherits ``proto`` from the listening one. uvicorn
    binds the listening socket it shares with ``--workers`` processes as
    ``socket.socket(family)`` (``proto == 0``), so without this every keep-alive response waits
    for the client's delayed ACK (~40 ms) under Nagle's algorithm (uvicorn issue #3149). The
    kernel socket is unchanged (``proto`` 0 is TCP for ``SOCK_STREAM``); only the Python object
    is re-created around the same descriptor. Other sockets (Unix domain) are returned as they are.
    """
    if (sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM
            and sock.proto != socket.IPPROTO_TCP):
        return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    return sock


def run_server(config: uvicorn.Config) -> None:
    """What ``uvicorn.run`` does with a ``Config`` (no reload), except that the socket shared by
    ``config.workers`` > 1 processes is a ``tcp_listener`` (with one worker, uvicorn's own
    ``create_server(host, port)`` already listens on an ``IPPROTO_TCP`` socket)."""
    import sys

    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.server import Server
    from uvicorn.supervisors import Multiprocess

    server = Server(config=config)
    try:
        if config.workers > 1:
            Multiprocess(config, sockets=[tcp_listener(config.bind_socket())]).run()
        else:
            server.run()
    except KeyboardInterrupt:  # pragma: no cover
        pass
    if config.workers == 1 and not server.started:
        sys.exit(STARTUP_FAILURE)


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
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        "--forwarded-allow-ips", help="Comma-separated addresses of reverse proxies whose "
        "X-Forwarded-For / X-Forwarded-Proto headers are trusted (default: none, so the client "
        "address is the TCP peer's: the login rate limit cannot be dodged with a forged "
        "header).")] = None,
    warm_years: Annotated[int, typer.Option(
        "--warm-years", min=0, help="Compute the analytics' tables (assess of every country, "
        "N-1, GeoPolRisk, concentration) for this many of the latest trade years in each worker "
        "at start-up, in the background; other years are computed when first asked. 0: none.")
    ] = 5,
    threads: Annotated[int, typer.Option(
        "--threads", min=0, help="Threads per worker that run the request handlers (0: "
        "anyio's default, 40). Each worker's Python code runs one thread at a time: fewer "
        "threads queue requests instead of interleaving them.")] = 0,
) -> None:
    """Serve the HTTP API (/api/v1, docs at /docs) and the web pages with uvicorn."""
    import os

    from critmin.api import THREADS_ENV, WARM_YEARS_ENV
    from critmin.atlas import Atlas
    from critmin.storage import Store

    atlas_path = Atlas.open(db).path  # installs the starter atlas on first use
    store = Store(database_url)
    store.upgrade()  # migrations run on first start
    os.environ["CRITMIN_ATLAS"] = str(atlas_path)
    os.environ["CRITMIN_DATABASE_URL"] = store.url
    os.environ[WARM_YEARS_ENV] = str(warm_years)
    if threads:
        os.environ[THREADS_ENV] = str(threads)
    os.environ.setdefault("CRITMIN_WARMUP", "1")  # the navigation pages' data, at start-up
    run_server(server_config(host=host, port=port, workers=workers, log_level=log_level,
                             forwarded_allow_ips=forwarded_allow_ips))


def server_config(*, forwarded_allow_ips: str | None = None, **options: object) -> uvicorn.Config:
    """uvicorn's configuration for ``critmin serve``. Proxy headers are honoured only from the
    addresses in ``forwarded_allow_ips``: uvicorn's own default trusts them from 127.0.0.1 (and
    from ``$FORWARDED_ALLOW_IPS``), so any local client or a proxy passing the header through
    could pick its address."""
    import uvicorn

    ips = (forwarded_allow_ips or "").strip()
    options.setdefault("timeout_worker_healthcheck", WORKER_HEALTHCHECK_S)
    return uvicorn.Config("critmin.api:create_app", factory=True, proxy_headers=bool(ips),
                          forwarded_allow_ips=ips or "", **options)  # type: ignore[arg-type]


#: Seconds a worker (``--workers`` > 1) may take to answer the supervisor's health check before
#: it is killed and restarted. uvicorn's default, 5 s, killed busy workers: the answer comes from
#: a Python thread of the worker, which waits for the GIL while the worker's threads compute
#: (an analytics warm-up, a burst of cache misses on a loaded machine); a killed worker drops
#: every request it holds and starts cold (docs/benchmarks.md, reads under write load).
WORKER_HEALTHCHECK_S = 60
