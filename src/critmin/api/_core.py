"""Shared machinery of the HTTP API: atlas connections, annotations, formats, errors, auth deps."""

from __future__ import annotations

import base64
import binascii
import contextlib
import contextvars
import csv
import datetime as dt
import io
import json
import math
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
from fastapi import HTTPException, Request
from fastapi import Path as FastAPIPath
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from critmin import output, provenance, schema
from critmin.auth import Principal, from_session, from_token
from critmin.output import FILE_FORMATS, MEDIA, Format, dumps
from critmin.storage import Store

ANONYMOUS = Principal()
SESSION_COOKIE = "critmin_session"
CSRF_HEADER = "X-CSRF-Token"
REFERENCE_SOURCE = provenance.REFERENCE_SOURCE


#: The format extension of a path (``/assess/JPN.csv``): one of
#: :data:`critmin.output.FILE_FORMATS`, turned into a :class:`~critmin.output.Format` by the route.
FmtPath = Annotated[str, FastAPIPath(
    pattern="^(" + "|".join(f.value for f in FILE_FORMATS) + ")$",
    description="Format: " + ", ".join(f.value for f in FILE_FORMATS))]


def fail(status: int, message: str) -> HTTPException:
    """An HTTP error rendered as ``{"ok": false, "error": message, "status": status}``."""
    return HTTPException(status_code=status, detail=message)


def error_response(status: int, message: str, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message, "status": status}, status_code=status,
                        headers=headers)


# ------------------------------------------------------------------------------------ atlas


#: Set while a handler runs on the event loop (:func:`on_the_loop`): ``"memory"`` (reaching
#: DuckDB raises :class:`NeedsThread`) or ``"kept"`` (short DuckDB reads allowed, a whole-atlas
#: table not computed yet raises it); the caller then runs the handler again in the thread pool.
_ON_THE_LOOP: contextvars.ContextVar[str | None] = contextvars.ContextVar("critmin_on_the_loop",
                                                                         default=None)


class NeedsThread(Exception):
    """Raised where a handler running on the event loop would wait on DuckDB."""


@contextlib.contextmanager
def on_the_loop(*, kept: bool = False) -> Iterator[None]:
    """Within: an :class:`AtlasPool` raises :class:`NeedsThread` instead of touching DuckDB
    (a cursor, a connection, an index not loaded yet), so what is answered in memory (a table
    page from its index, a kept response) never blocks the event loop. With ``kept``: instead,
    only what would compute a whole-atlas table (:meth:`AtlasPool.shared`, seconds) or open
    the atlas raises it; an analytic answer filtered from kept tables runs on the loop (its
    few lookups included), like a table page, rather than waiting for the GIL in a thread."""
    token = _ON_THE_LOOP.set("kept" if kept else "memory")
    try:
        yield
    finally:
        _ON_THE_LOOP.reset(token)


def _off_the_loop(opened: bool = True) -> None:
    mode = _ON_THE_LOOP.get()
    if mode == "memory" or (mode == "kept" and not opened):
        raise NeedsThread


