"""Benchmark: evaluating 1,000 watch rules against a new release, as a ratio to computing the
underlying indicators once.

Two atlases from ../shared/data: "old" with BACI 1995-2023, USGS and WGI; "new" the same plus the
BACI 2024 file (the release the rules are evaluated against). 1,000 rules (a fixed random mix of
the 30 largest importers, the minerals they import and every indicator family: import share of
CHN or of a bloc, import HHI, top-supplier share, production HHI and top share, import reliance,
GeoPolRisk, N-1 coverage; thresholds and changes) are stored in a SQLite operational database,
evaluated once on the old atlas (their baseline), then, timed, on the new one: everything
``critmin atlas build`` does after loading (compute, compare, store states, alerts and
deliveries in one transaction).

The floor, in the same run on the new atlas: critmin's metric functions computing those
indicators once, for every importer and mineral of the latest year (import metrics at stages
all, mine and refined; production concentration; import reliance at both stages; GeoPolRisk of
every economy and material; the N-1 table). Each repeat times one floor and one evaluation and
the ratio is taken within the pair (the machine is shared).

Usage: ``python benchmarks/bench_watch.py [--repeat 3] [--rules 1000] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "benchmarks"))


def build(workdir: Path) -> tuple[Path, Path]:
    from critmin import atlas

    old, new = workdir / "old.duckdb", workdir / "new.duckdb"
    if not old.exists():
        files = [f for f in (SHARED / "baci").iterdir() if "Y2024" not in f.name]
        atlas.build([*files, SHARED / "usgs", SHARED / "wgi"], old, fresh=True)
    if not new.exists():
        shutil.copy(old, new)
        atlas.build([SHARED / "baci" / "BACI_HS92_Y2024_V202401b.csv",
                     SHARED / "baci" / "country_codes_V202401b.csv"], new)
    return old, new


def make_rules(atlas: object, n: int, seed: int = 18) -> list:
    """``n`` valid rules over the largest importers and their minerals."""
    from critmin.watch.rules import INDICATORS, RuleSpec

    top = atlas.sql(  # type: ignore[attr-defined]
        "SELECT importer, sum(value_kusd) v FROM trade_flows WHERE year = 2023 "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 30").importer.tolist()
    minerals = atlas.sql(  # type: ignore[attr-defined]
        "SELECT DISTINCT mineral FROM hs_map WHERE hs_revision = 'HS92' ORDER BY 1"
    ).mineral.tolist()
    rng = random.Random(seed)
    out = []
    names = list(INDICATORS)
    for _ in range(n):
        ind = INDICATORS[rng.choice(names)]
        stage = rng.choice(ind.stages)
        kind = rng.choice(["threshold", "change"])
        op = rng.choice([">", "<"]) if kind == "threshold" else rng.choice(["up", "down", "move"])
        value = round(rng.uniform(0, 1), 3) if kind == "threshold" else round(rng.uniform(0, .1), 3)
        out.append(RuleSpec(country=rng.choice(top), mineral=rng.choice(minerals),
                            indicator=ind.name, kind=kind, stage=stage, op=op, value=value,
                            supplier=rng.choice(["CHN", "MSP", "EU27", "AUS"])
                            if ind.supplier else None))
    return out


def floor(atlas: object) -> float:
    """Seconds to compute the underlying indicators once with the metric functions."""
    from ibis import _

    from critmin.metrics import concentration, trade
    from critmin.metrics.geopolrisk import geopolrisk
    from critmin.scenarios.nminus1 import n_minus_1

    t = time.perf_counter()
    a = atlas
    tf, hs, src, prod = (a.table("trade_flows"), a.table("hs_map"),  # type: ignore[attr-defined]
                         a.table("sources"), a.table("production"))  # type: ignore[attr-defined]
    year = int(tf.year.max().to_pandas())
    for chain in ("all", "mine", "refined"):
        f = trade.mineral_trade(tf, hs, stage=chain, sources=src).filter(_.year == year)
        trade.import_metrics(f, a.table("country_groups")).to_pandas()  # type: ignore[attr-defined]
    concentration.production_concentration(prod, sources=src, family="usgs-mcs").to_pandas()
    for stage, chain in (("mine", "mine"), ("refinery", "refined")):
        f = trade.mineral_trade(tf, hs, stage=chain, sources=src).filter(_.year == year)
        trade.import_reliance(f, prod, stage=stage, sources=src).to_pandas()
    geopolrisk(atlas, years=[year])
    n_minus_1(atlas)  # type: ignore[arg-type]
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--workdir", type=Path,
                    default=Path(tempfile.gettempdir()) / "bench_watch")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    import duckdb
    from _machine import cpu_model

    from critmin import auth
    from critmin.atlas import Atlas
    from critmin.storage import Store
    from critmin.storage.models import Alert, WatchRule
    from critmin.watch import watchlists
    from critmin.watch.evaluate import evaluate

    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; python "
          f"{sys.version.split()[0]}, duckdb {duckdb.__version__}; "
          f"{dt.date.today().isoformat()}; load average {os.getloadavg()[0]:.1f}")
    t = time.perf_counter()
    old, new = build(args.workdir)
    print(f"atlases ready in {time.perf_counter() - t:.1f} s", flush=True)
    ratios, t_eval, t_floor = [], [], []
    for run in range(1, args.repeat + 1):
        db = args.workdir / f"ops-{run}.db"
        db.unlink(missing_ok=True)
        store = Store(f"sqlite:///{db}")
        store.upgrade()
        auth.set_password_params(time_cost=1, memory_cost=1024, parallelism=1)
        with Atlas(old) as a_old:
            specs = make_rules(a_old, args.rules)
            known = watchlists.choices(a_old)
            with store.session() as s:
                uid = auth.add_user(s, "bench", "analyst", None).id
                for spec in specs:
                    watchlists.add_rule(s, uid, spec, a_old, known)
            t0 = time.perf_counter()
            evaluate(store, a_old, trigger="on-demand")  # the baseline states
            print(f"run {run}: {len(specs)} rules stored, baseline evaluation "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
        with Atlas(new) as a_new:
            tf = floor(a_new)
            te0 = time.perf_counter()
            res = evaluate(store, a_new, trigger="atlas-build")
            te = time.perf_counter() - te0
        with store.session() as s:
            n_rules = s.query(WatchRule).count()
            n_alerts = s.query(Alert).count()
        store.dispose()
        ratios.append(te / tf)
        t_eval.append(te)
        t_floor.append(tf)
        print(f"run {run}: floor {tf:.2f} s, evaluation of {n_rules} rules {te:.2f} s "
              f"({res.readings} distinct indicators, {len(res.alerts)} new alerts, "
              f"{n_alerts} stored in all), ratio {te / tf:.2f}; load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
    print(f"ratio evaluation/floor, same-run pairs: median {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x); best times: floor "
          f"{min(t_floor):.2f} s, evaluation {min(t_eval):.2f} s")


if __name__ == "__main__":
    sys.exit(main())
