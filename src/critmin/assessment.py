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

from critmin import plans
from critmin.atlas import Atlas
from critmin.errors import NoDataError
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
    iso3 = resolve_country(country)
    minerals = [require_mineral(m) for m in minerals or ()]
    # with a caller's cache every country's tables are computed once and kept; without one,
    # only this country's rows are computed (the same figures: each is per country and mineral)
    only = None if cache is not None else iso3
    t = None
    if only is not None:
        # the years with flows before one HS revision is kept per product bound the years
        # after it: when the country imports in the latest (or the asked) year of those, that
        # year is in its span and the exact span (a scan of every year) is not needed
        raw = _raw_span(atlas, iso3)
        if raw is not None and (year is None or raw[0] <= year <= raw[1]):
            t = year_tables(atlas, raw[1] if year is None else year, country=only)
            if t.imports.get(iso3):
                year = t.year
            else:
                t = None
    if t is None:
        cache = cache or _no_cache
        spans = cache(("assess", "trade years"), lambda: trade_years(atlas, importer=only))
        have = spans.get(iso3)
        if not have:
            raise NoDataError(f"no trade data for {iso3} in the atlas: no BACI flow has it as "
                              "importer of a mapped mineral")
        if year is None:
            year = have[-1]
        require_year(year, range(have[0], have[-1] + 1), what=f"trade data for {iso3}")
        t = cache(("assess", year), lambda: year_tables(atlas, year, country=only))
    assert year is not None
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
    # largest imports first (equal imports: by mineral, the same every run), missing last: the
    # order of sort_values(["imports_kusd", "mineral"], ascending=[False, True]), sorted here
    # because pandas' multi-column sort of a few dozen rows costs milliseconds
    rows.sort(key=_by_imports)
    out = pd.DataFrame(rows, columns=COLUMNS)
    scores = t.geopolrisk.get(iso3, {})
    out["geopolrisk"] = [scores.get(m) for m in out.mineral]
    missing = [m for m in minerals if m not in set(out.mineral)]
    if missing:
        notes = [no_trade_reason(atlas, iso3, m, year) for m in missing]
        if len(missing) == len(minerals):
            raise NoDataError("; ".join(notes))
        out.attrs["notes"] = notes
    return out


def _by_imports(row: dict[str, Any]) -> tuple[bool, float, str]:
    """Sort key of an assess row: imports descending (missing last), then mineral."""
    v = row["imports_kusd"]
    missing = v is None or v != v
    return missing, 0.0 if missing else -float(v), row["mineral"]


def trade_years(atlas: Atlas, *, importer: str | None = None) -> dict[str, list[int]]:
    """``{importer: [first year, last year]}`` of the mapped minerals' trade flows (every
    importer, or ``importer`` only)."""

    def build() -> dict[str, Any]:
        from ibis import _

        from critmin.metrics import trade

        tf, hs, src = atlas.table("trade_flows"), atlas.table("hs_map"), atlas.table("sources")
        flows = trade.mineral_trade(tf, hs, sources=src)
        if importer is not None:
            flows = flows.filter(flows.importer == importer)
        return {"span": flows.group_by("importer").aggregate(lo=_.year.min(), hi=_.year.max())}

    span = plans.frames(atlas, "assess.trade_years", {"importer": importer}, build)["span"]
    return {str(i): [int(lo), int(hi)] for i, lo, hi in zip(span.importer, span.lo, span.hi,
                                                              strict=True)}


def _raw_span(atlas: Atlas, importer: str) -> tuple[int, int] | None:
    """First and last year of ``importer``'s BACI imports under a mapped HS code from another
    country (:func:`critmin.metrics.trade.mapped_flows`), before
    :func:`critmin.metrics.trade.one_hs_revision` (which only drops rows: the years of
    :func:`trade_years` lie inside these); None when there are none."""

    def build() -> dict[str, Any]:
        from critmin.metrics.trade import mapped_flows

        tf, hs, src = atlas.table("trade_flows"), atlas.table("hs_map"), atlas.table("sources")
        t = mapped_flows(tf.filter(tf.importer == importer), hs, sources=src, columns=())
        return {"span": t.aggregate(lo=t.year.min(), hi=t.year.max())}

    span = plans.frames(atlas, "assess.raw_span", {"importer": importer}, build)["span"]
    lo, hi = span.lo.iloc[0], span.hi.iloc[0]
    return None if pd.isna(lo) else (int(lo), int(hi))


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


