"""Benchmark: ``assess`` and ``concentration`` on synthetic BACI-shaped atlases of growing size, on
DuckDB and on Spark (local), with the growth exponent of each (issue #17 item 5).

For each size (rows of synthetic BACI trade, :mod:`critmin.synthetic`, at most 11 million a year
like full BACI) the script reuses or generates the CSVs (in the layout of
``benchmarks/bench_scan.py``: ``WORK/rows_N/csv``), builds a DuckDB atlas from them **plus the real
production, governance and mining files** of ``../shared/data`` (usgs, wgi, wmd: so ``assess`` has
production, reliance and GeoPolRisk inputs, as on a real atlas), exports it to Parquet, and then,
in one fresh subprocess per engine:

- opens the engine (DuckDB: the atlas file; Spark: a ``local[N]`` session on the Parquet export),
- runs ``assess("JPN")`` twice and the ``concentration`` view of cobalt twice (the library calls
  of ``critmin assess JPN`` and ``critmin concentration --mineral cobalt``), timing each.

The DuckDB floor of ``assess`` (one hand-written SQL query over the same trade rows, from
``bench_interactive.py``) is timed in the same run. The growth exponent b of t ~ rows^b is taken
between consecutive sizes (b = log(t2 / t1) / log(rows2 / rows1)): b = 1 is linear in the trade
rows, b = 0 does not depend on them.

    python benchmarks/bench_scale.py --rows 1e7 1e8 [--engines duckdb spark] [--prepare-only]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import sys
import time
from pathlib import Path

from _machine import cpu_model  # benchmarks/ is on sys.path when run as a script
from bench_interactive import ASSESS_SQL
from bench_scan import prepare as scan_prepare
from bench_scan import run_engine

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
#: The real non-trade folders loaded beside the synthetic trade.
REAL = ("usgs", "wgi", "wmd")


def _child(engine: str, db: str, parquet: str, master: str) -> None:
    """Run in the subprocess: open the engine, run each command ``$BENCH_RUNS`` times (default
    2), print timings as JSON."""
    t0 = time.perf_counter()
    from critmin.assessment import assess
    from critmin.engine import open_atlas
    from critmin.reports import views

    kw = {"path": db} if engine == "duckdb" else {"parquet": parquet, "master": master}
    atlas = open_atlas(engine, **kw)
    atlas.table("trade_flows")
    out: dict = {"open_s": time.perf_counter() - t0}
    for name, fn in (
        ("assess", lambda: assess("JPN", atlas=atlas)),
        ("concentration", lambda: views.concentration_view(
            views.concentration(atlas, "cobalt"), "cobalt")),
    ):
        for run in range(1, int(os.environ.get("BENCH_RUNS", "2")) + 1):
            t = time.perf_counter()
            df = fn()
            out[f"{name}_{run}_s"] = time.perf_counter() - t
        out.setdefault(f"{name}_2_s", out[f"{name}_1_s"])
        out[f"{name}_rows"] = len(df)
        if name == "assess":
            out["assess_year"] = int(df.year.iloc[0])
            out["assess_imports_kusd"] = float(df.imports_kusd.sum())
    atlas.close()
    print(json.dumps(out))


def _floor(db: Path, repeat: int = 3) -> float:
    """Best in-process time of the hand-written DuckDB query of assess JPN (connect + query)."""
    import duckdb

    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        con = duckdb.connect(str(db), read_only=True)
        con.execute(ASSESS_SQL).fetchall()
        con.close()
        best = min(best, time.perf_counter() - t)
    return best


def prepare(rows: int, work: Path) -> tuple[Path, Path, dict]:
    """Synthetic CSVs (shared with bench_scan), atlas with the real non-trade data, Parquet
    (:func:`bench_scan.prepare`)."""
    return scan_prepare(rows, work, extra=[SHARED / r for r in REAL], suffix="-full")


def exponent(t1: float, t2: float, n1: int, n2: int) -> float:
    """b in t ~ n^b between two sizes.

    >>> round(exponent(1.0, 10.0, 10, 100), 3)
    1.0
    """
    return math.log(t2 / t1) / math.log(n2 / n1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--rows", nargs="+", default=["1e7", "1e8"])
    ap.add_argument("--engines", nargs="+", default=["duckdb", "spark"])
    ap.add_argument("--work", default="/tmp/critmin-bench-scan")
    ap.add_argument("--master", default=f"local[{os.cpu_count()}]")
    ap.add_argument("--spark-runs", type=int, default=1,
                    help="runs of each command in the Spark process (DuckDB: 2)")
    ap.add_argument("--prepare-only", action="store_true",
                    help="generate, build and export only (untimed; run it outside the lock)")
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sizes = sorted(int(float(r)) for r in args.rows)
    results: list[dict] = []
    prepared = {}
    for rows in sizes:
        prepared[rows] = prepare(rows, work)
        print(f"{rows:,} rows: {json.dumps(prepared[rows][2])}", flush=True)
    if args.prepare_only:
        return
    floors = {rows: _floor(db) for rows, (db, _pq, _i) in prepared.items()}
    for e in args.engines:  # every size on one engine, then the next engine
        os.environ["BENCH_RUNS"] = str(args.spark_runs if e == "spark" else 2)
        for rows in sizes:
            db, pq, _info = prepared[rows]
            print(f"{rows:,} rows, {e}: load {os.getloadavg()[0]:.1f} before", flush=True)
            res = run_engine(e, db, pq, args.master, script=__file__)
            res.update(rows=rows, floor_s=floors[rows], load=os.getloadavg()[0])
            results.append(res)
            print(json.dumps(res), flush=True)
    print(f"\nMachine: {os.cpu_count()} cores ({cpu_model()}); {dt.date.today().isoformat()}; "
          f"Spark master {args.master}; first / second run in one process (Spark: "
          f"{args.spark_runs} run(s)).\n")
    print("| rows | engine | start s | assess s | concentration s | wall s | peak RSS MiB "
          "| assess floor (DuckDB SQL) s | load |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for x in results:
        print(f"| {x['rows']:,} | {x['engine']} | {x['open_s']:.1f} | "
              f"{x['assess_1_s']:.2f} / {x['assess_2_s']:.2f} | "
              f"{x['concentration_1_s']:.2f} / {x['concentration_2_s']:.2f} | "
              f"{x['wall_s']:.1f} | {x['peak_rss_mib']:.0f} | {x['floor_s']:.2f} | "
              f"{x['load']:.1f} |")
    print("\n| engine | command | rows | growth exponent b (second runs) |")
    print("|---|---|---|---:|")
    for e in args.engines:
        mine = [x for x in results if x["engine"] == e]
        for a, b in itertools.pairwise(mine):
            for cmd in ("assess", "concentration"):
                k = exponent(a[f"{cmd}_2_s"], b[f"{cmd}_2_s"], a["rows"], b["rows"])
                print(f"| {e} | {cmd} | {a['rows']:.0e} -> {b['rows']:.0e} | {k:.2f} |")
    for a, b in itertools.pairwise(sizes):
        k = exponent(floors[a], floors[b], a, b)
        print(f"| DuckDB SQL floor | assess | {a:.0e} -> {b:.0e} | {k:.2f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
