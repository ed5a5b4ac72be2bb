"""Benchmark: the interactive commands a person waits for, against the DuckDB floor (issue #17 item 3).

Times, warm (one untimed run first, which leaves the Python bytecode cache and critmin's
compiled-query cache written; then the best and the median of ``--repeat`` runs, each a fresh
``python -m critmin.cli`` process as a user starts it), on the full atlas:

- ``critmin --help`` (target < 0.3 s; floor: the bare interpreter, ``python -c pass``);
- ``critmin assess JPN``, ``critmin concentration --mineral cobalt``,
  ``critmin geopolrisk --economy JPN --year 2022`` and ``critmin scenario n-minus-1 --year 2024``
  (target < 1 s each).

The floor of each command is one hand-written DuckDB SQL query over the same atlas file that
computes the command's core answer (the same rows, joins and aggregates), timed in the same run
both as a fresh process (``python -c "import duckdb; ..."``: the like-for-like comparison with a
command) and in-process (connect + query only). The report gives the ratio command / floor,
and the CPU seconds (user + system, all threads) a command uses: on 2 cores no command can take
less wall time than half its CPU seconds.

The atlas is built once with ``critmin atlas build`` from ../shared/data (baci, usgs, wgi, wmd)
unless ``--atlas`` names an existing file.

Usage: ``python benchmarks/bench_interactive.py [--atlas PATH] [--repeat 5] [--only TEXT]``
(``--only geopolrisk``: that command alone, to keep a run short on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

#: assess JPN: per mineral, Japan's imports in the latest trade year, top supplier, its share and
#: the supplier HHI (shares of import value), over trade_flows joined with the HS map.
ASSESS_SQL = """
WITH y AS (SELECT max(year) AS year FROM trade_flows WHERE importer = 'JPN'),
f AS (
  SELECT m.mineral, t.exporter, sum(t.value_kusd) AS v
  FROM trade_flows t JOIN hs_map m USING (hs_code, hs_revision), y
  WHERE t.importer = 'JPN' AND t.year = y.year
  GROUP BY m.mineral, t.exporter),
s AS (SELECT mineral, exporter, v, v / sum(v) OVER (PARTITION BY mineral) AS share FROM f)
SELECT mineral, sum(v) AS imports_kusd, arg_max(exporter, v) AS top_supplier,
       max(share) AS top_supplier_share, sum(share * share) AS import_hhi
FROM s GROUP BY mineral ORDER BY mineral
"""

#: concentration cobalt: per year and stage, from the latest USGS MCS release that covers the year,
#: the total, HHI, top-1 and top-3 shares and the largest producer.
CONCENTRATION_SQL = """
WITH c AS (
  SELECT p.*, s.release FROM production p JOIN sources s USING (source_id)
  WHERE p.mineral = 'cobalt' AND s.family = 'usgs-mcs' AND p.value IS NOT NULL),
rel AS (
  SELECT * FROM c
  WHERE release = (SELECT max(release) FROM c c2 WHERE c2.year = c.year AND c2.stage = c.stage)),
sh AS (
  SELECT year, stage, country, value, value / sum(value) OVER (PARTITION BY year, stage) AS share,
         row_number() OVER (PARTITION BY year, stage ORDER BY value DESC) AS rk
  FROM (SELECT year, stage, country, max(value) AS value FROM rel GROUP BY ALL))
SELECT year, stage, sum(value) AS total, sum(share * share) AS hhi, max(share) AS top1_share,
       sum(share) FILTER (WHERE rk <= 3) AS top3_share, arg_max(country, value) AS largest
FROM sh GROUP BY year, stage ORDER BY year, stage
"""

#: geopolrisk JPN 2022: per material, HHI of World Mining Data production, import risk
#: WTA = sum_i g_i f_i / (p + sum_i f_i) with g_i = clip((2.5 - PV_i) / 5, 0, 1) from WGI PV and
#: f_i the BACI import quantity over the material's HS codes, and score = HHI x WTA.
GEOPOLRISK_SQL = """
WITH codes AS (SELECT DISTINCT material, mineral, hs_code FROM material_hs_map),
prod AS (
  SELECT c.material, p.country, sum(p.value) AS v
  FROM production p JOIN sources s USING (source_id)
  JOIN (SELECT DISTINCT material, mineral FROM codes) c ON c.mineral = p.mineral
  WHERE s.family = 'wmd' AND p.year = 2022 AND p.stage = 'mine' AND p.value IS NOT NULL
  GROUP BY c.material, p.country),
hhi AS (SELECT material, sum(v * v) / (sum(v) * sum(v)) AS hhi FROM prod GROUP BY material),
own AS (SELECT material, v AS p FROM prod WHERE country = 'JPN'),
imp AS (
  SELECT c.material, t.exporter, sum(t.quantity_t) AS f
  FROM trade_flows t JOIN codes c ON c.hs_code = t.hs_code
  WHERE t.importer = 'JPN' AND t.year = 2022 AND t.exporter <> 'JPN'
  GROUP BY c.material, t.exporter),
pv AS (
  SELECT country, greatest(0, least(1, (2.5 - max(estimate)) / 5)) AS g
  FROM governance WHERE indicator = 'pv' AND year = 2022 GROUP BY country),
wta AS (
  SELECT i.material, sum(coalesce(pv.g, 0) * i.f) AS gf, sum(i.f) AS f
  FROM imp i LEFT JOIN pv ON pv.country = i.exporter GROUP BY i.material)
