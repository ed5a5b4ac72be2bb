"""Where supply really comes from: imports traced one step upstream of the refiner.

Method (all amounts in tonnes of contained mineral, one mineral and one year):

- An importer c buys ``ore`` (ores and concentrates: the exporter is the mine origin) and
  ``processed`` goods (intermediates, chemicals, metals, alloys) from exporters r.
- A refiner r is fed by its own mine production P_r and by its imports of feed forms (ores,
  intermediates and chemicals) from origins s: F_rs. Its feed shares are
  ``phi_rs = F_rs / (P_r + sum_s F_rs)``, with domestic mining as origin s = r.
- **Assumption: proportional sourcing.** Every tonne r exports is sourced like the average
  tonne of its feed, so c's processed imports from r, M_cr, come from origin s in proportion:
  ``T_cs = sum_r M_cr x phi_rs`` (plus c's ore imports from s, which are already at origin).
  One step only: the origins' own imports are not traced further.
- A refiner with no known feed (no mine production and no feed imports with a known content)
  keeps its volume as its own origin, marked ``untraced``.

The direct view credits each exporter with what it ships; the traced view credits the countries
whose mines fed it. Both views have the same total. Concentration and risk of either view:

- shares s_i = amount_i / total; ``hhi = sum_i s_i^2`` (0-1);
- GeoPolRisk-style import risk ``wta = sum_i g_i s_i`` with g_i = clip((2.5 - PV_i) / 5, 0, 1)
  (WGI political stability, :func:`critmin.metrics.geopolrisk.g_from_pv`; unknown PV: not
  counted, see ``pv_coverage``), and ``score = HHI_world x wta`` where HHI_world is the world
  production HHI of the stage the view ends at (refining for the direct view, mining for the
  traced view), as in the GeoPolRisk method.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from critmin.metrics.geopolrisk import g_from_pv

#: Columns of :func:`trace` output.
TRACE_COLUMNS = ["mineral", "importer", "exporter", "origin", "amount_t", "how"]
#: Columns of :func:`compare_views` output.
VIEW_COLUMNS = ["mineral", "importer", "country", "direct_t", "direct_share", "traced_t",
                "traced_share", "change"]
#: Columns of :func:`view_metrics` output.
METRIC_COLUMNS = ["mineral", "importer", "total_t", "n_direct", "n_traced", "top_direct",
                  "top_direct_share", "top_traced", "top_traced_share", "hhi_direct",
                  "hhi_traced", "wta_direct", "wta_traced", "pv_coverage", "score_direct",
                  "score_traced", "untraced_share"]


def feed_shares(feed: pd.DataFrame) -> pd.DataFrame:
    """Each refiner's feed shares by origin.

    ``feed``: ``mineral, refiner, origin, amount_t`` (domestic mine production as origin =
    refiner). Returns ``mineral, refiner, origin, phi`` with phi = amount / refiner's total feed;
    refiners whose feed sums to zero get no rows.

    >>> f = pd.DataFrame({"mineral": ["co"] * 2, "refiner": ["FIN"] * 2,
    ...                   "origin": ["COD", "FIN"], "amount_t": [3.0, 1.0]})
    >>> feed_shares(f).phi.tolist()
    [0.75, 0.25]
    """
    f = feed[feed.amount_t > 0].groupby(["mineral", "refiner", "origin"], as_index=False)
    f = f.amount_t.sum()
    tot = f.groupby(["mineral", "refiner"]).amount_t.transform("sum")
    out = f.assign(phi=f.amount_t / tot)[["mineral", "refiner", "origin", "phi"]]
    return out.astype({"mineral": object, "refiner": object, "origin": object, "phi": float})


def trace(imports: pd.DataFrame, feed: pd.DataFrame) -> pd.DataFrame:
    """Split imports by origin one step upstream (proportional sourcing).

    ``imports``: ``mineral, importer, exporter, form, amount_t`` with form ``ore`` or
    ``processed``; ``feed`` as for :func:`feed_shares`. Returns :data:`TRACE_COLUMNS`, ``how``
    being ``ore`` (bought at origin), ``traced`` (split by the refiner's feed) or ``untraced``
    (refiner without known feed: kept at the refiner).
    """
    imp = imports[imports.amount_t > 0]
    ore = imp[imp.form == "ore"].assign(origin=lambda d: d.exporter, how="ore")
    proc = imp[imp.form != "ore"]
    phi = feed_shares(feed).rename(columns={"refiner": "exporter"})
    j = proc.merge(phi, on=["mineral", "exporter"], how="left")
    known = j.phi.notna()
    traced = j[known].assign(amount_t=j.amount_t[known] * j.phi[known], how="traced")
    untraced = j[~known].assign(origin=j.exporter[~known], how="untraced")
    out = pd.concat([ore, traced, untraced], ignore_index=True)
    if out.empty:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "amount_t" else object)
                             for c in TRACE_COLUMNS})
    out = out.groupby(["mineral", "importer", "exporter", "origin", "how"], as_index=False)
    return out.amount_t.sum()[TRACE_COLUMNS]


def compare_views(traced: pd.DataFrame) -> pd.DataFrame:
    """Direct (by exporter) against traced (by origin) amounts and shares per country.

    ``change`` = traced_share - direct_share (positive: the country matters more than its
    direct sales show). Returns :data:`VIEW_COLUMNS`.
    """
    key = ["mineral", "importer"]
    d = traced.groupby([*key, "exporter"], as_index=False).amount_t.sum().rename(
        columns={"exporter": "country", "amount_t": "direct_t"})
    t = traced.groupby([*key, "origin"], as_index=False).amount_t.sum().rename(
        columns={"origin": "country", "amount_t": "traced_t"})
    v = d.merge(t, on=[*key, "country"], how="outer").fillna({"direct_t": 0.0, "traced_t": 0.0})
    tot = v.groupby(key).direct_t.transform("sum")
    v["direct_share"] = v.direct_t / tot
    v["traced_share"] = v.traced_t / tot
    v["change"] = v.traced_share - v.direct_share
    v = v.sort_values([*key, "traced_t", "country"], ascending=[True, True, False, True])
    return v[VIEW_COLUMNS].reset_index(drop=True)


def view_metrics(views: pd.DataFrame, traced: pd.DataFrame | None = None,
                 pv: Mapping[str, float] | pd.Series | None = None,
                 hhi_world: Mapping[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """HHI, top supplier, GeoPolRisk-style risk and score of the direct and traced views.

    ``views`` from :func:`compare_views`; ``traced`` (optional) gives ``untraced_share``;
    ``pv``: WGI PV estimate by ISO3; ``hhi_world``: {(mineral, stage): world production HHI}
    with stages ``refinery`` (direct view) and ``mine`` (traced view). Returns
    :data:`METRIC_COLUMNS`; NaN where an input is missing. Set-based: one call serves every
    importer and mineral.
    """
    key = ["mineral", "importer"]
    pvs = pd.Series(dict(pv) if pv is not None else {}, dtype=float)
    v = views.copy()
    v["g"] = v.country.map(pvs).map(lambda x: g_from_pv(x) if pd.notna(x) else np.nan)
    has = v.g.notna()
    grp = v.groupby(key, sort=True)
    out = grp.direct_t.sum().rename("total_t").to_frame()
    for view in ("direct", "traced"):
        sh = v[f"{view}_share"]
        out[f"n_{view}"] = (sh > 0).groupby([v.mineral, v.importer]).sum()
        top = v.loc[sh.groupby([v.mineral, v.importer]).idxmax()].set_index(key)
        out[f"top_{view}"] = top.country
        out[f"top_{view}_share"] = top[f"{view}_share"]
        out[f"hhi_{view}"] = (sh**2).groupby([v.mineral, v.importer]).sum()
        num = (v.g * sh).where(has, 0.0).groupby([v.mineral, v.importer]).sum()
        den = sh.where(has, 0.0).groupby([v.mineral, v.importer]).sum()
        out[f"wta_{view}"] = (num / den.where(den > 0)).astype(float)
    cov = (v.direct_share + v.traced_share).where(has, 0.0) / 2
    out["pv_coverage"] = cov.groupby([v.mineral, v.importer]).sum()
    out = out.reset_index()
    hw = dict(hhi_world or {})
    out["score_direct"] = out.mineral.map(lambda m: hw.get((m, "refinery"), np.nan)) \
        * out.wta_direct
    out["score_traced"] = out.mineral.map(lambda m: hw.get((m, "mine"), np.nan)) \
        * out.wta_traced
    if traced is not None and len(out):
        un = traced[traced.how == "untraced"].groupby(key).amount_t.sum().rename("untraced_t")
        out = out.merge(un.reset_index(), on=key, how="left")
        out["untraced_share"] = out.untraced_t.fillna(0.0) / out.total_t
    else:
        out["untraced_share"] = np.nan
    return out[METRIC_COLUMNS]
