"""Check critmin's figures against every published figure they can be checked against and write
``docs/validation.md``.

    python scripts/validate.py [--data ../shared/data] [--out docs/validation.md]

Builds a fresh atlas from the shared data (BACI, USGS, WGI, World Mining Data) in a temporary
folder, then compares:

1. USGS world totals (MCS, latest release per year) with critmin's world total (named countries
   plus "Other countries"), and the top producer's share with the share computed directly from
   the publisher's file;
2. USGS MCS 2026 net import reliance of the United States with critmin's computed reliance;
3. the geopolrisk-py 2.0.1 tables in ``tests/data`` with critmin's compat mode, per country and
   for the tool's EU region (critmin's ``EU27`` group);
4. the IEA Critical Minerals Data Explorer top-3 mining shares (2024) with critmin's (USGS).

Every miss carries its cause. The page is generated: do not edit it by hand.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from critmin import atlas as atlas_mod  # noqa: E402
from critmin import reference  # noqa: E402
from critmin.atlas import Atlas  # noqa: E402
from critmin.metrics import trade  # noqa: E402
from critmin.metrics.concentration import production_concentration  # noqa: E402
from critmin.metrics.formulas import TOTAL_TOLERANCE, calc_interval_gap  # noqa: E402

#: Agreement threshold for net import reliance, percentage points (issue #12).
RELIANCE_PP = 10.0
#: Minerals whose top shares are checked against the raw USGS file.
MAIN = ("cobalt", "lithium", "nickel", "graphite", "rare_earths", "copper", "manganese",
        "gallium", "germanium", "tungsten", "antimony", "platinum", "palladium", "tin", "zinc")
#: IEA mineral names -> critmin ids (IEA's rare earths are magnet rare earths: shares only).
IEA_MINERALS = {"Copper": "copper", "Cobalt": "cobalt", "Lithium": "lithium", "Nickel": "nickel",
                "Graphite": "graphite", "Rare Earth Elements": "rare_earths"}


def build(data: Path, tmp: Path) -> Path:
    db = tmp / "atlas.duckdb"
    atlas_mod.build([data / d for d in ("baci", "baci_hs17", "usgs", "wgi", "wmd")], db,
                    fresh=True)
    return db


def pct(x: float | None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x * 100:.{digits}f} %"


def num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:,.0f}"


# ------------------------------------------------------------------------- 1. USGS world totals


def world_totals(a: Atlas) -> pd.DataFrame:
    """critmin's world total vs the published USGS total for every mineral, stage and year."""
    df = production_concentration(a.table("production")).to_pandas()
    df = df[df.published_total.notna() & (df.published_total > 0)]
    p = a.table("production")
    withheld = (p.filter((p.flag == "withheld") & p.source_id.startswith("usgs"))
                .select("mineral", "stage", "year").distinct().to_pandas())
    w = set(map(tuple, withheld.to_numpy()))
    df = df.assign(diff=(df.total - df.published_total) / df.published_total)

    def cause(r: pd.Series) -> str:
        if abs(r["diff"]) <= TOTAL_TOLERANCE:
            return "agrees (USGS rounds world totals)"
        if (r.mineral, r.stage, r.year) in w:
            return ("USGS withholds (W) some countries' figures; they are in its world total "
                    "but not in the sum of rows")
        if pd.isna(r.rest_of_world):
            return ("no 'Other countries' row: the published total includes countries USGS "
                    "does not name")
        return "the sum of the published rows differs from the published total"

    df["cause"] = df.apply(cause, axis=1)
    return df.sort_values(["mineral", "stage", "year"], ignore_index=True)


