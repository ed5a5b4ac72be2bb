"""The bundled starter atlas: a compact aggregate of the public sources, shipped as Parquet.

``scripts/build_starter.py`` derives these files from the publishers' releases (see
``ATTRIBUTION.md`` beside them); :func:`install` turns them into a DuckDB atlas so analyses work on
a fresh machine without any download.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import pyarrow.parquet as pq

#: Atlas tables shipped in the starter (in load order; ``sources`` last).
TABLES = ("trade_flows", "production", "reserves", "governance", "sources")


def files() -> dict[str, Path]:
    """Parquet file of each starter table."""
    root = resources.files("critmin.starter")
    return {t: Path(str(root.joinpath(f"{t}.parquet"))) for t in TABLES}


def install(path: Path, *, quiet: bool = False) -> Path:
    """Build an atlas at ``path`` from the starter data (atomically)."""
    from critmin import atlas as _atlas

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"critmin: installing the bundled starter atlas at {path}", file=sys.stderr)
    with _atlas.atomic_update(path, tag="starter", copy=False) as con:
        for name, f in files().items():
            if f.exists():
                _atlas._insert(con, name, pq.read_table(f))
        _atlas._refresh_reference(con, _atlas.country_codes())
    return path
