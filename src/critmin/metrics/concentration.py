"""Market concentration: Herfindahl-Hirschman index and top-k shares.

For shares s_i = x_i / sum_j x_j of n suppliers (producers or exporters):

- HHI = sum_i s_i^2, dimensionless in [1/n, 1] (x 10,000 for the "points" scale used by competition
  authorities: 10,000 = monopoly, > 2,500 highly concentrated);
- top-1 share = max_i s_i; top-3 share = sum of the three largest s_i.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from critmin import provenance
from critmin.metrics._sql import render
from critmin.metrics.formulas import calc_hhi_of_amounts, calc_shares, calc_world_total

if TYPE_CHECKING:  # Ibis loads in the functions that build expressions: `critmin concentration`
    import ibis.expr.types as ir  # runs package SQL and never needs it
    import pandas as pd

#: Production rows that are not countries: a publisher's world total and its rest of world.
WORLD, REST_OF_WORLD = "WLD", "XRW"
NOT_COUNTRIES: tuple[str, ...] = (WORLD, REST_OF_WORLD)
#: The production source family analyses read unless told otherwise (USGS MCS).
PRODUCTION_FAMILY = "usgs-mcs"

#: A publisher's rest-of-world row (countries it does not name), a residual, not a country.
REST_OF_WORLD = "XRW"


def hhi(values: Sequence[float]) -> float:
    """HHI (0-1 scale) of non-negative amounts; NaN when they sum to zero
    (:func:`critmin.metrics.formulas.calc_hhi_of_amounts`).

    >>> hhi([1, 1, 1, 1])
    0.25
    >>> hhi([5, 0])
    1.0
    """
    return calc_hhi_of_amounts(values)


def shares(t: ir.Table, by: Sequence[str], amount: str, supplier: str,
           total: ir.Value | None = None) -> ir.Table:
    """Add ``share`` (amount / ``total``, by default the sum within ``by``; dimensionless,
    :func:`calc_shares`) and ``rank`` (1 = largest)."""
    import ibis

    w = ibis.window(group_by=list(by))
    wr = ibis.window(group_by=list(by), order_by=[ibis.desc(amount), ibis.asc(supplier)])
    return t.mutate(
        share=calc_shares(t[amount], t[amount].sum().over(w) if total is None else total),
        rank=ibis.row_number().over(wr) + 1,  # ibis numbers rows from 0
    )


def concentration(t: ir.Table, by: Sequence[str], amount: str, supplier: str,
                  totals: ir.Table | None = None) -> ir.Table:
    """HHI, top-1 and top-3 shares and the largest supplier of ``amount`` within groups ``by``.

    Rows with a null or non-positive amount are ignored. Shares are of ``totals.world_t`` (a
    table keyed by ``by``, from :func:`world_totals`) when given, else of the suppliers' sum.
    Output columns: ``by...``, ``total``, ``n_suppliers``, ``hhi`` (0-1, :func:`calc_hhi`),
    ``hhi_points`` (0-10,000), ``top1_share``, ``top3_share``, ``top_supplier`` (and
    ``named_total``, ``rest_of_world``, ``published_total``, ``total_flag`` with ``totals``).
    """
    import ibis

    t = t.filter(t[amount].notnull() & (t[amount] > 0))
    t = t.group_by([*by, supplier]).aggregate(**{amount: t[amount].sum()})
    if totals is not None:
        tt = totals.select(*by, "world_t")
        t = t.join(tt, list(by))
        s = shares(t, by, amount, supplier, total=t.world_t)
    else:
        s = shares(t, by, amount, supplier)
    agg = s.group_by(list(by)).aggregate(
        total=s[amount].sum(),
        n_suppliers=s[supplier].nunique(),
        hhi=(s.share * s.share).sum(),
        top1_share=s.share.max(),
        top3_share=ibis.ifelse(s["rank"] <= 3, s.share, 0.0).sum(),
        top_supplier=s[supplier].min(where=s["rank"] == 1),
    )
    agg = agg.mutate(hhi_points=agg.hhi * 10_000)
    if totals is None:
        return agg
    tt = totals.select(*by, "world_t", "named_t", "rest_t", "published_t", "total_flag")
    j = agg.join(tt, list(by))
    return j.mutate(total=j.world_t).rename(
        named_total="named_t", rest_of_world="rest_t", published_total="published_t"
    ).drop("world_t")


def world_totals(production: ir.Table,
                 by: Sequence[str] = ("mineral", "stage", "year", "unit", "basis")) -> ir.Table:
    """World total per group ``by`` of production rows (:func:`calc_world_total`).

    Columns ``by..., named_t`` (sum of the country rows), ``rest_t`` (the rest-of-world row
    XRW, null when none), ``published_t`` (the publisher's world total WLD, null when none),
    ``world_t`` and ``total_flag``. Amounts in the rows' unit (tonnes for masses).
    """
    from ibis import _

    p = production.filter(production.value.notnull())
    named = p.filter(~p.country.isin(NOT_COUNTRIES)).group_by(list(by)).aggregate(
        named_t=_.value.sum())
    rest = p.filter(p.country == REST_OF_WORLD).group_by(list(by)).aggregate(
        rest_t=_.value.sum())
    pub = p.filter(p.country == WORLD).group_by(list(by)).aggregate(published_t=_.value.max())
    j = named.left_join(rest, list(by)).select(named, rest.rest_t)
    j = j.left_join(pub, list(by)).select(j, pub.published_t)
    world, flag = calc_world_total(j.named_t, j.rest_t, j.published_t)
    return j.mutate(world_t=world, total_flag=flag)


def production_concentration(production: ir.Table, *, mineral: str | None = None,
                             stage: str | None = None, year: int | None = None,
                             family: str | None = PRODUCTION_FAMILY,
                             sources: ir.Table | None = None) -> ir.Table:
    """Concentration of production per mineral, stage, unit, basis and year, with shares of the
    world total (:func:`world_totals`: the named countries plus the publisher's rest of world,
    or its published world total).

    ``production`` is an atlas table read through :class:`critmin.atlas.Atlas` (one release per
    source family); only sources of ``family`` count (default USGS MCS; ``None``: every family,
    which mixes publishers). ``sources`` defaults to the sources table of the same atlas.
    Output: :func:`concentration` with ``total`` = the world total, plus ``top_estimated`` (the
    publisher marks the largest producer's figure as an estimate, :func:`is_estimate`) and
    ``estimated_share`` (the part of the world total, rest of world included, whose figures are
    estimates; 0-1).
    """
    p = production
    if mineral is not None:
        p = p.filter(p.mineral == mineral)
    if stage is not None:
        p = p.filter(p.stage == stage)
    if year is not None:
        p = p.filter(p.year == year)
    p = of_family(p, family, sources)
    # one home for the computation: the package SQL query, run on the rows of ``p``
    estimated = _estimated_fragment(set(p.columns))
    out = _sql_view(p, render(_FILE, "production_concentration", ctes="ctes",
                              estimated=estimated or "not_estimated"))
    return out.drop("top_estimated", "estimated_share") if estimated is None else out


#: Columns of :func:`production_concentration` after the key, and their types.
_RESULT_TYPES = {"total": "float64", "n_suppliers": "int64", "hhi": "float64",
                 "top1_share": "float64", "top3_share": "float64", "top_supplier": "string",
                 "hhi_points": "float64", "named_total": "float64", "rest_of_world": "float64",
                 "published_total": "float64", "total_flag": "string",
                 "top_estimated": "boolean", "estimated_share": "float64"}


def _sql_view(p: ir.Table, query: str) -> ir.Table:
    """The Ibis table of ``query`` (DuckDB dialect) over the rows of ``p``, named ``prod_input``
    in it: the SQL is the computation, ``p`` its input, on ``p``'s backend (transpiled for a
    Spark one). The result schema is known, so no query runs to learn it (ibis's
    ``Table.sql`` asks DuckDB 2 through an API it removed)."""
    import ibis.expr.operations as ops
    import ibis.expr.schema as sch
    from ibis.common.exceptions import IbisError

    try:
        backend = p._find_backend(use_default=True)
    except IbisError:  # pragma: no cover - ibis always has a default backend
        backend = None
    if backend is not None and backend.name != "duckdb":
        query = backend._transpile_sql(query, dialect="duckdb")
    key = p.schema()
    schema = sch.Schema({**{c: key[c] for c in ("mineral", "stage", "year", "unit", "basis")},
                         **_RESULT_TYPES})
    return ops.SQLStringView(parent=p.alias("prod_input").op(), query=query,
                             schema=schema).to_expr()


_FILE = "concentration.sql"


def _estimated_fragment(columns: set[str]) -> Any:
    """The ``{{estimated}}`` fragment of ``concentration.sql`` for production rows with these
    columns (:func:`is_estimate`); None without an ``estimated`` column (no estimate columns in
    the result)."""
    if "estimated" not in columns:
        return None
    return "estimated_flag" if "flag" in columns else "estimated_only"


def family_concentration(source: Any, mineral: str | None = None, *, family: str = "auto",
                         preference: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """:func:`production_concentration` of one source family per mineral and stage
    (:func:`critmin.metrics.supply.preferred_family`: ``auto``, the first family of
    ``preference`` with rows; else ``family``'s rows), for every mineral or ``mineral``: one
    package SQL query (``sql/concentration.sql``) run on the atlas's engine, without Ibis.

    ``source``: an :class:`critmin.atlas.Atlas`, a :class:`critmin.engine.ParquetAtlas` or an
    Ibis DuckDB backend holding the atlas tables. Rows ordered by mineral, stage, year, unit and
    basis; columns those of :func:`production_concentration`."""
    from critmin.metrics._sql import runner
    from critmin.metrics.supply import FAMILY_PREFERENCE

    run = runner(source, ("production", "sources"))
    provenance.record("production")  # (as reading the tables through the atlas records them)
    provenance.record("sources")
    estimated = _estimated_fragment(run.columns_of("production"))
    sql = render(_FILE, "concentration", ctes="ctes", estimated=estimated or "not_estimated")
    prefs = FAMILY_PREFERENCE if preference is None else preference
    df = run.df(sql, {"preference": [{"stage": st, "family": fam, "rk": i}
                                     for st, fams in prefs.items()
                                     for i, fam in enumerate(fams)],
                      "mineral": mineral, "family": family})
    for col in ("top_supplier", "total_flag"):  # an all-NULL text column: text, as Ibis gives
        if df[col].dtype == object and df[col].isna().all():
            df[col] = df[col].astype(df["mineral"].dtype)
    return df.drop(columns=["top_estimated", "estimated_share"]) if estimated is None else df


def is_estimate(production: ir.Table) -> ir.BooleanValue:
    """True where the publisher marks a production figure as an estimate: USGS ``E`` and World
    Mining Data ``e`` (``estimated``), and World Mining Data ``p`` (provisional,
    ``flag = 'provisional'``), shown as "estimate" wherever the figure or a metric built on it is
    shown."""
    est = production.estimated.fill_null(False)
    if "flag" in production.columns:
        est = est | (production.flag == "provisional").fill_null(False)
    return est


def of_family(t: ir.Table, family: str | None, sources: ir.Table | None = None, *,
              table: str = "production") -> ir.Table:
    """Rows of ``t`` whose source belongs to ``family`` (all rows when ``family`` is None).

    ``sources`` defaults to the ``sources`` table of the backend ``t`` comes from; a table that
    comes from no atlas (an in-memory table) has no families and is returned whole."""
    if family is None:
        return t
    sources = sources_of(t, sources)
    if sources is None:
        return t
    provenance.record(table, family)
    return t.semi_join(sources.filter(sources.family == family).select("source_id"), "source_id")


def sources_of(t: ir.Table, sources: ir.Table | None = None) -> ir.Table | None:
    """``sources``, else the ``sources`` table of the atlas ``t`` comes from; None for a table
    that comes from no atlas (an in-memory table)."""
    if sources is not None:
        return sources
    from ibis.common.exceptions import IbisError

    try:
        backend = t._find_backend()
    except IbisError:  # a memtable: no backend, no sources
        return None
    return backend.table("sources")


def latest_release(t: ir.Table, sources: ir.Table | None, family: str | None) -> ir.Table:
    """Rows of source ``family``. The one-release rule itself is applied by the atlas
    (:func:`critmin.atlas.connect`) to every table an analysis reads; this only selects the
    family."""
    return of_family(t, family, sources)
