"""critmin's HTTP API (FastAPI): ``/api/v1``, OpenAPI at ``/openapi.json``, docs at ``/docs``.

A thin surface: every route parses its input, calls the same library function as the CLI and
formats the answer. :func:`create_app` builds the application (nothing happens at import);
``critmin serve`` runs it with uvicorn. Web pages live in :mod:`critmin.web` when it exists: a
``register(app)`` function there is called with the application (Jinja2 templates, same
library calls). See ``docs/api.md`` for the conventions and the stability promise.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from critmin import __version__, schema
from critmin.api._cache import ResponseCache, ResponseCacheMiddleware, cached
from critmin.api._core import (
    SESSION_COOKIE,
    AtlasPool,
    atlas_pool,
    authenticate_bearer,
    error_response,
    json_response,
    principal,
)
from critmin.errors import (
    AtlasError,
    ChoiceError,
    ConflictError,
    CritminError,
    InputError,
    NoDataError,
    SpecError,
)
from critmin.output import FILE_FORMATS

API_PREFIX = "/api/v1"

__all__ = ["API_PREFIX", "create_app"]


#: Environment variable: how many of the latest trade years the server's analytics compute at
#: start-up (:func:`critmin.api.analytics.warm_steps`; ``critmin serve --warm-years``; default 0).
WARM_YEARS_ENV = "CRITMIN_WARM_YEARS"

#: Environment variable: threads that run the synchronous handlers (``critmin serve --threads``;
#: default: anyio's 40).
THREADS_ENV = "CRITMIN_THREADS"


def create_app(atlas_path: str | Path | None = None, database_url: str | None = None, *,
               store: Any = None, upgrade: bool = True, web: bool = True,
               warm_years: int | None = None) -> FastAPI:
    """The application serving the atlas at ``atlas_path`` (default: ``$CRITMIN_ATLAS`` or the
    user data dir) with the operational database ``database_url`` (default:
    ``$CRITMIN_DATABASE_URL`` or SQLite in the user data dir), migrated on start. ``web``
    adds the pages of :mod:`critmin.web` when it is installed. When the application starts, one
    background thread warms up (:mod:`critmin.api.warmup`): the navigation pages' data and the
    docs page with ``$CRITMIN_WARMUP=1``, then, with ``warm_years`` (default
    ``$CRITMIN_WARM_YEARS``, else 0: nothing) > 0, the analytics' shared tables
    (:func:`critmin.api.analytics.warm_steps`)."""
    from critmin.api import accounts, analytics, coop, match, tables, watch
    from critmin.atlas import Atlas
    from critmin.storage import Store

    path = Atlas.open(atlas_path).path
    if store is None:
        store = Store(database_url)
    if upgrade:
        store.upgrade()
    app = FastAPI(
        title="critmin API", version=__version__,
        description="Critical-minerals supply-chain security: the atlas, supply-risk metrics, "
        "scenarios, cooperation registry and matchmaking. Conventions (formats by extension, "
        "column__op filters, _sort/_size/_next paging, annotations, errors) in docs/api.md. "
        "New keys may be added to responses; clients ignore keys they do not know.",
        openapi_url="/openapi.json", docs_url=None, redoc_url=None,
        lifespan=_lifespan)
    app.state.atlas = AtlasPool(path, page_index=True)
    app.state.release_pools = OrderedDict()  # ?_release= pools, see _core.atlas_pool
    app.state.warm_years = int(os.environ.get(WARM_YEARS_ENV, "0") or 0) \
        if warm_years is None else warm_years
    app.state.store = store
    app.state.overlay = coop.Overlay()
    app.state.response_cache = ResponseCache(path, session_cookie=SESSION_COOKIE)
    app.add_middleware(ResponseCacheMiddleware, cache=app.state.response_cache,
                       authenticate=authenticate_bearer,
                       direct=_direct_routes(tables.direct_route(API_PREFIX),  # no routing
                                             analytics.direct_route(API_PREFIX)))
    _handlers(app)

    # every route authenticates when credentials are sent (a bad token is a 401 everywhere)
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(principal)])

    @api.get("", tags=["meta"], summary="What this API serves")
    def index(request: Request) -> Response:
        pool = atlas_pool(request)
        return cached(request, lambda: json_response({
            "ok": True, "version": __version__, "atlas_version": pool.version,
            "tables": {n: {"kind": t.kind, "description": t.description,
                           "url": f"{API_PREFIX}/{n}", "key": t.key}
                       for n, t in schema.tables().items()},
            "docs": "/docs", "openapi": "/openapi.json",
        }))

    @api.get("/schema/{table}", tags=["meta"], summary="Columns of an atlas table")
    def table_schema(request: Request, table: str) -> Response:
        try:
            t = schema.table(table)
        except KeyError as exc:
            return error_response(404, str(exc.args[0]))
        return cached(request, lambda: json_response(
            {"ok": True, "name": t.name, "kind": t.kind, "description": t.description,
             "key": t.key, "columns": [vars(c) for c in t.columns]}))

    tables.register(api)  # first: most requests; no other route shares their paths
    api.include_router(accounts.router)
    api.include_router(analytics.router)
    api.include_router(coop.router)
    api.include_router(match.router)
    api.include_router(watch.router)
    app.include_router(api)

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/docs")

    app.state.web = False  # the dashboard pages are mounted (see the warm-up)
    if web:
        _register_web(app)
        app.state.web = True
    from critmin.api import _security

    _security.install(app, SESSION_COOKIE)  # last: the outermost middleware
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the warm-up (:mod:`critmin.api.warmup`: one daemon thread; the server answers
    meanwhile, and a request for something being computed waits for it) and the watch delivery
    loop."""
    from critmin.api import warmup, watch

    threads = int(os.environ.get(THREADS_ENV, "0") or 0)
    if threads > 0:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
    warmup.start(app)
    async with watch.delivery_loop(app):
        yield


