"""Table pages answered from memory: one ordered, indexed copy of an atlas table per process.

A page of ``/api/v1/<table>`` is a ``WHERE ... ORDER BY <sort>, <key> LIMIT n OFFSET m`` query.
DuckDB answers one in 2.5-4 ms of CPU on the full atlas, most of it binding and planning the
query (docs/benchmarks.md), which bounds a 2-core server to a few hundred pages a second. A
:class:`PageIndex` holds the rows the server's connection reads (one release per source family)
as numpy columns in the table's key order, with a posting list per value of every non-float
column, so a page filtered by equality (``year=2023&exporter=CHN``) is a slice of a posting
list, the other filters a mask over it, the sort a stable argsort of what is left: tens of
microseconds instead of milliseconds.

The answer is the query's, row for row and value for value (``tests/api/test_pageindex.py``
compares them on random filters, sorts and pages):

- rows are kept in the order DuckDB gives ``ORDER BY <key>`` (the table's key is checked to be
  unique at load, so the order of any sort is fully determined: the sort column, then the key);
- a non-float column is kept as codes into its sorted distinct values (Python's order of ``str``,
  ``int``, ``bool`` and ``datetime.date``, which is DuckDB's for VARCHAR under its default binary
  collation, and for integers, booleans and dates), so comparisons and sorts run on the codes;
- ``NULL`` fails every comparison (``ne`` and ``in`` included) and sorts last either way, as in
  ``ORDER BY <col> ASC|DESC NULLS LAST``;
- values are handed back as the Python objects DuckDB's ``fetchall`` gives (``int``, ``float``,
  ``str``, ``bool``, ``datetime.date``, ``None``).

What it does not answer (:meth:`PageIndex.page` returns None and the caller asks DuckDB): a filter
set that leaves more than :data:`SCAN_ROWS` rows to check or more than :data:`SORT_ROWS` rows to
sort (a filter on floats alone over a large table, a sort of most of the table: DuckDB's top-N is
the better plan there). A table is not indexed at all (:func:`load` returns None) when it has a
``TIMESTAMP`` column, more than ``$CRITMIN_PAGE_INDEX_ROWS`` rows (default
:data:`DEFAULT_MAX_ROWS`; 0 turns the index off), a float that is NaN, infinite or ``-0.0``
(orderings where DuckDB and numpy could disagree), or a key that is not unique.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from critmin import schema

__all__ = ["DEFAULT_MAX_ROWS", "MAX_ROWS_ENV", "SCAN_ROWS", "SORT_ROWS", "Filter", "PageIndex",
           "load", "max_rows"]

#: Environment variable: the largest table (rows) a server process keeps in memory for pages.
MAX_ROWS_ENV = "CRITMIN_PAGE_INDEX_ROWS"
#: Default of :data:`MAX_ROWS_ENV`: about 300 MB of numpy columns for a BACI-shaped table.
DEFAULT_MAX_ROWS = 5_000_000
#: A page whose narrowest equality filter leaves more rows than this is left to DuckDB.
SCAN_ROWS = 300_000
#: A sorted page with more matching rows than this is left to DuckDB (its top-N).
SORT_ROWS = 60_000

_INDEXABLE = frozenset({"VARCHAR", "SMALLINT", "INTEGER", "BIGINT", "BOOLEAN", "DATE", "DOUBLE"})


def max_rows() -> int:
    """The row limit of an indexed table (``$CRITMIN_PAGE_INDEX_ROWS``, else the default)."""
    raw = os.environ.get(MAX_ROWS_ENV, "").strip()
    try:
        return int(raw) if raw else DEFAULT_MAX_ROWS
    except ValueError:
        return DEFAULT_MAX_ROWS


@dataclass(frozen=True)
class Filter:
    """``column <op> value`` (``op`` one of eq, ne, lt, lte, gt, gte, in; ``values`` holds one
    value, or the list for ``in``), values already of the column's Python type."""

    column: str
    op: str
    values: tuple[Any, ...]


