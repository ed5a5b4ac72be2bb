"""Market concentration: Herfindahl-Hirschman index and top-k shares.

For shares s_i = x_i / sum_j x_j of n suppliers (producers or exporters):

- HHI = sum_i s_i^2, dimensionless in [1/n, 1] (x 10,000 for the "points" scale used by competition
  authorities: 10,000 = monopoly, > 2,500 highly concentrated);
- top-1 share = max_i s_i; top-3 share = sum of the three largest s_i.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
from ibis import _

from critmin import provenance

#: A publisher's rest-of-world row (countries it does not name), a residual, not a country.
REST_OF_WORLD = "XRW"


def hhi(values: Sequence[float]) -> float:
    """HHI (0-1 scale) of non-negative amounts; NaN when they sum to zero.

    HHI = sum(x_i^2) / (sum x_i)^2.

    >>> hhi([1, 1, 1, 1])
    0.25
    >>> hhi([5, 0])
    1.0
    """
    total = float(sum(values))
    if total <= 0:
        return float("nan")
    return float(sum(float(v) ** 2 for v in values)) / total**2


def shares(t: ir.Table, by: Sequence[str], amount: str, supplier: str) -> ir.Table:
    """Add ``share`` (amount / total within ``by``, dimensionless) and ``rank`` (1 = largest)."""
    w = ibis.window(group_by=list(by))
    wr = ibis.window(group_by=list(by), order_by=[ibis.desc(amount), ibis.asc(supplier)])
    return t.mutate(
        share=t[amount] / t[amount].sum().over(w),
        rank=ibis.row_number().over(wr) + 1,  # ibis numbers rows from 0
    )


def concentration(t: ir.Table, by: Sequence[str], amount: str, supplier: str) -> ir.Table:
    """HHI, top-1 and top-3 shares and the largest supplier of ``amount`` within groups ``by``.

    Rows with a null or non-positive amount are ignored. Output columns: ``by...``, ``total``,
    ``n_suppliers``, ``hhi`` (0-1), ``hhi_points`` (0-10,000), ``top1_share``, ``top3_share``,
    ``top_supplier``.
    """
    t = t.filter(t[amount].notnull() & (t[amount] > 0))
    t = t.group_by([*by, supplier]).aggregate(**{amount: t[amount].sum()})
    s = shares(t, by, amount, supplier)
    agg = s.group_by(list(by)).aggregate(
        total=s[amount].sum(),
        n_suppliers=s[supplier].nunique(),
        hhi=(s.share * s.share).sum(),
        top1_share=s.share.max(),
        top3_share=ibis.ifelse(s["rank"] <= 3, s.share, 0.0).sum(),
        top_supplier=s[supplier].min(where=s["rank"] == 1),
    )
    return agg.mutate(hhi_points=agg.hhi * 10_000)


def production_concentration(production: ir.Table, *, mineral: str | None = None,
                             stage: str | None = None, year: int | None = None,
                             family: str | None = None, sources: ir.Table | None = None
                             ) -> ir.Table:
    """Concentration of production per mineral, stage, unit, basis and year.

    Uses the production table's country rows (world totals are never country rows). When
    ``family`` is given (e.g. ``"usgs-mcs"``), only sources of that family count, and within a
    family the latest release wins for each (year, country, mineral, stage, basis).
    """
    p = production
    if mineral is not None:
        p = p.filter(_.mineral == mineral)
    if stage is not None:
        p = p.filter(_.stage == stage)
    if year is not None:
        p = p.filter(_.year == year)
    p = latest_release(p, sources, family)
    key = ["mineral", "stage", "year", "unit", "basis"]
    # a publisher's rest-of-world row (XRW) counts in the world total, never as a supplier
    c = concentration(p.filter(p.country != REST_OF_WORLD), key, "value", "country")
    rest = p.filter((p.country == REST_OF_WORLD) & p.value.notnull()).group_by(key).aggregate(
        rest_t=_.value.sum())
    j = c.left_join(rest, key).select(c, rest.rest_t)
    scale = j.total / (j.total + j.rest_t.fill_null(0.0))
    return j.mutate(total=j.total + j.rest_t.fill_null(0.0), hhi=j.hhi * scale * scale,
                    hhi_points=j.hhi_points * scale * scale, top1_share=j.top1_share * scale,
                    top3_share=j.top3_share * scale).drop("rest_t")


def latest_release(t: ir.Table, sources: ir.Table | None, family: str | None) -> ir.Table:
    """Keep rows of source ``family`` and, per natural key, only those of the latest release."""
    if sources is None:
        return t
    provenance.record("production", family)
    src = sources.select("source_id", "family", "release").view()
    if family is not None:
        src = src.filter(src.family == family)
    j = t.join(src, "source_id")
    key = [c for c in ("year", "country", "mineral", "stage", "unit", "basis") if c in t.columns]
    w = ibis.window(group_by=[*key, "family"], order_by=[ibis.desc(j.release)])
    j = j.mutate(_r=ibis.row_number().over(w)).filter(_._r == 0)
    return j.select(*t.columns)
