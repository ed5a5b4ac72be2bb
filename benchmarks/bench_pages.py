"""Benchmark: first render of every dashboard page in the navigation, in headless Chromium
(issue #17 item 4; target < 300 ms each after the server's start-up warm-up).

Starts ``critmin.api:create_app`` with uvicorn on 127.0.0.1 (a fresh SQLite operational database,
the atlas given by ``--atlas``), waits until it answers and its start-up warm-up is over (the
pages' data, then every table's page index), then opens every page linked from the navigation
bar of the home page in Debian's headless Chromium (Playwright, launched as the browser tests
launch it), one fresh browser context per visit (empty browser cache), and reads the page's navigation timing:

- ``ttfb``: request start to the first byte of the HTML (server time plus the loopback);
- ``dcl``: DOMContentLoaded (HTML parsed, deferred scripts run);
- ``fcp``: first contentful paint (the first render the user sees; the script waits for the
  entry, which Chromium often records after the load event);
- ``ui`` (``/docs`` only): when Swagger UI has put the first operation (``.opblock``) in the page;
- ``load``: the load event (every resource, charts included).

Each page is visited twice: the first visit after start-up (the figure the target is about),
then once more. Usage::

    python benchmarks/bench_pages.py --atlas /tmp/full-atlas.duckdb [--repeat 2] [--no-warmup]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
TIMING_JS = """() => new Promise((resolve) => {
  // the first contentful paint can be recorded after the load event: wait for it (up to 10 s)
  const done = (p) => {
    const n = performance.getEntriesByType('navigation')[0];
    const ops = performance.getEntriesByName('critmin-docs-ui')[0];
    resolve({ttfb: n.responseStart - n.startTime, dcl: n.domContentLoadedEventEnd - n.startTime,
             load: n.loadEventEnd - n.startTime, fcp: p ? p.startTime : null,
             bytes: n.transferSize, ui: ops ? ops.startTime : null});
  };
  const seen = performance.getEntriesByName('first-contentful-paint')[0];
  if (seen) { done(seen); return; }
  const obs = new PerformanceObserver((list) => {
    const p = list.getEntriesByName('first-contentful-paint')[0];
    if (p) { obs.disconnect(); done(p); }
  });
  obs.observe({type: 'paint', buffered: true});
  setTimeout(() => { obs.disconnect(); done(null); }, 10000);
})"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: What the server logs when its start-up warm-up is over (:func:`critmin.api.warmup.freeze`).
WARMED_UP = "objects frozen for the garbage collector"


def start_server(atlas: Path, work: Path, warmup: bool
                 ) -> tuple[subprocess.Popen[bytes], str, float]:
    """uvicorn on a free port; returns the process, the base URL and the start-up time (s):
    until the server answers and, with ``warmup``, has logged the end of its whole start-up
    warm-up (as ``critmin serve`` runs it: the pages' data, then the page indexes of the other
    tables, ending with "objects frozen for the garbage collector")."""
    port = _free_port()
    env = {**os.environ, "CRITMIN_ATLAS": str(atlas), "CRITMIN_WARMUP": "1" if warmup else "0",
           "CRITMIN_DATABASE_URL": f"sqlite:///{work / 'critmin.db'}",
           "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    log = (work / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "critmin.api:create_app",
                             "--factory", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "info"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    while True:
        text = (work / "server.log").read_text()
        if "critmin: warm-up step" in text:
            raise SystemExit("warm-up failed:\n" + text[-3000:])
        try:
            with urllib.request.urlopen(url + "/api/v1", timeout=2) as r:
                if r.status == 200 and (not warmup or WARMED_UP in text):
                    return proc, url, time.perf_counter() - t0
        except OSError:
            pass
        if proc.poll() is not None or time.perf_counter() - t0 > 300:
            proc.kill()
            raise SystemExit("server did not start:\n" + (work / "server.log").read_text()[-3000:])
        time.sleep(0.1)


def nav_pages(url: str) -> list[str]:
    """The home page and every same-site link of the navigation bar, in order (read from the
    sign-in page, which shares the layout and computes nothing: no page is warmed by this)."""
    with urllib.request.urlopen(url + "/login", timeout=60) as r:
        html = r.read().decode()
    nav = re.search(r"<nav>(.*?)</nav>", html, re.S)
    links = re.findall(r'href="(/[^"]*)"', nav.group(1) if nav else "")
    return ["/", *dict.fromkeys(links)]


#: Marks (performance.mark) the moment Swagger UI has put the first API operation in the page
#: (``.opblock``): on ``/docs``, when the interactive UI is there, whatever the first paint showed.
SWAGGER_MARK_JS = """(() => {
  const seen = () => document.querySelector('#swagger-ui .opblock');
  new MutationObserver((_m, obs) => {
    if (seen()) { performance.mark('critmin-docs-ui'); obs.disconnect(); }
  }).observe(document, {childList: true, subtree: true});
})();"""


def visit(browser: Any, url: str) -> dict[str, Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = ctx.new_page()
        page.add_init_script(SWAGGER_MARK_JS)
        resp = page.goto(url, wait_until="load", timeout=120_000)
        if url.endswith("/docs"):
            page.wait_for_selector("#swagger-ui .opblock", timeout=60_000)
        t = page.evaluate(TIMING_JS)
        t["status"] = resp.status if resp else None
        return t
    finally:
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atlas", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=2, help="visits per page (the first counts)")
    ap.add_argument("--no-warmup", action="store_true",
                    help="start the server without its page warm-up (the cold first render)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; "
          f"date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
          f"load before {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    proc, url, startup = start_server(args.atlas, work, not args.no_warmup)
    print(f"atlas: {args.atlas} ({args.atlas.stat().st_size / 1e6:.0f} MB); server start-up "
          + ("(until /api/v1 answers; no warm-up)" if args.no_warmup
             else "(until it answers and has logged the end of its warm-up)")
          + f" {startup:.1f} s")
    try:
        pages = nav_pages(url)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            visit(browser, url + "/api/v1")  # start the browser's own machinery, not a page
            runs: dict[str, list[dict[str, Any]]] = {p: [] for p in pages}
            for _ in range(args.repeat):
                for p in pages:
                    runs[p].append(visit(browser, url + p))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print("| page | status | first visit: TTFB / DCL / **first contentful paint** / load ms"
          " | Swagger UI operations shown ms | later visits: first paint ms | HTML kB "
          "| first paint < 300 ms |")
    print("|---|---|---|---|---|---|---|")

    def ms(x: float | None) -> str:
        return "–" if x is None else f"{x:.0f}"

    for p, rs in runs.items():
        f = rs[0]
        later = ", ".join(ms(r["fcp"]) for r in rs[1:])
        ok = "yes" if f["fcp"] is not None and f["fcp"] < 300 else "no"
        print(f"| `{p}` | {f['status']} | {ms(f['ttfb'])} / {ms(f['dcl'])} / **{ms(f['fcp'])}** / "
              f"{ms(f['load'])} | {ms(f['ui'])} | {later or '–'} | "
              f"{(f['bytes'] or 0) / 1e3:.0f} | {ok} |", flush=True)
    print(f"load after {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
