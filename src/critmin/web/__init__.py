"""critmin's web dashboard: server-rendered Jinja2 pages with htmx and Plotly.js.

A thin surface over :mod:`critmin.reports` (the same calls the country brief makes), mounted on
the API's application by :func:`register` (called by :func:`critmin.api.create_app`). Sign-in,
sessions, CSRF and roles are the API's (:mod:`critmin.auth`, :func:`critmin.api._core.principal`);
every asset (Plotly.js from the ``plotly`` package, htmx, the world topology) is served by this
app, so no request leaves the machine. See ``docs/web.md``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

__all__ = ["WARMUP_ENV", "register", "router"]

#: Environment variable: ``1`` makes the application compute the data of the navigation pages in
#: its start-up warm-up thread (:mod:`critmin.api.warmup`; ``critmin serve`` sets it), logging
#: "pages warmed up" on uvicorn's log when done; ``0`` or unset (tests, embedding) leaves every
#: page to compute on first request.
WARMUP_ENV = "CRITMIN_WARMUP"


def router() -> APIRouter:
    """The pages (built on demand; nothing happens at import)."""
    from critmin.web.pages import build_router

    return build_router()


def register(app: FastAPI) -> None:
    """Add the pages and ``/static`` to ``app`` and make ``/`` the dashboard's home page
    (replacing the API's redirect to ``/docs``)."""
    from pathlib import Path

    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles

    app.router.routes[:] = [r for r in app.router.routes
                            if not (getattr(r, "path", None) == "/"
                                    and getattr(r, "name", "") == "root")]

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Any:
        return FileResponse(plotly_js_path(), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.include_router(router())
    from critmin.web.watch import build_router as watch_pages

    app.include_router(watch_pages())
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")


def plotly_js_path() -> Any:
    """The ``plotly.min.js`` bundled in the ``plotly`` Python package."""
    from pathlib import Path

    try:
        import plotly
    except ModuleNotFoundError:  # pragma: no cover - plotly is a dependency
        from critmin.errors import CritminError

        raise CritminError("the dashboard needs plotly: pip install 'plotly>=5'") from None
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