class _Coded:
    """A non-float column: ``codes`` (-1 for NULL) into ``values``, its sorted distinct values;
    ``perm``/``bounds``: the rows of code ``k`` are ``perm[bounds[k]:bounds[k + 1]]``, ascending."""

    def __init__(self, arr: pa.ChunkedArray) -> None:
        distinct = pc.unique(arr).drop_null()
        values = sorted(distinct.to_pylist())
        self.values: list[Any] = values
        codes = pc.index_in(arr, value_set=pa.array(values, type=arr.type)).fill_null(-1)
        dtype = np.int16 if len(values) < 2**15 else np.int32
        self.codes: np.ndarray = codes.to_numpy().astype(dtype, copy=False)
        self.perm: np.ndarray = np.argsort(self.codes, kind="stable").astype(np.int32)
        self.bounds: np.ndarray = np.searchsorted(self.codes[self.perm],
                                                  np.arange(len(values) + 1), side="left")

    def posting(self, value: Any) -> np.ndarray:
        k = self.code(value)
        if k is None:
            return self.perm[:0]
        return self.perm[self.bounds[k]:self.bounds[k + 1]]

    def code(self, value: Any) -> int | None:
        i = bisect.bisect_left(self.values, value)
        return i if i < len(self.values) and self.values[i] == value else None

    def mask(self, rows: np.ndarray, op: str, values: tuple[Any, ...]) -> np.ndarray:
        c = self.codes[rows]
        if op == "in":
            found = [k for k in map(self.code, values) if k is not None]
            return np.isin(c, np.array(found, dtype=c.dtype))
        v = values[0]
        if op in ("eq", "ne"):
            k = self.code(v)
            if op == "eq":
                return c == k if k is not None else np.zeros(len(c), dtype=bool)
            return (c != k) & (c >= 0) if k is not None else c >= 0
        lo = bisect.bisect_left(self.values, v)
        hi = bisect.bisect_right(self.values, v)
        if op == "lt":
            return (c < lo) & (c >= 0)
        if op == "lte":
            return (c < hi) & (c >= 0)
        if op == "gt":
            return c >= hi
        return c >= lo  # gte

    def sort_key(self, rows: np.ndarray, desc: bool) -> np.ndarray:
        c = self.codes[rows].astype(np.int64)
        return np.where(c < 0, np.iinfo(np.int64).max, -c if desc else c)

    def take(self, rows: np.ndarray) -> list[Any]:
        vals = self.values
        return [vals[k] if k >= 0 else None for k in self.codes[rows].tolist()]


class _Floats:
    """A DOUBLE column: ``data`` with ``null`` marking NULLs (their ``data`` is 0)."""

    def __init__(self, arr: pa.ChunkedArray) -> None:
        self.null: np.ndarray = pc.is_null(arr).to_numpy(zero_copy_only=False)
        self.data: np.ndarray = pc.fill_null(arr, 0.0).to_numpy().astype(np.float64, copy=False)

    def ordinary(self) -> bool:
        """No NaN, no infinity, no ``-0.0`` (where DuckDB's order and numpy's could differ)."""
        d = self.data
        return bool(np.isfinite(d).all() and not (np.signbit(d) & (d == 0)).any())

    def mask(self, rows: np.ndarray, op: str, values: tuple[Any, ...]) -> np.ndarray:
        d = self.data[rows]
        if op == "in":
            m = np.isin(d, np.array(values, dtype=np.float64))
        else:
            v = float(values[0])
            m = {"eq": d == v, "ne": d != v, "lt": d < v, "lte": d <= v, "gt": d > v,
                 "gte": d >= v}[op]
        return m & ~self.null[rows]

    def sort_key(self, rows: np.ndarray, desc: bool) -> np.ndarray:
        d = self.data[rows]
        return np.where(self.null[rows], np.inf, -d if desc else d)

    def take(self, rows: np.ndarray) -> list[Any]:
        return [None if n else v for v, n in zip(self.data[rows].tolist(),
                                                 self.null[rows].tolist(), strict=True)]


