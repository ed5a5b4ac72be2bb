"""``/api/v1/<table>``: every atlas table with datasette-style filters, sorting and paging.

- ``column__op=value`` with ``op`` in ``eq, ne, lt, lte, gt, gte, in`` (``in`` takes a
  comma-separated list; a bare ``column=value`` means ``eq``), columns and values checked against
  the schema-as-data (:mod:`critmin.schema`): an unknown column or a value of the wrong type is a
  400;
- ``_sort=column`` (``_sort=-column`` or ``_sort_desc=column`` for descending); rows are always
  ordered by the table's key after the sort column, so pages are stable;
- ``_size`` rows per page (default 100, at most 1000) and an opaque ``_next`` cursor;
- ``_stream=1`` returns every matching row as CSV, Parquet or Excel, streamed in batches of
  :data:`STREAM_BATCH_ROWS` rows (memory bounded per request); without credentials at most
  :data:`ANON_STREAM_ROWS` rows (403 beyond).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Scope

from critmin import schema
from critmin.api import pageindex
from critmin.api._cache import cached
from critmin.api._core import (
    RELEASE_PARAM,
    AtlasPool,
    FmtPath,
    annotation_headers,
    atlas_pool,
    csv_rows,
    decode_cursor,
    direct_app,
    encode_cursor,
    fail,
    json_response,
    render_frame,
    stream_csv,
    stream_parquet,
    stream_xlsx,
)
from critmin.output import FILE_FORMATS, MEDIA, Format

OPS = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "in": "IN"}
CONTROL = ("_sort", "_sort_desc", "_size", "_next", "_stream", "_release")
DEFAULT_SIZE = 100
MAX_SIZE = 1000
XLSX_MAX_ROWS = 1_000_000
#: ``_stream`` exports without credentials are refused above this many rows (403).
ANON_STREAM_ROWS = 100_000
#: Rows per batch of a streamed export (what sits in memory at once, per request).
STREAM_BATCH_ROWS = 20_000

router = APIRouter(tags=["atlas tables"])


def _value(col: schema.Column, raw: str) -> Any:
    """``raw`` as a value of ``col``'s type (400 when it is not one)."""
    try:
        if col.type in ("SMALLINT", "INTEGER", "BIGINT"):
            v = int(raw)
            if abs(v) > 2**62:
                raise ValueError
            return v
        if col.type == "DOUBLE":
            f = float(raw)
            if f != f or f in (float("inf"), float("-inf")):
                raise ValueError
            return f
        if col.type == "BOOLEAN":
            low = raw.lower()
            if low not in ("true", "false", "1", "0"):
                raise ValueError
            return low in ("true", "1")
        if col.type == "DATE":
            return dt.date.fromisoformat(raw)
        if col.type == "TIMESTAMP":
            return dt.datetime.fromisoformat(raw)
    except ValueError:
        raise fail(400, f"filter on {col.name}: {raw!r} is not a valid {col.type}") from None
    if "\x00" in raw:
        raise fail(400, f"filter on {col.name}: NUL characters are not allowed")
    return raw


