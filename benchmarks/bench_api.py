"""Load benchmark of the API's main read endpoints with wrk (Debian: apt-get install -y wrk).

Starts ``critmin serve`` on 127.0.0.1 (random port, the starter atlas unless --db is given), warms
each endpoint, then runs ``wrk -t2 -c50 -d<seconds>s --latency`` per endpoint and records
requests/s, p50 and p99 latency and errors (socket errors and non-2xx responses). Requests
without credentials are answered from the response cache before routing once warm; the same
endpoints are measured again with an API token (``Authorization: Bearer``): the token is looked up
in the operational database on every request (one indexed query), then the kept response is sent
before routing.
Writes a Markdown table to docs/benchmarks/api.md (``--out``). Target: p99 < 100 ms at 50
connections, zero errors.

    python benchmarks/bench_api.py --seconds 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

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
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


def run_wrk(url: str, seconds: int, connections: int, headers: dict[str, str] | None = None
            ) -> dict[str, float]:
    extra = [arg for k, v in (headers or {}).items() for arg in ("-H", f"{k}: {v}")]
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *extra,
                          url], capture_output=True, text=True, check=True).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.MULTILINE))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return {"rps": rps, "p50": _ms(lat["50"]), "p99": _ms(lat["99"]), "requests": total,
            "errors": errors}


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
    lines += ["", "wrk runs on the same 2 CPUs as the server, so the figures are a lower bound "
              "of what the service does with the machine to itself.", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
