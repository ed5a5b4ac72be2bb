"""Benchmark: the scheduling variants of Bofill et al. (JAIR 2022) made from the 20 B2B originals.

    python benchmarks/b2b_variants.py generate OUT_DIR [--seed 1]
    python benchmarks/b2b_variants.py run OUT_DIR [--time-limit 60] [--workers 2] [--family F ...]
                                      [--name NAME ...]

``generate`` writes, for every ``*.original.dzn`` of ``../shared/data/b2b``, one ``.dzn`` per
restriction family and a ``manifest.csv`` (file, family, fairness d) that also lists the fairness
families, which reuse the original file with another d.

Every restriction is drawn so that the reference schedule of the original (its d = 2 optimum,
proved by critmin, cached as ``NAME.reference.json``) keeps satisfying it, so every variant is feasible
and its optimum is at most the original's:

- ``forb3``, ``forb7``: 3 % and 7 % of the participant-slot pairs (``nBusiness * nTotalSlots``)
  become forbidden slots, drawn uniformly among the pairs where the participant is idle in the
  reference schedule;
- ``fix20``, ``fix40``: 20 % and 40 % of the meetings, drawn uniformly, are fixed to their slot
  in the reference schedule;
- ``prec15``, ``prec25``: 15 % and 25 % of the meetings, drawn uniformly, must follow one meeting
  that shares a participant with them and is held earlier in the reference schedule;
- ``d0``, ``d1``, ``d3``: the original with fairness d = 0, 1 and 3 (the others use d = 2).

The random draws are seeded per file and family, so a set is reproducible from its seed and
reference schedules. (Drawing forbidden slots uniformly among all pairs instead makes nearly every
variant infeasible: a participant with 10 meetings in the 13 morning slots loses 4 of them.)

``run`` solves each variant with :func:`critmin.matchmaking.scheduler.solve_schedule`, verifies
every schedule with the independent checker, and prints one row per variant and the per-family
table (proved = OPTIMAL or INFEASIBLE within the limit) with the machine, date and load average.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import sys
import zlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from _machine import cpu_model  # benchmarks/ is on sys.path when run as a script

from critmin.matchmaking.check import ScheduleEntry, check_schedule
from critmin.matchmaking.dzn import instance_to_dzn, read_dzn
from critmin.matchmaking.instance import B2BInstance, validate_instance
from critmin.matchmaking.scheduler import solve_schedule

DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "b2b").resolve()
FAMILIES = ("forb3", "forb7", "fix20", "fix40", "prec15", "prec25", "d0", "d1", "d3")


def with_forbidden(
    inst: B2BInstance, ref: Sequence[int], share: float, rng: random.Random
) -> B2BInstance:
    """``share`` of all participant-slot pairs become forbidden, drawn among the pairs where the
    participant is idle in the reference schedule ``ref``."""
    busy = {(p, t) for m, t in enumerate(ref) for p in inst.meetings[m].participants}
    idle = [
        (p, t) for p in range(1, inst.n_participants + 1) for t in range(1, inst.n_slots + 1)
        if (p, t) not in busy
    ]
    want = round(share * inst.n_participants * inst.n_slots)
    forbidden = [set(f) for f in inst.forbidden]
    for p, t in rng.sample(idle, min(want, len(idle))):
        forbidden[p - 1].add(t)
    return replace(inst, forbidden=tuple(map(frozenset, forbidden)))


def with_fixed(
    inst: B2BInstance, ref: Sequence[int], share: float, rng: random.Random
) -> B2BInstance:
    """``share`` of the meetings fixed to their slot in the reference schedule ``ref``."""
    fixed = list(inst.fixed)
    for m in rng.sample(range(inst.n_meetings), round(share * inst.n_meetings)):
        fixed[m] = ref[m]
    return replace(inst, fixed=tuple(fixed))


def with_precedences(
    inst: B2BInstance, ref: Sequence[int], share: float, rng: random.Random
) -> B2BInstance:
    """``share`` of the meetings must follow one meeting sharing a participant that is held
    earlier in the reference schedule ``ref``."""
    before = [set(p) for p in inst.precedences]
    for m in rng.sample(range(inst.n_meetings), round(share * inst.n_meetings)):
        mine = set(inst.meetings[m].participants)
        earlier = [
            j for j in range(inst.n_meetings)
            if ref[j] < ref[m] and mine & set(inst.meetings[j].participants)
        ]
        if earlier:
            before[m].add(rng.choice(earlier) + 1)
    return replace(inst, precedences=tuple(map(frozenset, before)))


MAKERS = {
    "forb3": (with_forbidden, 0.03), "forb7": (with_forbidden, 0.07),
    "fix20": (with_fixed, 0.20), "fix40": (with_fixed, 0.40),
    "prec15": (with_precedences, 0.15), "prec25": (with_precedences, 0.25),
}


def reference_slots(inst: B2BInstance, out: Path, name: str, limit: float) -> list[int]:
    """The proved-optimal d = 2 schedule of the original (critmin's, cached in
    ``out/NAME.reference.json``; a cached schedule not proved optimal is recomputed)."""
    path = out / f"{name}.reference.json"
    if path.exists():
        cached = json.loads(path.read_text())
        if cached.get("status") == "OPTIMAL":
            return [int(t) for t in cached["slots"]]
    res = solve_schedule(inst, fairness=2, time_limit_s=limit)
    if res.status != "OPTIMAL":
        raise SystemExit(f"{name}: reference schedule not proved optimal within {limit:g} s "
                         f"({res.status}, {res.total_breaks} breaks, bound {res.lower_bound})")
    slots = [a.slot for a in sorted(res.schedule, key=lambda a: a.meeting)]
    path.write_text(json.dumps({"status": res.status, "total_breaks": res.total_breaks,
                                "slots": slots}))
    return slots


def generate(out: Path, seed: int, limit: float) -> int:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for f in sorted(DATA.glob("*.original.dzn")):
        name = f.name.removesuffix(".original.dzn")
        inst = read_dzn(f)
        ref = reference_slots(inst, out, name, limit)
        for family in FAMILIES:
            if family.startswith("d"):
                rows.append((str(f), family, int(family[1:])))
                continue
            make, share = MAKERS[family]
            rng = random.Random(zlib.crc32(f"{seed}/{name}/{family}".encode()))
            variant = validate_instance(make(inst, ref, share, rng))
            path = out / f"{name}.{family}.dzn"
            path.write_text(instance_to_dzn(variant), encoding="utf-8")
            rows.append((str(path), family, 2))
    with (out / "manifest.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "family", "fairness_d"])
        w.writerows(rows)
    print(f"{len(rows)} variants in {out / 'manifest.csv'}")
    return 0


def run(out: Path, args: argparse.Namespace) -> int:
    with (out / "manifest.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    if args.family:
        rows = [r for r in rows if r["family"] in args.family]
    if args.name:
        rows = [r for r in rows if any(Path(r["file"]).name.startswith(n + ".") for n in args.name)]
    print(f"machine: {os.cpu_count()} cores (nproc), {cpu_model()}; "
          f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; workers: {args.workers}; "
          f"time limit: {args.time_limit:g} s; load average at start: {os.getloadavg()[0]:.2f}")
    print()
    print("| variant | family | d | status | breaks | bound | check | time (s) | load |")
    print("|---|---|---:|---|---:|---:|---|---:|---:|")
    per_family: dict[str, list[tuple[bool, float]]] = {}
    for r in rows:
        inst = read_dzn(r["file"])
        d = int(r["fairness_d"])
        res = solve_schedule(inst, fairness=d, time_limit_s=args.time_limit, workers=args.workers)
        ok = "-"
        if res.schedule:
            entries = [ScheduleEntry(a.meeting, a.slot, a.table) for a in res.schedule]
            report = check_schedule(inst, entries, fairness=d)
            ok = "ok" if report.valid and report.total_breaks == res.total_breaks else "FAIL"
        proved = res.status in ("OPTIMAL", "INFEASIBLE") and ok != "FAIL"
        per_family.setdefault(r["family"], []).append((proved, res.wall_time_s))
        name = Path(r["file"]).name.removesuffix(".dzn").removesuffix(".original")
        print(f"| {name} | {r['family']} | {d} | {res.status} | {res.total_breaks} | "
              f"{res.lower_bound} | {ok} | {res.wall_time_s:.1f} | {os.getloadavg()[0]:.2f} |",
              flush=True)
    print()
    print("| family | proved | median (s) | slowest (s) |")
    print("|---|---:|---:|---:|")
    for family in FAMILIES:
        got = per_family.get(family)
        if not got:
            continue
        times = [t for _, t in got]
        print(f"| {family} | {sum(p for p, _ in got)}/{len(got)} | "
              f"{statistics.median(times):.1f} | {max(times):.1f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("out", type=Path)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--time-limit", type=float, default=120.0,
                   help="for the reference schedule of each original")
    r = sub.add_parser("run")
    r.add_argument("out", type=Path)
    r.add_argument("--time-limit", type=float, default=60.0)
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--family", action="append", choices=FAMILIES)
    r.add_argument("--name", action="append", help="original name, e.g. forum-13crafb")
    args = ap.parse_args(argv)
    if not DATA.exists():
        print(f"benchmark data not found: {DATA}", file=sys.stderr)
        return 1
    return generate(args.out, args.seed, args.time_limit) if args.cmd == "generate" else run(args.out, args)


if __name__ == "__main__":
    raise SystemExit(main())