def direct_app(params: dict[str, Any], fallback: Any,
               call: Callable[[Request], Response], *, kept: bool = False,
               on_loop: bool = True) -> Any:
    """The ASGI app of a direct path (:class:`~critmin.api._cache.ResponseCacheMiddleware`:
    no FastAPI routing): ``call(request)`` with ``params`` as the path parameters, first on
    the event loop (:func:`on_the_loop`, ``kept`` as there; not when ``on_loop`` is false) and
    in the thread pool when it raises :class:`NeedsThread`. When it raises anything else
    (nothing has been sent yet, and a ``GET`` changes nothing) ``fallback``, the full stack,
    answers the request as it always has: its validation, its error handlers."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["path_params"] = params
        request = Request(scope, receive)
        try:
            try:
                if not on_loop:
                    raise NeedsThread
                with on_the_loop(kept=kept):
                    response = call(request)
            except NeedsThread:
                response = await run_in_threadpool(call, request)
        except Exception:
            del scope["path_params"]
            await fallback(scope, receive, send)
            return
        await response(scope, receive, send)

    return app


class AtlasPool:
    """Read-only access to one atlas file from many threads.

    One DuckDB connection per process (:func:`critmin.atlas.connect`: the file attached, the
    one-release views); each thread gets its own cursor of it (for raw SQL) and its own
    :class:`~critmin.atlas.Atlas` over another cursor (Ibis backend, for library calls), created
    on first use: every thread shares one database instance, its buffer pool and its threads,
    and a thread's first request does not attach the file and create the views again.
    Annotations (sources, licences, atlas version) and analytic results are cached: the atlas
    does not change while it is served. Whole-atlas tables (:meth:`shared`) are computed once
    per process, one at a time.
    """

    def __init__(self, path: Path, *, release: tuple[str, ...] | None = None,
                 page_index: bool = False) -> None:
        self.path = Path(path)
        #: whether table pages are answered from in-memory copies (:meth:`page_index`)
        self.index_pages = page_index
        self._indexes: dict[str, Any] = {}  # table -> PageIndex, or False: not indexable
        self._index_locks: dict[str, threading.Lock] = {}
        #: release labels pinned for every read (``?_release=``); None: the server's default
        #: (``$CRITMIN_RELEASE``, else each family's latest release)
        self.release = release
        self._local = threading.local()
        self._lock = threading.Lock()
        self._base: Any = None
        self._sources: list[dict[str, Any]] | None = None
        self._version: str | None = None
        self._annotations: dict[Any, dict[str, Any]] = {}
        self._table_sources: dict[str, list[str]] = {}
        self._cache: OrderedDict[Any, Any] = OrderedDict()
        self.cache_size = 256
        self._shared: dict[Any, Any] = {}
        self._computing = threading.RLock()

    def _connection(self) -> Any:
        """The process's DuckDB connection (call under :attr:`_lock`)."""
        _off_the_loop(self._base is not None)
        if self._base is None:
            from critmin.atlas import connect

            # one release per source family (the pinned ones, else each family's latest)
            self._base = connect(self.path, release=self.release)
        return self._base

    def cursor(self) -> Any:
        # (before the lock: on the loop, never wait for another thread opening the atlas)
        _off_the_loop(self._base is not None)
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            with self._lock:
                cur = self._connection().cursor()
            self._local.cursor = cur
        return cur

    def atlas(self) -> Any:
        _off_the_loop(self._base is not None)
        a = getattr(self._local, "atlas", None)
        if a is None:
            from critmin.atlas import Atlas

            with self._lock:
                a = Atlas(self.path, release=self.release,
                          connection=self._connection().cursor(), made_by_connect=True)
            self._local.atlas = a
        return a

    def page_index(self, table: str, *, wait: bool = False) -> Any:
        """The :class:`~critmin.api.pageindex.PageIndex` of ``table`` (None when pages are not
        indexed here, the table is not indexable, or it is being loaded: without ``wait`` a
        request does not wait for the load but asks DuckDB meanwhile). Loaded on first use from
        this pool's connection, so it holds the rows the pool's queries read."""
        if not self.index_pages:
            return None
        index = self._indexes.get(table)
        if index is not None:
            return index if index is not False else None
        lock = self._index_lock(table)
        if not lock.acquire(blocking=wait):
            return None
        try:
            if table not in self._indexes:
                from critmin.api import pageindex

                self._indexes[table] = pageindex.load(self.cursor(), table) or False
        finally:
            lock.release()
        index = self._indexes[table]
        return index if index is not False else None

    def _index_lock(self, table: str) -> threading.Lock:
        with self._lock:
            return self._index_locks.setdefault(table, threading.Lock())

    def sources(self) -> list[dict[str, Any]]:
        if self._sources is None:
            cur = self.cursor()
            rel = cur.execute("SELECT source_id, family, release, publisher, title, licence, url, "
                              "sha256 FROM sources ORDER BY family, source_id")
            cols = [d[0] for d in rel.description]
            self._sources = [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]
        return self._sources

    @property
    def version(self) -> str:
        """``<critmin version>+<12 hex digits over the loaded files' checksums>``."""
        if self._version is None:
            self._version = provenance.atlas_version(self.sources())
        return self._version

    def table_source_ids(self, table: str) -> list[str] | None:
        """Source ids loaded into data table ``table`` (None for a reference table)."""
        if table not in self._table_sources:
            t = schema.table(table)
            if t.kind == "data" and "source_id" in t.column_names:
                self._table_sources[table] = [r[0] for r in self.cursor().execute(
                    f'SELECT DISTINCT source_id FROM "{table}" ORDER BY 1').fetchall()]
            elif t.kind == "provenance":
                self._table_sources[table] = [s["source_id"] for s in self.sources()]
            else:
                self._table_sources[table] = None
        return self._table_sources[table]

    def annotations(self, tables: list[str] | None = None, *,
                    reads: provenance.Reads | None = None) -> dict[str, Any]:
        """Source, licence and atlas version for a response computed with ``reads`` (recorded
        by :func:`critmin.provenance.recording`), or built from whole ``tables``; all loaded
        sources and the curated reference data when both are None. Each answer is kept per
        set of reads (a few dozen: the same dict each time, not to be changed by the caller)."""
        if reads is None and tables is not None:
            reads = {t: {provenance.ALL} for t in tables}
        key = None if reads is None else tuple(sorted(
            (t, tuple(sorted(fams, key=str))) for t, fams in reads.items()))
        kept = self._annotations.get(key)
        if kept is None:
            if reads is None:
                srcs = [{k: s.get(k) for k in provenance.SOURCE_KEYS}
                        for s in [*self.sources(), provenance.REFERENCE_SOURCE]]
            else:
                srcs = provenance.cited(reads, self.sources(), self.table_source_ids)
            kept = self._annotations[key] = provenance.annotations(srcs, self.version)
        return kept

    def shared(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` kept under ``key`` for the life of the process (never evicted: for
        whole-atlas tables that many requests filter, a few keys), computed once: concurrent
        callers wait for the first one's result instead of computing it again, and such
        computations run one at a time per process (they are CPU-bound, mostly holding the GIL:
        running several at once only slows every request). The atlas reads it made are
        recorded again on every call (:mod:`critmin.provenance`)."""
        hit = self._shared.get(key)
        if hit is None:
            if _ON_THE_LOOP.get() is not None:
                raise NeedsThread
            with self._computing:  # re-entrant: a computation may use another shared table
                hit = self._shared.get(key)
                if hit is None:
                    with provenance.recording() as reads:
                        value = compute()
                    hit = self._shared[key] = (value, reads)
                    return value
        value, reads = hit
        provenance.replay(reads)
        return value

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` cached under ``key`` (LRU, :attr:`cache_size` entries); the atlas reads
        it made are recorded again on every hit (:mod:`critmin.provenance`)."""
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                value, reads = self._cache[key]
                provenance.replay(reads)
                return value
        with provenance.recording() as reads:
            value = compute()
        with self._lock:
            self._cache[key] = (value, reads)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return value


#: The query parameter pinning source families to releases for one request (repeatable, or
#: comma-separated), as ``critmin --release`` does for a command.
RELEASE_PARAM = "_release"
#: Pinned-release pools kept at once (least recently used dropped first): the combinations of
#: labels a client may ask for are many, each pool holds a DuckDB connection and its cache.
MAX_RELEASE_POOLS = 8


def atlas_pool(request: Request) -> AtlasPool:
    """The :class:`AtlasPool` answering ``request``: the server's, or, with ``?_release=ID``, one
    reading the pinned release(s) of their source families (created on first use; the
    :data:`MAX_RELEASE_POOLS` most recently used are kept; an unknown label is a 400 naming the
    releases the atlas holds)."""
    base: AtlasPool = request.app.state.atlas
    given = [p.strip() for v in request.query_params.getlist(RELEASE_PARAM)
             for p in v.split(",") if p.strip()]
    if not given:
        return base
    known = {str(s["release"]).lower(): str(s["release"]) for s in base.sources()
             if s.get("release")}
    bad = [x for x in given if x.lower() not in known]
    if bad:
        raise fail(400, f"unknown release {bad[0]!r} in {RELEASE_PARAM}: the atlas holds "
                   + (", ".join(sorted(known.values())) or "no releases"))
    labels = tuple(sorted({x.lower() for x in given}))
    pools: OrderedDict[tuple[str, ...], AtlasPool] = request.app.state.release_pools
    with base._lock:
        pool = pools.get(labels)
        if pool is None:
            pool = pools[labels] = AtlasPool(base.path, release=tuple(known[x] for x in labels))
            while len(pools) > MAX_RELEASE_POOLS:  # each holds a connection and a result cache
                pools.popitem(last=False)
        pools.move_to_end(labels)
    return pool


# ------------------------------------------------------------------------------------ cursors


#: The largest row offset a ``_next`` cursor may carry (beyond any table's size; a larger one
#: would overflow the database's 64-bit OFFSET).
MAX_OFFSET = 2**53


def encode_cursor(offset: int) -> str:
    """An opaque ``_next`` token for the page starting at ``offset``."""
    raw = json.dumps({"o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        offset = json.loads(raw)["o"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise fail(400, "invalid _next cursor: pass back the value of 'next' unchanged") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise fail(400, "invalid _next cursor: pass back the value of 'next' unchanged")
    return offset


# ------------------------------------------------------------------------------------ rendering




def json_response(payload: dict[str, Any], status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status_code=status, media_type="application/json",
                    headers=headers)


def fresh_copy(response: Response) -> Response:
    """A new response with ``response``'s status, headers and body (a kept response is never sent
    twice: each request gets its own object)."""
    return Response(response.body, status_code=response.status_code,
                    headers=dict(response.headers))


def annotation_headers(ann: dict[str, Any]) -> dict[str, str]:
    return {"X-Critmin-Atlas-Version": ann["atlas_version"],
            "X-Critmin-Licence": quote(ann["licence"], safe=" ,;:()/&.-"),
            "X-Critmin-Source": quote(ann["source"], safe=" ,;:()/&.-")}


def render_frame(df: pd.DataFrame, fmt: Format | str, *, name: str, ann: dict[str, Any],
                 extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None
                 ) -> Response:
    """``df`` in ``fmt``: JSON ``{"ok", ..., "rows", "annotations"}``; CSV, Parquet, Excel with
    the annotations in ``X-Critmin-*`` headers (and in the file where the format has room)."""
    fmt = Format(fmt)
    hdrs = {**annotation_headers(ann), **(headers or {})}
    if fmt is Format.json:
        return Response(output.to_json(df, name=name, ann=ann, extra=extra), status_code=200,
                        media_type=MEDIA[fmt], headers=headers)
    hdrs["Content-Disposition"] = f'attachment; filename="{name}.{fmt.value}"'
    return Response(output.write(df, fmt, ann=ann), media_type=MEDIA[fmt], headers=hdrs)


#: Column types whose values :func:`csv_rows` writes exactly as ``DataFrame.to_csv`` does; a
#: table with another type (TIMESTAMP: pandas trims midnight times column-wide) goes through pandas.
CSV_DIRECT_TYPES = frozenset({"VARCHAR", "DOUBLE", "SMALLINT", "INTEGER", "BIGINT", "BOOLEAN",
                              "DATE"})


def csv_rows(columns: list[str], types: list[str], rows: list[tuple[Any, ...]]) -> str | None:
    """``rows`` as CSV text, byte for byte what ``pd.DataFrame(rows, columns=columns)
    .to_csv(index=False)`` writes, without building a frame (None for a type outside
    :data:`CSV_DIRECT_TYPES`).

    pandas writes through :mod:`csv` (minimal quoting, ``\n`` line ends), a missing value or a
    NaN as an empty field, a float as its shortest round-trip text (Python's ``repr``), a boolean
    as ``True``/``False``, a date as ``YYYY-MM-DD``, and an integer column with a missing value as
    floats (``2023.0``); so does this."""
    if any(t not in CSV_DIRECT_TYPES for t in types):
        return None
    fix = [i for i, t in enumerate(types) if t == "DOUBLE"]
    ints = [i for i, t in enumerate(types) if t in ("SMALLINT", "INTEGER", "BIGINT")]
    as_float = [i for i in ints if any(r[i] is None for r in rows)]
    fix += as_float
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(columns)
    if not fix:
        w.writerows(rows)
        return out.getvalue()

    def clean(r: tuple[Any, ...]) -> tuple[Any, ...] | list[Any]:
        if not as_float and all(r[i] == r[i] for i in fix):  # no NaN (None == None)
            return r
        row = list(r)
        for i in fix:
            v = row[i]
            if v is not None:
                row[i] = None if v != v else float(v)
        return row

    w.writerows(map(clean, rows))
    return out.getvalue()


def xlsx_bytes(df: pd.DataFrame, ann: dict[str, Any]) -> bytes:
    """An Excel workbook: sheet ``data`` and sheet ``annotations``."""
    return output.to_xlsx(df, ann)


def stream_csv(batches: Iterator[pa.RecordBatch], *, name: str, ann: dict[str, Any]
               ) -> StreamingResponse:
    """CSV streamed batch by batch (large results never sit in memory whole)."""
    import pyarrow.csv as pcsv

    def gen() -> Iterator[bytes]:
        first = True
        for batch in batches:
            buf = io.BytesIO()
            pcsv.write_csv(pa.Table.from_batches([batch]), buf,
                           write_options=pcsv.WriteOptions(include_header=first,
                                                            quoting_style="needed"))
            first = False
            yield buf.getvalue()

    hdrs = {**annotation_headers(ann),
            "Content-Disposition": f'attachment; filename="{name}.csv"'}
    return StreamingResponse(gen(), media_type=MEDIA[Format.csv], headers=hdrs)


class _Drain:
    """A write-only file that hands out what was written since the last :meth:`take` (and
    keeps the position: Parquet's footer records offsets)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def stream_parquet(batches: Iterator[pa.RecordBatch], *, name: str, ann: dict[str, Any]
                   ) -> StreamingResponse:
    """Parquet streamed one row group per batch: the bytes of each group are sent as soon as it
    is written (memory bounded by one batch); the annotations are in the file's metadata."""
    import pyarrow.parquet as pq

    def gen() -> Iterator[bytes]:
        sink = _Drain()
        writer = None
        for batch in batches:
            if writer is None:
                meta = {**(batch.schema.metadata or {}), b"critmin.annotations": dumps(ann)}
                writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"),
                                          batch.schema.with_metadata(meta))
            writer.write_batch(batch)
            yield sink.take()
        if writer is not None:
            writer.close()
        yield sink.take()

    hdrs = {**annotation_headers(ann),
            "Content-Disposition": f'attachment; filename="{name}.parquet"'}
    return StreamingResponse(gen(), media_type=MEDIA[Format.parquet], headers=hdrs)


