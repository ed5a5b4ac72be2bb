"""Benchmark: the 20 B2B instances of Bofill et al. (JAIR 2022) with fairness d = 2.

    python benchmarks/bench_b2b.py [--time-limit 60] [--workers 2] [--method auto] [NAME ...]

For each instance: the proved status, total breaks, lower bound, the published optimum, whether
the independent checker accepts the schedule, and the wall time. Reads the instances from
``../shared/data/b2b`` (not redistributed with critmin). Prints a Markdown table and a machine
header (CPU, cores, date) ready for ``docs/benchmarks/b2b.md``.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from _machine import cpu_model  # benchmarks/ is on sys.path when run as a script

from critmin.matchmaking.check import ScheduleEntry, check_schedule
from critmin.matchmaking.dzn import read_dzn
from critmin.matchmaking.scheduler import solve_schedule

DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "b2b").resolve()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="instance names without .original.dzn (default all)")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fairness", type=int, default=2)
    ap.add_argument("--method", choices=["auto", "maxsat", "cpsat"], default="auto")
    ap.add_argument("--compare", choices=["maxsat", "cpsat"], default=None,
                    help="also run this method on each instance, right after (same machine "
                         "state), and report its status, breaks and time")
    args = ap.parse_args(argv)
    if not DATA.exists():
        print(f"benchmark data not found: {DATA}", file=sys.stderr)
        return 1
    with (DATA / "reference_optima_d2.csv").open() as fh:
        ref = {r["file"]: int(r["optimum_total_breaks"]) for r in csv.DictReader(fh)}
    files = sorted(DATA.glob("*.original.dzn"))
    if args.names:
        files = [f for f in files if f.name.removesuffix(".original.dzn") in args.names]
    print(f"machine: {os.cpu_count()} cores (nproc), {cpu_model()}; "
          f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; workers: {args.workers}; "
          f"time limit: {args.time_limit:g} s; fairness d = {args.fairness}; "
          f"method: {args.method}")
    try:
        load = os.getloadavg()
        print(f"load average at start: {load[0]:.2f}")
    except OSError:
        pass
    print()
    peer = args.compare
    extra_head = f" {peer} status | {peer} breaks | {peer} time (s) |" if peer else ""
    extra_rule = "---|---:|---:|" if peer else ""
    print("| instance | participants | meetings | status | breaks | bound | published | "
          "check | time (s) |" + extra_head)
    print("|---|---:|---:|---|---:|---:|---:|---|---:|" + extra_rule)
    n_peer = 0
    n_proved = 0
    total_time = 0.0
    for f in files:
        inst = read_dzn(f)
        res = solve_schedule(inst, fairness=args.fairness, time_limit_s=args.time_limit,
                             workers=args.workers, method=args.method)
        entries = [ScheduleEntry(a.meeting, a.slot, a.table) for a in res.schedule]
        ok = (check_schedule(inst, entries, fairness=args.fairness).valid
              if res.schedule else False)
        published = ref.get(f.name)
        proved = res.status == "OPTIMAL" and res.total_breaks == published
        n_proved += proved
        total_time += res.wall_time_s
        extra = ""
        if peer:
            other = solve_schedule(inst, fairness=args.fairness, time_limit_s=args.time_limit,
                                   workers=args.workers, method=peer)
            n_peer += other.status == "OPTIMAL" and other.total_breaks == published
            extra = f" {other.status} | {other.total_breaks} | {other.wall_time_s:.1f} |"
        print(f"| {f.name.removesuffix('.original.dzn')} | {inst.n_participants} | "
              f"{inst.n_meetings} | {res.status} | {res.total_breaks} | {res.lower_bound} | "
              f"{published} | {'ok' if ok else 'FAIL'} | {res.wall_time_s:.1f} |" + extra,
              flush=True)
    print()
    print(f"proved optimal (= published): {n_proved}/{len(files)}; total time {total_time:.0f} s")
    if peer:
        print(f"{peer}, same run: {n_peer}/{len(files)} proved optimal")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
