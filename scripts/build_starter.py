"""Rebuild the starter atlas shipped in ``src/critmin/starter/`` from the public source files.

Usage: ``python scripts/build_starter.py [DATA_DIR]`` (default ``../shared/data``).

What goes in (each file keeps the publishers' attribution, see ATTRIBUTION.md):
- CEPII BACI (Etalab 2.0): trade flows of the HS codes in critmin's HS map, latest 5 years;
- USGS MCS (public domain): production and reserves by country from the latest edition;
- World Bank WGI (CC BY 4.0): the six indicators, latest 10 years, and full-precision PV.
World Mining Data, Comtrade and the B2B instances are not redistributed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "critmin" / "starter"


def main(data: Path) -> None:
    from critmin import atlas

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "full.duckdb"
        report = atlas.build([data / "baci", data / "usgs", data / "wgi"], db, fresh=True)
        print(f"built {sum(x.rows for x in report.loaded):,} rows from {len(report.loaded)} files")
        con = duckdb.connect(str(db), read_only=True)
        last_trade = con.execute("SELECT max(year) FROM trade_flows").fetchall()[0][0]
        mcs = con.execute("""SELECT max(release) FROM sources WHERE family = 'usgs-mcs'""").fetchall()[0][0]
        last_wgi = con.execute("SELECT max(year) FROM governance").fetchall()[0][0]
        queries = {
            "trade_flows": f"""SELECT * FROM trade_flows
                WHERE year > {last_trade - 5}
                  AND (hs_code, hs_revision) IN (SELECT hs_code, hs_revision FROM hs_map)
                ORDER BY year, hs_code, exporter, importer""",
            "production": f"""SELECT * FROM production WHERE source_id IN
                (SELECT source_id FROM sources WHERE family = 'usgs-mcs' AND release = '{mcs}')
                ORDER BY mineral, stage, year, country""",
            "reserves": f"""SELECT * FROM reserves WHERE source_id IN
                (SELECT source_id FROM sources WHERE family = 'usgs-mcs' AND release = '{mcs}')
                ORDER BY mineral, year, country""",
            "governance": f"""SELECT * FROM governance WHERE year > {last_wgi - 10}
                ORDER BY indicator, year, country""",
        }
        OUT.mkdir(parents=True, exist_ok=True)
        used = []
        for name, q in queries.items():
            out = OUT / f"{name}.parquet"
            con.execute(f"COPY ({q}) TO '{out}' (FORMAT parquet, COMPRESSION zstd, "
                        "COMPRESSION_LEVEL 19)")
            used.append(f"SELECT DISTINCT source_id FROM ({q})")
            n = con.execute(f"SELECT count(*) FROM ({q})").fetchall()[0][0]
            print(f"{name}: {n:,} rows, {out.stat().st_size / 1e6:.2f} MB")
        union = " UNION ".join(used)
        q = f"""SELECT s.* REPLACE (
                    (SELECT count(*) FROM ({' UNION ALL '.join(
                        f"SELECT source_id FROM ({qq})" for qq in queries.values())}) x
                     WHERE x.source_id = s.source_id) AS rows)
                FROM sources s WHERE source_id IN ({union}) ORDER BY source_id"""
        con.execute(f"COPY ({q}) TO '{OUT / 'sources.parquet'}' (FORMAT parquet)")
        con.close()
    total = sum(p.stat().st_size for p in OUT.glob("*.parquet"))
    print(f"starter atlas: {total / 1e6:.2f} MB in {OUT}")
    if total > 5e6:
        sys.exit("starter atlas is over 5 MB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
