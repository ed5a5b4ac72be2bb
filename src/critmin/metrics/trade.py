"""Trade-side metrics: mineral trade from HS6 flows, import dependence and partner shares.

Definitions (per importer c, mineral m, year t; amounts in thousand USD unless stated):

- imports_kusd = sum over suppliers i != c of value(i -> c) for the HS codes mapped to m;
- supplier share s_i = value(i -> c) / imports_kusd; import HHI = sum_i s_i^2 (0-1);
- group share for group G = sum over suppliers that are members of G in year t of s_i;
- import reliance (content basis, metric tons of mineral) =
  (imports_t - exports_t) / (production_t + imports_t - exports_t), computed where production
  exists and every flow's content factor is known; otherwise null with a flag.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
from ibis import _

from critmin import provenance, reference
from critmin.metrics.concentration import latest_release, shares
from critmin.sources.baci import HS_REVISIONS


def mineral_trade(trade_flows: ir.Table, hs_map: ir.Table, *, stage: str = "all",
                  family: str | None = "baci", sources: ir.Table | None = None) -> ir.Table:
    """Trade flows per year, exporter, importer and mineral for the mineral's HS codes.

    ``stage`` is ``mine`` (ores and concentrates), ``refined`` (everything processed) or ``all``.
    Output: ``year, exporter, importer, mineral, value_kusd, quantity_t, content_t, n_flows,
    n_content`` where ``content_t`` = sum(quantity_t x content_factor) over flows whose quantity and
    content factor are known (``n_content`` of ``n_flows``). Self-trade (re-imports) is dropped.
    Where two HS revisions carry the same code in a year, only the later one counts
    (:func:`one_hs_revision`).
    """
    t = trade_flows
    if family is not None and sources is not None:
        provenance.record("trade_flows", family)
        fam = sources.filter(sources.family == family).select("source_id")
        t = t.semi_join(fam, "source_id")
    m = hs_map
    if stage != "all":
        m = m.filter(m.chain_stage == stage)
    m = m.select("hs_code", "hs_revision", "mineral", "content_factor")
    j = t.join(m, ["hs_code", "hs_revision"]).filter(_.exporter != _.importer)
    j = one_hs_revision(j, ("year", "hs_code", "mineral"))
    content = j.quantity_t * j.content_factor
    return j.group_by(["year", "exporter", "importer", "mineral"]).aggregate(
        value_kusd=j.value_kusd.sum(),
        quantity_t=j.quantity_t.sum(),
        content_t=content.sum(),
        n_flows=j.count(),
        n_content=content.count(),
    )


def one_hs_revision(t: ir.Table, by: Sequence[str] = ("year", "hs_code")) -> ir.Table:
    """Keep, for each ``by`` group (default: year and HS6 code), only the rows of one HS
    revision, so figures of two nomenclatures for the same product are never added up.

    Precedence: a revision whose rows carry quantities beats one without (BACI HS17 V202601 for
    2022 is value only, so HS92 serves 2022); among those, the later nomenclature wins (HS22 >
    HS17 > HS12 > HS07 > HS02 > HS96 > HS92). Example: cobalt oxides 282200 in 2024 come from
    BACI HS17 V202601 when that file is loaded, else from BACI HS92; a code only one revision
    carries keeps its rows. Rows of an unknown revision rank below HS92.
    """
    order = t.hs_revision.substitute({r: i for i, r in enumerate(HS_REVISIONS)}, else_=-1)
    t = t.mutate(_rev_rank=order)
    has_q = t.quantity_t.count().over(ibis.window(group_by=[*by, "hs_revision"])) > 0
    t = t.mutate(_rev_rank=t._rev_rank + ibis.ifelse(has_q, 100, 0))
    t = t.mutate(_rev_max=t._rev_rank.max().over(ibis.window(group_by=list(by))))
    return t.filter(t._rev_rank == t._rev_max).drop("_rev_rank", "_rev_max")


def revision_precedence(trade_flows: ir.Table) -> ir.Table:
    """Which trade source serves which years and HS codes under :func:`one_hs_revision`.

    One row per source id: ``source_id, hs_revision, first_year, last_year, codes_served``
    (distinct codes it serves in some year) and ``codes_superseded`` (the codes another
    revision serves instead, in some year of this source).
    """
    t = trade_flows
    keys = ["year", "hs_code", "hs_revision", "source_id"]
    per = t.group_by(keys).aggregate(quantity_t=t.quantity_t.max())
    kept = one_hs_revision(per).select(*keys).mutate(served=True)
    j = per.left_join(kept, keys).select(per, kept.served)
    j = j.mutate(served=j.served.fill_null(False))
    return j.group_by("source_id").aggregate(
        hs_revision=j.hs_revision.arbitrary(), first_year=j.year.min(), last_year=j.year.max(),
        codes_served=j.hs_code.nunique(where=j.served),
        codes_superseded=j.hs_code.collect(where=~j.served, distinct=True),
    ).order_by("source_id")


def members_in_year(country_groups: ir.Table, years: ir.Table) -> ir.Table:
    """(group_id, iso3, year) for every year in ``years`` (a table with a ``year`` column) in
    which the country was a member (joined on or before 31 Dec, not left before 1 Jan)."""
    cg = country_groups
    y = years.select("year").distinct()
    j = cg.cross_join(y)
    start = ibis.date(j.year.cast("int32"), 1, 1)
    end = ibis.date(j.year.cast("int32"), 12, 31)
    ok = (j.joined.isnull() | (j.joined <= end)) & (j["left"].isnull() | (j["left"] >= start))
    return j.filter(ok).select("group_id", "iso3", "year").distinct()


def import_metrics(flows: ir.Table, country_groups: ir.Table | None = None, *,
                   groups: Sequence[str] | None = None) -> ir.Table:
    """Import-side metrics per importer, mineral and year from :func:`mineral_trade` output.

    Columns: ``importer, mineral, year, imports_kusd, imports_t, n_suppliers, import_hhi,
    top_supplier, top_supplier_share`` and ``share_<group>`` for each group (null when the
    importer has no imports), plus ``share_own_bloc``: the share of imports from countries that
    share at least one of ``groups`` (default: :func:`critmin.reference.groups`) with the
    importer in that year.
    """
    by = ["importer", "mineral", "year"]
    f = flows.filter(flows.value_kusd > 0)
    s = shares(f, by, "value_kusd", "exporter")
    agg = s.group_by(by).aggregate(
        imports_kusd=s.value_kusd.sum(),
        imports_t=s.quantity_t.sum(),
        n_suppliers=s.exporter.nunique(),
        import_hhi=(s.share * s.share).sum(),
        top_supplier=s.exporter.min(where=s["rank"] == 1),
        top_supplier_share=s.share.max(),
    )
    if country_groups is None:
        return agg
    groups = list(groups) if groups is not None else list(reference.groups())
    cg = country_groups.filter(country_groups.group_id.isin(list(groups)))
    mem = members_in_year(cg, agg)
    sm = s.left_join(mem, [s.exporter == mem.iso3, s.year == mem.year]).select(
        *[s[c] for c in s.columns], mem.group_id)
    pieces = {
        f"share_{g.lower()}": ibis.ifelse(sm.group_id == g, sm.share, 0.0).sum() for g in groups
    }
    gs = sm.group_by(by).aggregate(**pieces)
    # own bloc: suppliers sharing a group with the importer that year (each supplier counted once)
    imp = mem.rename(imp_iso3="iso3", imp_group="group_id", imp_year="year")
    exp = mem.rename(exp_iso3="iso3", exp_group="group_id", exp_year="year")
    pairs = imp.join(exp, [imp.imp_group == exp.exp_group, imp.imp_year == exp.exp_year])
    pairs = pairs.select(importer=pairs.imp_iso3, exporter=pairs.exp_iso3,
                         year=pairs.imp_year).distinct()
    own = s.semi_join(pairs, ["importer", "exporter", "year"]).group_by(by).aggregate(
        share_own_bloc=_.share.sum())
    out = agg.left_join(gs, by).select(agg, *[gs[c] for c in pieces])
    out = out.left_join(own, by).select(out, own.share_own_bloc)
    return out.mutate(share_own_bloc=out.share_own_bloc.fill_null(0.0))


def net_trade(flows: ir.Table) -> ir.Table:
    """Imports and exports per country, mineral and year (value and content), from
    :func:`mineral_trade` output. ``content_complete`` is false when any flow lacks a content
    figure (unknown quantity or content factor)."""
    zero = ibis.literal(0, "int64")
    zf = ibis.literal(0.0, "float64")
    f = flows
    imp = f.select(country=f.importer, mineral=f.mineral, year=f.year,
                   imports_kusd=f.value_kusd, exports_kusd=zf,
                   imports_content_t=f.content_t.fill_null(0.0), exports_content_t=zf,
                   missing=f.n_flows - f.n_content)
    exp = f.select(country=f.exporter, mineral=f.mineral, year=f.year,
                   imports_kusd=zf, exports_kusd=f.value_kusd,
                   imports_content_t=zf, exports_content_t=f.content_t.fill_null(0.0),
                   missing=f.n_flows - f.n_content)
    u = imp.union(exp.cast(imp.schema()))
    agg = u.group_by(["country", "mineral", "year"]).aggregate(
        imports_kusd=u.imports_kusd.sum(), exports_kusd=u.exports_kusd.sum(),
        imports_content_t=u.imports_content_t.sum(), exports_content_t=u.exports_content_t.sum(),
        missing=u.missing.sum(),
    )
    return agg.mutate(content_complete=agg.missing == zero).drop("missing")


def import_reliance(flows: ir.Table, production: ir.Table, *, stage: str,
                    sources: ir.Table | None = None, family: str | None = "usgs-mcs") -> ir.Table:
    """Net import reliance per country, mineral and year on a metal-content basis.

    reliance = (imports - exports) / (production + imports - exports), with imports and exports
    in tonnes of contained mineral (quantity x content factor) and production in tonnes from the
    production table at ``stage`` (``mine`` or ``refinery``; mass units only). Null, with
    ``reliance_flag``, when production is missing, a flow's content is unknown, or apparent
    consumption is not positive. Negative values mean a net exporter.
    """
    nt = net_trade(flows)
    p = latest_release(production.filter((_.stage == stage) & (_.unit == "t")), sources, family)
    p = p.group_by(["country", "mineral", "year"]).aggregate(production_t=_.value.sum()).view()
    j = nt.left_join(p, ["country", "mineral", "year"]).select(nt, p.production_t)
    net = j.imports_content_t - j.exports_content_t
    consumption = j.production_t + net
    flag = ibis.cases(
        (j.production_t.isnull(), "no_production_data"),
        (~j.content_complete, "content_factor_unknown"),
        (consumption <= 0, "no_apparent_consumption"),
        else_=ibis.null("string"),
    )
    return j.mutate(
        apparent_consumption_t=consumption,
        import_reliance=ibis.ifelse(flag.isnull(), net / consumption, ibis.null("float64")),
        reliance_flag=flag,
    )
