"""Run the published geopolrisk-py 2.0.1 over every country x material x year (its own venv only).

This script is executed with the interpreter of a separate virtual environment where
``geopolrisk-py==2.0.1`` is installed (``/work/gpr-venv``); critmin never imports the tool. It calls
the tool's public functions (``mapped_baci``, ``aggregateTrade``, ``HHI``, ``GeoPolRisk``) in the
order ``gprs_calc`` does, one (year, country, material) at a time, so that one failing combination
does not stop the others (``gprs_calc`` breaks out of its loop at the first failure), and without its
Excel/SQLite side outputs. Rows are written as CSV to stdout:
``year,baci_code,country,material,hhi,import_risk,score,price,cf,status``.

Usage: ``HOME=$(mktemp -d) /work/gpr-venv/bin/python geopolrisk_py_driver.py [--years 2018-2024]
[--mode split|gprs_calc] [--limit N] [--economies EU]``. ``--economies`` names the economies
to assess (the tool's country names or its region names, comma-separated; default: every
country of its list); a region such as the tool's built-in ``EU`` (its 27 member names) is
written with an empty ``baci_code``. ``--mode gprs_calc`` instead times the tool's own
``gprs_calc`` on the first N countries (for the benchmark) and prints the seconds.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--years", default="2018-2024")
    ap.add_argument("--mode", default="split", choices=["split", "gprs_calc"])
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--economies", default="")
    args = ap.parse_args()
    lo, _, hi = args.years.partition("-")
    years = list(range(int(lo), int(hi or lo) + 1))

    t0 = time.perf_counter()
    import logging

    from geopolrisk.assessment import core, utils
    from geopolrisk.assessment import main as gmain
    from geopolrisk.assessment.database import databases

    logging.disable(logging.CRITICAL)
    t_load = time.perf_counter() - t0
    countries = databases.production["Country_ISO"]["Country"].tolist()
    materials = utils.default_rmlist()
    if args.limit:
        countries = countries[: args.limit]
    if args.economies:
        countries = [e.strip() for e in args.economies.split(",") if e.strip()]

    if args.mode == "gprs_calc":
        t1 = time.perf_counter()
        gmain.gprs_calc(years, countries, materials)
        t = time.perf_counter() - t1
        combos = len(years) * len(countries) * len(materials)
        print(f"load_s={t_load:.3f} gprs_calc_s={t:.3f} combos={combos}")
        return

    t1 = time.perf_counter()
    data = utils.mapped_baci()
    print(f"load_s={t_load:.3f} mapped_baci_s={time.perf_counter() - t1:.3f}", file=sys.stderr)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["year", "baci_code", "country", "material", "hhi", "import_risk", "score",
                  "price", "cf", "status"])
    for year in years:
        data_y = data[data["period"] == year]
        for rm in materials:
            data_ym = data_y[data_y["rawMaterial"] == rm]
            print(f"{year} {rm} {time.perf_counter() - t0:.1f}", file=sys.stderr)
            for ctry in countries:
                iso = utils.cvtcountry(ctry, type="ISO")
                code = "" if isinstance(iso, str) else int(iso)  # a region has no code
                members = databases.regionslist[utils.cvtcountry(ctry, type="Name")]
                try:
                    num, total, price = utils.aggregateTrade(year, members, rm, data=data_ym)
                    prod = []
                    for j in members:
                        q, hhi = core.HHI(rm, int(year), utils.cvtcountry(j, type="Name"))
                        prod.append(q)
                    score, cf, ir = core.GeoPolRisk(num, total, price, sum(prod), hhi)
                except Exception as exc:  # the tool's gprs_calc stops here ("break")
                    out.writerow([year, code, ctry, rm, "", "", "", "", "", type(exc).__name__])
                    continue
                out.writerow([year, code, ctry, rm, repr(float(hhi)), repr(float(ir)),
                              repr(float(score)), repr(float(price)), repr(float(cf)), "ok"])


if __name__ == "__main__":
    main()
