"""Load benchmark of the API's main read endpoints with wrk (Debian: apt-get install -y wrk).

Starts ``critmin serve`` on 127.0.0.1 (random port, the starter atlas unless --db is given), warms
each endpoint, then runs ``wrk -t2 -c50 -d<seconds>s --latency`` per endpoint and records
requests/s, p50 and p99 latency and errors (socket errors and non-2xx responses). Requests
without credentials are answered from the response cache before routing once warm; the same
endpoints are measured again with an API token (``Authorization: Bearer``): the token is looked up
in the operational database on every request (one indexed query), then the kept response is sent
before routing. A third pass measures cache misses: a wrk Lua script cycles through thousands of
distinct URLs built from the atlas (trade_flows pages per year x exporter/importer x page size x
sort x format, production pages per mineral and stage, country rows, concentration per mineral,
stage and year), shuffled, each wrk thread taking its own share, so that no URL is asked twice
while there are fewer requests than URLs; every URL is checked for a 200 after the run.
Writes a Markdown table to docs/benchmarks/api.md (``--out``). Target: p99 < 100 ms at 50
connections, zero errors.

    python benchmarks/bench_api.py --seconds 10
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from _machine import cpu_model  # benchmarks/ is on sys.path when run as a script

ENDPOINTS = [
    ("minerals (reference table)", "/api/v1/minerals"),
    ("trade_flows page, filtered + sorted", "/api/v1/trade_flows?year=2023&exporter=CHN"
                                            "&_sort=-value_kusd&_size=100"),
    ("trade_flows page, csv", "/api/v1/trade_flows.csv?year=2023&importer=JPN&_size=100"),
    ("production page", "/api/v1/production?mineral=cobalt&_size=100"),
    ("country row", "/api/v1/countries/JPN"),
    ("assess JPN (cached analytic)", "/api/v1/assess/JPN"),
    ("concentration cobalt (cached analytic)", "/api/v1/concentration?mineral=cobalt"),
]


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return {"us": v / 1000, "ms": v, "s": v * 1000, "m": v * 60_000}[unit]


WRK_THREADS = 2


def run_wrk(url: str, seconds: int, connections: int, headers: dict[str, str] | None = None,
            script: Path | None = None, timeout_s: int | None = None) -> dict[str, float]:
    """wrk's figures for ``url``: requests/s, p50, p99 and max latency (ms), requests, errors
    (non-2xx and socket errors; a request slower than ``timeout_s``, wrk's default 2 s, is a
    socket error)."""
    extra = [arg for k, v in (headers or {}).items() for arg in ("-H", f"{k}: {v}")]
    if timeout_s is not None:
        extra += ["--timeout", f"{timeout_s}s"]
    if script is not None:
        extra += ["-s", str(script)]
    out = subprocess.run(["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s",
                          "--latency", *extra, url],
                         capture_output=True, text=True, check=True).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.MULTILINE))
    lat_max = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.MULTILINE)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return {"rps": rps, "p50": _ms(lat["50"]), "p99": _ms(lat["99"]),
            "max": _ms(lat_max.group(1)) if lat_max else float("nan"), "requests": total,
            "errors": errors, "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(map(int, sock.groups())) if sock else 0}


TRADE_SIZES = (20, 50, 100, 200)
PAGE_SIZES = (20, 50, 100, 200)
N_TRADERS = 40


def varied_paths(db: str) -> tuple[list[str], list[int]]:
    """Distinct request paths that all answer 200, built from what the atlas at ``db`` holds,
    shuffled (fixed seed) so that every stretch of the run mixes the endpoints; the paths of
    :data:`ENDPOINTS` (kept in the cache by the passes before) are left out. Also the trade
    years."""
    import duckdb

    con = duckdb.connect(db, read_only=True)
    try:
        years = [r[0] for r in con.execute(
            "SELECT DISTINCT year FROM trade_flows ORDER BY 1").fetchall()]
        traders = [r[0] for r in con.execute(
            "SELECT c FROM (SELECT exporter AS c, value_kusd FROM trade_flows UNION ALL "
            "SELECT importer, value_kusd FROM trade_flows) GROUP BY c "
            f"ORDER BY sum(value_kusd) DESC, c LIMIT {N_TRADERS}").fetchall()]
        mineral_stage_years = con.execute(
            "SELECT DISTINCT mineral, stage, year FROM production p JOIN sources s "
            "USING (source_id) WHERE s.family = 'usgs-mcs' ORDER BY 1, 2, 3").fetchall()
        countries = [r[0] for r in con.execute("SELECT iso3 FROM countries ORDER BY 1").fetchall()]
    finally:
        con.close()
    q = urllib.parse.urlencode
    paths: list[str] = []
    for year in years:
        for iso3 in traders:
            for role in ("exporter", "importer"):
                for size in TRADE_SIZES:
                    for sort in (None, "-value_kusd", "hs_code"):
                        for ext in ("", ".csv"):
                            params = {"year": year, role: iso3, "_size": size}
                            if sort:
                                params["_sort"] = sort
                            paths.append(f"/api/v1/trade_flows{ext}?{q(params)}")
    minerals = sorted({m for m, _, _ in mineral_stage_years})
    mineral_stages = sorted({(m, st) for m, st, _ in mineral_stage_years})
    for mineral, stage in [(m, None) for m in minerals] + mineral_stages:
        for size in PAGE_SIZES:
            for sort in (None, "-value"):
                params = {"mineral": mineral, "_size": size}
                if stage:
                    params["stage"] = stage
                if sort:
                    params["_sort"] = sort
                paths.append(f"/api/v1/production?{q(params)}")
    paths += [f"/api/v1/countries/{urllib.parse.quote(c, safe='')}" for c in countries]
    conc = {(m, None, None) for m in minerals}
    conc |= {(m, None, y) for m, _, y in mineral_stage_years}
    conc |= {(m, st, None) for m, st in mineral_stages}
    conc |= set(mineral_stage_years)
    answered = _concentration_answers(db)
    for mineral, stage, year in sorted(conc, key=lambda t: (t[0], t[1] or "", t[2] or 0)):
        if not answered(mineral, stage, year):  # the API refuses it (400 or 404): not a read
            continue
        params = {"mineral": mineral}
        if stage:
            params["stage"] = stage
        if year:
            params["year"] = year
        paths.append(f"/api/v1/concentration?{q(params)}")
    warmed = {p for _, p in ENDPOINTS}
    paths = list(dict.fromkeys(p for p in paths if p not in warmed))
    random.Random(0).shuffle(paths)
    return paths, years


def _concentration_answers(db: str) -> Any:
    """``answered(mineral, stage, year)``: whether ``/concentration`` answers these with rows
    (the route's own filter, :func:`critmin.reports.views.concentration_view`, on the atlas's
    concentration table): USGS lists some minerals, stages and years with a world total only,
    which the route refuses."""
    from critmin.atlas import Atlas
    from critmin.errors import CritminError
    from critmin.reports import views

    with Atlas(db) as atlas:
        full = views.concentration(atlas)

    def answered(mineral: str, stage: str | None, year: int | None) -> bool:
        try:
            return not views.concentration_view(full, mineral, stage, year).empty
        except CritminError:
            return False

    return answered


def wrk_script(paths: list[str], out: Path) -> Path:
    """A wrk Lua script whose thread ``i`` of :data:`WRK_THREADS` requests ``paths[i]``,
    ``paths[i + WRK_THREADS]``, ... (starting again at the end)."""
    table = ",\n".join(json.dumps(p) for p in paths)
    out.write_text(f"""local paths = {{
{table}
}}
local n = #paths
local nthreads = {WRK_THREADS}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local i = nil