def raw_top_shares(data: Path) -> dict[str, tuple[str, float, float]]:
    """Top country, its tonnage and the world (named + Other countries) for 2024 mine
    production, read straight from the MCS 2026 file (independent of critmin's loader)."""
    rows: dict[str, dict[str, float]] = defaultdict(dict)
    with open(data / "usgs" / "MCS2026_Commodities_Data.csv", encoding="cp1252") as f:
        for r in csv.DictReader(f):
            if (r["Year"] != "2024" or r["Statistics"] != "Production"
                    or not r["Section"].startswith("World Mine")
                    or r["Statistics_detail"].strip() != "Mine production"):
                continue
            v = r["Value"].replace(",", "").strip()
            try:
                rows[r["Commodity"]][r["Country"].strip()] = float(v)
            except ValueError:
                continue
    out = {}
    for com, vals in rows.items():
        named = {c: v for c, v in vals.items() if not c.startswith(("World", "Other"))}
        if not named:
            continue
        top = max(named, key=named.__getitem__)
        out[com.lower()] = (top, named[top], sum(named.values()) + vals.get("Other countries", 0))
    return out


def top_shares(a: Atlas, data: Path) -> pd.DataFrame:
    raw = raw_top_shares(data)
    df = production_concentration(a.table("production"), stage="mine", year=2024).to_pandas()
    names = a.table("countries").select("iso3", "name").to_pandas().set_index("iso3").name
    commodity = {"rare_earths": "rare earths", "graphite": "graphite (natural)",
                 "platinum": "platinum-group metals"}
    out = []
    for m in MAIN:
        d = df[(df.mineral == m) & (df.unit == "t")]
        key = commodity.get(m, m)
        if d.empty or key not in raw:
            continue
        r = d.sort_values("total", ascending=False).iloc[0]
        top, amount, world = raw[key]
        out.append({"mineral": m, "basis": r.basis, "usgs_top": top, "usgs_share": amount / world,
                    "critmin_top": names.get(r.top_supplier, r.top_supplier),
                    "critmin_share": r.top1_share, "critmin_world": r.total, "usgs_world": world})
    return pd.DataFrame(out)


# ------------------------------------------------------------------------- 2. US reliance


#: Production stages tried, in order, for a statistic without a stated basis.
STAGES = ("mine", "refinery", "smelter")


def us_reliance(a: Atlas) -> pd.DataFrame:
    """USGS's US net import reliance against critmin's, each statistic on the basis USGS states
    for it (``reference/usgs_reliance_basis.csv``: the traded forms and the production stage,
    e.g. refined copper against refinery production) through
    :func:`critmin.metrics.trade.reliance_on_basis`; other statistics count every traded form
    against the first of mine, refinery and smelter production that covers the mineral."""
    rep = a.table("reported_reliance").filter(lambda t: t.country == "USA").to_pandas()
    year = int(a.table("trade_flows").year.max().to_pandas())  # the latest year of trade data
    rep = rep[rep.year == year]
    tf, hs, src, prod = (a.table(n) for n in ("trade_flows", "hs_map", "sources", "production"))
    bases = {(r["mineral"], r["statistic"]): r for r in reference.rows("usgs_reliance_basis") or []}
    cache: dict[tuple[str, str], pd.DataFrame] = {}

    def computed(forms: str, stage: str) -> pd.DataFrame:
        if (forms, stage) not in cache:
            r = trade.reliance_on_basis(tf, hs, prod, stage=stage, sources=src,
                                        forms=forms.split(";") if forms else None)
            r = r.filter((r.year == year) & (r.country == "USA"))
            cache[forms, stage] = r.to_pandas().set_index("mineral")
        return cache[forms, stage]

    rows = []
    for _, r in rep.sort_values(["mineral", "detail"]).iterrows():
        basis = bases.get((r.mineral, r.detail))
        forms = basis["forms"] if basis else ""
        stages = (basis["stage"],) if basis else STAGES
        found = [(st, computed(forms, st)) for st in stages]
        found = [(st, c.loc[r.mineral]) for st, c in found if r.mineral in c.index]
        # the first stage a production source covers (a withheld figure counts: it gives a bound)
        best = next(((st, c) for st, c in found if c.production_flag != "no_production_data"),
                    found[0] if found else None)
        rows.append(_compare(r, best, forms, basis))
    return pd.DataFrame(rows)


