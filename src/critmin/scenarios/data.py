"""Atlas extracts the scenario layers work on, as pandas tables.

Quantities are **tonnes of product** as traded (BACI ``quantity_t``) summed over the HS6 codes that
``hs_map`` assigns to a mineral and chain stage. Where BACI has no quantity for a flow, it is
imputed from the flow's value at the world unit value of that HS code in that year
(``quantity_t = value_kusd / (sum value_kusd / sum quantity_t)`` over the code's flows with both);
flows of a code that has no quantity at all are dropped (``imputed_t`` reports how much was
imputed). Production is USGS MCS (latest release of family ``usgs-mcs``), in tonnes of the
published basis, for the latest year up to the base year.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from critmin.metrics.concentration import NOT_COUNTRIES

if TYPE_CHECKING:
    from critmin.atlas import Atlas

#: USGS production stage that matches a chain stage of the HS map.
PRODUCTION_STAGE = {"mine": "mine", "refined": "refinery", "all": "mine"}


def trade(atlas: Atlas, year: int, stage: str = "all",
          minerals: Sequence[str] | None = None) -> pd.DataFrame:
    """Bilateral trade per mineral in ``year`` (BACI), in tonnes of product.

    Columns: ``mineral, exporter, importer, quantity_t, value_kusd, imputed_t``. Self-trade is
    dropped. ``attrs["hs_codes"]`` maps each mineral to the sorted codes its rows sum
    (``HS92:260400``; a code none of whose flows has a quantity is left out, see the module
    docstring).
    """
    from ibis import _

    from critmin.metrics.trade import one_hs_revision

    tf = atlas.table("trade_flows").filter(_.year == year)
    src = atlas.table("sources")
    tf = tf.semi_join(src.filter(src.family == "baci").select("source_id"), "source_id")
    m = atlas.table("hs_map")
    if stage != "all":
        m = m.filter(m.chain_stage == stage)
    if minerals is not None:
        m = m.filter(m.mineral.isin(list(minerals)))
    m = m.select("hs_code", "hs_revision", "mineral")
    j = tf.join(m, ["hs_code", "hs_revision"]).filter(_.exporter != _.importer)
    j = one_hs_revision(j, ("year", "hs_product", "mineral"))
    df = j.select("mineral", "hs_code", "hs_revision", "exporter", "importer", "value_kusd",
                  "quantity_t").to_pandas()
    out = _impute(df)
    have = df[df.quantity_t.notna()]
    out.attrs["hs_codes"] = {str(m): sorted(set(g.hs_revision + ":" + g.hs_code))
                             for m, g in have.groupby("mineral")}
    return out


def _impute(df: pd.DataFrame) -> pd.DataFrame:
    cols = ["mineral", "exporter", "importer", "quantity_t", "value_kusd", "imputed_t"]
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if i < 3 else float)
                             for i, c in enumerate(cols)})
    q = df.quantity_t.astype(float)
    v = df.value_kusd.astype(float)
    both = q.notna() & (q > 0)
    uv = (v.where(both).groupby(df.hs_code).sum()
          / q.where(both).groupby(df.hs_code).sum()).replace(0.0, np.nan)
    est = v / df.hs_code.map(uv).astype(float)
    qty = q.where(q.notna(), est)
    out = pd.DataFrame({"mineral": df.mineral, "exporter": df.exporter, "importer": df.importer,
                        "quantity_t": qty, "value_kusd": v,
                        "imputed_t": np.where(q.isna(), qty, 0.0)})
    out = out[out.quantity_t.notna()]
    return out.groupby(["mineral", "exporter", "importer"], as_index=False).sum()


def production(atlas: Atlas, year: int, stage: str = "mine",
               minerals: Sequence[str] | None = None, *,
               aggregates: bool = False) -> pd.DataFrame:
    """Production in tonnes per country and mineral for the latest year <= ``year``: USGS MCS;
    for refining, the first family that publishes the mineral's refining (USGS MCS, else the
    IEA, else World Mining Data; :func:`critmin.metrics.supply.preferred_family`).

    ``stage`` is a production stage (``mine``, ``refinery``, ``smelter``). Columns:
    ``mineral, country, production_t, production_year, basis, estimated`` (``estimated``: the
    publisher marks the figure as an estimate, :func:`~critmin.metrics.concentration.is_estimate`).
    Only mass units (t); when a mineral has several bases (e.g. gross and content), the one with
    most countries in its latest year is kept (then the first by name). Country rows only,
    unless ``aggregates``: then also the publisher's rest of world (``XRW``) and world total
    (``WLD``) rows, for :func:`critmin.metrics.formulas.calc_world_total`. Rows by mineral and
    country. (The query is :func:`production_query`.)
    """
    df = production_query(atlas, year, stage, minerals, aggregates=aggregates).to_pandas()
    return df if len(df) else pd.DataFrame(columns=PRODUCTION_COLUMNS)


#: Columns of :func:`production`.
PRODUCTION_COLUMNS = ["mineral", "country", "production_t", "production_year", "basis",
                      "estimated"]


def production_query(atlas: Atlas, year: int, stage: str = "mine",
                     minerals: Sequence[str] | None = None, *, aggregates: bool = False) -> Any:
    """The Ibis query of :func:`production` (its rows, ordered by mineral and country)."""
    import ibis

    from critmin.metrics.concentration import is_estimate
    from critmin.metrics.supply import preferred_family

    p = atlas.table("production")
    p = p.filter((p.stage == stage) & (p.unit == "t") & (p.year <= year) & p.value.notnull())
    if minerals is not None:
        p = p.filter(p.mineral.isin(list(minerals)))
    if not aggregates:
        p = p.filter(~p.country.isin(NOT_COUNTRIES))
    p = preferred_family(p, atlas.table("sources"))
    p = p.mutate(estimated=is_estimate(p))
    g = p.group_by(["mineral", "basis", "year", "country"]).aggregate(
        value=p.value.sum(), estimated=p.estimated.any())
    # each basis at its latest year; the basis with most named countries there (then by name)
    g = g.mutate(_latest=g.year.max().over(ibis.window(group_by=["mineral", "basis"])))
    g = g.filter(g.year == g._latest)
    named = ibis.ifelse(g.country.isin(NOT_COUNTRIES), 0, 1)
    n = g.group_by(["mineral", "basis"]).aggregate(_n=named.sum())
    n = n.mutate(_rank=ibis.row_number().over(ibis.window(
        group_by="mineral", order_by=[ibis.desc(n._n), n.basis])))
    keep = n.filter(n._rank == 0).select("mineral", "basis")
    g = g.semi_join(keep, ["mineral", "basis"])
    return g.select("mineral", "country", production_t=g.value, production_year=g.year,
                    basis=g.basis, estimated=g.estimated).order_by(["mineral", "basis",
                                                                    "country"])


def members(atlas: Atlas, group: str, year: int) -> frozenset[str]:
    """ISO3 codes of the members of ``group`` during ``year`` (joined by 31 Dec, not left by
    1 Jan)."""
    import datetime as dt

    from ibis import _

    cg = atlas.table("country_groups").filter(_.group_id == group).to_pandas()
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    ok = (cg.joined.isna() | (pd.to_datetime(cg.joined) <= pd.Timestamp(end))) & \
         (cg["left"].isna() | (pd.to_datetime(cg["left"]) >= pd.Timestamp(start)))
    return frozenset(cg.iso3[ok])


def governance_pv(atlas: Atlas, year: int) -> pd.Series:
    """WGI political stability (``pv``) per country: latest estimate up to ``year`` from the
    latest ``wgi`` release (index ISO3, about -2.5 to 2.5)."""
    from ibis import _

    g = atlas.table("governance").filter((_.indicator == "pv") & (_.year <= year))
    src = atlas.table("sources").filter(_.family == "wgi").select("source_id", "release")
    df = g.join(src, "source_id").select("country", "year", "estimate", "release").to_pandas()
    if df.empty:
        return pd.Series(dtype=float, name="pv")
    df = df.sort_values(["country", "year", "release"]).drop_duplicates("country", keep="last")
    return df.set_index("country").estimate.astype(float).rename("pv")