def _register_web(app: FastAPI) -> None:
    """Serve the dashboard pages of :mod:`critmin.web` beside the API."""
    from critmin.web import register

    register(app)


def _message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


def _direct_routes(*directs: Any) -> Any:
    """One ``direct(scope, fallback)`` for :class:`ResponseCacheMiddleware`: the first of
    ``directs`` that answers the request (table pages, then analytic routes)."""

    def direct(scope: Any, fallback: Any) -> Any:
        for d in directs:
            app = d(scope, fallback)
            if app is not None:
                return app
        return None

    return direct


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(exc.status_code, str(exc.detail),
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        if any(tuple(e.get("loc", ())) == ("path", "fmt") for e in errors):
            return error_response(400, "unknown format: use " + ", ".join(
                f".{f.value}" for f in FILE_FORMATS))
        status = 422 if any(e.get("loc", ("",))[0] == "body" for e in errors) else 400
        return error_response(status, _message(errors))

    @app.exception_handler(ConflictError)
    async def conflict(_request: Request, exc: ConflictError) -> Response:
        return error_response(409, str(exc))

    @app.exception_handler(ChoiceError)
    @app.exception_handler(SpecError)
    async def spec_error(request: Request, exc: SpecError | ChoiceError) -> Response:
        # an invalid body is a 422; a bad query parameter a 400; an unknown record a 404
        if "has no record" in str(exc):
            return error_response(404, str(exc))
        return error_response(422 if request.method in ("POST", "PUT", "PATCH") else 400,
                              str(exc))

    @app.exception_handler(InputError)
    async def input_error(_request: Request, exc: InputError) -> Response:
        return error_response(400, str(exc))

    @app.exception_handler(NoDataError)
    async def no_data(_request: Request, exc: NoDataError) -> Response:
        return error_response(404, str(exc))

    @app.exception_handler(AtlasError)
    async def atlas_error(_request: Request, exc: AtlasError) -> Response:
        return error_response(503, str(exc))

    @app.exception_handler(CritminError)
    async def critmin_error(_request: Request, exc: CritminError) -> Response:
        from critmin.auth import AuthError

        return error_response(403 if isinstance(exc, AuthError) else 400, str(exc))

    @app.exception_handler(Exception)
    async def server_error(_request: Request, exc: Exception) -> Response:
        import logging

        logging.getLogger("critmin.api").exception("unhandled error", exc_info=exc)
        return error_response(500, f"internal error ({type(exc).__name__})")