def _reported_interval(r: pd.Series) -> tuple[float | None, float | None] | None:
    """USGS's figure as an interval in percent: 45 -> [45, 45]; ">50" -> [50, 100]; "<25" ->
    [0, 25]; "E" (net exporter) -> [None, 0]; NA -> None."""
    if r.flag == "net_exporter":
        return None, 0.0
    if pd.isna(r.value):
        return None
    return {"lower_bound": (r.value, 100.0), "upper_bound": (0.0, r.value)}.get(
        r.flag, (r.value, r.value))


def _compare(r: pd.Series, best: tuple[str, pd.Series] | None, forms: str,
             basis: dict[str, str] | None) -> dict[str, object]:
    out = {"mineral": r.mineral,
           "detail": r.detail.replace("Net import reliance as a percentage of ", ""),
           "year": int(r.year), "reported": _reported_text(r), "critmin": "—", "stage": "",
           "forms": forms.replace(";", ", ") or "all", "gap_pp": None, "agrees": False,
           "cause": ""}
    difference = (basis or {}).get("difference") or ""
    if best is None:
        out["cause"] = difference or ("no BACI trade for the HS codes critmin maps to this "
                                      "mineral" + (f" ({out['forms']})" if forms else ""))
        return out
    stage, c = best
    out["stage"] = stage
    if pd.isna(c.reliance_high):
        why = trade.RELIANCE_FLAGS.get(str(c.reliance_flag), str(c.reliance_flag))
        out["cause"] = "; ".join(p for p in (why, difference) if p)
        return out
    low = None if pd.isna(c.reliance_low) else c.reliance_low * 100
    high = c.reliance_high * 100
    if low is not None and low == high:
        out["critmin"] = f"{high:.0f}" + (" (value basis)" if c.reliance_basis == "value" else "")
    else:  # US production withheld: the bound the arithmetic allows
        out["critmin"] = f"≤ {high:.0f} (bound)" if low is None else f"{low:.0f}–{high:.0f} (bound)"
    ref = _reported_interval(r)
    if ref is None:
        out["cause"] = "USGS gives no figure"
        return out
    gap = calc_interval_gap(low, high, *ref)
    ref_lo = -math.inf if ref[0] is None else ref[0]
    decided = gap is not None and (gap > RELIANCE_PP or (
        (low is not None and low >= ref_lo - RELIANCE_PP) and high <= ref[1] + RELIANCE_PP))
    if not decided:  # a bound that overlaps USGS's figure without deciding
        out["cause"] = ("US production is withheld (W): critmin's bound contains USGS's "
                        "figure without deciding it")
        return out
    out["gap_pp"] = gap
    out["agrees"] = gap <= RELIANCE_PP
    if not out["agrees"]:
        out["cause"] = difference or _cause(r, c, stage)
    return out


def _reported_text(r: pd.Series) -> str:
    if r.flag == "net_exporter":
        return "E (net exporter)"
    if pd.isna(r.value):
        return str(r.flag or "NA")
    sign = {"lower_bound": ">", "upper_bound": "<"}.get(r.flag, "")
    return f"{sign}{r.value:g}"


def _cause(r: pd.Series, c: pd.Series, stage: str) -> str:
    note = str(r.note or "")
    parts = []
    if "stock" in note.lower() or "adjustments" in note.lower():
        parts.append("USGS adjusts for stock changes (Government and industry stocks), which "
                     "BACI trade does not show")
    if c.reliance_basis == "value":
        parts.append("critmin's figure is on trade value (content unknown)")
    if not parts:
        parts.append("USGS counts secondary (scrap) production and consumption figures from its "
                     "own canvass; critmin's apparent consumption is primary production plus "
                     "net trade in the mapped HS codes")
    return "; ".join(parts)


# ------------------------------------------------------------------------- 3. geopolrisk-py