def stream_xlsx(batches: Iterator[pa.RecordBatch], columns: list[str], *, name: str,
                ann: dict[str, Any]) -> StreamingResponse:
    """An Excel workbook built row by row (openpyxl's write-only mode keeps rows in a temporary
    file, not in memory), then sent from that file in chunks; sheets ``data`` and
    ``annotations`` as :func:`xlsx_bytes`."""
    import os
    import tempfile

    from openpyxl import Workbook

    def cell(v: Any) -> Any:
        if isinstance(v, float) and (v != v or v in (math.inf, -math.inf)):
            return None
        if isinstance(v, dt.datetime) and v.tzinfo is not None:
            return v.replace(tzinfo=None)
        if isinstance(v, list | tuple | dict):
            return ";".join(map(str, v)) if not isinstance(v, dict) else json.dumps(v)
        return v

    def gen() -> Iterator[bytes]:
        fd, path = tempfile.mkstemp(suffix=".xlsx")
        os.close(fd)
        try:
            wb = Workbook(write_only=True)
            ws = wb.create_sheet("data")
            ws.append(columns)
            for batch in batches:
                for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                    ws.append([cell(v) for v in row])
            meta = wb.create_sheet("annotations")
            meta.append(["key", "value"])
            for key in ("atlas_version", "licence", "source"):
                meta.append([key, ann[key]])
            wb.save(path)
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 16):
                    yield chunk
        finally:
            os.unlink(path)

    hdrs = {**annotation_headers(ann),
            "Content-Disposition": f'attachment; filename="{name}.xlsx"'}
    return StreamingResponse(gen(), media_type=MEDIA[Format.xlsx], headers=hdrs)


