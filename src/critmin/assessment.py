"""Assessment: for one country, which minerals are at risk, from whom, and how it is changing.

One row per mineral, combining the import-side metrics (:mod:`critmin.metrics.trade`), production
concentration (:mod:`critmin.metrics.concentration`), GeoPolRisk where available
(:mod:`critmin.metrics.geopolrisk`) and the national critical-mineral lists. Every number is
computed set-based for all countries and filtered at the end, so the same expressions serve the
API, the CLI and the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
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
    "top_producer_estimated_mine", "estimated_share_mine", "top_producer_estimated_refinery",
    "estimated_share_refinery",
]


#: ``cache(key, compute)``: ``compute()``'s value, kept under ``key`` by a caller that asks many
#: questions of one atlas (the server keeps each year's tables once per process).
Cache = Callable[[Hashable, Callable[[], Any]], Any]


def _no_cache(_key: Hashable, compute: Callable[[], Any]) -> Any:
    return compute()


def assess(country: str, *, year: int | None = None, minerals: Sequence[str] | None = None,
           atlas: Atlas | None = None, cache: Cache | None = None) -> pd.DataFrame:
    """Supply-risk table for ``country`` (one row per mineral; see :data:`COLUMNS`).

    ``year`` defaults to the latest year with trade data for the country. Shares are of import
    value (thousand USD); import reliance is on a metal-content basis (see
    :func:`critmin.metrics.trade.import_reliance`); production concentration uses the USGS MCS
    data of ``year`` or the latest earlier year (``production_year``). ``hs_codes`` lists the
    HS codes the import figures count (codes with import rows for the country in ``year`` in the
    atlas release read, ``HS17:282200`` form) and ``hs_codes_missing`` the mapped codes without
    any (:func:`critmin.metrics.trade.hs_coverage`). ``top_producer_estimated_<stage>`` is true
    when the publisher marks the top producer's figure as an estimate (USGS ``E``, World Mining
    Data ``e``/``p``) and ``estimated_share_<stage>`` is the part of world production resting on
    estimates (:func:`critmin.metrics.concentration.production_concentration`).

    The figures are computed for every country of the year at once (:func:`year_tables`) and
    this country's rows taken from them; ``cache`` keeps those tables (one entry per year, and
    one for the years each importer has trade data) for the next question about the atlas.
    """
    atlas = atlas or Atlas.open()
    cache = cache or _no_cache
    iso3 = resolve_country(country)
    minerals = [require_mineral(m) for m in minerals or ()]
    spans = cache(("assess", "trade years"), lambda: trade_years(atlas))
    have = spans.get(iso3)
    if not have:
        raise NoDataError(f"no trade data for {iso3} in the atlas: no BACI flow has it as "
                          "importer of a mapped mineral")
    if year is None:
        year = have[-1]
    require_year(year, range(have[0], have[-1] + 1), what=f"trade data for {iso3}")
    t = cache(("assess", year), lambda: year_tables(atlas, year))
    rows = []
    for r in t.imports.get(iso3, []):
        m = r["mineral"]
        if minerals and m not in minerals:
            continue
        row = {"country": iso3, "mineral": m, "year": year, **r, "lists": t.lists.get(m, [])}
        mine = t.reliance["mine"].get((iso3, m), {})
        row["import_reliance"] = _number(mine.get("import_reliance"))
        for c in ("hs_codes", "hs_codes_missing"):
            codes = t.coverage.get((iso3, m), {}).get(c)
            row[c] = sorted(codes) if isinstance(codes, list | tuple | np.ndarray) else []
        row["import_reliance_basis"] = _text(mine.get("reliance_basis"))
        row["import_reliance_flag"] = (_text(mine.get("reliance_flag"))
                                       or _text(mine.get("production_flag")))
        row["import_reliance_refined"] = _number(
            t.reliance["refinery"].get((iso3, m), {}).get("import_reliance"))
        years = []
        for stage in ("mine", "refinery"):
            c = t.concentration.get((m, stage))
            if c is not None:
                row[f"production_hhi_{stage}"] = c["hhi"]
                row[f"top3_share_{stage}"] = c["top3_share"]
                row[f"top_producer_{stage}"] = c["top_supplier"]
                row[f"top_producer_share_{stage}"] = c["top1_share"]
                row[f"top_producer_estimated_{stage}"] = bool(c["top_estimated"])
                row[f"estimated_share_{stage}"] = c["estimated_share"]
                years.append(int(c["year"]))
        row["production_year"] = max(years) if years else None
        rows.append(row)
    out = pd.DataFrame(rows, columns=COLUMNS)
    scores = t.geopolrisk.get(iso3, {})
    out["geopolrisk"] = [scores.get(m) for m in out.mineral]
    out = out.sort_values(["imports_kusd", "mineral"], ascending=[False, True],
                          ignore_index=True)  # (equal imports: by mineral, the same every run)
    missing = [m for m in minerals if m not in set(out.mineral)]
    if missing:
        notes = [no_trade_reason(atlas, iso3, m, year) for m in missing]
        if len(missing) == len(minerals):
            raise NoDataError("; ".join(notes))
        out.attrs["notes"] = notes
    return out


def trade_years(atlas: Atlas) -> dict[str, list[int]]:
    """``{importer: [first year, last year]}`` of the mapped minerals' trade flows."""
    tf, hs, src = atlas.table("trade_flows"), atlas.table("hs_map"), atlas.table("sources")
    flows = trade.mineral_trade(tf, hs, sources=src)
    span = flows.group_by("importer").aggregate(lo=_.year.min(), hi=_.year.max()).to_pandas()
    return {str(i): [int(lo), int(hi)] for i, lo, hi in zip(span.importer, span.lo, span.hi,
                                                              strict=True)}