def geopolrisk_tables(a: Atlas) -> pd.DataFrame:
    from critmin.metrics.geopolrisk import COMPAT, geopolrisk

    files = sorted((ROOT / "tests" / "data").glob("geopolrisk_py_2.0.1_*.csv"))
    ref = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    years = sorted(int(y) for y in ref.year.unique())
    baci = a.sql("SELECT iso3 AS economy, baci_code FROM countries WHERE baci_code IS NOT NULL")
    got = geopolrisk(a, years=years, compat=COMPAT)
    ref = ref.merge(baci, on="baci_code", how="left")
    ok = ref[(ref.status == "ok") & ref.score.notna() & ref.economy.notna()]
    m = ok.merge(got, on=["economy", "material", "year"], suffixes=("_ref", ""))
    out = []
    for y, g in m.groupby("year"):
        rel = ((g.score - g.score_ref).abs() / g.score_ref.abs().where(g.score_ref != 0)).max()
        out.append({"year": int(y), "rows": len(g), "of": int((ok.year == y).sum()),
                    "max_rel_diff_score": 0.0 if pd.isna(rel) else float(rel),
                    "max_rel_diff_hhi": float(((g.hhi - g.hhi_ref).abs()
                                               / g.hhi_ref.where(g.hhi_ref != 0)).max())})
    return pd.DataFrame(out)


def geopolrisk_eu(a: Atlas) -> pd.DataFrame:
    """critmin's compat EU27 rows against the tool's own EU region (2021-2024)."""
    from critmin.metrics.geopolrisk import COMPAT, geopolrisk

    path = ROOT / "tests" / "data" / "geopolrisk_py_eu_2.0.1_2021-2024.csv"
    if not path.exists():
        return pd.DataFrame()
    ref = pd.read_csv(path)
    ok = ref[(ref.status == "ok") & ref.score.notna()]
    years = sorted(int(y) for y in ok.year.unique())
    got = geopolrisk(a, economies=["EU27"], years=years, compat=COMPAT)
    m = ok.merge(got, on=["material", "year"], suffixes=("_ref", ""))
    out = []
    for y, g in m.groupby("year"):
        row = {"year": int(y), "rows": len(g), "of": int((ok.year == y).sum())}
        for col in ("score", "hhi", "import_risk"):
            den = g[f"{col}_ref"].abs().where(g[f"{col}_ref"] != 0)
            rel = ((g[col] - g[f"{col}_ref"]).abs() / den).max()
            row[f"max_rel_diff_{col}"] = 0.0 if pd.isna(rel) else float(rel)
        out.append(row)
    return pd.DataFrame(out)


# ------------------------------------------------------------------------- 4. IEA top-3


def iea_top3(a: Atlas, data: Path) -> pd.DataFrame:
    path = data / "iea" / "iea_cm_supply_2025.csv"
    if not path.exists():
        return pd.DataFrame()
    iea = pd.read_csv(path)
    iea = iea[(iea.stage == "mining") & (iea.year == 2024) & (iea.case == "historical")]
    df = production_concentration(a.table("production"), stage="mine", year=2024).to_pandas()
    out = []
    for name, m in IEA_MINERALS.items():
        g = iea[iea.mineral == name]
        if g.empty:
            continue
        named = g[~g.country.str.lower().isin(["rest of world", "world", "total"])]
        world = g.value.sum()
        top3 = named.value.nlargest(3).sum() / world
        d = df[(df.mineral == m) & (df.unit == "t")].sort_values("total", ascending=False)
        c = d.iloc[0].top3_share if len(d) else float("nan")
        diff = abs(c - top3) * 100 if len(d) else float("nan")
        cause = "agrees" if diff <= 5 else (
            "IEA counts magnet rare earths only (about 75 kt) against USGS's 390 kt of all "
            "rare-earth oxides" if m == "rare_earths" else
            "different publisher: IEA's country estimates differ from USGS's")
        out.append({"mineral": m, "iea_top3": top3, "critmin_top3": c, "diff_pp": diff,
                    "cause": cause})
    return pd.DataFrame(out)