SELECT h.material, h.hhi, w.gf / (coalesce(o.p, 0) + w.f) AS wta,
       h.hhi * w.gf / (coalesce(o.p, 0) + w.f) AS score
FROM hhi h JOIN wta w USING (material) LEFT JOIN own o USING (material)
ORDER BY h.material
"""

#: scenario n-minus-1 2024: per mineral and stage of the latest USGS MCS release, world production,
#: the largest producer and its share.
NMINUS1_SQL = """
WITH rel AS (
  SELECT p.* FROM production p JOIN sources s USING (source_id)
  WHERE s.family = 'usgs-mcs' AND p.year = 2024 AND p.value IS NOT NULL
    AND p.stage IN ('mine', 'refinery')
    AND s.release = (SELECT max(release) FROM sources WHERE family = 'usgs-mcs'))
SELECT mineral, stage, sum(value) AS world_production_t, arg_max(country, value) AS top_producer,
       max(value) / sum(value) AS top_share
FROM rel GROUP BY mineral, stage ORDER BY mineral, stage
"""

CASES: list[tuple[str, list[str], str | None]] = [
    ("critmin --help", ["--help"], None),
    ("critmin assess JPN", ["assess", "JPN"], ASSESS_SQL),
    ("critmin concentration --mineral cobalt", ["concentration", "--mineral", "cobalt"],
     CONCENTRATION_SQL),
    ("critmin geopolrisk --economy JPN --year 2022",
     ["geopolrisk", "--economy", "JPN", "--year", "2022"], GEOPOLRISK_SQL),
    ("critmin scenario n-minus-1 --year 2024", ["scenario", "n-minus-1", "--year", "2024"],
     NMINUS1_SQL),
]


#: CPU seconds (user + system) of each command run by :func:`_run`, by command line.
CPU: dict[str, list[float]] = {}


def _run(cmd: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}: {out.stderr.decode()[-500:]}")
    CPU.setdefault(" ".join(cmd), []).append(
        after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return dt


def _times(cmd: list[str], env: dict[str, str], repeat: int) -> list[float]:
    _run(cmd, env)  # warm: the OS file cache and the Python bytecode cache
    return [_run(cmd, env) for _ in range(repeat)]


def _floor_inprocess(atlas: Path, sql: str, repeat: int) -> list[float]:
    import duckdb

    out = []
    for _ in range(repeat + 1):
        t0 = time.perf_counter()
        con = duckdb.connect(str(atlas), read_only=True)
        rows = con.execute(sql).fetchall()
        con.close()
        out.append(time.perf_counter() - t0)
        if not rows:
            raise SystemExit(f"floor query returned no rows:\n{sql}")
    return out[1:]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--atlas", type=Path,
                    default=Path(tempfile.gettempdir()) / "bench_interactive.duckdb")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", action="append", default=[], metavar="TEXT",
                    help="run only the commands whose name contains TEXT (repeatable)")
    args = ap.parse_args()

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("XDG_DATA_HOME", tempfile.mkdtemp(prefix="bench-interactive-xdg-"))
    # warm means the Python bytecode cache too (an installed package has one): the untimed first
    # run writes it even where the environment turns writing off
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # and critmin's compiled-query cache (critmin.atlas), written by the untimed first run
    env.setdefault("XDG_CACHE_HOME", tempfile.mkdtemp(prefix="bench-interactive-cache-"))
    py = sys.executable
    if not args.atlas.exists():
        dirs = [str(SHARED / d) for d in ("baci", "usgs", "wgi", "wmd")]
        t0 = time.perf_counter()
        subprocess.run([py, "-m", "critmin.cli", "atlas", "build", "--db", str(args.atlas),
                        "--silent", "--no-watch", *dirs], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        print(f"atlas built in {time.perf_counter() - t0:.1f} s: {args.atlas}")

    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; "
          f"date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
          f"load before {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print(f"atlas: {args.atlas} ({args.atlas.stat().st_size / 1e6:.0f} MB); "
          f"best / median of {args.repeat} warm runs")
    print("| command | critmin best (median) s | critmin CPU s (median) | floor process best "
          "(median) s | ratio best | floor query in-process best s | target |")
    print("|---|---|---|---|---|---|---|")
    for name, argv, sql in CASES:
        if args.only and not any(o in name for o in args.only):
            continue
        cmd = [py, "-m", "critmin.cli", *argv]
        if sql is not None:
            cmd += ["--db", str(args.atlas)]
        ct = _times(cmd, env, args.repeat)
        if sql is None:
            ft = _times([py, "-c", "pass"], env, args.repeat)
            q = "–"
            floor_name = "python -c pass"
            target = "< 0.3 s"
        else:
            code = ("import duckdb, sys\n"
                    "con = duckdb.connect(sys.argv[1], read_only=True)\n"
                    "assert con.execute(sys.argv[2]).fetchall()\n")
            ft = _times([py, "-c", code, str(args.atlas), sql], env, args.repeat)
            q = f"{min(_floor_inprocess(args.atlas, sql, args.repeat)):.3f}"
            floor_name = "DuckDB SQL"
            target = "< 1 s"
        cpu = statistics.median(CPU[" ".join(cmd)][1:])  # (the warm runs)
        print(f"| `{name}` | {min(ct):.3f} ({statistics.median(ct):.3f}) | {cpu:.2f} | "
              f"{min(ft):.3f} ({statistics.median(ft):.3f}) {floor_name} | "
              f"{min(ct) / min(ft):.1f}x | {q} | {target} |", flush=True)
    print(f"load after {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
