"""N-1 test: can the rest of the world cover its demand if the largest producer drops out?

For a mineral at a production stage (``mine`` or ``refinery``) in year t, with production P_c
(USGS, tonnes of the published basis) and trade on a content basis (BACI quantity x the HS map's
content factor; M_c imports, X_c exports, tonnes of contained mineral):

    apparent demand D_c = P_c + M_c - X_c
    world supply W = the publisher's world total (named countries plus its "Other countries";
        calc_world_total) = world demand (imports and exports cancel world-wide)
    top = argmax_c P_c, top_share = P_top / W
    coverage = (W - P_top) / (W - D_top)

coverage >= 1 means the rest of the world produces at least what it consumes without the largest
producer (above 1, ``coverage_flag`` = ``surplus``: a ratio, not a share, see
:data:`~critmin.metrics.formulas.ABOVE_100_FLAGS`); a net-exporting top producer (D_top < P_top)
gives coverage < 1. This is the N-1 test
of the IEA Global Critical Minerals Outlook 2025.

Content factors: flows whose HS code has no content factor (or no quantity) are left out of M and
X; ``content_flag`` is ``partial_content`` when some of the top producer's trade value was left out
and ``no_content_factor`` when none of it could be converted, in which case ``coverage`` is null
(never silently computed as if the top producer did not trade); ``no_trade_data`` when the atlas
holds no BACI flow for the mineral at that stage (coverage null too).

Estimates: ``top_estimated`` is true when the publisher marks the top producer's figure as an
estimate (USGS ``E``, World Mining Data ``e``/``p``), ``estimated_share`` is the part of world
production (rest of world included) whose figures are estimates. Trade is BACI of the production
year, or the latest earlier year BACI covers (``trade_year``).

Coverage of the trade figures: ``hs_codes`` are the mineral's HS codes at that stage with world
trade rows in ``trade_year`` (the flows M and X sum), ``hs_codes_missing`` the mapped codes of
the nomenclatures loaded that year without rows (:func:`critmin.metrics.trade.hs_coverage`, per
mineral); sorted, labelled ``HS92:260500``.

>>> r = calc_n_minus_1(pd.Series({"A": 80.0, "B": 20.0}), pd.Series({"A": 0.0, "B": 70.0}),
...                    pd.Series({"A": 70.0, "B": 0.0}))
>>> r["top_producer"], r["top_share"], r["top_demand_t"], round(r["coverage"], 4)
('A', 0.8, 10.0, 0.2222)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from critmin import plans, reference
from critmin.metrics.concentration import NOT_COUNTRIES, REST_OF_WORLD, WORLD
from critmin.metrics.formulas import (
    calc_apparent_consumption,
    calc_n_minus_1_coverage,
    calc_shares,
    calc_world_total,
)
from critmin.metrics.frames import kept_rows
from critmin.scenarios import data

if TYPE_CHECKING:
    from critmin.atlas import Atlas

#: HS-map chain stage matching a USGS production stage.
CHAIN_STAGE = {"mine": "mine", "refinery": "refined"}

COLUMNS = ["mineral", "stage", "year", "basis", "n_producers", "world_production_t",
           "top_producer", "top_share", "top_production_t", "top_imports_t", "top_exports_t",
           "top_demand_t", "coverage", "trade_year", "content_flag", "total_flag", "coverage_flag",
           "top_estimated", "estimated_share", "hs_codes", "hs_codes_missing"]
#: Columns holding a reason code or None.
FLAG_COLUMNS = ("content_flag", "total_flag", "coverage_flag")


def calc_n_minus_1(production_t: Mapping[str, float] | pd.Series,
                   imports_t: Mapping[str, float] | pd.Series,
                   exports_t: Mapping[str, float] | pd.Series) -> dict[str, Any]:
    """N-1 figures from production, imports and exports (tonnes, by country: a mapping or a
    Series indexed by country).

    ``production_t`` may hold the publisher's rest of world (``XRW``) and world total (``WLD``):
    the world is then :func:`calc_world_total` of them, and the top producer a named country
    (the largest; of equal ones, the first by code). Returns ``top_producer, top_share,
    world_production_t, top_demand_t, coverage, total_flag`` (:func:`calc_n_minus_1_coverage`:
    null when the rest of the world has no positive demand).
    """
    p = {str(c): float(v) for c, v in sorted(production_t.items())
         if c not in NOT_COUNTRIES and v > 0}
    world, flag = calc_world_total(float(np.sum(list(p.values()), dtype=float)),
                                   production_t.get(REST_OF_WORLD), production_t.get(WORLD))
    top = max(p, key=p.__getitem__)  # (the first of equal maxima in code order)
    p_top = p[top]
    d_top = calc_apparent_consumption(p_top, float(imports_t.get(top, 0.0)),
                                      float(exports_t.get(top, 0.0)))
    return {"top_producer": top, "top_share": calc_shares(p_top, world),
            "world_production_t": world, "top_demand_t": d_top,
            "coverage": calc_n_minus_1_coverage(world, p_top, d_top), "total_flag": flag}


def n_minus_1(atlas: Atlas, *, mineral: str | None = None, stage: str | None = None,
              year: int | None = None, every: pd.DataFrame | None = None) -> pd.DataFrame:
    """The N-1 table (:data:`COLUMNS`) for every mineral and stage with country production data
    (or the given ``mineral``/``stage``), in ``year`` or each one's latest year.

    ``every`` is this function's answer for every mineral and stage in the same ``year``
    (``n_minus_1(atlas, year=year)``), kept by a caller that asks many questions of one atlas:
    the inputs are checked as always, then its rows are filtered (each row is computed from its
    own mineral and stage alone, so they are the rows a narrower call computes)."""
    stages = [stage] if stage else list(CHAIN_STAGE)
    for s in stages:
        reference.require_choice("stage", s, CHAIN_STAGE)
    if mineral is not None:
        mineral = reference.require_mineral(mineral)
    if every is not None:
        asked = {"stage": stages, **({"mineral": [mineral]} if mineral is not None else {})}
        return kept_rows(every, asked)
    minerals = [mineral] if mineral else None
    upto = year if year is not None else 9999

    def base() -> dict[str, Any]:
        tf = atlas.table("trade_flows")
        out = {"last_trade": tf.aggregate(year=tf.year.max())}
        for s in stages:
            out[f"production_{s}"] = data.production_query(atlas, upto, s, minerals,
                                                           aggregates=True)
        return out

    # (the queries' SQL is kept between runs, critmin.plans; each batch runs side by side)
    b = plans.frames(atlas, "nminus1.base", {"year": upto, "stages": stages,
                                             "minerals": minerals}, base)
    last = b["last_trade"].year.iloc[0]
    last_trade = int(last) if last is not None and pd.notna(last) else None
    prods = {}
    for s in stages:
        prod = b[f"production_{s}"]
        if year is not None:
            prod = prod[prod.production_year == year]
        if not prod.empty:
            prods[s] = prod
    trade_years = ({s: sorted({min(int(y), last_trade) for y in p.production_year})
                    for s, p in prods.items()} if last_trade is not None else {})

    def trade() -> dict[str, Any]:
        from critmin.metrics.trade import mineral_trade

        out = {}
        for s, years in trade_years.items():
            out.update(world_hs_code_queries(atlas, CHAIN_STAGE[s], years, minerals,
                                             prefix=f"{s}_"))
            tf = atlas.table("trade_flows")
            # (the HS revision is chosen per year: the years' rows alone give the same flows)
            ft = mineral_trade(tf.filter(tf.year.isin(years)), atlas.table("hs_map"),
                               stage=CHAIN_STAGE[s], sources=atlas.table("sources"))
            if minerals:
                ft = ft.filter(ft.mineral.isin(minerals))
            # per mineral, year and country, as importer and as exporter: content (a flow
            # without a content figure counts 0) and the flows it is party to
            for side in ("importer", "exporter"):
                g = ft.group_by(["mineral", "year", side]).aggregate(
                    content=ft.content_t.fill_null(0.0).sum(), n_flows=ft.n_flows.sum(),
                    n_content=ft.n_content.sum())
                out[f"{s}_{side}"] = g.rename(country=side)
        return out

    t = (plans.frames(atlas, "nminus1.trade", {"years": trade_years, "minerals": minerals},
                      trade) if trade_years else {})
    rows = []
    for s, prod in prods.items():
        sums: dict[tuple[str, int], _TradeSums] = {}
        codes: dict[tuple[str, int], tuple[list[str], list[str]]] = {}
        if s in trade_years:
            codes = assemble_world_hs_codes(t, trade_years[s], prefix=f"{s}_")
            # one grouping of all flows, not one per (mineral, year): the per-group pandas work
            # was the loop's largest cost (docs/benchmarks.md, interactive commands)
            sums = _trade_sums(t[f"{s}_importer"], t[f"{s}_exporter"])
        # plain Python per (mineral, year, basis): a handful of rows each, where pandas'
        # per-call overhead was most of the loop's time (docs/benchmarks.md)
        groups: dict[tuple[str, int, str], list[tuple[str, float, bool]]] = {}
        for m, py, basis, c, v, e in zip(prod.mineral.tolist(), prod.production_year.tolist(),
                                         prod.basis.tolist(), prod.country.tolist(),
                                         prod.production_t.astype(float).tolist(),
                                         prod.estimated.astype(bool).tolist(), strict=True):
            groups.setdefault((str(m), int(py), str(basis)), []).append((str(c), v, e))
        for (m, py, basis), g in sorted(groups.items()):
            named = [(c, v) for c, v, _e in g if c not in NOT_COUNTRIES]
            n_producers = sum(1 for _c, v in named if v > 0)
            if n_producers == 0:
                continue
            ty = min(py, last_trade) if last_trade is not None else None
            f = sums.get((m, ty)) if ty is not None else None
            p = {c: v for c, v, _e in g}
            est = {c: e for c, _v, e in g}
            top_named = max(named, key=lambda cv: cv[1])[0]  # (the first of equal maxima)
            imp, exp, flag = _content_trade(f, top_named)
            r = calc_n_minus_1(p, imp, exp)
            if flag in ("no_content_factor", "no_trade_data"):
                r["coverage"] = None
            top = r["top_producer"]
            # figures the publisher marks as estimates (the world total WLD is not a figure
            # of its own); rest of world included
            estimated = np.array([v for c, v, e in g if e and c != WORLD and v > 0], dtype=float)
            rows.append({
                "mineral": m, "stage": s, "year": py, "basis": basis,
                "n_producers": n_producers,
                "world_production_t": r["world_production_t"],
                "top_producer": top, "top_share": r["top_share"],
                "top_production_t": float(p[top]), "top_imports_t": float(imp.get(top, 0.0)),
                "top_exports_t": float(exp.get(top, 0.0)), "top_demand_t": r["top_demand_t"],
                "coverage": r["coverage"], "trade_year": ty, "content_flag": flag,
                "total_flag": r["total_flag"],
                "coverage_flag": ("surplus" if r["coverage"] is not None
                                  and r["coverage"] > 1 else None),
                "top_estimated": bool(est.get(top, False)),
                "estimated_share": calc_shares(float(estimated.sum()), r["world_production_t"]),
                **_codes_of(codes, m, ty),
            })
    out = pd.DataFrame(rows, columns=COLUMNS)
    for c in FLAG_COLUMNS:  # text or None, whichever rows a call computed (pandas would infer
        # a string dtype when some rows carry a flag and object when none do)
        out[c] = pd.Series([v if isinstance(v, str) else None for v in out[c]], dtype=object)
    return out.sort_values(["mineral", "stage"], ignore_index=True)


def world_hs_codes(atlas: Atlas, chain_stage: str, years: list[int], minerals: list[str] | None
                   ) -> dict[tuple[str, int], tuple[list[str], list[str]]]:
    """``(mineral, year) -> (hs_codes, hs_codes_missing)``: the codes of the mineral at
    ``chain_stage`` (``mine``, ``refined`` or ``all``) with world trade rows in the year and the
    mapped codes of the revisions loaded that year without rows (a mineral with no flow at all:
    every mapped code of those revisions is missing). (The queries are
    :func:`world_hs_code_queries`, the rest :func:`assemble_world_hs_codes`.)"""
    frames = {k: e.to_pandas()
              for k, e in world_hs_code_queries(atlas, chain_stage, years, minerals).items()}
    return assemble_world_hs_codes(frames, years)


def world_hs_code_queries(atlas: Atlas, chain_stage: str, years: list[int],
                          minerals: list[str] | None, prefix: str = "") -> dict[str, Any]:
    """The Ibis queries of :func:`world_hs_codes`: ``{prefix}mapped``, ``{prefix}loaded`` and
    ``{prefix}cov_{year}`` per year."""
    from critmin.metrics.trade import hs_coverage

    tf, hs = atlas.table("trade_flows"), atlas.table("hs_map")
    if chain_stage != "all":
        hs = hs.filter(hs.chain_stage == chain_stage)
    if minerals:
        hs = hs.filter(hs.mineral.isin(minerals))
    out = {f"{prefix}mapped": hs.select("mineral", "hs_code", "hs_revision").distinct(),
           f"{prefix}loaded": tf.filter(tf.year.isin(years)).select("year",
                                                                    "hs_revision").distinct()}
    for y in years:
        out[f"{prefix}cov_{y}"] = hs_coverage(tf, hs, year=y, by_importer=False,
                                              sources=atlas.table("sources"))
    return out


def assemble_world_hs_codes(frames: dict[str, pd.DataFrame], years: list[int], prefix: str = ""
                            ) -> dict[tuple[str, int], tuple[list[str], list[str]]]:
    """:func:`world_hs_codes` from the frames of :func:`world_hs_code_queries`."""
    mapped, loaded = frames[f"{prefix}mapped"], frames[f"{prefix}loaded"]
    out: dict[tuple[str, int], tuple[list[str], list[str]]] = {}
    rows = list(zip(mapped.mineral.tolist(), mapped.hs_revision.tolist(),
                    mapped.hs_code.tolist(), strict=True))
    for y in years:
        revisions = set(loaded.hs_revision[loaded.year == y])
        by_mineral: dict[str, list[str]] = {}
        for mineral, revision, code in rows:  # (plain Python: a few hundred rows)
            if revision in revisions:
                by_mineral.setdefault(str(mineral), []).append(f"{revision}:{code}")
        for mineral, codes in by_mineral.items():
            out[(mineral, y)] = ([], sorted(codes))
        cov = frames[f"{prefix}cov_{y}"]
        for mineral, have, miss in zip(cov.mineral, cov.hs_codes, cov.hs_codes_missing,
                                       strict=True):
            out[(str(mineral), y)] = (sorted(_codes(have)), sorted(_codes(miss)))
    return out


def _codes(value: Any) -> list[str]:
    """A list column's value as a list (a list or a NumPy array; a missing value is empty)."""
    return [] if value is None or (not hasattr(value, "__len__") and pd.isna(value)) else list(value)