@dataclass(frozen=True)
class YearTables:
    """What :func:`assess` reads for one year, for every country at once: per importer its import
    metrics per mineral (in the order of the query), per (country, mineral) the import reliance
    of each stage and the HS codes counted, per mineral the critical lists, per (mineral, stage) the
    production concentration of the latest production year up to ``year``, and per economy its
    GeoPolRisk score per mineral."""

    year: int
    imports: dict[str, list[dict[str, Any]]]
    reliance: dict[str, dict[tuple[str, str], dict[str, Any]]]
    coverage: dict[tuple[str, str], dict[str, Any]]
    concentration: dict[tuple[str, str], dict[str, Any]]
    lists: dict[str, list[str]]
    geopolrisk: dict[str, dict[str, float | None]]


IMPORT_COLUMNS = ["imports_kusd", "top_supplier", "top_supplier_share", "import_hhi",
                  "share_msp", "share_ipef", "share_quad"]


def year_tables(atlas: Atlas, year: int) -> YearTables:
    """The set-based part of :func:`assess` for every country and mineral in ``year``: one
    query per metric, none per country (each figure is per country and mineral, so a country's
    rows are those a query for it alone computes)."""
    from critmin.metrics.geopolrisk import geopolrisk

    tf, hs, src = atlas.table("trade_flows"), atlas.table("hs_map"), atlas.table("sources")
    flows_y = trade.mineral_trade(tf, hs, sources=src).filter(_.year == year)
    im = trade.import_metrics(flows_y, atlas.table("country_groups")).to_pandas()
    imports: dict[str, list[dict[str, Any]]] = {}
    for r in im[["importer", "mineral", *IMPORT_COLUMNS]].to_dict("records"):
        imports.setdefault(str(r.pop("importer")), []).append(r)

    # mine: every traded form (content basis) against mine production, the whole chain;
    # refinery: refined forms against refinery production. A publisher's own basis (USGS's
    # refined copper, say) is trade.reliance_on_basis: see docs/validation.md
    reliance = {}
    for stage, chain in (("mine", "all"), ("refinery", "refined")):
        f = trade.mineral_trade(tf, hs, stage=chain, sources=src).filter(_.year == year)
        # every family's rows: the preferred one serves production, World Mining Data's
        # complete producer lists tell who produces nothing
        r = trade.import_reliance(f, atlas.table("production"), stage=stage, sources=src,
                                  family=None).to_pandas()
        reliance[stage] = {(str(row["country"]), str(row["mineral"])): row
                           for row in r.to_dict("records")}

    # the HS codes each importer's figures count (and the mapped ones without data)
    cov = trade.hs_coverage(tf, hs, year=year, sources=src).to_pandas()
    coverage = {(str(row["importer"]), str(row["mineral"])): row
                for row in cov.to_dict("records")}

    # one production source family per mineral and stage (USGS MCS; refining: else the IEA)
    prod = preferred_family(atlas.table("production"), src).drop("family")
    conc = concentration.production_concentration(prod, sources=src, family=None)
    conc = conc.filter((_.year <= year) & (_.unit == "t")).to_pandas()
    best = {}
    for (m, stage), c in conc.groupby(["mineral", "stage"], sort=False):
        c = c[c.year == c.year.max()].sort_values("total", ascending=False).iloc[0]
        best[(str(m), str(stage))] = c.to_dict()

    gpr = geopolrisk(atlas, years=[year])
    scores: dict[str, dict[str, float | None]] = {}
    for e, m, v in zip(gpr.economy, gpr.material, gpr.score, strict=True):
        scores.setdefault(str(e), {})[str(m)] = None if pd.isna(v) else float(v)
    return YearTables(year, imports, reliance, coverage, best, _lists(atlas), scores)


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


def _number(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _text(v: Any) -> str | None:
    return None if v is None or pd.isna(v) else str(v)


def _lists(atlas: Atlas) -> dict[str, list[str]]:
    cl = atlas.table("critical_lists").select("list_id", "mineral").to_pandas()
    return {m: sorted(set(g.list_id)) for m, g in cl.groupby("mineral")}