def parse_params(table: str, params: list[tuple[str, str]]
                 ) -> tuple[list[pageindex.Filter], dict[str, Any]]:
    """The filters and the paging options (``size``, ``offset``, ``stream``, ``sort``, ``desc``)
    of a page's query parameters, checked against the table's schema (400 otherwise)."""
    t = schema.table(table)
    cols = {c.name: c for c in t.columns}
    filters: list[pageindex.Filter] = []
    opts: dict[str, Any] = {"size": DEFAULT_SIZE, "offset": 0, "stream": False,
                            "sort": None, "desc": False}
    seen_control: set[str] = set()
    for key, raw in params:
        if key.startswith("_"):
            if key not in CONTROL:
                raise fail(400, f"unknown parameter {key!r}; control parameters are "
                           + ", ".join(CONTROL))
            if key == RELEASE_PARAM:  # chose the pool (atlas_pool); repeatable
                continue
            if key in seen_control:
                raise fail(400, f"parameter {key!r} given twice")
            seen_control.add(key)
            if key in ("_sort", "_sort_desc"):
                name = raw[1:] if key == "_sort" and raw.startswith("-") else raw
                if name not in cols:
                    raise fail(400, f"cannot sort by {name!r}: {table} has columns "
                               + ", ".join(cols))
                if opts["sort"] is not None:
                    raise fail(400, "give _sort or _sort_desc, not both")
                opts["sort"] = name
                opts["desc"] = key == "_sort_desc" or raw.startswith("-")
            elif key == "_size":
                if raw == "max":
                    opts["size"] = MAX_SIZE
                else:
                    try:
                        opts["size"] = int(raw)
                    except ValueError:
                        raise fail(400, f"_size must be an integer 1-{MAX_SIZE} or 'max'") from None
                    if not 1 <= opts["size"] <= MAX_SIZE:
                        raise fail(400, f"_size must be between 1 and {MAX_SIZE}")
            elif key == "_next":
                opts["offset"] = decode_cursor(raw)
            elif key == "_stream":
                opts["stream"] = raw.lower() in ("1", "true", "yes")
            continue
        name, _, op = key.partition("__")
        op = op or "eq"
        if name not in cols:
            raise fail(400, f"unknown column {name!r} in filter {key!r}: {table} has columns "
                       + ", ".join(cols))
        if op not in OPS:
            raise fail(400, f"unknown operator {op!r} in filter {key!r}: use one of "
                       + ", ".join(OPS))
        col = cols[name]
        if op == "in":
            values = [_value(col, v) for v in raw.split(",")] if raw != "" else []
            if not values:
                raise fail(400, f"filter {key!r} needs at least one value")
            filters.append(pageindex.Filter(name, op, tuple(values)))
        else:
            filters.append(pageindex.Filter(name, op, (_value(col, raw),)))
    return filters, opts


def where_sql(filters: list[pageindex.Filter]) -> tuple[str, list[Any]]:
    """`` WHERE ...`` (empty without filters) and its parameters."""
    where: list[str] = []
    args: list[Any] = []
    for f in filters:
        if f.op == "in":
            where.append(f'"{f.column}" IN ({", ".join("?" * len(f.values))})')
        else:
            where.append(f'"{f.column}" {OPS[f.op]} ?')
        args += f.values
    return (" WHERE " + " AND ".join(where) if where else ""), args


def order_sql(table: str, sort: str | None, desc: bool) -> str:
    """`` ORDER BY`` the sort column (NULLs last), then the table's key: pages are stable."""
    t = schema.table(table)
    order = [f'"{sort}" {"DESC" if desc else "ASC"} NULLS LAST'] if sort else []
    order += [f'"{k}"' for k in (t.key or t.column_names) if k != sort]
    return " ORDER BY " + ", ".join(order)


#: Tables whose pages are asked most, indexed first at start-up (:func:`warm_steps`).
BUSIEST = ("trade_flows", "production", "countries")


def warm_steps(pool: AtlasPool, names: Sequence[str] | None = None) -> list[tuple[str, Any]]:
    """Start-up steps loading the page index (:mod:`critmin.api.pageindex`) of tables ``names``
    (default: every table, the busiest first); empty when ``pool`` does not index pages."""
    if not pool.index_pages:
        return []
    if names is None:
        names = [*BUSIEST, *(n for n in schema.tables() if n not in BUSIEST)]
    return [(f"page index of {n}", lambda n=n: pool.page_index(n, wait=True)) for n in names]


