"""Benchmark: ``trace`` for every importer x mineral pair in one call, and ``outlook`` for every
mineral x scenario in one call (``outlooks``, with the registry's projects), each against its
floor measured in the same run: the time DuckDB takes to read the same rows from the atlas into
pandas (no computation).

- trace floor: the year's trade flows joined with the HS map (every traded form), plus the
  production and governance rows ``trace_all`` reads;
- outlook floor: the demand, supply projection and IEA production rows ``outlook`` reads.

The atlas is built from ``../shared/data`` (BACI HS92 2022-2024 and HS17, IEA, USGS, WGI) unless
``--atlas`` names one. Times are wall clock, the median of ``--repeat`` runs, on a warm atlas
(the first run of each is discarded).

    python benchmarks/bench_valuechain.py [--atlas FILE] [--year 2024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _machine import cpu_model  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def build(path: Path) -> None:
    from critmin import atlas

    files: list[Path] = [DATA / "baci" / f"BACI_HS92_Y{y}_V202401b.csv" for y in (2022, 2023, 2024)]
    files += [DATA / "baci" / "country_codes_V202401b.csv", DATA / "baci_hs17", DATA / "iea",
              DATA / "usgs", DATA / "wgi"]
    atlas.build(files, path, fresh=True)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    fn()  # warm-up
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--atlas", type=Path)
    ap.add_argument("--year", type=int, default=2024)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    path = args.atlas
    if path is None or not path.exists():
        path = path or Path(tempfile.mkdtemp()) / "atlas.duckdb"
        t0 = time.perf_counter()
        build(path)
        print(f"built {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    import duckdb

    from critmin.atlas import Atlas
    from critmin.valuechain import SCENARIOS, outlook_minerals, outlooks, trace_all

    y = args.year
    con = duckdb.connect(str(path), read_only=True)

    def trace_floor() -> int:
        rows = con.execute("""
            SELECT t.*, h.mineral, h.stage, h.chain_stage, h.content_factor
            FROM trade_flows t JOIN hs_map h USING (hs_code, hs_revision)
            WHERE t.year = ?""", [y]).df()
        prod = con.execute("SELECT * FROM production WHERE stage = 'mine' AND year <= ?",
                           [y]).df()
        gov = con.execute("SELECT * FROM governance WHERE indicator = 'pv' AND year <= ?",
                          [y]).df()
        return len(rows) + len(prod) + len(gov)

    def outlook_floor() -> int:
        n = 0
        for q in ("SELECT * FROM demand_outlook", "SELECT * FROM supply_outlook",
                  "SELECT p.* FROM production p JOIN sources s USING (source_id) "
                  "WHERE s.family = 'iea'"):
            n += len(con.execute(q).df())
        return n

    with Atlas(path) as atlas:
        minerals = outlook_minerals(atlas)
        t_floor, n_rows = timed(trace_floor, args.repeat)
        t_trace, traced = timed(lambda: trace_all(atlas, y), args.repeat)
        o_floor, n_orows = timed(outlook_floor, args.repeat)
        t_out, _ = timed(lambda: outlooks(atlas, minerals, SCENARIOS, with_projects=True),
                         args.repeat)
    con.close()
    pairs = len(traced.metrics)
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(f"### Value chain: trace and outlook ({dt.date.today().isoformat()})\n")
    print(f"Machine: {cpu_model()}, {os.cpu_count()} logical CPUs; load average during the run "
          f"{' '.join(load)}; year {y}; median of {args.repeat} warm runs.\n")
    print("| task | critmin | floor (DuckDB read of the same rows) | ratio |")
    print("|---|---|---|---|")
    print(f"| `trace_all`: {pairs:,} importer x mineral pairs ({len(traced.flows):,} traced "
          f"flows) | {t_trace:.2f} s | {t_floor:.2f} s ({n_rows:,} rows) | "
          f"{t_trace / t_floor:.1f}x |")
    print(f"| `outlooks`: {len(minerals)} minerals x {len(SCENARIOS)} scenarios, with projects | "
          f"{t_out:.2f} s | "
          f"{o_floor:.3f} s ({n_orows:,} rows) | {t_out / o_floor:.0f}x |")


if __name__ == "__main__":
    main()
