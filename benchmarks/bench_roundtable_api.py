"""Benchmark: a 75-organisation roundtable with about 300 accepted requests, end to end through the
HTTP API, from "run" to a published, proved-optimal schedule.

    python benchmarks/bench_roundtable_api.py [--time-limit 300] [--requests-per-participant 4]

The event is ``examples/roundtable/event.json`` (75 fictitious organisations) on a larger grid
(24 tables x 16 slots: 9 morning, 7 afternoon), with each organisation asking, in rounds, for its
best recommended counterpart (:func:`critmin.matchmaking.roundtable.recommend_for`, demand
spread by capacity); a counterpart accepts while both sides have fewer than ``--cap`` meetings,
until ``--accepted`` requests are accepted. A real uvicorn server on 127.0.0.1 (one worker,
SQLite) gets the event through ``POST /api/v1/match/import``; the measured time is the
``POST /api/v1/match/schedule`` call (capacity check, solver, storing and publishing), then a
participant's agenda is read back to confirm publication. The floor, measured in the same run on
the same event, is the roundtable core's :func:`schedule_event` in-process (no HTTP, no database).
Prints a Markdown block with machine, date and load for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from _machine import cpu_model  # benchmarks/ is on sys.path when run as a script

from critmin import auth
from critmin.matchmaking.event import Event, read_event
from critmin.matchmaking.recommend import score_matrix
from critmin.matchmaking.roundtable import (
    add_request,
    capacity_check,
    recommend_for,
    recommendation_profiles,
    respond,
    schedule_event,
)
from critmin.storage import Store

ROOT = Path(__file__).resolve().parents[1]


def make_event(target: int, cap: int, tables: int = 24, morning: int = 9,
               afternoon: int = 7) -> Event:
    """Rounds in which every organisation asks for its best recommended counterpart; the
    counterpart accepts while both have fewer than ``cap`` meetings (else declines), until
    ``target`` requests are accepted."""
    ev = read_event(ROOT / "examples" / "roundtable" / "event.json")
    ev = Event.model_validate({**ev.model_dump(mode="json", by_alias=True), "n_tables": tables,
                               "morning": {"start": "09:00", "slots": morning},
                               "afternoon": {"start": "14:00", "slots": afternoon}})
    matrix = score_matrix(recommendation_profiles(ev), ev.partner_countries)
    meetings = {p.id: 0 for p in ev.participants}
    accepted = 0
    for _ in range(12):
        for p in ev.participants:
            if accepted >= target:
                return ev
            recs = recommend_for(ev, p.id, top_k=1, matrix=matrix)
            if not recs:
                continue
            ev = add_request(ev, p.id, recs[0].target)
            ok = meetings[p.id] < cap and meetings[recs[0].target] < cap
            ev = respond(ev, ev.requests[-1].id, accept=ok)
            if ok:
                meetings[p.id] += 1
                meetings[recs[0].target] += 1
                accepted += 1
    return ev


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--accepted", type=int, default=300, help="accepted requests to reach")
    ap.add_argument("--cap", type=int, default=10, help="most meetings a participant accepts")
    ap.add_argument("--tables", type=int, default=24)
    ap.add_argument("--morning", type=int, default=9, help="morning slots (from 09:00)")
    ap.add_argument("--afternoon", type=int, default=7, help="afternoon slots (from 14:00)")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()
    ev = make_event(args.accepted, args.cap, args.tables, args.morning, args.afternoon)
    cap = capacity_check(ev)
    n_acc = sum(r.status == "accepted" for r in ev.requests)
    print(f"event: {len(ev.participants)} participants, {n_acc} accepted requests, "
          f"{ev.n_tables} tables x {ev.n_slots} slots; capacity ok: {cap.feasible}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-roundtable-"))
    from critmin import starter

    atlas = starter.install(tmp / "atlas.duckdb", quiet=True)
    url = f"sqlite:///{tmp / 'ops.db'}"
    store = Store(url)
    store.upgrade()
    with store.session() as s:
        token = auth.issue_token(s, auth.add_user(s, "organiser", "organiser", None), "bench")
    store.dispose()
    port = _port()
    env = {**os.environ, "CRITMIN_ATLAS": str(atlas), "CRITMIN_DATABASE_URL": url}
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "critmin.api:create_app",
                             "--factory", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    head = {"Authorization": f"Bearer {token}"}
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/api/v1", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        with httpx.Client(base_url=base, headers=head, timeout=args.time_limit + 120) as c:
            t = time.perf_counter()
            r = c.post("/api/v1/match/import", content=ev.model_dump_json(by_alias=True),
                       headers={"Content-Type": "application/json"})
            r.raise_for_status()
            t_import = time.perf_counter() - t
            t = time.perf_counter()
            res = c.post("/api/v1/match/schedule",
                         json={"time_limit_s": args.time_limit, "publish": True}).json()
            t_run = time.perf_counter() - t
            pid = c.get("/api/v1/match/profiles").json()["profiles"][0]["id"]
            agenda = c.get(f"/api/v1/match/agenda?participant={pid}").json()["meetings"]
            event = c.get("/api/v1/match/event").json()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    t = time.perf_counter()
    floor = schedule_event(ev, time_limit_s=args.time_limit)
    t_floor = time.perf_counter() - t
    load1 = os.getloadavg()
    row_import = (f"| `POST /match/import` (accounts, sign-in links, requests) | "
                  f"{len(r.json()['participants'])} participants | {t_import:.2f} s |")
    row_run = (f"| `POST /match/schedule` (capacity, solver, store, publish) | {res['status']}, "
               f"{res['total_breaks']} breaks (bound {res['lower_bound']}), published: "
               f"{res['published']} | {t_run:.2f} s |")
    row_agenda = (f"| agenda read back | {len(agenda)} meetings for participant {pid}; published "
                  f"run {event['published_run_id'] == res['run_id']} | |")
    row_floor = (f"| floor: `schedule_event` in-process, same event | {floor.status}, "
                 f"{floor.total_breaks} breaks | {t_floor:.2f} s |")
    print(f"""
### Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC

Machine: {cpu_model()}, {os.cpu_count()} cores (shared); load average before
{load0[0]:.1f}/{load0[1]:.1f}/{load0[2]:.1f}, after {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f}.
Event: {len(ev.participants)} organisations, {n_acc} accepted of {len(ev.requests)} requests,
{ev.n_tables} tables x {ev.n_slots} slots, fairness d={ev.fairness}, time limit {args.time_limit:.0f} s.

| step | result | wall time |
|---|---|---|
{row_import}
{row_run}
{row_agenda}
{row_floor}

API end to end / in-process floor: {t_run / t_floor:.2f}.
""")
    return 0 if res["status"] == "OPTIMAL" and res["published"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
