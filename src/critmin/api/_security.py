"""HTTP hardening shared by the API and the web pages (pure ASGI middleware, outermost).

- :class:`SecurityHeaders`: a Content-Security-Policy (scripts and everything else from this
  origin only; no inline script; framing refused), ``X-Frame-Options: DENY``,
  ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin`` on every response.
- :class:`BodyLimit`: a request body over :data:`MAX_BODY_BYTES` is refused with 413 before it is
  parsed (a declared ``Content-Length`` at once, a chunked body as soon as it passes the limit).
- :class:`OriginCheck`: a state-changing request carrying the session cookie, and every sign-in
  (``POST /login``, ``POST /api/v1/auth/login``), must come from this site: its ``Origin`` (or,
  without one, its ``Referer``) must be this server's origin or one listed in
  ``$CRITMIN_ALLOWED_ORIGINS``. Requests with a bearer token are not checked (browsers never add
  one on their own). A request with a session cookie and neither header is refused; a sign-in
  with neither header (a script, not a browser: browsers send ``Origin`` on every POST) passes.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The largest request body accepted (bytes); ``$CRITMIN_MAX_BODY_BYTES`` overrides it.
MAX_BODY_BYTES = 1024 * 1024

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
       "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOGIN_PATHS = frozenset({"/login", "/api/v1/auth/login"})


def max_body_bytes() -> int:
    raw = os.environ.get("CRITMIN_MAX_BODY_BYTES")
    return int(raw) if raw and raw.isdigit() else MAX_BODY_BYTES


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *[(k, v) for k, v in HEADERS if k not in names]]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _answer(send: Send, status: int, message: str) -> None:
    body = orjson.dumps({"ok": False, "error": message, "status": status})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int | None = None) -> None:
        self.app = app
        self.limit = limit if limit is not None else max_body_bytes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        too_big = f"request body over {limit} bytes"
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _answer(send, 400, "invalid Content-Length header")
                return
            if int(declared) > limit:
                await _answer(send, 413, too_big)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, too_big)
            return message

        await self.app(scope, counted, send)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(scope: Scope) -> set[str]:
    """This server's own origin (scheme and ``Host`` of the request) and the configured ones."""
    headers = Headers(scope=scope)
    host = headers.get("host") or ""
    own = {f"{scope.get('scheme', 'http')}://{host}".lower()} if host else set()
    extra = os.environ.get("CRITMIN_ALLOWED_ORIGINS", "")
    return own | {o.strip().rstrip("/").lower() for o in extra.split(",") if o.strip()}


def cross_site(scope: Scope, session_cookie: str) -> str | None:
    """Why a request must be refused as cross-site (None when it may pass)."""
    if scope["type"] != "http" or scope["method"] not in UNSAFE:
        return None
    headers = Headers(scope=scope)
    if headers.get("authorization"):
        return None
    cookie = headers.get("cookie") or ""
    with_cookie = any(part.strip().startswith(session_cookie + "=")
                      for part in cookie.split(";"))
    if not with_cookie and scope["path"] not in LOGIN_PATHS:
        return None
    origin = headers.get("origin")
    referer = headers.get("referer")
    if origin is None and referer is None:
        return ("cross-site check: a request made with the session cookie needs an Origin or "
                "Referer header" if with_cookie else None)
    seen = origin if origin is not None else _origin(referer or "")
    if seen is None or seen.lower() not in allowed_origins(scope):
        return f"cross-site request refused: origin {seen or referer!r} is not this site"
    return None


class OriginCheck:
    def __init__(self, app: ASGIApp, session_cookie: str) -> None:
        self.app = app
        self.session_cookie = session_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        why = cross_site(scope, self.session_cookie)
        if why is not None:
            await _answer(send, 403, why)
            return
        await self.app(scope, receive, send)


def install(app: Any, session_cookie: str) -> None:
    """Add the middleware (outermost: they see every response, errors included) and the ``/docs``
    page with its vendored assets (:mod:`critmin.api._docs`)."""
    from pathlib import Path

    from fastapi.staticfiles import StaticFiles

    from critmin.api import _docs

    app.add_middleware(OriginCheck, session_cookie=session_cookie)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    _docs.install(app)  # before the mount: the page and its assets from memory
    app.mount("/docs-assets", StaticFiles(directory=Path(__file__).parent / "static"),
              name="docs-assets")  # the licence files
