"""Benchmark the scenario layers on a real atlas.

    python benchmarks/bench_scenarios.py [--db ATLAS] [--runs 10000] [--year 2023]

1. Monte Carlo: ``runs`` draws for all minerals and all importers (target < 60 s on 2 cores);
2. re-routing LP: one shock (a full ban by China or by the largest exporter) over all importers,
   for a few minerals (target < 1 s per solve), timed on its own (data extraction excluded) and end to end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time

from _machine import cpu_model  # benchmarks/ is on sys.path when run as a script


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=os.environ.get("CRITMIN_ATLAS"))
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from critmin.atlas import Atlas
    from critmin.scenarios import data, run
    from critmin.scenarios.exposure import ShockInput, exposure
    from critmin.scenarios.montecarlo import montecarlo
    from critmin.scenarios.reroute import solve, spare_capacity

    print(f"date {dt.date.today()}  nproc {os.cpu_count()}  cpu {cpu_model()}  "
          f"python {platform.python_version()}")
    with Atlas.open(args.db) as atlas:
        t0 = time.perf_counter()
        mc = montecarlo(atlas, year=args.year, runs=args.runs, seed=args.seed)
        t_mc = time.perf_counter() - t0
        print(f"montecarlo: {args.runs:,} runs, {mc.mineral.nunique()} minerals, "
              f"{mc.importer.nunique()} importers, {len(mc):,} importer x mineral rows: "
              f"{t_mc:.1f} s (data extraction included)")

        for mineral, stage, who in (("graphite", "mine", "CHN"), ("rare_earths", "refined", "CHN"),
                                    ("cobalt", "all", None), ("copper", "all", None),
                                    ("nickel", "all", None)):
            flows = data.trade(atlas, args.year, stage, [mineral])
            exports = flows.groupby("exporter").quantity_t.sum()
            top = who or str(exports.idxmax())
            ex = exposure(flows, [ShockInput(top, 1.0, None)])
            loss = ex.set_index("importer").loss_t
            prod = data.production(atlas, args.year, data.PRODUCTION_STAGE[stage], [mineral])
            cap = spare_capacity(exports, prod.set_index("country").production_t, 0.1)
            existing = set(zip(flows.exporter, flows.importer, strict=True))
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                r = solve(loss, cap, theta=0.5, existing=existing, exclude={top})
                best = min(best, time.perf_counter() - t0)
            n_imp = int((loss > 0).sum())
            n_exp = int((cap.drop(top, errors="ignore") > 0).sum())
            t0 = time.perf_counter()
            run({"base_year": args.year, "shocks": [
                {"exporter": top, "mineral": mineral, "stage": stage, "cut": 1.0}]}, atlas)
            t_run = time.perf_counter() - t0
            print(f"LP {mineral}/{stage}: ban by {top}, {n_imp} importers x {n_exp} exporters "
                  f"({n_imp * n_exp:,} flow variables): solve {best * 1000:.0f} ms "
                  f"(best of 3); scenario run end to end {t_run:.2f} s; "
                  f"shortfall {r.importers.shortfall_t.sum():,.0f} t")


if __name__ == "__main__":
    main()
