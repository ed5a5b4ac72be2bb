"""Cache misses against the peer: critmin and datasette 0.65 serving the same tables (issue 17,
item 2).

The script builds a SQLite copy of the atlas tables ``trade_flows``, ``production`` and
``countries`` (the rows critmin serves: one release per source family), with the indexes a
datasette user would add for these filters (``trade_flows (year, exporter)``, ``(year,
importer)``; ``production (mineral, stage)``; ``countries`` keyed by ``iso3``), serves it with
``datasette serve --immutable`` on one port and the atlas with ``critmin serve`` on another
(1 worker, then 2; driven once its start-up warm-up is done, when the server uses under 10 % of a
CPU for a second), and drives each with the same distinct-URL filter set, with wrk (2 threads,
50 connections, ``--seconds`` per server, in the same run, one after the other):

- ``trade_flows`` pages: each trade year x the largest traders as exporter or importer x
  ``_size`` 20/50/100/200 x no sort, ``_sort_desc=value_kusd`` or ``_sort=hs_code`` x no range
  filter or ``value_kusd__gt=`` (a range) x JSON or CSV;
- ``production`` pages per mineral (and stage), with and without ``year__gte=`` and a sort;
- ``countries`` rows by key.

The query strings are identical for both tools (datasette's and critmin's filter syntax agree:
``column=value``, ``column__gt=``, ``_sort``, ``_sort_desc``, ``_size``); only the path prefix
differs (``/api/v1/trade_flows.csv`` against ``/atlas/trade_flows.csv``). The URLs are shuffled
(fixed seed), and there are more of them than either server answers in the time given, so each
URL is asked once: every request misses every cache. Both servers run with their defaults
otherwise (datasette's JSON is its default ``arrays`` shape, with its ``filtered_table_rows_count``;
critmin's is objects). Afterwards a sample of URLs is asked of both and the rows compared.

    python benchmarks/bench_datasette.py --db /tmp/full-atlas.duckdb --seconds 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _machine import cpu_model, server_pid, wait_idle  # noqa: E402
from bench_api import check_paths, run_wrk, wrk_script  # noqa: E402

from tests import stress  # noqa: E402

TABLES = ("trade_flows", "production", "countries")
INDEXES = [
    "CREATE INDEX trade_year_exporter ON trade_flows (year, exporter)",
    "CREATE INDEX trade_year_importer ON trade_flows (year, importer)",
    "CREATE INDEX production_mineral_stage ON production (mineral, stage)",
]
CONNECTIONS = 50
N_TRADERS = 60
SIZES = (20, 50, 100, 200)


def build_sqlite(atlas: Path, out: Path) -> dict[str, int]:
    """The SQLite copy of :data:`TABLES` at ``out`` (the rows critmin serves); rows per table."""
    from critmin import schema
    from critmin.atlas import connect

    con = connect(atlas)
    lite = sqlite3.connect(out)
    counts = {}
    try:
        for name in TABLES:
            t = schema.table(name)
            types = {"VARCHAR": "TEXT", "DOUBLE": "REAL", "BOOLEAN": "INTEGER", "DATE": "TEXT"}
            cols = ", ".join(f'"{c.name}" {types.get(c.type, "INTEGER")}' for c in t.columns)
            pk = ', PRIMARY KEY ("iso3")' if name == "countries" else ""
            lite.execute(f'CREATE TABLE "{name}" ({cols}{pk})')
            rel = con.execute(f'SELECT * FROM "{name}"')
            marks = ", ".join("?" * len(t.columns))
            n = 0
            while rows := rel.fetchmany(50_000):
                lite.executemany(f'INSERT INTO "{name}" VALUES ({marks})', rows)
                n += len(rows)
            counts[name] = n
        for sql in INDEXES:
            lite.execute(sql)
        lite.commit()
        lite.execute("ANALYZE")
    finally:
        lite.close()
        con.close()
    return counts


def query_strings(lite: Path) -> list[tuple[str, str]]:
    """(table path, query string) pairs, distinct, shuffled (fixed seed)."""
    con = sqlite3.connect(lite)
    try:
        years = [r[0] for r in con.execute(
            "SELECT DISTINCT year FROM trade_flows ORDER BY 1 DESC LIMIT 10")]
        traders = [r[0] for r in con.execute(
            "SELECT c FROM (SELECT exporter AS c, value_kusd FROM trade_flows UNION ALL "
            "SELECT importer, value_kusd FROM trade_flows) GROUP BY c "
            f"ORDER BY sum(value_kusd) DESC, c LIMIT {N_TRADERS}")]
        mineral_stages = con.execute(
            "SELECT DISTINCT mineral, stage FROM production ORDER BY 1, 2").fetchall()
        prod_years = [r[0] for r in con.execute(
            "SELECT DISTINCT year FROM production ORDER BY 1")]
        countries = [r[0] for r in con.execute("SELECT iso3 FROM countries ORDER BY 1")]
    finally:
        con.close()
    q = urllib.parse.urlencode
    out: list[tuple[str, str]] = []
    for year in years:
        for iso3 in traders:
            for role in ("exporter", "importer"):
                for size in SIZES:
                    for sort in ((), (("_sort_desc", "value_kusd"),), (("_sort", "hs_code"),)):
                        for rng in ((), (("value_kusd__gt", "1000"),)):
                            for ext in (".json", ".csv"):
                                params = [("year", year), (role, iso3), *rng, *sort,
                                          ("_size", size)]
                                out.append((f"trade_flows{ext}", q(params)))
    for mineral, stage in mineral_stages:
        for stage_p in ((), (("stage", stage),)):
            for since in ((), (("year__gte", prod_years[len(prod_years) // 2]),)):
                for sort in ((), (("_sort_desc", "value"),)):
                    for size in SIZES:
                        params = [("mineral", mineral), *stage_p, *since, *sort, ("_size", size)]
                        out.append(("production.json", q(params)))
    out += [(f"countries/{urllib.parse.quote(c)}", "") for c in countries]
    out = list(dict.fromkeys(out))
    random.Random(0).shuffle(out)
    return out


def critmin_path(table: str, query: str) -> str:
    if table.endswith(".json"):
        table = table[:-5]
    return f"/api/v1/{table}" + (f"?{query}" if query else "")


def datasette_path(table: str, query: str) -> str:
    if table.startswith("countries/"):
        table += ".json"
    return f"/atlas/{table}" + (f"?{query}" if query else "")


def wait_for(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {seconds} s")


def rows_of(base: str, path: str) -> tuple[list[tuple[str, ...]], bool]:
    """The rows of a JSON page of either tool, as sorted tuples of value texts (booleans as 0/1,
    as SQLite keeps them), and whether the tool says there is a next page."""
    with urllib.request.urlopen(base + path, timeout=60) as r:
        body = json.loads(r.read())
    if "row" in body:  # critmin's row route
        rows = [list(body["row"].values())]
    elif body.get("rows") and isinstance(body["rows"][0], dict):
        rows = [[v for k, v in r.items() if k != "rowid"] for r in body["rows"]]
    else:
        rows = body.get("rows", [])
    text = sorted(tuple("" if v is None else str(int(v) if isinstance(v, bool) else v)
                        for v in r) for r in rows)
    return text, bool(body.get("next"))


def whole(query: str) -> str:
    """``query`` without sorting, at the largest page size (every matching row on one page)."""
    kept = [(k, v) for k, v in urllib.parse.parse_qsl(query) if k not in ("_sort", "_sort_desc",
                                                                          "_size")]
    return urllib.parse.urlencode([*kept, ("_size", 1000)]) if kept else ""


def same_rows(critmin: str, datasette: str, qs: list[tuple[str, str]]) -> tuple[int, list[str]]:
    """Of JSON URLs of ``qs`` (unsorted, one page of every matching row), how many were compared
    and which differ between the two servers."""
    compared, differ = 0, []
    for t, q in qs:
        if t.endswith(".csv") or compared == 100:
            continue
        q = whole(q) if q else q
        ours, more_c = rows_of(critmin, critmin_path(t, q))
        theirs, more_d = rows_of(datasette, datasette_path(t, q) + ("&" if q else "?")
                                 + "_shape=objects")  # datasette adds a rowid column
        if more_c or more_d:  # more than one page: the pages may order ties differently
            continue
        compared += 1
        if ours != theirs:
            differ.append(q)
    return compared, differ


def drive(label: str, base: str, paths: list[str], seconds: int, folder: Path) -> dict[str, Any]:
    script = wrk_script(paths, folder / f"{label}.lua")
    load = os.getloadavg()[0]
    r = run_wrk(base + "/", seconds, CONNECTIONS, script=script, timeout_s=60)
    r["load"] = load
    r["repeats"] = max(0, r["requests"] - len(paths))
    bad = check_paths(base, paths[:min(r["requests"], 3000)])
    r["checked"], r["bad"] = min(r["requests"], 3000), bad[:5]
    print(f"{label:22s} {r['rps']:7.0f} req/s  p50 {r['p50']:7.1f} ms  p99 {r['p99']:7.1f} ms  "
          f"max {r['max']:7.1f} ms  errors {r['errors']}  requests {r['requests']} (asked twice "
          f"{r['repeats']})  load average before {load:.1f}; first {r['checked']} URLs asked "
          f"again: {len(bad)} not 200 {bad[:3]}", flush=True)
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, help="atlas file (the full atlas)")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                    help="critmin worker counts to measure")
    ap.add_argument("--json", type=Path, help="append the results as JSON lines to this file")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="critmin-datasette-"))
    lite = folder / "atlas.db"
    t0 = time.perf_counter()
    counts = build_sqlite(Path(args.db), lite)
    print(f"SQLite copy {lite}: {counts} in {time.perf_counter() - t0:.1f} s", flush=True)
    qs = query_strings(lite)
    print(f"{len(qs)} distinct URLs per tool; machine: {os.cpu_count()} CPUs ({cpu_model()}), "
          f"{platform.python_implementation()} {platform.python_version()}, "
          f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    results: dict[str, Any] = {"label": args.label, "urls": len(qs), "rows": counts}
    port = stress.free_port()
    ds = subprocess.Popen(
        [str(Path(sys.executable).parent / "datasette"), "serve", "--immutable", str(lite),
         "-p", str(port), "--setting", "max_returned_rows", "1000",
         "--setting", "sql_time_limit_ms", "10000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ds_base = f"http://127.0.0.1:{port}"
    try:
        wait_for(ds_base + "/atlas/countries.json?_size=1")
        for _ in range(20):  # warm: connections, the table's metadata (not a benchmark URL)
            urllib.request.urlopen(ds_base + "/atlas/countries.json?_size=5", timeout=60).read()
        results["datasette"] = drive("datasette 0.65", ds_base,
                                     [datasette_path(t, q) for t, q in qs], args.seconds, folder)
        for workers in args.workers:
            with stress.running_server(Path(args.db), folder, "--workers", str(workers),
                                       "--warm-years", "0") as base:
                # its start-up warm-up (pages' data, page indexes) done in every worker, as a
                # user meets a running server; datasette has none to wait for
                waited = wait_idle(server_pid(base))
                print(f"critmin --workers {workers}: idle {waited:.0f} s after answering",
                      flush=True)
                for _ in range(20 * workers):
                    urllib.request.urlopen(base + "/api/v1/countries?_size=5", timeout=60).read()
                results[f"critmin {workers}"] = drive(
                    f"critmin --workers {workers}", base,
                    [critmin_path(t, q) for t, q in qs], args.seconds, folder)
                compared, differ = same_rows(base, ds_base, qs)
                results[f"critmin {workers}"]["rows_differ"] = len(differ)
                print(f"  every row of {compared} filters compared with datasette's: "
                      f"{len(differ)} differ {differ[:3]}", flush=True)
    finally:
        ds.terminate()
        ds.wait(timeout=20)
    if args.json:
        with args.json.open("a") as fh:
            fh.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