def _codes_of(codes: dict[tuple[str, int], tuple[list[str], list[str]]], mineral: str,
              year: int | None) -> dict[str, list[str]]:
    """The ``hs_codes, hs_codes_missing`` fields of one N-1 row."""
    have, miss = codes.get((mineral, year), ([], [])) if year is not None else ([], [])
    return {"hs_codes": have, "hs_codes_missing": miss}


#: Per country: content imports (t), content exports (t), and the flows it is party to
#: (count, count with a content figure), of one mineral and year.
_TradeSums = tuple[dict[str, float], dict[str, float], dict[str, tuple[int, int]]]


def _trade_sums(by_importer: pd.DataFrame, by_exporter: pd.DataFrame
                ) -> dict[tuple[str, int], _TradeSums]:
    """:data:`_TradeSums` per (mineral, year), from the per-country sums of
    :func:`critmin.metrics.trade.mineral_trade` rows as importer and as exporter (``mineral,
    year, country, content, n_flows, n_content``)."""
    out: dict[tuple[str, int], _TradeSums] = {}
    for i, df in enumerate((by_importer, by_exporter)):
        for m, y, c, v, nf, nc in zip(df.mineral.tolist(), df.year.tolist(),
                                      df.country.tolist(), df.content.tolist(),
                                      df.n_flows.tolist(), df.n_content.tolist(), strict=True):
            entry = out.setdefault((str(m), int(y)), ({}, {}, {}))
            entry[i][str(c)] = float(v)
            before = entry[2].get(str(c), (0, 0))
            entry[2][str(c)] = (before[0] + int(nf), before[1] + int(nc))
    return out


def _content_trade(sums: _TradeSums | None, top: str
                   ) -> tuple[dict[str, float], dict[str, float], str | None]:
    """Imports and exports in content tonnes per country and a flag for the top producer:
    ``no_trade_data`` (no flow), ``no_content_factor`` (none of the top producer's flows has a
    content figure), ``partial_content`` (some have none) or None."""
    if sums is None:
        return {}, {}, "no_trade_data"
    imp, exp, counts = sums
    n_flows, n_content = counts.get(top, (0, 0))
    if n_flows == 0:  # (self-trade is dropped: no flow is counted on both sides)
        return imp, exp, None
    if n_content == 0:
        return imp, exp, "no_content_factor"
    return imp, exp, "partial_content" if n_flows > n_content else None