class PageIndex:
    """The rows of one atlas table in key order, answering pages (:meth:`page`) and key lookups
    (:meth:`row`) as the table's SQL would.

    Equality filters narrow the rows by binary search where the order allows it: on a prefix of
    the key (``year=2023&exporter=CHN`` is one contiguous run of rows), and on the key's first
    column inside another column's posting list (``year=2023&importer=JPN``: the rows of JPN are
    in key order, so its rows of 2023 are one run of that list)."""

    def __init__(self, table: schema.Table, data: pa.Table) -> None:
        self.table = table
        self.n = data.num_rows
        self.columns: dict[str, _Coded | _Floats] = {
            c.name: (_Floats if c.type == "DOUBLE" else _Coded)(data[c.name])
            for c in table.columns}
        self.key = list(table.key or table.column_names)
        #: the key's leading columns that are coded and never NULL: rows are sorted by their codes
        self.prefix: list[str] = []
        for k in self.key:
            col = self.columns[k]
            if not isinstance(col, _Coded) or (col.codes < 0).any():
                break
            self.prefix.append(k)
        #: per coded column, the key's first column's codes in that column's posting order
        self.lead: dict[str, np.ndarray] = {}
        if self.prefix:
            lead = self.columns[self.prefix[0]]
            assert isinstance(lead, _Coded)
            self.lead = {name: lead.codes[col.perm] for name, col in self.columns.items()
                         if isinstance(col, _Coded) and name != self.prefix[0]}

    def indexable(self) -> bool:
        """Floats ordinary, and the rows strictly ascending by the key as the codes order it:
        the key is unique and DuckDB's order of its values is the one the codes follow (see
        the module's docstring)."""
        if not all(c.ordinary() for c in self.columns.values() if isinstance(c, _Floats)):
            return False
        if self.n < 2:
            return True
        every = np.arange(self.n)
        decided = np.zeros(self.n - 1, dtype=bool)
        for k in self.key:
            order = self.columns[k].sort_key(every, False)
            if ((order[1:] < order[:-1]) & ~decided).any():
                return False
            decided |= order[1:] > order[:-1]
        return bool(decided.all())

    def page(self, filters: Sequence[Filter], sort: str | None, desc: bool, offset: int,
             limit: int) -> list[tuple[Any, ...]] | None:
        """Rows ``offset`` to ``offset + limit`` of the table filtered by ``filters`` (all must
        hold) in the order ``sort`` (``desc``: descending; NULLs last), then the key; None when
        the filters leave too many rows to check or sort here (ask DuckDB)."""
        if not filters and sort is None:
            stop = min(self.n, offset + limit)
            return self._rows(np.arange(min(offset, stop), stop))
        rows = self._candidates(filters)
        if rows is None:
            return None
        for f in filters:
            if len(rows) == 0:
                break
            rows = rows[self.columns[f.column].mask(rows, f.op, f.values)]
        if sort is not None and len(rows) > 1:
            if len(rows) > SORT_ROWS:
                return None
            rows = rows[np.argsort(self.columns[sort].sort_key(rows, desc), kind="stable")]
        return self._rows(rows[offset:offset + limit])

    def row(self, key: Any) -> tuple[Any, ...] | None:
        """The row whose single-column key is ``key`` (None when absent)."""
        (k,) = self.table.key
        found = self._candidates([Filter(k, "eq", (key,))])
        if found is None:
            found = np.arange(self.n)
        found = found[self.columns[k].mask(found, "eq", (key,))]
        return self._rows(found[:1])[0] if len(found) else None

    def _candidates(self, filters: Sequence[Filter]) -> np.ndarray | None:
        """Ascending row numbers that may match (a superset: every filter is still applied to
        them), the fewest of: the run of the key prefix the ``eq`` filters fix, and each ``eq``
        or ``in`` filter's posting list (an ``eq`` one narrowed by an ``eq`` filter on the key's
        first column); every row when no filter narrows, None when those are too many."""
        eq: dict[str, Any] = {}
        for f in filters:
            if f.op == "eq" and isinstance(self.columns[f.column], _Coded):
                eq.setdefault(f.column, f.values[0])
        best: np.ndarray | None = None
        lo, hi = 0, self.n
        for k in self.prefix:
            if k not in eq:
                break
            col = self.columns[k]
            assert isinstance(col, _Coded)
            code = col.code(eq[k])
            if code is None:
                return np.arange(0)
            lo, hi = _run(col.codes, lo, hi, code)
            best = np.arange(lo, hi)
        lead = self.prefix[0] if self.prefix else None
        lead_code = self.columns[lead].code(eq[lead]) if lead in eq else None  # type: ignore
        for f in filters:
            col = self.columns[f.column]
            if f.op not in ("eq", "in") or not isinstance(col, _Coded):
                continue
            if f.op == "eq":
                k = col.code(f.values[0])
                if k is None:
                    return np.arange(0)
                start, stop = int(col.bounds[k]), int(col.bounds[k + 1])
                if lead_code is not None and f.column in self.lead:
                    start, stop = _run(self.lead[f.column], start, stop, lead_code)
                rows = col.perm[start:stop]
            else:
                parts = [col.posting(v) for v in dict.fromkeys(f.values)]
                rows = np.sort(np.concatenate(parts)) if len(parts) > 1 else parts[0]
            if best is None or len(rows) < len(best):
                best = rows
        if best is not None:
            return best
        return np.arange(self.n, dtype=np.int64) if self.n <= SCAN_ROWS else None

    def _rows(self, rows: np.ndarray) -> list[tuple[Any, ...]]:
        cols = [self.columns[c].take(rows) for c in self.table.column_names]
        return list(zip(*cols, strict=True)) if cols else []


def _run(codes: np.ndarray, start: int, stop: int, code: int) -> tuple[int, int]:
    """The positions ``[lo, hi)`` within ``[start, stop)`` of ``codes`` (ascending there) that
    hold ``code`` (searched as ``codes``' own dtype: a Python int would copy the slice)."""
    part, c = codes[start:stop], codes.dtype.type(code)
    return (start + int(np.searchsorted(part, c, "left")),
            start + int(np.searchsorted(part, c, "right")))


def load(cursor: Any, table: str) -> PageIndex | None:
    """The :class:`PageIndex` of ``table`` as ``cursor`` reads it, or None when the table is not
    indexed (see the module's docstring for when)."""
    t = schema.table(table)
    limit = max_rows()
    if limit <= 0 or any(c.type not in _INDEXABLE for c in t.columns):
        return None
    n = cursor.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
    if n > limit:
        return None
    cols = ", ".join(f'"{c}"' for c in t.column_names)
    order = ", ".join(f'"{c}"' for c in (t.key or t.column_names))
    rel = cursor.sql(f'SELECT {cols} FROM "{table}" ORDER BY {order}')
    fetch = getattr(rel, "to_arrow_table", None) or rel.arrow  # duckdb 2 / 1
    index = PageIndex(t, fetch())
    return index if index.indexable() else None