function request()
  if i == nil then i = id end
  local path = paths[(i % n) + 1]
  i = i + nthreads
  return wrk.format("GET", path)
end
""")
    return out


def check_paths(base: str, paths: list[str]) -> list[tuple[str, int]]:
    """The paths among ``paths`` that do not answer 200, with their status."""

    def status(path: str) -> int:
        try:
            with urllib.request.urlopen(base + path, timeout=120) as r:
                r.read()
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        return [(p, st) for p, st in zip(paths, ex.map(status, paths), strict=True) if st != 200]


def bench_token(database_url: str) -> str:
    """An API token of a fresh analyst in the operational database at ``database_url``."""
    from critmin import auth
    from critmin.storage import Store

    store = Store(database_url)
    store.upgrade()
    with store.session() as s:
        token = auth.issue_token(s, auth.add_user(s, "bench", "analyst"), "bench_api")
    store.dispose()
    return token


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--db", help="atlas file (default: the starter atlas in a temporary folder)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" /
                                         "benchmarks" / "api.md"))
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="critmin-bench-"))
    db = args.db
    if db is None:
        from critmin import starter

        db = str(starter.install(tmp / "atlas.duckdb", quiet=True))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CRITMIN_DATABASE_URL": f"sqlite:///{tmp / 'critmin.db'}"}
    token = bench_token(env["CRITMIN_DATABASE_URL"])
    paths, years = varied_paths(db)
    script = wrk_script(paths, tmp / "varied.lua")
    load = os.getloadavg()  # before the server starts and wrk runs
    proc = subprocess.Popen([sys.executable, "-c", "from critmin.cli import main; main()", "serve",
                             "--port", str(port), "--db", db, "--workers", str(args.workers),
                             "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/api/v1", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        rows = []
        auth = {"Authorization": f"Bearer {token}"}
        for who, headers in (("anonymous", {}), ("token", auth)):
            for label, path in ENDPOINTS:
                for _ in range(20):  # warm every worker's connection and cache
                    req = urllib.request.Request(base + path, headers=headers)
                    urllib.request.urlopen(req, timeout=120).read()
                r = run_wrk(base + path, args.seconds, args.connections, headers)
                rows.append((who, label, path, r))
                print(f"{who:9s} {label:42s} {r['rps']:8.0f} req/s  p50 {r['p50']:7.1f} ms  "
                      f"p99 {r['p99']:7.1f} ms  errors {r['errors']}", flush=True)
        # no warm-up: every worker and connection is warm, and these URLs must not be cached
        varied_load = os.getloadavg()
        varied = run_wrk(base + "/api/v1", args.seconds, args.connections, script=script)
        repeats = max(0, varied["requests"] - len(paths))
        print(f"varied    {len(paths)} distinct URLs{'':24s} {varied['rps']:8.0f} req/s  "
              f"p50 {varied['p50']:7.1f} ms  p99 {varied['p99']:7.1f} ms  errors "
              f"{varied['errors']} (non-2xx {varied['non2xx']}, socket {varied['socket_errors']})"
              f"  requests {varied['requests']}, beyond one round of the URLs {repeats}; "
              f"load average before the pass {varied_load[0]:.1f}", flush=True)
        bad = check_paths(base, paths)
        print(f"checked {len(paths)} URLs afterwards: {len(bad)} did not answer 200 {bad[:5]}",
              flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    cpu = cpu_model()
    lines = [
        "## HTTP API (`benchmarks/bench_api.py`)", "",
        f"Measured {dt.date.today().isoformat()} on {os.cpu_count()} CPUs ({cpu}), "
        f"{platform.python_implementation()} {platform.python_version()}, load average before "
        f"the run {load[0]:.1f}; `critmin serve --workers {args.workers}` on 127.0.0.1 with the "
        f"starter atlas, wrk 2 threads, {args.connections} connections, {args.seconds} s per "
        "endpoint after a warm-up. Target: p99 < 100 ms, zero errors. *anonymous*: no "
        "credentials, answered from the response cache before routing; *token*: "
        "`Authorization: Bearer` with an analyst's API token: the token looked up in the SQLite "
        "operational database on every request (one indexed query), then the kept response "
        "before routing.", "",
        "| caller | endpoint | requests/s | p50 (ms) | p99 (ms) | requests | errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for who, label, path, r in rows:
        lines.append(f"| {who} | {label}: `{path}` | {r['rps']:.0f} | {r['p50']:.1f} | "
                     f"{r['p99']:.1f} | {r['requests']} | {r['errors']} |")
    kinds = {k: sum(p.startswith(f"/api/v1/{k}") for p in paths)
             for k in ("trade_flows?", "trade_flows.csv?", "production?", "countries/",
                       "concentration?")}
    lines.append(f"| anonymous, varied | varied queries (cache misses): {len(paths)} distinct "
                 f"URLs, `{script.name}` | {varied['rps']:.0f} | {varied['p50']:.1f} | "
                 f"{varied['p99']:.1f} | {varied['requests']} | {varied['errors']} |")
    lines += [
        "", f"*anonymous, varied*: no credentials, one wrk run ({args.seconds} s, no warm-up) over "
        f"{len(paths)} distinct URLs that the passes before never asked, built from the atlas and "
        "shuffled (fixed seed), each wrk thread taking every second URL: "
        f"{kinds['trade_flows?']} trade_flows JSON pages and {kinds['trade_flows.csv?']} CSV "
        f"pages (each of the {len(years)} years {years[0]}-{years[-1]} x the {N_TRADERS} largest "
        f"traders as exporter or importer x `_size` {', '.join(map(str, TRADE_SIZES))} x no sort, "
        f"`_sort=-value_kusd` or `_sort=hs_code`), {kinds['production?']} production pages "
        "(each mineral, and each mineral and stage, x `_size` "
        f"{', '.join(map(str, PAGE_SIZES))} x no sort or `_sort=-value`), "
        f"{kinds['countries/']} country rows (every `iso3`) and {kinds['concentration?']} "
        "concentration analytics (each mineral, with and without a stage and a year). "
        f"{varied['requests']} requests "
        + (f"for {len(paths)} URLs: no URL was asked twice, so every request missed the response "
           "cache and went through routing, the handler, the query and the rendering."
           if repeats == 0 else
           f"for {len(paths)} URLs: {repeats} requests asked a URL for the second time, "
           f"{len(paths) - 1} requests after its first (each worker keeps at most 1,024 "
           "responses, least recently used first out).")
        + f" Non-2xx responses {varied['non2xx']}, socket errors {varied['socket_errors']}; "
        f"after the run every URL was asked again: {len(bad)} did not answer 200. Load average "
        f"before this pass {varied_load[0]:.1f} (the passes before it included).",
        "", "wrk runs on the same 2 CPUs as the server, so the figures are a lower bound "
        "of what the service does with the machine to itself.", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