# ------------------------------------------------------------------------------------ auth


async def principal(request: Request) -> Principal:
    """Who is calling: ``Authorization: Bearer <token>``, else the session cookie, else anonymous.

    Unsafe methods authenticated by the session cookie must carry the session's CSRF token in
    ``X-CSRF-Token`` (synchronizer token pattern); bearer tokens are not sent by browsers on
    their own and need none. A request without credentials is anonymous at once (no database
    work); credentials are looked up in the operational database on every request (one indexed
    query, see :func:`lookup`), so a revoked token or a deactivated user is refused at once.
    """
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization")
    cookie = request.cookies.get(SESSION_COOKIE)
    p = ANONYMOUS
    if header:
        token = bearer_token(header)
        if token is None:
            raise fail(401, "Authorization header must be 'Bearer <token>'")
        found = await lookup(request.app.state.store, from_token, token)
        if found is None:
            raise fail(401, "invalid or revoked API token")
        p = found
    elif cookie:
        found = await lookup(request.app.state.store, from_session, cookie)
        if found is not None:
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                sent = request.headers.get(CSRF_HEADER, "")
                if not found.csrf_token or not secrets.compare_digest(sent, found.csrf_token):
                    raise fail(403, f"missing or wrong {CSRF_HEADER} header (CSRF protection)")
            p = found
    request.state.principal = p
    return p


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (None for any other form)."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _query(store: Store, find: Callable[[Connection, str], Principal | None], secret: str
           ) -> Principal | None:
    with store.engine.connect() as conn:
        return find(conn, secret)


