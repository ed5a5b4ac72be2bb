"""Benchmark: the full GeoPolRisk table (every economy x material x year 2018-2024) on the real atlas.

Builds (or reuses) an atlas from ../shared/data (baci, wgi, wmd), times critmin's compat and default
modes, and, when /work/gpr-venv holds geopolrisk-py 2.0.1, times the published tool on the same
work in a subprocess (``geopolrisk_py_driver.py``) and compares the values.

Usage: ``python benchmarks/bench_geopolrisk.py [--atlas PATH] [--tool-years 2022] [--no-tool]``.
The tool needs about 3 minutes to load its databases and about 5 s per (year, material); a full
run over 2018-2024 takes more than half an hour, so ``--tool-years`` limits it to a subset and the
report extrapolates per combination.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
GPR_PY = Path("/work/gpr-venv/bin/python")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--atlas", type=Path, default=Path(tempfile.gettempdir()) / "bench_gpr.duckdb")
    ap.add_argument("--tool-years", default="2022")
    ap.add_argument("--no-tool", action="store_true")
    args = ap.parse_args()

    import pandas as pd

    from critmin import atlas as atlas_mod
    from critmin.metrics.geopolrisk import COMPAT, geopolrisk

    if not args.atlas.exists():
        t = time.perf_counter()
        atlas_mod.build([SHARED / d for d in ("baci", "wgi", "wmd")], args.atlas, fresh=True)
        print(f"atlas build: {time.perf_counter() - t:.1f} s")
    years = list(range(2018, 2025))
    with atlas_mod.Atlas(args.atlas) as atlas:
        geopolrisk(atlas, years=[2022], materials=["Nickel"], compat=COMPAT)  # warm-up
        t = time.perf_counter()
        compat = geopolrisk(atlas, years=years, compat=COMPAT)
        t_compat = time.perf_counter() - t
        t = time.perf_counter()
        default = geopolrisk(atlas, years=years)
        t_default = time.perf_counter() - t
        baci = atlas.sql("SELECT iso3 AS economy, baci_code FROM countries "
                         "WHERE baci_code IS NOT NULL")
    print(f"critmin compat: {len(compat)} rows in {t_compat:.2f} s "
          f"({t_compat / max(len(compat), 1) * 1e6:.1f} us/row)")
    print(f"critmin default: {len(default)} rows in {t_default:.2f} s")
    if args.no_tool or not GPR_PY.exists():
        return
    with tempfile.TemporaryDirectory() as home:
        t = time.perf_counter()
        out = subprocess.run(
            [str(GPR_PY), str(ROOT / "benchmarks" / "geopolrisk_py_driver.py"),
             "--years", args.tool_years],
            capture_output=True, text=True, check=True, env={**os.environ, "HOME": home})
        t_tool = time.perf_counter() - t
    ref = pd.read_csv(io.StringIO(out.stdout))
    load = next((ln for ln in out.stderr.splitlines() if ln.startswith("load_s=")), "")
    n = len(ref)
    per = t_tool / n
    print(f"geopolrisk-py: {n} rows ({args.tool_years}) in {t_tool:.1f} s ({load}); "
          f"{per * 1e3:.2f} ms/row -> full table ~{per * len(compat):.0f} s")
    print(f"speed-up (per row): {per / (t_compat / len(compat)):.0f}x")
    ref = ref.merge(baci, on="baci_code").merge(compat, on=["economy", "material", "year"],
                                                 suffixes=("_ref", ""))
    ok = ref[ref.status == "ok"]
    for col in ("hhi", "import_risk", "score", "price", "cf"):
        a, b = ok[f"{col}_ref"], ok[col]
        same = (a == b) | (a.isna() & b.isna())
        rel = ((a - b).abs() / pd.concat([a.abs(), b.abs()], axis=1).max(axis=1)).fillna(0)
        print(f"  {col}: identical {int(same.sum())}/{len(ok)}, "
              f"within 1e-12 {int((same | (rel <= 1e-12)).sum())}/{len(ok)}")


if __name__ == "__main__":
    sys.exit(main())