def year_tables(atlas: Atlas, year: int, *, country: str | None = None) -> YearTables:
    """The set-based part of :func:`assess` for every country and mineral in ``year`` (or for
    ``country`` only): one query per metric, none per country (each figure is per country and
    mineral, so a country's rows are those a query for it alone computes). The queries' SQL is
    kept between runs (:func:`critmin.plans.frames`)."""
    from critmin.metrics.geopolrisk import geopolrisk

    def build() -> dict[str, Any]:  # (Ibis loads only when the plan is not cached)
        from ibis import _

        from critmin.metrics import concentration, trade
        from critmin.metrics.supply import preferred_family

        tf = atlas.table("trade_flows")
        tf = tf.filter(tf.year == year)  # (the HS revision is chosen per year: the same rows)
        hs, src = atlas.table("hs_map"), atlas.table("sources")

        def flows(chain: str) -> Any:
            f = trade.mineral_trade(tf, hs, stage=chain, sources=src)
            if country is not None:  # its imports and, for net imports, its exports
                f = f.filter((f.importer == country) | (f.exporter == country))
            return f

        out = {}
        im = flows("all")
        if country is not None:
            im = im.filter(im.importer == country)
        out["imports"] = trade.import_metrics(im, atlas.table("country_groups"))
        # mine: every traded form (content basis) against mine production, the whole chain;
        # refinery: refined forms against refinery production. A publisher's own basis (USGS's
        # refined copper, say) is trade.reliance_on_basis: see docs/validation.md
        for stage, chain in (("mine", "all"), ("refinery", "refined")):
            # every family's rows: the preferred one serves production, World Mining Data's
            # complete producer lists tell who produces nothing
            r = trade.import_reliance(flows(chain), atlas.table("production"), stage=stage,
                                      sources=src, family=None, years=[year])
            out[f"reliance_{stage}"] = r if country is None else r.filter(r.country == country)
        # the HS codes each importer's figures count (and the mapped ones without data)
        out["coverage"] = trade.hs_coverage(tf, hs, year=year, importer=country, sources=src)
        # one production source family per mineral and stage (USGS MCS; refining: else the IEA)
        prod = preferred_family(atlas.table("production"), src).drop("family")
        conc = concentration.production_concentration(prod, sources=src, family=None)
        out["concentration"] = conc.filter((_.year <= year) & (_.unit == "t"))
        out["lists"] = atlas.table("critical_lists").select("list_id", "mineral")
        return out

    economies = None if country is None else [country]
    gpr_result = plans.in_background(
        atlas, lambda reader: geopolrisk(reader, years=[year], economies=economies))
    f = plans.frames(atlas, "assess.year_tables", {"year": year, "country": country}, build)
    imports: dict[str, list[dict[str, Any]]] = {}
    for r in f["imports"][["importer", "mineral", *IMPORT_COLUMNS]].to_dict("records"):
        imports.setdefault(str(r.pop("importer")), []).append(r)
    reliance = {stage: {(str(row["country"]), str(row["mineral"])): row
                        for row in f[f"reliance_{stage}"].to_dict("records")}
                for stage in ("mine", "refinery")}
    coverage = {(str(row["importer"]), str(row["mineral"])): row
                for row in f["coverage"].to_dict("records")}
    # per (mineral, stage): the latest year's row, the largest total first (one sort, not one
    # per group)
    conc = f["concentration"].sort_values(["mineral", "stage", "year", "total"],
                                          ascending=[True, True, False, False], kind="stable")
    conc = conc.drop_duplicates(["mineral", "stage"])
    best = {(str(row["mineral"]), str(row["stage"])): row for row in conc.to_dict("records")}

    gpr = gpr_result()
    scores: dict[str, dict[str, float | None]] = {}
    for e, m, v in zip(gpr.economy, gpr.material, gpr.score, strict=True):
        scores.setdefault(str(e), {})[str(m)] = None if pd.isna(v) else float(v)
    lists = {m: sorted(set(g.list_id)) for m, g in f["lists"].groupby("mineral")}
    return YearTables(year, imports, reliance, coverage, best, lists, scores)


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