async def lookup(store: Store, find: Callable[[Connection, str], Principal | None], secret: str
                 ) -> Principal | None:
    """``find(connection, secret)`` on a pooled connection of ``store`` (no ORM session).

    SQLite is a local file read by its unique index (tens of microseconds; in WAL mode readers
    never wait for a writer), done on the event loop: cheaper than the hop to a worker thread. A
    database server is queried from the thread pool (a network round trip must not hold the
    loop)."""
    if store.dialect == "sqlite":
        return _query(store, find, secret)
    return await run_in_threadpool(_query, store, find, secret)


async def authenticate_bearer(scope: Scope, header: bytes) -> bool:
    """For :class:`~critmin.api._cache.ResponseCacheMiddleware`: True when ``header`` (the
    request's ``Authorization``) is a valid bearer token; its principal is then kept in the
    request state for :func:`principal` (the request is not looked up twice)."""
    token = bearer_token(header.decode("latin-1"))
    if token is None:
        return False
    found = await lookup(scope["app"].state.store, from_token, token)
    if found is None:
        return False
    scope.setdefault("state", {})["principal"] = found
    return True


def require(p: Principal, *, signed_in: bool = True, check: Callable[[Principal], bool] | None
            = None, what: str = "this") -> Principal:
    if signed_in and p.user_id is None and p.via != "cli":
        raise fail(401, f"sign in (session cookie or 'Authorization: Bearer <token>') to do {what}")
    if check is not None and not check(p):
        raise fail(403, f"role {p.role!r} may not do {what}")
    return p


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
