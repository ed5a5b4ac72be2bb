"""Whole-response cache for the API's read-only atlas endpoints.

The atlas is read-only while it is served, so the answer to a ``GET`` of an atlas table, a row,
the schema or an analytic depends on the request line alone, never on who asks (those routes
only require that credentials, when sent, are valid). Such handlers wrap their work in
:func:`cached`: the response is kept under the request line and given again to the next caller
of the same line, whoever it is, once that caller has been authenticated like any other.

:class:`ResponseCacheMiddleware` (pure ASGI) serves the kept responses before routing,
dependency resolution and the thread pool to requests that carry no credentials at all (no
``Authorization`` header, no session cookie) and to requests whose bearer token it has just
checked in the operational database (every request: a revoked token is refused at once). Any
other request (a bad or revoked token, a session cookie) goes through the full stack, which
answers a bad credential with its error, and meets the cache only inside the handler.
On a miss of such a request for an atlas table page or row, the middleware hands it to that
route's handler directly (:func:`critmin.api.tables.direct_route`: same handler, same thread
pool, no routing; anything the handler refuses goes through the full stack).

- The key is the request line as the handler sees it: scheme, ``Host`` (paging links embed it),
  root path, path and raw query string.
- Only complete ``200`` responses whose body is in memory are kept (never a stream, never one
  setting a cookie), at most :attr:`ResponseCache.max_body` bytes each.
- Every entry belongs to one state of the atlas file (device, inode, size, modification time):
  when the file changes, the cache is emptied.
- Registry, matchmaking, account and web-page routes do not use it (their answers depend on the
  operational database or on the caller).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ResponseCache", "ResponseCacheMiddleware", "cached"]

Key = tuple[Any, ...]
Signature = tuple[int, int, int, int]


def file_signature(path: Path) -> Signature | None:
    """``(device, inode, size, mtime_ns)`` of ``path`` (None when it cannot be read)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def request_key(scope: Scope) -> Key:
    """The request line a kept response answers."""
    host = b""
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
            break
    return (scope.get("scheme"), host, scope.get("root_path", ""), scope["path"],
            scope.get("query_string", b""))


class ResponseCache:
    """An LRU of whole responses (raw headers and body) for the atlas at ``atlas_path``, emptied
    when that file changes; thread-safe (handlers run in the thread pool).

    ``max_entries`` responses at most, none larger than ``max_body`` bytes, ``max_bytes`` in all.
    """

    def __init__(self, atlas_path: Path, *, session_cookie: str, max_entries: int = 1024,
                 max_body: int = 2 << 20, max_bytes: int = 64 << 20) -> None:
        self.atlas_path = Path(atlas_path)
        self.cookie = session_cookie.encode() + b"="
        self.max_entries = max_entries
        self.max_body = max_body
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[Key, tuple[list[tuple[bytes, bytes]], bytes]] = OrderedDict()
        self._bytes = 0
        self._signature: Signature | None = None
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _current(self, signature: Signature | None) -> Signature | None:
        """``signature`` (the atlas file's, read by the caller before taking the lock: a system
        call under the lock would let every other thread queue on it, the event loop included);
        the entries are dropped when it has changed (call under the lock)."""
        if signature != self._signature:
            self._entries.clear()
            self._bytes = 0
            self._signature = signature
        return signature

    def get(self, key: Key) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
        """The kept ``(raw headers, body)`` for ``key`` (None when there is none, or when the
        atlas file has changed or cannot be read)."""
        signature = file_signature(self.atlas_path)
        with self._lock:
            hit = self._entries.get(key) if self._current(signature) is not None else None
            if hit is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return hit

    def put(self, key: Key, response: Response) -> None:
        """Keep ``response`` under ``key`` when it is a complete 200 that sets no cookie and is
        at most :attr:`max_body` bytes."""
        body = getattr(response, "body", None)
        if response.status_code != 200 or not isinstance(body, bytes) \
                or len(body) > self.max_body \
                or any(name == b"set-cookie" for name, _ in response.raw_headers):
            return
        headers = list(response.raw_headers)
        signature = file_signature(self.atlas_path)
        with self._lock:
            if self._current(signature) is None:
                return
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._entries[key] = (headers, body)
            self._bytes += len(body)
            while self._entries and (len(self._entries) > self.max_entries
                                     or self._bytes > self.max_bytes):
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= len(dropped)


def cached(request: Request, build: Callable[[], Response]) -> Response:
    """The response kept for ``request``'s line, else ``build()``'s (kept when it can be).

    Only for handlers whose answer depends on the request line and the atlas alone: not on the
    caller, not on the operational database."""
    cache: ResponseCache | None = getattr(request.app.state, "response_cache", None)
    if cache is None or request.method != "GET":
        return build()
    key = request_key(request.scope)
    hit = cache.get(key)
    if hit is not None:
        response = Response(hit[1], status_code=200)
        response.raw_headers = list(hit[0])
        return response
    response = build()
    cache.put(key, response)
    return response


class ResponseCacheMiddleware:
    """Pure ASGI middleware: serve a :class:`ResponseCache` hit to a ``GET`` before routing when it
    carries no credentials at all, or an ``Authorization`` header that ``authenticate(scope,
    header)`` accepts (a valid bearer token, checked on every request); everything else (a bad
    header, a session cookie, a miss) passes through untouched to the full stack, which answers a
    bad credential with its error."""

    def __init__(self, app: ASGIApp, *, cache: ResponseCache,
                 authenticate: Callable[[Scope, bytes], Awaitable[bool]] | None = None,
                 direct: Callable[[Scope, ASGIApp], ASGIApp | None] | None = None) -> None:
        self.app = app
        self.cache = cache
        self.authenticate = authenticate
        #: on a miss of such a request: ``direct(scope, app)``, an app answering it without the
        #: routing (None: the full stack answers)
        self.direct = direct

    def _credentials(self, scope: Scope) -> bytes | None:
        """The ``Authorization`` header (it wins over a cookie, as in the API's authentication);
        b"" for a session cookie alone; None when the request has no credentials."""
        found = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                return value
            if name == b"cookie" and self.cache.cookie in value:
                found = b""
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            credentials = self._credentials(scope)
            if credentials is None or (credentials and self.authenticate is not None
                                       and await self.authenticate(scope, credentials)):
                hit = self.cache.get(request_key(scope))
                if hit is not None:
                    headers, body = hit
                    await send({"type": "http.response.start", "status": 200,
                                "headers": list(headers)})
                    await send({"type": "http.response.body", "body": body,
                                "more_body": False})
                    return
                app = self.direct(scope, self.app) if self.direct is not None else None
                if app is not None:
                    await app(scope, receive, send)
                    return
        await self.app(scope, receive, send)
