"""Provenance recorded, not typed: which atlas tables (and source families) a computation read.

Every read of an atlas table goes through :meth:`critmin.atlas.Atlas.table` (or the Parquet
atlas of :mod:`critmin.engine`), which calls :func:`record`; a metric that keeps one source family
of a table (:func:`critmin.metrics.concentration.latest_release`, the BACI filter of
:func:`critmin.metrics.trade.mineral_trade`) records that family, and raw SQL over the atlas
(:func:`critmin.metrics.geopolrisk.geopolrisk`) records the tables it names. Inside
:func:`recording` the reads are collected; :func:`cited` turns them into the sources a response,
a CLI footer, a CSV/Parquet/Excel file or a brief cites:

- a table read only through a family filter cites the loaded files of those families;
- a table read as a whole (:data:`ALL`) or never filtered cites every file loaded into it;
- the curated reference tables cite critmin's reference data (:data:`REFERENCE_SOURCE`).

>>> with recording() as reads:
...     record("production"); record("production", "usgs-mcs"); record("minerals")
>>> sorted((t, sorted(map(str, f))) for t, f in reads.items())
[('minerals', ['None']), ('production', ['None', 'usgs-mcs'])]
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from critmin import __version__ as critmin_version

#: Recorded family meaning "every row of the table was read".
ALL = "*"
#: The citation of critmin's curated reference data (minerals, HS map, groups, lists, ...).
REFERENCE_SOURCE: dict[str, Any] = {
    "source_id": "critmin-reference", "family": "critmin", "publisher": "critmin contributors",
    "title": "critmin curated reference data (see critmin/data/SOURCES.md)",
    "licence": "CC BY 4.0", "url": None, "release": critmin_version,
}
#: Keys of a cited source.
SOURCE_KEYS = ("source_id", "family", "publisher", "title", "licence", "url", "release")

Reads = dict[str, set[str | None]]

_reads: ContextVar[Reads | None] = ContextVar("critmin_reads", default=None)


@contextlib.contextmanager
def recording(*, propagate: bool = True) -> Iterator[Reads]:
    """Collect the table reads made inside the block (a nested block also reports to the outer
    one unless ``propagate`` is false)."""
    outer = _reads.get() if propagate else None
    mine: Reads = {}
    token = _reads.set(mine)
    try:
        yield mine
    finally:
        _reads.reset(token)
        if outer is not None:
            replay(mine, outer)


def record(table: str, family: str | None = None) -> None:
    """Note that ``table`` was read (``family``: only that source family's rows; :data:`ALL`:
    every row; None: the table was opened)."""
    reads = _reads.get()
    if reads is not None:
        reads.setdefault(table, set()).add(family)


def replay(reads: Reads, into: Reads | None = None) -> None:
    """Record ``reads`` again (e.g. for a result served from a cache)."""
    target = into if into is not None else _reads.get()
    if target is not None:
        for t, fams in reads.items():
            target.setdefault(t, set()).update(fams)


def cited(reads: Reads, sources: list[dict[str, Any]],
          table_sources: Callable[[str], list[str] | None]) -> list[dict[str, Any]]:
    """The sources to cite for ``reads``: rows of the atlas ``sources`` table (``source_id``,
    ``family``, ...), in the order of the tables read. ``table_sources(table)`` gives the source
    ids loaded into a data table, or None for a reference table (cites
    :data:`REFERENCE_SOURCE`)."""
    by_id = {s["source_id"]: s for s in sources}
    out: dict[str, dict[str, Any]] = {}
    for table in sorted(reads):
        if table == "sources" and ALL not in reads[table]:
            continue  # consulted to pick releases: the catalogue is not a source of figures
        ids = table_sources(table)
        if ids is None:
            out.setdefault(REFERENCE_SOURCE["source_id"], REFERENCE_SOURCE)
            continue
        fams = reads[table]
        named = {f for f in fams if f not in (None, ALL)}
        keep = None if (ALL in fams or not named) else named
        for i in ids:
            s = by_id.get(i)
            if s is not None and (keep is None or s.get("family") in keep):
                out.setdefault(i, s)
    return [{k: s.get(k) for k in SOURCE_KEYS} for s in out.values()]


def atlas_version(sources: Iterable[dict[str, Any]]) -> str:
    """``<critmin version>+<12 hex digits over the loaded files' checksums>``."""
    h = hashlib.sha256()
    for s in sorted(sources, key=lambda s: (str(s.get("family")), str(s["source_id"]))):
        h.update(f"{s['source_id']}={s['sha256']};".encode())
    return f"{critmin_version}+{h.hexdigest()[:12]}"


def annotations(srcs: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """Source, licence and atlas version for a result citing ``srcs``."""
    licences = list(dict.fromkeys(str(s["licence"]) for s in srcs if s.get("licence")))
    publishers = list(dict.fromkeys(f"{s['publisher']}: {s['title']}" for s in srcs))
    return {"source": "; ".join(publishers), "licence": "; ".join(licences),
            "atlas_version": version, "sources": srcs}


def atlas_sources(atlas: Any) -> list[dict[str, Any]]:
    """The rows of an atlas's ``sources`` table as dicts, by family and source id."""
    con = _duckdb_of(atlas)
    if con is not None:  # a DuckDB atlas file: plain SQL, no Ibis to load
        record("sources")
        cur = con.execute("SELECT * FROM sources ORDER BY family, source_id")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    df = atlas.table("sources").to_pandas()
    return df.sort_values(["family", "source_id"]).to_dict(orient="records")


def _duckdb_of(atlas: Any) -> Any:
    """The plain DuckDB connection of an :class:`critmin.atlas.Atlas`
    (``Atlas.duckdb_connection``), else None (a Parquet atlas)."""
    return getattr(atlas, "duckdb_connection", None)


def _source_ids(atlas: Any, table: str) -> list[str]:
    """The distinct source ids of the rows of atlas ``table``, sorted."""
    if hasattr(atlas, "source_ids"):  # an Atlas: without a scan where it can
        record(table)
        return list(atlas.source_ids(table))
    con = _duckdb_of(atlas)
    if con is not None:
        record(table)
        return sorted(r[0] for r in con.execute(f'SELECT DISTINCT source_id FROM "{table}"')
                      .fetchall())
    return sorted(set(atlas.table(table).select("source_id").distinct().to_pandas().source_id))


def atlas_annotations(atlas: Any, reads: Reads) -> dict[str, Any]:
    """:func:`annotations` for ``reads`` made on ``atlas`` (an Atlas or a Parquet atlas): what
    the CLI prints under a table and writes into files, and what the brief cites."""
    from critmin import schema

    with recording(propagate=False):  # reading the catalogue is not part of the computation
        sources = atlas_sources(atlas)
        ids: dict[str, list[str] | None] = {}

        def table_sources(name: str) -> list[str] | None:
            if name not in ids:
                t = schema.table(name)
                if t.kind == "data" and "source_id" in t.column_names:
                    ids[name] = _source_ids(atlas, name)
                else:
                    ids[name] = None
            return ids[name]

        srcs = cited(reads, sources, table_sources)
    return annotations(srcs, atlas_version(sources))
