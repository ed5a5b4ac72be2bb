"""Benchmark: ``atlas build`` on the full BACI folder vs DuckDB's own ``read_csv`` (the floor).

Usage: ``python benchmarks/bench_atlas_build.py [BACI_DIR] [--repeat N]``

The floor loads the same 30 yearly files into a table of a new DuckDB file with
``CREATE TABLE ... AS SELECT * FROM read_csv(...)`` (no code translation, no validation).
critmin's build parses each file (code translation, HS padding, checks), validates it against the
schema and loads it atomically with provenance. Reports rows/s for both and the ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import duckdb
from _machine import cpu_model  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]


def floor(baci: Path, db: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{baci}/BACI_*.csv', header=true)")
    n = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - t0, n


def critmin_build(baci: Path, db: Path) -> tuple[float, int]:
    from critmin import atlas

    t0 = time.perf_counter()
    report = atlas.build([baci], db, fresh=True)
    dt = time.perf_counter() - t0
    return dt, sum(x.rows for x in report.loaded)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("baci", nargs="?", default=str(ROOT.parent / "shared" / "data" / "baci"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    baci = Path(args.baci)
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; python {platform.python_version()}, "
          f"duckdb {duckdb.__version__}; {time.strftime('%Y-%m-%d')}")
    best_f, best_c = float("inf"), float("inf")
    ratios = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            tf, nf = floor(baci, Path(tmp) / "floor.duckdb")
            tc, nc = critmin_build(baci, Path(tmp) / "atlas.duckdb")
        assert nf == nc, (nf, nc)
        best_f, best_c = min(best_f, tf), min(best_c, tc)
        ratios.append(tc / tf)
        print(f"run {i + 1}: floor {tf:.2f} s, critmin {tc:.2f} s, ratio {tc / tf:.2f}")
    print(f"rows: {nc:,}")
    print(f"DuckDB read_csv floor: {best_f:.2f} s ({nf / best_f:,.0f} rows/s)")
    print(f"critmin atlas build:   {best_c:.2f} s ({nc / best_c:,.0f} rows/s)")
    ratios.sort()
    print(f"ratio critmin/floor, same-run pairs: median {ratios[len(ratios) // 2]:.2f}x "
          f"(min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x); best-of-{args.repeat} times: "
          f"{best_c / best_f:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
