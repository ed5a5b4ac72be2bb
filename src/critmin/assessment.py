"""Assessment: for one country, which minerals are at risk, from whom, and how it is changing.

One row per mineral, combining the import-side metrics (:mod:`critmin.metrics.trade`), production
concentration (:mod:`critmin.metrics.concentration`), GeoPolRisk where available
(:mod:`critmin.metrics.geopolrisk`) and the national critical-mineral lists. Every number is
computed set-based for all countries and filtered at the end, so the same expressions serve the
API, the CLI and the dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from ibis import _

from critmin.atlas import Atlas
from critmin.errors import NoDataError
from critmin.metrics import concentration, trade
from critmin.metrics.supply import preferred_family
from critmin.reference import require_mineral, require_year, resolve_country

#: Column order of the ``assess`` table (a stable contract: new columns may be appended).
COLUMNS = [
    "country", "mineral", "year", "imports_kusd", "import_reliance", "import_reliance_refined",
    "top_supplier", "top_supplier_share", "import_hhi", "production_hhi_mine", "top3_share_mine",
    "top_producer_mine", "production_hhi_refinery", "top3_share_refinery", "top_producer_refinery",
    "production_year", "geopolrisk", "share_msp", "share_ipef", "share_quad", "lists",
    "top_producer_share_mine", "top_producer_share_refinery",
    "import_reliance_basis", "import_reliance_flag", "hs_codes", "hs_codes_missing",
]


def assess(country: str, *, year: int | None = None, minerals: Sequence[str] | None = None,
           atlas: Atlas | None = None) -> pd.DataFrame:
    """Supply-risk table for ``country`` (one row per mineral; see :data:`COLUMNS`).

    ``year`` defaults to the latest year with trade data for the country. Shares are of import
    value (thousand USD); import reliance is on a metal-content basis (see
    :func:`critmin.metrics.trade.import_reliance`); production concentration uses the USGS MCS
    data of ``year`` or the latest earlier year (``production_year``).
    """
    atlas = atlas or Atlas.open()
    iso3 = resolve_country(country)
    tf, hs, src = atlas.table("trade_flows"), atlas.table("hs_map"), atlas.table("sources")
    minerals = [require_mineral(m) for m in minerals or ()]
    flows = trade.mineral_trade(tf, hs, sources=src)
    span = flows.filter(_.importer == iso3).aggregate(lo=_.year.min(), hi=_.year.max())
    lo, hi = span.to_pandas().iloc[0]
    have = [] if pd.isna(lo) else [int(lo), int(hi)]
    if not have:
        raise NoDataError(f"no trade data for {iso3} in the atlas: no BACI flow has it as "
                          "importer of a mapped mineral")
    if year is None:
        year = have[-1]
    require_year(year, range(have[0], have[-1] + 1), what=f"trade data for {iso3}")
    flows_y = flows.filter(_.year == year)
    if minerals:
        flows_y = flows_y.filter(_.mineral.isin(list(minerals)))
    im = trade.import_metrics(flows_y, atlas.table("country_groups"))
    im = im.filter(_.importer == iso3).to_pandas()

    # one production source family per mineral and stage (USGS MCS; refining: else the IEA)
    prod = preferred_family(atlas.table("production"), src).drop("family")
    rel = {}
    # mine: every traded form (content basis) against mine production, the whole chain;
    # refinery: refined forms against refinery production. A publisher's own basis (USGS's
    # refined copper, say) is trade.reliance_on_basis: see docs/validation.md
    for stage, chain in (("mine", "all"), ("refinery", "refined")):
        f = trade.mineral_trade(tf, hs, stage=chain, sources=src).filter(_.year == year)
        # every family's rows: the preferred one serves production, World Mining Data's
        # complete producer lists tell who produces nothing
        r = trade.import_reliance(f, atlas.table("production"), stage=stage, sources=src,
                                  family=None)
        rel[stage] = r.filter(_.country == iso3).to_pandas().set_index("mineral")

    cov = trade.hs_coverage(tf, hs, year=year).to_pandas().set_index("mineral")
    conc = concentration.production_concentration(prod, sources=src, family=None)
    conc = conc.filter((_.year <= year) & (_.unit == "t")).to_pandas()
    lists = _lists(atlas)
    rows = []
    for _i, r in im.iterrows():
        m = r.mineral
        row = {"country": iso3, "mineral": m, "year": year, "imports_kusd": r.imports_kusd,
               "top_supplier": r.top_supplier, "top_supplier_share": r.top_supplier_share,
               "import_hhi": r.import_hhi, "share_msp": r.share_msp, "share_ipef": r.share_ipef,
               "share_quad": r.share_quad, "lists": lists.get(m, [])}
        row["import_reliance"] = _get(rel["mine"], m, "import_reliance")
        for c in ("hs_codes", "hs_codes_missing"):
            codes = cov.loc[m, c] if m in cov.index else None
            row[c] = [] if codes is None else sorted(codes)
        row["import_reliance_basis"] = _get_text(rel["mine"], m, "reliance_basis")
        row["import_reliance_flag"] = (_get_text(rel["mine"], m, "reliance_flag")
                                       or _get_text(rel["mine"], m, "production_flag"))
        row["import_reliance_refined"] = _get(rel["refinery"], m, "import_reliance")
        years = []
        for stage in ("mine", "refinery"):
            c = conc[(conc.mineral == m) & (conc.stage == stage)]
            if len(c):
                c = c[c.year == c.year.max()].sort_values("total", ascending=False).iloc[0]
                row[f"production_hhi_{stage}"] = c.hhi
                row[f"top3_share_{stage}"] = c.top3_share
                row[f"top_producer_{stage}"] = c.top_supplier
                row[f"top_producer_share_{stage}"] = c.top1_share
                years.append(int(c.year))
        row["production_year"] = max(years) if years else None
        rows.append(row)
    out = pd.DataFrame(rows, columns=COLUMNS)
    out["geopolrisk"] = _geopolrisk(atlas, iso3, year, list(out.mineral))
    out = out.sort_values(["imports_kusd", "mineral"], ascending=[False, True],
                          ignore_index=True)  # (equal imports: by mineral, the same every run)
    missing = [m for m in minerals if m not in set(out.mineral)]
    if missing:
        notes = [no_trade_reason(atlas, iso3, m, year) for m in missing]
        if len(missing) == len(minerals):
            raise NoDataError("; ".join(notes))
        out.attrs["notes"] = notes
    return out


def no_trade_reason(atlas: Atlas, iso3: str, mineral: str, year: int) -> str:
    """Why ``iso3`` has no import row for ``mineral`` in ``year``: no HS codes mapped, or the
    mapped codes show no imports that year."""
    hs = atlas.table("hs_map")
    codes = sorted(set(hs.filter(hs.mineral == mineral).hs_code.to_pandas()))
    if not codes:
        return (f"no data for {mineral}: no trade codes mapped (critmin/reference/hs_map.csv "
                "lists no HS code for it)")
    return (f"no data for {mineral}: {iso3} reported no imports under its HS codes "
            f"({', '.join(codes)}) in {year}")


def _get(df: pd.DataFrame, mineral: str, col: str) -> float | None:
    if mineral in df.index:
        v = df.loc[mineral, col]
        return None if pd.isna(v) else float(v)
    return None


def _get_text(df: pd.DataFrame, mineral: str, col: str) -> str | None:
    if mineral in df.index:
        v = df.loc[mineral, col]
        return None if v is None or pd.isna(v) else str(v)
    return None


def _lists(atlas: Atlas) -> dict[str, list[str]]:
    cl = atlas.table("critical_lists").select("list_id", "mineral").to_pandas()
    return {m: sorted(set(g.list_id)) for m, g in cl.groupby("mineral")}


def _geopolrisk(atlas: Atlas, iso3: str, year: int, minerals: list[str]) -> list[float | None]:
    """GeoPolRisk score per mineral (default mode: NA where inputs are missing)."""
    from critmin.metrics.geopolrisk import geopolrisk

    gpr = geopolrisk(atlas, economies=[iso3], years=[year], materials=minerals)
    scores = {m: (None if pd.isna(v) else float(v)) for m, v in zip(gpr.material, gpr.score,
                                                                        strict=True)}
    return [scores.get(m) for m in minerals]
