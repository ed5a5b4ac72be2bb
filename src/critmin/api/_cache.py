"""Whole-response cache for the API's read-only atlas endpoints (a pure ASGI middleware).

The atlas is read-only while it is served, so the answer to an anonymous ``GET`` of an atlas
table, a row, the schema or an analytic is a function of the request line alone. This middleware
keeps such answers (status 200, whole body) and serves repeats without routing, dependency
resolution, the thread pool, DuckDB or JSON rendering.

What is cached, and for whom:

- only ``GET`` requests that carry no credentials (no ``Authorization`` header, no session
  cookie): a request with credentials goes through the full stack every time (a bad token is a
  401, a revoked one too, immediately), and nothing a signed-in user is shown is ever stored;
- only responses whose handler called :func:`mark_cacheable` during the request (the atlas table,
  row, schema, index and analytic routes do; the registry, matchmaking, accounts and web pages do
  not);
- the key is the request line as the handler saw it (scheme, ``Host``, root path, path, raw
  query string), so paging links that embed the host stay right;
- every entry belongs to one state of the atlas file (inode, size, modification time): when the
  file changes, the cache is emptied.
"""

from __future__ import annotations

import contextvars
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ResponseCache", "ResponseCacheMiddleware", "mark_cacheable"]

_CREDENTIAL_HEADERS = (b"authorization",)


class _Flag:
    __slots__ = ("cacheable",)

    def __init__(self) -> None:
        self.cacheable = False


# Set by the middleware for each request it may store; the handler's thread sees the same _Flag
# (contextvars are copied into the thread pool, the object is shared).
_REQUEST_FLAG: contextvars.ContextVar[_Flag | None] = contextvars.ContextVar(
    "critmin_response_cacheable", default=None)


def mark_cacheable() -> None:
    """Declare the response being built a pure function of the request line and the atlas file
    (no user, no operational data): :class:`ResponseCache` may store it for anonymous callers."""
    flag = _REQUEST_FLAG.get()
    if flag is not None:
        flag.cacheable = True


def file_signature(path: Path) -> tuple[int, int, int, int] | None:
    """``(device, inode, size, mtime_ns)`` of ``path`` (None when it cannot be read)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class ResponseCache:
    """An LRU of whole responses for anonymous ``GET`` requests of endpoints that call
    :func:`mark_cacheable`, emptied when the file at ``atlas_path`` changes; served by
    :class:`ResponseCacheMiddleware`.

    ``max_entries`` responses at most, none larger than ``max_body`` bytes, ``max_bytes`` in all.
    """

    def __init__(self, atlas_path: Path, *, session_cookie: str, max_entries: int = 1024,
                 max_body: int = 2 << 20, max_bytes: int = 64 << 20) -> None:
        self.atlas_path = Path(atlas_path)
        self.cookie = session_cookie.encode() + b"="
        self.max_entries = max_entries
        self.max_body = max_body
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[Any, ...], tuple[list[tuple[bytes, bytes]], bytes]] = \
            OrderedDict()
        self._bytes = 0
        self.signature: tuple[int, int, int, int] | None = None
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def current(self) -> tuple[int, int, int, int] | None:
        """The atlas file's signature now (the entries are dropped when it has changed)."""
        signature = file_signature(self.atlas_path)
        if signature != self.signature:
            self.clear()
            self.signature = signature
        return signature

    def get(self, key: tuple[Any, ...]) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
        hit = self._entries.get(key)
        if hit is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return hit

    def put(self, key: tuple[Any, ...], headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old[1])
        self._entries[key] = (headers, body)
        self._bytes += len(body)
        while self._entries and (len(self._entries) > self.max_entries
                                 or self._bytes > self.max_bytes):
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= len(dropped)


class ResponseCacheMiddleware:
    """Pure ASGI middleware serving and filling a :class:`ResponseCache`."""

    def __init__(self, app: ASGIApp, *, cache: ResponseCache) -> None:
        self.app = app
        self.cache = cache

    def _anonymous(self, scope: Scope) -> tuple[bool, bytes]:
        """Whether the request carries no credentials, and its ``Host`` header."""
        host = b""
        for name, value in scope["headers"]:
            if name in _CREDENTIAL_HEADERS:
                return False, host
            if name == b"cookie" and self.cache.cookie in value:
                return False, host
            if name == b"host":
                host = value
        return True, host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        anonymous, host = self._anonymous(scope)
        signature = self.cache.current() if anonymous else None
        if signature is None:
            await self.app(scope, receive, send)
            return
        key = (scope.get("scheme"), host, scope.get("root_path", ""), scope["path"],
               scope.get("query_string", b""))
        hit = self.cache.get(key)
        if hit is not None:
            headers, body = hit
            await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await self._fill(scope, receive, send, key, signature)

    async def _fill(self, scope: Scope, receive: Receive, send: Send, key: tuple[Any, ...],
                    signature: tuple[int, int, int, int]) -> None:
        """Run the app, passing every message on as it comes, and keep the response when the
        handler marked it cacheable and it is a complete 200 that sets no cookie."""
        flag = _Flag()
        token = _REQUEST_FLAG.set(flag)
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        keep = True
        complete = False

        async def tee(message: Message) -> None:
            nonlocal start, size, keep, complete
            if keep:
                if message["type"] == "http.response.start":
                    start = message
                    keep = message["status"] == 200 and not any(
                        n.lower() == b"set-cookie" for n, _ in message.get("headers", ()))
                elif message["type"] == "http.response.body":
                    body = message.get("body", b"")
                    size += len(body)
                    keep = size <= self.cache.max_body
                    chunks.append(body)
                    complete = not message.get("more_body", False)
                else:
                    keep = False
            await send(message)

        try:
            await self.app(scope, receive, tee)
        finally:
            _REQUEST_FLAG.reset(token)
        if keep and complete and flag.cacheable and start is not None \
                and self.cache.signature == signature:
            self.cache.put(key, [(bytes(n), bytes(v)) for n, v in start.get("headers", ())],
                           b"".join(chunks))
