"""What changed between two atlases, or between two releases in one atlas.

Rows are compared per source family on each table's natural key (its schema key without
``source_id``; within a family the latest release of a key stands for it): **added** (key only
in the new side), **removed** (only in the old side) and **changed** (same key, another value).
The registry tables (projects, agreements, frameworks, groups, memberships) are compared as the
family ``registry``. Then the indicators that moved most: per importer and mineral, import HHI
and the top supplier's share in each side's latest BACI year; per mineral and stage, the HHI of
production (USGS, latest year); ranked by the size of the move.

:func:`snapshot` keeps the atlas as it was before a build (a hard link, so no copy) for
:func:`save_whats_new`, which writes the diff next to the atlas for the "what's new" page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from critmin import schema
from critmin.errors import SpecError

REGISTRY_TABLES = ("projects", "agreements", "frameworks", "groups", "country_groups")
SAMPLE = 5


def _side(con: duckdb.DuckDBPyConnection, db: str, table: str, release: str | None,
          key: list[str]) -> str:
    """SQL for one side: rows of ``table`` in attached ``db`` with their family, the latest
    release per family and key (only rows of ``release`` when given)."""
    cols = [c.name for c in schema.table(table).columns if c.name != "source_id"]
    sel = ", ".join(f't."{c}"' for c in cols)
    if table in REGISTRY_TABLES:
        return f"SELECT {sel}, 'registry' AS family FROM {db}.\"{table}\" t"
    where = f"WHERE s.release = '{release}'" if release is not None else ""
    part = ", ".join(["s.family", *(f't."{k}"' for k in key)])
    return (f"SELECT {sel}, s.family FROM {db}.\"{table}\" t JOIN {db}.sources s "
            f"USING (source_id) {where} QUALIFY row_number() OVER (PARTITION BY {part} "
            f"ORDER BY s.release DESC NULLS LAST) = 1")


def _tables(con: duckdb.DuckDBPyConnection, db: str) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ?", [db]
    ).fetchall()}


def row_changes(old: Path, new: Path, *, old_release: str | None = None,
                new_release: str | None = None) -> list[dict[str, Any]]:
    """Per table and family: rows added, removed and changed, with a few examples of each."""
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"ATTACH '{old}' AS o (READ_ONLY)")
        if new != old:
            con.execute(f"ATTACH '{new}' AS n (READ_ONLY)")
        ndb = "n" if new != old else "o"
        both = _tables(con, "o") & _tables(con, ndb)
        out = []
        for name, t in schema.tables().items():
            if name not in both or (t.kind != "data" and name not in REGISTRY_TABLES):
                continue
            if old_release is not None and name in REGISTRY_TABLES:
                continue
            key = [k for k in t.key if k != "source_id"]
            vals = [c.name for c in t.columns if c.name not in key and c.name != "source_id"]
            o = _side(con, "o", name, old_release, key)
            n = _side(con, ndb, name, new_release, key)
            on = " AND ".join(f'a."{k}" IS NOT DISTINCT FROM b."{k}"'
                              for k in [*key, "family"])
            differ = " OR ".join(f'a."{v}" IS DISTINCT FROM b."{v}"' for v in vals) or "false"
            kcols = ", ".join(f'coalesce(a."{k}", b."{k}") AS "{k}"' for k in key)
            q = (f"WITH a AS ({o}), b AS ({n}) SELECT coalesce(a.family, b.family) AS family, "
                 f"{kcols}, CASE WHEN a.family IS NULL THEN 'added' WHEN b.family IS NULL "
                 f"THEN 'removed' ELSE 'changed' END AS change, "
                 + ", ".join(f'a."{v}" AS "old_{v}", b."{v}" AS "new_{v}"' for v in vals)
                 + f" FROM a FULL OUTER JOIN b ON {on} WHERE a.family IS NULL OR "
                 f"b.family IS NULL OR ({differ})")
            df = con.execute(q).df()
            if df.empty:
                continue
            for fam, g in df.groupby("family", sort=True):
                entry: dict[str, Any] = {"table": name, "family": fam}
                for ch in ("added", "removed", "changed"):
                    rows = g[g.change == ch]
                    entry[ch] = len(rows)
                    entry[f"{ch}_examples"] = _records(rows.drop(columns=["family", "change"])
                                                       .head(SAMPLE))
                out.append(entry)
        return out
    finally:
        con.close()


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records", date_format="iso"))


def _source_ids(atlas: Any, release: str | None) -> list[str] | None:
    if release is None:
        return None
    return list(atlas.sql(f"SELECT source_id FROM sources WHERE release = '{release}'").source_id)


def indicator_panel(path: Path, release: str | None = None) -> pd.DataFrame:
    """``country, mineral, indicator, year, value, imports_kusd`` at the atlas's latest data: import HHI and
    top-supplier share per importer (latest BACI year) and production HHI per mineral (country
    empty; latest USGS year, largest basis)."""
    from ibis import _

    from critmin.atlas import Atlas
    from critmin.metrics import concentration, trade

    with Atlas(path) as atlas:
        ids = _source_ids(atlas, release)
        tf, prod = atlas.table("trade_flows"), atlas.table("production")
        if ids is not None:
            tf, prod = tf.filter(_.source_id.isin(ids)), prod.filter(_.source_id.isin(ids))
        src = atlas.table("sources")
        flows = trade.mineral_trade(tf, atlas.table("hs_map"), sources=src)
        frames = []
        y = flows.year.max().to_pandas()
        if y is not None and not pd.isna(y):
            im = trade.import_metrics(flows.filter(_.year == int(y))).to_pandas()
            im = im.rename(columns={"importer": "country"})
            frames.append(im.melt(id_vars=["country", "mineral", "year", "imports_kusd"],
                                  value_vars=["import_hhi", "top_supplier_share"],
                                  var_name="indicator"))
        conc = concentration.production_concentration(prod, sources=src, family="usgs-mcs")
        conc = conc.filter(_.unit == "t").to_pandas()
        if not conc.empty:
            conc = conc.sort_values(["mineral", "stage", "year", "total"],
                                    ascending=[True, True, False, False])
            conc = conc.drop_duplicates(["mineral", "stage"])
            frames.append(pd.DataFrame({
                "country": "", "mineral": conc.mineral, "year": conc.year,
                "indicator": "production_hhi_" + conc.stage, "value": conc.hhi,
                "imports_kusd": None}))
    cols = ["country", "mineral", "indicator", "year", "value", "imports_kusd"]
    return pd.concat(frames)[cols] if frames else pd.DataFrame(columns=cols)


def moved(old: pd.DataFrame, new: pd.DataFrame, top: int = 20,
          min_imports_kusd: float = 1000.0) -> pd.DataFrame:
    """The ``top`` largest moves between two :func:`indicator_panel` frames, leaving out
    importers whose imports of the mineral are below ``min_imports_kusd`` on either side (tiny
    flows swing shares without mattering)."""
    m = old.merge(new, on=["country", "mineral", "indicator"], suffixes=("_old", "_new"))
    m = m.dropna(subset=["value_old", "value_new"])
    small = (m.imports_kusd_old.fillna(float("inf")) < min_imports_kusd) | (
        m.imports_kusd_new.fillna(float("inf")) < min_imports_kusd)
    m = m[~small]
    m["change"] = m.value_new - m.value_old
    m = m[m.change != 0]
    m = m.reindex(m.change.abs().sort_values(ascending=False).index).head(top)
    return m[["country", "mineral", "indicator", "year_old", "value_old", "year_new",
              "value_new", "change", "imports_kusd_new"]].reset_index(drop=True)


def diff(old: str | Path, new: str | Path | None = None, *, atlas: str | Path | None = None,
         top: int = 20) -> dict[str, Any]:
    """Compare two atlas files, or (``new`` a release label, or ``atlas`` given) two releases
    in one atlas: ``{"old", "new", "tables": [...], "moved": [...]}``."""
    from critmin.atlas import Atlas

    old_s, new_s = str(old), str(new) if new is not None else None
    if new_s is not None and Path(old_s).is_file() and Path(new_s).is_file():
        o, n, orel, nrel = Path(old_s), Path(new_s), None, None
    else:
        if new_s is None:
            raise SpecError("NEW: give a second atlas file or a second release")
        path = Atlas.open(atlas).path
        with Atlas(path) as a:
            releases = sorted({str(r) for r in a.sql("SELECT DISTINCT release FROM sources "
                                                     "WHERE release IS NOT NULL").release})
        for label in (old_s, new_s):
            if label not in releases:
                raise SpecError(f"{label}: neither an atlas file nor a release in {path}; "
                                 f"releases: {', '.join(releases)}")
        o, n, orel, nrel = path, path, old_s, new_s
    tables = row_changes(o, n, old_release=orel, new_release=nrel)
    mv = moved(indicator_panel(o, orel), indicator_panel(n, nrel), top)
    return {"old": str(o) + (f" release {orel}" if orel else ""),
            "new": str(n) + (f" release {nrel}" if nrel else ""), "tables": tables,
            "moved": _records(mv)}


@contextlib.contextmanager
def snapshot(path: Path) -> Iterator[Path | None]:
    """The atlas at ``path`` as it is now, kept while the block runs (a hard link: a build
    replaces the file, the old one stays readable through the link); None when there is none."""
    if not path.exists():
        yield None
        return
    fd, tmp = tempfile.mkstemp(prefix=".before-", suffix=".duckdb", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        try:
            os.link(path, tmp)
        except OSError:
            import shutil

            shutil.copy2(path, tmp)
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def whats_new_path(atlas_path: Path) -> Path:
    return atlas_path.with_name(atlas_path.name + ".whats-new.json")


def save_whats_new(before: Path | None, after: Path) -> Path | None:
    """Write the diff of ``before`` and ``after`` next to ``after`` (atomically)."""
    if before is None:
        return None
    d = diff(before, after)
    d["built_at"] = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    d["old"], d["new"] = "previous build", after.name
    out = whats_new_path(after)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(d, indent=1, default=str), "utf-8")
    os.replace(tmp, out)
    return out


def whats_new(atlas_path: Path) -> dict[str, Any] | None:
    """The diff saved by the last build, or None."""
    p = whats_new_path(atlas_path)
    if not p.exists():
        return None
    return json.loads(p.read_text("utf-8"))
