"""The API docs page ``/docs``: Swagger UI from vendored assets (no CDN), quick to first render.

- The page arrives with every operation of the OpenAPI document already listed as HTML (method,
  path and summary per tag, each linked to its Swagger UI entry): that list is the first render,
  and it is the page for a browser without JavaScript. It is built once per application from
  :meth:`FastAPI.openapi` (:func:`docs_html`, computed by the start-up warm-up).
- ``critmin-docs.js`` (deferred) loads Swagger UI (``swagger-ui-bundle.js``, 1.7 MB, and its
  stylesheet) only after that first render, starts it on ``/openapi.json`` and removes the
  plain list once Swagger UI has rendered the operations.
- The vendored assets are served from memory (:class:`Asset`), gzip-compressed for clients that
  accept it, under URLs carrying a hash of their content (``?v=``), cached for a year
  (``immutable``); the same file without ``?v=`` is revalidated (``ETag``, ``304``).
"""

from __future__ import annotations

import gzip
import hashlib
import html
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

STATIC = Path(__file__).parent / "static"
#: The vendored files served from memory, with their media types (others: ``StaticFiles``).
ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
          "swagger-ui.css": "text/css; charset=utf-8",
          "critmin-docs.js": "text/javascript; charset=utf-8",
          "critmin-docs.css": "text/css; charset=utf-8"}
LONG_CACHE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
METHODS = ("get", "post", "put", "patch", "delete")


class Asset:
    """A vendored file held in memory: its bytes, their gzip compression (made on first use)
    and a hash of the content (the ``?v=`` of its URL and its ``ETag``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.media_type = ASSETS[name]
        self.body = (STATIC / name).read_bytes()
        self.version = hashlib.sha256(self.body).hexdigest()[:16]
        self._gzip: bytes | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"/docs-assets/{self.name}?v={self.version}"

    def gzipped(self) -> bytes:
        with self._lock:
            if self._gzip is None:
                self._gzip = gzip.compress(self.body, compresslevel=6, mtime=0)
            return self._gzip

    def response(self, request: Request) -> Response:
        etag = f'"{self.version}"'
        cache = LONG_CACHE if request.query_params.get("v") == self.version else REVALIDATE
        headers = {"Cache-Control": cache, "ETag": etag, "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(self.gzipped(), media_type=self.media_type,
                            headers={**headers, "Content-Encoding": "gzip"})
        return Response(self.body, media_type=self.media_type, headers=headers)


class DocsPage:
    """The ``/docs`` HTML and the in-memory assets of one application, each built once."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._assets: dict[str, Asset] = {}
        self._html: str | None = None
        self._lock = threading.Lock()

    def asset(self, name: str) -> Asset:
        with self._lock:
            if name not in self._assets:
                self._assets[name] = Asset(name)
            return self._assets[name]

    def html(self) -> str:
        if self._html is None:
            page = docs_html(self.app.openapi(), {n: self.asset(n).url for n in ASSETS})
            with self._lock:
                self._html = page
        return self._html

    def warm(self) -> None:
        """Build the page (and so the OpenAPI document) and compress the assets."""
        self.html()
        for name in ASSETS:
            self.asset(name).gzipped()


def operations(spec: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The operations of an OpenAPI document per tag, in document order: method, path, summary
    and the Swagger UI deep link (``#/{tag}/{operationId}``)."""
    out: dict[str, list[dict[str, str]]] = {}
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            tag = (op.get("tags") or ["default"])[0]
            out.setdefault(tag, []).append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "anchor": f"#/{tag}/{op.get('operationId', '')}"})
    return out


def docs_html(spec: dict[str, Any], urls: dict[str, str]) -> str:
    """The ``/docs`` page: the title, description and operations of ``spec`` as plain HTML,
    then the deferred script that replaces them with Swagger UI (``urls``: asset name → URL)."""
    esc = html.escape
    info = spec.get("info", {})
    parts = []
    for tag, ops in operations(spec).items():
        rows = "\n".join(
            f'<li><a href="{esc(o["anchor"])}"><span class="m m-{o["method"].lower()}">'
            f'{o["method"]}</span> <code>{esc(o["path"])}</code> {esc(o["summary"])}</a></li>'
            for o in ops)
        parts.append(f'<section><h2>{esc(tag)}</h2>\n<ul>\n{rows}\n</ul></section>')
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(info.get("title", "API"))}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{urls['critmin-docs.css']}">
<link rel="preload" href="{urls['swagger-ui-bundle.js']}" as="script">
<script defer src="{urls['critmin-docs.js']}" data-bundle="{urls['swagger-ui-bundle.js']}"
 data-css="{urls['swagger-ui.css']}"></script>
</head>
<body>
<div id="critmin-ops">
<h1>{esc(info.get("title", "API"))} <small>{esc(str(info.get("version", "")))}</small></h1>
<p>{esc(info.get("description", ""))}</p>
<p class="note">OpenAPI document: <a href="/openapi.json">/openapi.json</a>.
The interactive explorer (Swagger UI) loads below.</p>
{chr(10).join(parts)}
</div>
<div id="swagger-ui"></div>
</body>
</html>
"""


def install(app: FastAPI) -> DocsPage:
    """Add ``/docs`` and the in-memory ``/docs-assets/`` files to ``app`` (before any mount of
    ``/docs-assets``, which serves the licence files)."""
    page = DocsPage(app)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page.html())

    def server(name: str) -> Any:
        def serve(request: Request) -> Response:
            return page.asset(name).response(request)

        return serve

    for name in ASSETS:
        app.add_api_route(f"/docs-assets/{name}", server(name), methods=["GET"],
                          include_in_schema=False, name=f"docs-asset-{name}")
    app.state.docs_page = page
    return page