def query_table(pool: AtlasPool, table: str, params: list[tuple[str, str]], fmt: Format,
                base_url: str, *, anonymous: bool = False) -> Response:
    """The response for ``GET /api/v1/<table>[.fmt]?<params>`` (``anonymous``: the caller sent
    no credentials, so ``_stream`` exports are capped at :data:`ANON_STREAM_ROWS` rows)."""
    filters, opts = parse_params(table, params)
    where, args = where_sql(filters)
    clause = where + order_sql(table, opts["sort"], opts["desc"])
    t = schema.table(table)
    cols = t.column_names
    select = f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{table}"{clause}'
    ann = pool.annotations([table])
    if opts["stream"]:
        cur = pool.cursor()
        if fmt is Format.json:
            raise fail(400, "_stream returns every row: ask for .csv, .parquet or .xlsx")
        n = cur.execute(f'SELECT count(*) FROM "{table}"{where}', args).fetchall()[0][0]
        if anonymous and n > ANON_STREAM_ROWS:
            raise fail(403, f"{n} rows: exports without signing in are capped at "
                       f"{ANON_STREAM_ROWS} rows; narrow the filters, page with _size/_next, "
                       "or send an API token")
        if fmt is Format.xlsx and n > XLSX_MAX_ROWS:
            raise fail(400, f"{n} rows do not fit in an Excel sheet: use .csv or .parquet")
        # a cursor of its own: the stream is read after this thread has moved on to other
        # requests, from the thread the response is sent by
        rel = cur.cursor().sql(select, params=args)
        read = getattr(rel, "to_arrow_reader", None) or rel.fetch_arrow_reader  # duckdb 2 / 1
        batches = _batches(read(STREAM_BATCH_ROWS))
        if fmt is Format.csv:
            return stream_csv(batches, name=table, ann=ann)
        if fmt is Format.parquet:
            return stream_parquet(batches, name=table, ann=ann)
        return stream_xlsx(batches, cols, name=table, ann=ann)
    size, offset = opts["size"], opts["offset"]
    index = pool.page_index(table)
    rows = None if index is None else index.page(filters, opts["sort"], opts["desc"], offset,
                                                 size + 1)
    if rows is None:
        rows = pool.cursor().execute(f"{select} LIMIT {size + 1} OFFSET {offset}",
                                     args).fetchall()
    more = len(rows) > size
    rows = rows[:size]
    nxt = encode_cursor(offset + size) if more else None
    next_url = None
    if nxt:
        kept = [(k, v) for k, v in params if k != "_next"] + [("_next", nxt)]
        from urllib.parse import urlencode

        next_url = f"{base_url}?{urlencode(kept)}"
    if fmt is Format.json:
        payload = {"ok": True, "name": table, "columns": cols, "rows": _records(t, rows),
                   "next": nxt, "next_url": next_url, "annotations": ann}
        return json_response(payload)
    headers = {"Link": f'<{next_url}>; rel="next"', "X-Next-Cursor": nxt} if nxt else None
    if fmt is Format.csv:
        text = csv_rows(cols, [c.type for c in t.columns], rows)
        if text is not None:
            return Response(text, media_type=MEDIA[fmt], headers={
                **annotation_headers(ann), **(headers or {}),
                "Content-Disposition": f'attachment; filename="{table}.csv"'})
    df = pd.DataFrame(rows, columns=cols)
    return render_frame(df, fmt, name=table, ann=ann, headers=headers)


