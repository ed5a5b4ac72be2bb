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

from typing import TYPE_CHECKING, Any

import pandas as pd
from ibis import _

from critmin import reference
from critmin.metrics.concentration import NOT_COUNTRIES, REST_OF_WORLD, WORLD
from critmin.metrics.formulas import (
    calc_apparent_consumption,
    calc_n_minus_1_coverage,
    calc_shares,
    calc_world_total,
)
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


def calc_n_minus_1(production_t: pd.Series, imports_t: pd.Series,
                   exports_t: pd.Series) -> dict[str, Any]:
    """N-1 figures from production, imports and exports (tonnes, Series indexed by country).

    ``production_t`` may hold the publisher's rest of world (``XRW``) and world total (``WLD``):
    the world is then :func:`calc_world_total` of them, and the top producer a named country.
    Returns ``top_producer, top_share, world_production_t, top_demand_t, coverage, total_flag``
    (:func:`calc_n_minus_1_coverage`: null when the rest of the world has no positive demand).
    """
    named = production_t[~production_t.index.isin(NOT_COUNTRIES)]
    p = named[named > 0].sort_index()
    world, flag = calc_world_total(float(p.sum()), production_t.get(REST_OF_WORLD),
                                   production_t.get(WORLD))
    top = str(p.sort_values(ascending=False, kind="stable").index[0])
    p_top = float(p[top])
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
        keep = every.stage.isin(stages)
        if mineral is not None:
            keep &= every.mineral == mineral
        return every[keep].reset_index(drop=True)
    minerals = [mineral] if mineral else None
    from critmin.metrics.trade import mineral_trade

    trade_years = atlas.table("trade_flows").year.max().to_pandas()
    last_trade = int(trade_years) if trade_years is not None and pd.notna(trade_years) else None
    rows = []
    for s in stages:
        prod = data.production(atlas, year if year is not None else 9999, s, minerals,
                               aggregates=True)
        if year is not None:
            prod = prod[prod.production_year == year]
        if prod.empty:
            continue
        flows = None
        by_key: dict[tuple[str, int], pd.DataFrame] = {}
        codes: dict[tuple[str, int], tuple[list[str], list[str]]] = {}
        if last_trade is not None:
            years = sorted({min(int(y), last_trade) for y in prod.production_year})
            codes = world_hs_codes(atlas, CHAIN_STAGE[s], years, minerals)
            ft = mineral_trade(atlas.table("trade_flows"), atlas.table("hs_map"),
                               stage=CHAIN_STAGE[s], sources=atlas.table("sources"))
            ft = ft.filter(_.year.isin(years))
            if minerals:
                ft = ft.filter(_.mineral.isin(minerals))
            flows = ft.to_pandas()
            # split once: a boolean mask over all flows per (mineral, year) group was the loop's
            # largest cost (docs/benchmarks.md, interactive commands)
            by_key = {(str(k[0]), int(k[1])): g
                      for k, g in flows.groupby(["mineral", "year"], sort=False)}
        for (m, py, basis), g in prod.groupby(["mineral", "production_year", "basis"]):
            named = g[~g.country.isin(NOT_COUNTRIES)]
            if (named.production_t > 0).sum() == 0:
                continue
            ty = min(int(py), last_trade) if last_trade is not None else None
            f = (by_key.get((str(m), int(ty)), flows.iloc[:0])
                 if flows is not None and ty is not None else None)
            p = g.set_index("country").production_t
            # figures the publisher marks as estimates (the world total WLD is not a figure
            # of its own); rest of world included
            est_rows = g.estimated.astype(bool) & (g.country != WORLD)
            est = g.set_index("country").estimated.astype(bool)
            top_named = str(named.set_index("country").production_t.idxmax())
            imp, exp, flag = _content_trade(f, top_named)
            r = calc_n_minus_1(p, imp, exp)
            if flag in ("no_content_factor", "no_trade_data"):
                r["coverage"] = None
            top = r["top_producer"]
            rows.append({
                "mineral": m, "stage": s, "year": int(py), "basis": basis,
                "n_producers": int((named.production_t > 0).sum()),
                "world_production_t": r["world_production_t"],
                "top_producer": top, "top_share": r["top_share"],
                "top_production_t": float(p[top]), "top_imports_t": float(imp.get(top, 0.0)),
                "top_exports_t": float(exp.get(top, 0.0)), "top_demand_t": r["top_demand_t"],
                "coverage": r["coverage"], "trade_year": ty, "content_flag": flag,
                "total_flag": r["total_flag"],
                "coverage_flag": ("surplus" if r["coverage"] is not None
                                  and r["coverage"] > 1 else None),
                "top_estimated": bool(est.get(top, False)),
                "estimated_share": calc_shares(
                    float(g.production_t[est_rows & (g.production_t > 0)].sum()),
                    r["world_production_t"]),
                **_codes_of(codes, str(m), ty),
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
    every mapped code of those revisions is missing)."""
    from critmin.metrics.trade import hs_coverage

    tf, hs = atlas.table("trade_flows"), atlas.table("hs_map")
    if chain_stage != "all":
        hs = hs.filter(hs.chain_stage == chain_stage)
    if minerals:
        hs = hs.filter(hs.mineral.isin(minerals))
    mapped = hs.select("mineral", "hs_code", "hs_revision").distinct().to_pandas()
    loaded = tf.filter(tf.year.isin(years)).select("year", "hs_revision").distinct().to_pandas()
    out: dict[tuple[str, int], tuple[list[str], list[str]]] = {}
    for y in years:
        m = mapped[mapped.hs_revision.isin(set(loaded.hs_revision[loaded.year == y]))]
        for mineral, g in m.groupby("mineral"):
            out[(str(mineral), y)] = ([], sorted(g.hs_revision + ":" + g.hs_code))
        cov = hs_coverage(tf, hs, year=y, by_importer=False,
                          sources=atlas.table("sources")).to_pandas()
        for mineral, have, miss in zip(cov.mineral, cov.hs_codes, cov.hs_codes_missing,
                                       strict=True):
            out[(str(mineral), y)] = (sorted(have or []), sorted(miss or []))
    return out


def _codes_of(codes: dict[tuple[str, int], tuple[list[str], list[str]]], mineral: str,
              year: int | None) -> dict[str, list[str]]:
    """The ``hs_codes, hs_codes_missing`` fields of one N-1 row."""
    have, miss = codes.get((mineral, year), ([], [])) if year is not None else ([], [])
    return {"hs_codes": have, "hs_codes_missing": miss}


def _content_trade(flows: pd.DataFrame | None, top: str) -> tuple[pd.Series, pd.Series, str | None]:
    """Imports and exports in content tonnes per country and a flag for the top producer."""
    empty = pd.Series(dtype=float)
    if flows is None or flows.empty:
        return empty, empty, "no_trade_data"
    content = flows.content_t.astype(float).fillna(0.0)
    imp = content.groupby(flows.importer).sum()
    exp = content.groupby(flows.exporter).sum()
    mine = flows[(flows.importer == top) | (flows.exporter == top)]
    if mine.empty:
        return imp, exp, None
    missing = mine.n_flows.sum() - mine.n_content.sum()
    if mine.n_content.sum() == 0:
        return imp, exp, "no_content_factor"
    return imp, exp, "partial_content" if missing > 0 else None