# ------------------------------------------------------------------------- page


def render(wt: pd.DataFrame, ts: pd.DataFrame, rel: pd.DataFrame, gpr: pd.DataFrame,
           gpr_eu: pd.DataFrame, iea: pd.DataFrame) -> str:
    today = dt.date.today().isoformat()
    lines = [
        "# Validation: critmin against published figures",
        "",
        f"Generated by `python scripts/validate.py` on {today} from the shared data "
        "(`../shared/data`); do not edit by hand. Each section compares a figure critmin "
        "computes with the figure its publisher prints, gives the difference and, for every "
        "miss, its cause.",
        "",
        "## 1. USGS world totals",
        "",
        "critmin's world total is the sum of the named countries plus USGS's \"Other "
        "countries\" (the denominator of every share); USGS prints a rounded world total. "
        f"Within {TOTAL_TOLERANCE:.0%} counts as agreement (rounding).",
        "",
    ]
    agree = (wt["diff"].abs() <= TOTAL_TOLERANCE).sum()
    lines += [f"{agree} of {len(wt)} mineral × stage × year totals agree; the others:", "",
              "| mineral | stage | year | basis | USGS total | critmin total | difference | cause |",
              "|---|---|---|---|---:|---:|---:|---|"]
    for _, r in wt[wt["diff"].abs() > TOTAL_TOLERANCE].iterrows():
        lines.append(f"| {r.mineral} | {r.stage} | {r.year} | {r.basis} | {num(r.published_total)} "
                     f"| {num(r.total)} | {r['diff'] * 100:+.1f} % | {r.cause} |")
    lines += ["", "### Top producer's share, 2024 mine production (MCS 2026)", "",
              "USGS's share is computed here straight from the publisher's file (named countries "
              "plus \"Other countries\"), independently of critmin's loader.", "",
              "| mineral | basis | USGS top | USGS share | critmin top | critmin share | "
              "world (t) |", "|---|---|---|---:|---|---:|---:|"]
    for _, r in ts.iterrows():
        lines.append(f"| {r.mineral} | {r.basis} | {r.usgs_top} | {pct(r.usgs_share)} | "
                     f"{r.critmin_top} | {pct(r.critmin_share)} | {num(r.critmin_world)} |")
    n_rel = len(rel)
    both = rel[rel.gap_pp.notna()]
    ok = int(both.agrees.sum())
    lines += ["", "## 2. US net import reliance (USGS MCS 2026)", "",
              "USGS reports the United States' net import reliance as a percentage of apparent "
              "consumption; critmin computes (imports − exports) / (production + imports − "
              "exports) from BACI trade (HS92, and HS17 where it is the later nomenclature for a "
              "code; content basis) and production (USGS MCS, else World Mining Data), with "
              "`critmin.metrics.trade.reliance_on_basis`, on the basis USGS states for each "
              "statistic (`src/critmin/reference/usgs_reliance_basis.csv`: the traded forms and "
              "the production stage, e.g. refined copper imports and exports against refinery "
              "production). Statistics without a stated basis count every traded form against "
              "mine production (else refinery, else smelter), as `critmin assess` does for its "
              "`import_reliance`. Where US production is withheld (W), critmin's figure is the "
              "bound the arithmetic allows (net exports give ≤ 0 whatever the production; net "
              "imports give a figure between 0 and 100, which decides nothing). Bounds (`>50`, "
              "`<25`) agree when critmin's figure is within "
              f"{RELIANCE_PP:.0f} points of the bound's side; `E` (net exporter) agrees with a "
              f"reliance ≤ {RELIANCE_PP:.0f}.", "",
              f"{n_rel} reported figures; both figures exist for {len(both)}; {ok} of those "
              f"agree within {RELIANCE_PP:.0f} percentage points. Every other row gives its "
              "cause.", "",
              "| mineral | statistic | year | USGS | critmin | stage | forms | gap (pp) | cause |",
              "|---|---|---|---|---|---|---|---:|---|"]
    for _, r in rel.iterrows():
        gap = "—" if r.gap_pp is None or pd.isna(r.gap_pp) else f"{r.gap_pp:.0f}"
        cause = "agrees" if r.agrees else r.cause
        lines.append(f"| {r.mineral} | {r.detail} | {r.year} | {r.reported} | {r.critmin} | "
                     f"{r.stage} | {r.forms} | {gap} | {cause} |")
    lines += ["", "## 3. GeoPolRisk: geopolrisk-py 2.0.1 tables (`tests/data`)", "",
              "critmin's compat mode against every value the published tool computes (status "
              "ok), 2021–2024.", "",
              "| year | rows compared | tool rows | max relative difference (score) | "
              "max relative difference (HHI) |", "|---|---:|---:|---:|---:|"]
    for _, r in gpr.iterrows():
        lines.append(f"| {int(r.year)} | {int(r.rows)} | {int(r['of'])} | {r.max_rel_diff_score:.1e} | "
                     f"{r.max_rel_diff_hhi:.1e} |")
    lines += ["", "Rows not compared: BACI codes that share an ISO3 in the atlas (58 "
              "Belgium-Luxembourg, 280 West Germany, 736 former Sudan), which the tool lists as "
              "economies of their own, all zero.", "",
              "### The tool's EU region", "",
              "geopolrisk-py 2.0.1 computes a region `EU` of 27 member names (its "
              "`databases.regionslist[\"EU\"]`), summing the members' imports and production, "
              "with imports from a member carrying no risk. Its members are exactly the current "
              "members of critmin's `EU27` group (the United Kingdom left on 31 January 2020), so "
              "`critmin geopolrisk --compat geopolrisk-py --economy EU27` is compared with the "
              "tool's own EU rows (`tests/data/geopolrisk_py_eu_2.0.1_2021-2024.csv`, produced "
              "by `benchmarks/geopolrisk_py_driver.py --economies EU`).", "",
              "| year | rows compared | tool rows | max relative difference (score) | "
              "max relative difference (HHI) | max relative difference (import risk) |",
              "|---|---:|---:|---:|---:|---:|"]
    for _, r in gpr_eu.iterrows():
        lines.append(f"| {int(r.year)} | {int(r.rows)} | {int(r['of'])} | "
                     f"{r.max_rel_diff_score:.1e} | {r.max_rel_diff_hhi:.1e} | "
                     f"{r.max_rel_diff_import_risk:.1e} |")
    lines += ["",
              "## 4. IEA top-3 mining shares, 2024", "",
              "IEA Critical Minerals Data Explorer (2025) against critmin's USGS-based top-3 "
              "share of world mine production. Different publishers: agreement within 5 points "
              "is expected, not required.", "",
              "| mineral | IEA top-3 | critmin top-3 (USGS) | difference (pp) | cause |",
              "|---|---:|---:|---:|---|"]
    for _, r in iea.iterrows():
        lines.append(f"| {r.mineral} | {pct(r.iea_top3)} | {pct(r.critmin_top3)} | "
                     f"{r.diff_pp:.1f} | {r.cause} |")
    extra = ROOT / "docs" / "validation_valuechain.md"  # checks kept with the value-chain tests
    tail = "\n" + extra.read_text(encoding="utf-8") if extra.exists() else ""
    return "\n".join(lines) + "\n" + tail


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "validation.md")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"validate: shared data not found at {args.data}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        db = build(args.data, Path(tmp))
        with Atlas(db) as a:
            page = render(world_totals(a), top_shares(a, args.data), us_reliance(a),
                          geopolrisk_tables(a), geopolrisk_eu(a), iea_top3(a, args.data))
    args.out.write_text(page, encoding="utf-8")
    print(f"validate: wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