def _records(t: schema.Table, rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """``rows`` as JSON objects: dates and timestamps as ISO text; a NaN or infinite float is
    written as null by :func:`~critmin.api._core.dumps` (orjson), so other values pass as they
    are (same bytes as :func:`_cell` on every value)."""
    cols = t.column_names
    dated = [i for i, c in enumerate(t.columns) if c.type in ("DATE", "TIMESTAMP")]
    if not dated:
        return [dict(zip(cols, r, strict=True)) for r in rows]
    out = []
    for r in rows:
        row = list(r)
        for i in dated:
            if row[i] is not None:
                row[i] = row[i].isoformat()
        out.append(dict(zip(cols, row, strict=True)))
    return out


def _cell(v: Any) -> Any:
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return None
    return v


def _batches(reader: Any) -> Any:
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return


def get_row(pool: AtlasPool, table: str, key: str) -> Response:
    """One row of a table with a single-column key (404 when absent)."""
    t = schema.table(table)
    (k,) = t.key
    value = _value(t.column(k), key)
    cols = t.column_names
    index = pool.page_index(table)
    if index is not None:
        row = index.row(value)
    else:
        row = pool.cursor().execute(
            f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{table}" '
            f'WHERE "{k}" = ?', [value]).fetchone()
    if row is None:
        raise fail(404, f"{table} has no row with {k} = {key!r}")
    return json_response({"ok": True, "name": table, "row": dict(zip(cols, map(_cell, row),
                                                                       strict=True)),
                          "annotations": pool.annotations([table])})


def _filter_params(table: str) -> list[dict[str, Any]]:
    """OpenAPI parameters of a table route: the control parameters and an ``eq`` filter per
    column (the other operators are ``column__op``; see the description)."""
    t = schema.table(table)
    out: list[dict[str, Any]] = [
        {"name": "_sort", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "Column to sort by; prefix '-' for descending."},
        {"name": "_sort_desc", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "Column to sort by, descending."},
        {"name": "_size", "in": "query", "required": False, "schema": {"type": "string"},
         "description": f"Rows per page, 1-{MAX_SIZE} or 'max' (default {DEFAULT_SIZE})."},
        {"name": "_next", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "Opaque cursor from the previous page's 'next'."},
        {"name": "_stream", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "1: all matching rows (csv streamed, parquet, xlsx)."},
    ]
    for c in t.columns:
        out.append({"name": c.name, "in": "query", "required": False,
                    "schema": {"type": "string"},
                    "description": f"{c.description} ({c.type}{', ' + c.unit if c.unit else ''}). "
                    f"Also {c.name}__ne, __lt, __lte, __gt, __gte, __in=a,b."})
    return out


def register(router: APIRouter, prefix: str = "") -> None:
    """One route per atlas table (``/t``, ``/t.{fmt}``) and a row route for single-key tables."""
    for name, t in schema.tables().items():
        handler, handler_fmt, row = _handlers(name)
        doc = f"{t.description}\n\nFilters: `column__op=value` (eq, ne, lt, lte, gt, gte, in)."
        extra = {"parameters": _filter_params(name)}
        router.add_api_route(f"{prefix}/{name}.{{fmt}}", handler_fmt, methods=["GET"],
                             summary=f"{name} ({t.kind}) in a chosen format", description=doc,
                             openapi_extra=extra, operation_id=f"table_{name}_fmt")
        router.add_api_route(f"{prefix}/{name}", handler, methods=["GET"], summary=f"{name} "
                             f"({t.kind})", description=doc, openapi_extra=extra,
                             operation_id=f"table_{name}")
        if len(t.key) == 1:
            router.add_api_route(f"{prefix}/{name}/{{key}}", row, methods=["GET"],
                                 summary=f"One {name} row by {t.key[0]}",
                                 operation_id=f"row_{name}")


def _handlers(name: str) -> tuple[Any, Any, Any]:
    """Route functions bound to table ``name`` (a closure, not a default argument: FastAPI
    would expose a default argument as a query parameter)."""

    def handler(request: Request) -> Response:
        fmt = Format(request.path_params.get("fmt", "json"))
        who = getattr(request.state, "principal", None)
        return cached(request, lambda: query_table(
            atlas_pool(request), name, list(request.query_params.multi_items()), fmt,
            str(request.url.replace(query="")),
            anonymous=who is None or (who.user_id is None and who.via != "cli")))

    def handler_fmt(request: Request, fmt: FmtPath) -> Response:
        return handler(request)

    def row(request: Request, key: str) -> Response:
        return cached(request, lambda: get_row(atlas_pool(request), name, key))

    return handler, handler_fmt, row


def direct_route(prefix: str) -> Any:
    """For :class:`~critmin.api._cache.ResponseCacheMiddleware`: ``direct(scope, fallback)``
    gives an ASGI app answering a ``GET`` of a table page (``{prefix}/t``, ``{prefix}/t.fmt``)
    or row (``{prefix}/t/key``) without FastAPI's routing, dependency resolution and wrappers
    (under load they cost more of the event loop than the rest of such a request; see
    docs/benchmarks.md), else None. The middleware asks it only for a request without
    credentials or with a bearer token it has just checked (the ``principal`` dependency would
    find the same), so the answer is the route's own: the same handler, run first on the event
    loop (:func:`~critmin.api._core.on_the_loop`: a page its table's index answers, or a kept
    response, costs well under a millisecond and no thread hop), and in the route's thread pool
    when it needs DuckDB. A request the handler refuses or fails (any exception: nothing has
    been sent yet, and a ``GET`` of the atlas changes nothing) is passed to ``fallback``, the
    full stack, which answers it as it always has (its error handlers, its status and body)."""
    handlers = {name: _handlers(name) for name in schema.tables()}
    single_key = {name for name, t in schema.tables().items() if len(t.key) == 1}
    formats = {f.value for f in FILE_FORMATS}
    start = prefix + "/"

    def direct(scope: Scope, fallback: ASGIApp) -> ASGIApp | None:
        path: str = scope["path"]
        if scope.get("root_path") or not path.startswith(start):
            return None
        rest = path[len(start):]
        name, slash, key = rest.partition("/")
        if slash:
            if name not in single_key or not key or "/" in key:
                return None
            call, params, args = handlers[name][2], {"key": key}, (key,)
        else:
            name, dot, fmt = rest.partition(".")
            if name not in handlers or (dot and fmt not in formats):
                return None
            # (the page handler reads the format from the path parameters)
            call, params, args = handlers[name][0], ({"fmt": fmt} if dot else {}), ()

        # in memory (the page index, a kept response): on the loop; DuckDB: in the thread pool
        return direct_app(params, fallback, lambda request: call(request, *args))

    return direct
