"""Benchmark: the strategic-dependency scan (``critmin scan EU27``) on synthetic BACI data, on
DuckDB and on Spark (local), with time and peak memory per engine.

For each size (rows of synthetic BACI; at most 11 million a year, like full BACI) the script
generates the CSVs (:mod:`critmin.synthetic`), builds a DuckDB atlas from them, exports it to
Parquet, then runs the scan of the latest year once per engine, each in its own subprocess:

- ``duckdb``: the atlas file;
- ``spark``: a ``local[N]`` Spark session reading the Parquet export.

Peak memory is the largest resident set of the child's whole process tree (Python plus, for
Spark, the JVM), sampled every 0.1 s from /proc, or the Python process's own peak from
``/usr/bin/time -f %M`` (the kernel's ``ru_maxrss``: exact, but without the JVM) when that is
larger. (``ru_maxrss`` read in this process or a direct child is useless here: a forked child
inherits the parent's high-water mark, and the parent builds the atlas.) Times
are wall clock: ``open`` (start the engine, register tables) and ``scan`` (run the query,
collect the result).

    python benchmarks/bench_scan.py --rows 1e6 1e7 --out docs/benchmarks/scan.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from _machine import cpu_model  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]


def _child(engine: str, db: str, parquet: str, master: str) -> None:
    """Run in the subprocess: open the engine, scan EU27, print timings as JSON."""
    t0 = time.perf_counter()
    from critmin.engine import open_atlas
    from critmin.metrics.scan import dependency_scan

    kw = {"path": db} if engine == "duckdb" else {"parquet": parquet, "master": master}
    atlas = open_atlas(engine, **kw)
    atlas.table("trade_flows")
    t1 = time.perf_counter()
    df = dependency_scan("EU27", atlas=atlas)
    t2 = time.perf_counter()
    atlas.close()
    print(json.dumps({"open_s": t1 - t0, "scan_s": t2 - t1, "products": len(df),
                      "dependent": int(df.dependent.sum()), "year": df.attrs["year"]}))


def _tree_rss_kib(pid: int) -> int:
    """Resident set (KiB) of ``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def run_engine(engine: str, db: Path, parquet: Path, master: str, *, script: str = __file__
               ) -> dict:
    """Run one engine in a subprocess (``script --child ...``, by default this script's child);
    return its timings, peak tree RSS and ru_maxrss."""
    cmd = [sys.executable, script, "--child", engine, str(db), str(parquet), master]
    # GNU time reports the Python process's exact peak; it runs the child from a small process,
    # so the child does not inherit this (large) process's high-water mark through fork
    if Path("/usr/bin/time").exists():
        cmd = ["/usr/bin/time", "-f", "maxrss_kib=%M", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while True:
        pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _tree_rss_kib(proc.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    py_peak = [int(x.split("=")[1]) for x in err.splitlines() if x.startswith("maxrss_kib=")]
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{engine} failed: {out[-2000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    res.update(engine=engine, wall_s=wall, python_maxrss_mib=py_peak[0] / 1024 if py_peak else None,
               peak_rss_mib=max(peak, *py_peak) / 1024)
    return res


def prepare(rows: int, work: Path, extra: Sequence[Path] = (), suffix: str = ""
            ) -> tuple[Path, Path, dict]:
    """Synthetic CSVs, a DuckDB atlas built from them plus the ``extra`` folders (real data, for
    example ``../shared/data/usgs``), and its Parquet export, for ``rows`` trade rows; each step
    cached in ``work/rows_N`` and skipped when its output is there (the CSVs, marked complete by
    a ``_done`` file, are shared by every atlas built from them; the atlas and the export are
    named with ``suffix``: ``atlas{suffix}.duckdb``, ``parquet{suffix}``). Returns the atlas,
    the export folder and the time of each step that ran."""
    from critmin import atlas, synthetic
    from critmin.engine import export_parquet

    d = work / f"rows_{rows}"
    csvs, db, pq = d / "csv", d / f"atlas{suffix}.duckdb", d / f"parquet{suffix}"
    info: dict = {}
    if not db.exists():
        if not (csvs / "_done").exists():
            t = time.perf_counter()
            synthetic.generate(csvs, rows)
            (csvs / "_done").write_text("")
            info["generate_s"] = time.perf_counter() - t
        t = time.perf_counter()
        atlas.build([csvs, *extra], db, fresh=True)
        info["build_s"] = time.perf_counter() - t
        info["csv_gib"] = sum(f.stat().st_size for f in csvs.rglob("*.csv")) / 2**30
    if not (pq / "_critmin_atlas.json").exists():
        t = time.perf_counter()
        export_parquet(pq, atlas=db, overwrite=True)
        info["export_s"] = time.perf_counter() - t
    info["atlas_gib"] = db.stat().st_size / 2**30
    return db, pq, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--rows", nargs="+", default=["1e6", "1e7"])
    ap.add_argument("--engines", nargs="+", default=["duckdb", "spark"])
    ap.add_argument("--work", default="/tmp/critmin-bench-scan")
    ap.add_argument("--master", default=f"local[{os.cpu_count()}]")
    ap.add_argument("--out", help="Markdown file for the results table")
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for r in args.rows:
        rows = int(float(r))
        db, pq, info = prepare(rows, work)
        print(f"{rows:,} rows: {json.dumps(info)}", flush=True)
        for e in args.engines:
            res = run_engine(e, db, pq, args.master)
            res.update(rows=rows, **info)
            results.append(res)
            print(json.dumps(res), flush=True)
    head = (f"Machine: {os.cpu_count()} cores ({cpu_model()}), "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
            f"load average at the end {os.getloadavg()[0]:.1f}; "
            f"{dt.date.today().isoformat()}; Spark master {args.master}.")
    lines = [head, "", "| rows | engine | open s | scan s | wall s | peak RSS MiB | Python ru_maxrss MiB | "
             "products | dependent |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for x in results:
        lines.append(f"| {x['rows']:,} | {x['engine']} | {x['open_s']:.1f} | {x['scan_s']:.1f} | "
                     f"{x['wall_s']:.1f} | {x['peak_rss_mib']:.0f} | "
                     f"{x['python_maxrss_mib'] or 0:.0f} | {x['products']:,} | {x['dependent']:,} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
