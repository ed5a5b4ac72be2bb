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

from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir
from ibis import _

from critmin import reference
from critmin.atlas import reference_memtable
from critmin.metrics.concentration import (
    NOT_COUNTRIES,
    REST_OF_WORLD,
    of_family,
    shares,
    sources_of,
)
from critmin.metrics.formulas import (  # noqa: F401  (RELIANCE_FLAGS: re-exported)
    RELIANCE_FLAGS,
    calc_apparent_consumption,
    calc_import_reliance,
)
from critmin.metrics.supply import preferred_family
from critmin.reference import factor_basis_is_gross
from critmin.sources.baci import HS_REVISIONS


def mineral_trade(trade_flows: ir.Table, hs_map: ir.Table, *, stage: str = "all",
                  family: str | None = "baci", sources: ir.Table | None = None,
                  forms: Sequence[str] | None = None) -> ir.Table:
    """Trade flows per year, exporter, importer and mineral for the mineral's HS codes.

    ``stage`` is ``mine`` (ores and concentrates), ``refined`` (everything processed) or ``all``;
    ``forms`` keeps only the codes of those traded forms (``hs_map.stage``: ``ore``,
    ``intermediate``, ``chemical``, ``alloy``, ``metal``, ``scrap``), e.g. ``["metal"]`` for
    refined metal as USGS counts it for copper.
    Output: ``year, exporter, importer, mineral, value_kusd, quantity_t, content_t, n_flows,
    n_content`` where ``content_t`` = sum(quantity_t x content_factor) over flows whose quantity and
    content factor are known (``n_content`` of ``n_flows``). Self-trade (re-imports) is dropped.
    Where two HS revisions carry the same product in a year (the same code, or codes the
    correlation table ``reference/hs_correlation.csv`` gives as overlapping, e.g. HS92 252890
    and HS17 252800 natural borates), only one revision counts (:func:`one_hs_revision`).
    """
    j = mapped_flows(trade_flows, hs_map, stage=stage, forms=forms, family=family,
                     sources=sources, columns=("mineral", "content_factor"))
    j = one_hs_revision(j, ("year", "hs_product", "mineral"))
    content = j.quantity_t * j.content_factor
    return j.group_by(["year", "exporter", "importer", "mineral"]).aggregate(
        value_kusd=j.value_kusd.sum(),
        quantity_t=j.quantity_t.sum(),
        content_t=content.sum(),
        n_flows=j.count(),
        n_content=content.count(),
        value_content_kusd=j.value_kusd.sum(where=content.notnull()),
    )


def mapped_flows(trade_flows: ir.Table, hs_map: ir.Table, *, stage: str = "all",
                 forms: Sequence[str] | None = None, family: str | None = "baci",
                 sources: ir.Table | None = None, columns: Sequence[str] = ("mineral",)
                 ) -> ir.Table:
    """The flows of ``trade_flows`` under an HS code ``hs_map`` maps, self-trade (re-imports)
    dropped: the rows :func:`mineral_trade` sums, before :func:`one_hs_revision` keeps one
    revision per product.

    ``family`` keeps the flows of that source family (:func:`of_trade_family`); ``stage`` and
    ``forms`` choose the mapped codes as in :func:`mineral_trade`. A flow comes once per mapped
    row of its code, with that row's ``columns`` (``hs_map`` columns, e.g. ``mineral``); with no
    columns, once (a code mapped to any mineral)."""
    t = of_trade_family(trade_flows, family, sources)
    m = hs_map
    if stage != "all":
        m = m.filter(m.chain_stage == stage)
    if forms is not None:
        m = m.filter(m.stage.isin(list(forms)))
    keys = ["hs_code", "hs_revision"]
    j = t.join(m.select(*keys, *columns), keys) if columns else t.semi_join(m, keys)
    return j.filter(_.exporter != _.importer)


def of_trade_family(trade_flows: ir.Table, family: str | None, sources: ir.Table | None
                    ) -> ir.Table:
    """The flows of source ``family`` (recorded as read, :mod:`critmin.provenance`); every flow
    when ``family`` or ``sources`` is None."""
    if family is None or sources is None:
        return trade_flows
    return of_family(trade_flows, family, sources, table="trade_flows")


def hs_coverage(trade_flows: ir.Table, hs_map: ir.Table, *, year: int, stage: str = "all",
                importer: str | None = None, by_importer: bool = True,
                sources: ir.Table | None = None, family: str | None = "baci",
                where: Callable[[ir.Table], ir.BooleanValue] | None = None) -> ir.Table:
    """Which HS codes a trade figure counts in ``year``, and which mapped codes had no data.

    One row per ``importer, mineral`` (every importer, or only ``importer``) that imports the
    mineral in ``year``: ``hs_codes`` are the codes with at least one import row for that
    importer in the atlas release read (the rows :func:`mineral_trade` sums, after
    :func:`one_hs_revision`), ``hs_codes_missing`` the other mapped codes of the nomenclatures
    loaded for that year (with the revision that serves the product that year, or every mapped
    revision when no revision has a row). With ``by_importer=False`` the rows are per mineral
    (``importer`` is null): the codes with any flow in ``year``. Codes are labelled
    ``HS92:260500``. ``stage``: ``mine``, ``refined`` or ``all`` (as :func:`mineral_trade`).
    ``where`` (a function of the flow table: ``year, exporter, importer, mineral, hs_code,
    hs_revision``) keeps only the flows a figure sums, e.g. imports from outside a group; the
    revision that serves a product is still chosen on every flow of the year, as in
    :func:`mineral_trade`. A mineral without a flow kept has no row.
    The lists come unordered (Spark has no ordered aggregation): sort them for display.
    """
    j, mapped = _coverage_flows(trade_flows, hs_map, year=year, stage=stage, sources=sources,
                                family=family)
    if where is not None:
        j = j.filter(where(j))
    keys = ["mineral", "hs_code", "hs_revision"]
    if by_importer:
        if importer is not None:
            j = j.filter(j.importer == importer)
        counted = j.select("importer", *keys).distinct()
    else:
        counted = j.select(*keys).distinct().mutate(importer=ibis.null("string")).select(
            "importer", *keys)
    pairs = counted.select("importer", "mineral").distinct()
    grid = pairs.join(mapped, "mineral").select(pairs.importer, *[mapped[k] for k in keys])
    have = counted.mutate(present=ibis.literal(True))
    on = [grid.mineral == have.mineral, grid.hs_code == have.hs_code,
          grid.hs_revision == have.hs_revision]
    if by_importer:  # (per mineral the importer is null on both sides: not a join key)
        on.append(grid.importer == have.importer)
    g = grid.left_join(have, on).select(grid, have.present)
    label = g.hs_revision.concat(":", g.hs_code)
    return g.group_by(["importer", "mineral"]).aggregate(
        hs_codes=label.collect(where=g.present.notnull()),
        hs_codes_missing=label.collect(where=g.present.isnull()))


def hs_codes_by_exporter(trade_flows: ir.Table, hs_map: ir.Table, *, year: int, importer: str,
                         sources: ir.Table | None = None, family: str | None = "baci"
                         ) -> ir.Table:
    """The HS codes ``importer``'s imports from each exporter count in ``year``: one row per
    ``exporter, mineral`` with ``hs_codes`` (codes with an import row from that exporter, after
    :func:`one_hs_revision`, labelled ``HS17:282200``; as :func:`hs_coverage`, whose
    ``hs_codes_missing`` per mineral give the mapped codes without any import row). Unordered
    lists."""
    j, _mapped = _coverage_flows(trade_flows, hs_map, year=year, sources=sources, family=family)
    j = j.filter(j.importer == importer)
    return j.group_by(["exporter", "mineral"]).aggregate(
        hs_codes=j.hs_revision.concat(":", j.hs_code).collect(distinct=True))


def _coverage_flows(trade_flows: ir.Table, hs_map: ir.Table, *, year: int, stage: str = "all",
                    sources: ir.Table | None = None, family: str | None = "baci"
                    ) -> tuple[ir.Table, ir.Table]:
    """(flows, mapped) for the coverage functions: the flows of ``year`` on the mapped codes
    (self-trade dropped, one revision per product: the rows :func:`mineral_trade` sums) with
    ``year, exporter, importer, mineral, hs_code, hs_revision``, and the mapped codes
    (``mineral, hs_code, hs_revision``) of the revisions loaded that year; a product some
    revision serves shows as that revision's codes only."""
    t = of_trade_family(trade_flows.filter(trade_flows.year == year), family, sources)
    keys = ["mineral", "hs_code", "hs_revision"]
    m = hs_map if stage == "all" else hs_map.filter(hs_map.chain_stage == stage)
    m = m.select(*keys).distinct()
    j = one_hs_revision(mapped_flows(t, m, family=None), ("year", "hs_product", "mineral"))
    mapped = hs_products(m.semi_join(t.select("hs_revision").distinct(), "hs_revision"))
    s = j.select("mineral", "hs_product", served_revision=j.hs_revision).distinct()
    mapped = mapped.left_join(s, ["mineral", "hs_product"]).select(mapped, s.served_revision)
    mapped = mapped.filter(mapped.served_revision.isnull()
                           | (mapped.hs_revision == mapped.served_revision)).select(*keys)
    return j.select("year", "exporter", "importer", *keys), mapped


def hs_products(t: ir.Table) -> ir.Table:
    """Add ``hs_product`` to a table with ``hs_code, hs_revision``: the goods the code covers,
    shared by the codes of other HS revisions that cover the same or overlapping goods
    (``reference/hs_correlation.csv``: HS92 252890 and HS17 252800 are ``natural_borates``);
    a code not listed is its own product in every revision (``hs_product`` = ``hs_code``).
    """
    rows = reference.rows("hs_correlation") or []
    corr = reference_memtable("hs_correlation",
                              {"_code": [r["hs_code"] for r in rows],
                               "_rev": [r["hs_revision"] for r in rows],
                               "_product": [r["product"] for r in rows]},
                              {"_code": "string", "_rev": "string", "_product": "string"})
    j = t.left_join(corr, [t.hs_code == corr._code, t.hs_revision == corr._rev])
    j = j.select(t, corr._product)
    return j.mutate(hs_product=j._product.fill_null(j.hs_code)).drop("_product")


def one_hs_revision(t: ir.Table, by: Sequence[str] = ("year", "hs_product")) -> ir.Table:
    """Keep, for each ``by`` group (default: year and product, :func:`hs_products`), only the
    rows of one HS revision, so figures of two nomenclatures for the same product are never
    added up.

    Precedence: a revision whose rows carry quantities beats one without (BACI HS17 V202601 for
    2022 is value only, so HS92 serves 2022); among those, the later nomenclature wins (HS22 >
    HS17 > HS12 > HS07 > HS02 > HS96 > HS92). Example: cobalt oxides 282200 in 2024 come from
    BACI HS17 V202601 when that file is loaded, else from BACI HS92; a code only one revision
    carries keeps its rows. Rows of an unknown revision rank below HS92. The product, not the
    code, is the unit: natural borates in 2024 come from HS17 252800 or from HS92 252890,
    never from both.
    """
    if "hs_product" in by and "hs_product" not in t.columns:
        t = hs_products(t)
    # the choice is made on the small table of (group, revision) pairs and the rows kept by a
    # semi join, so that a later filter on other columns (one importer) reaches the scan
    keys = [*by, "hs_revision"]
    r = t.group_by(keys).aggregate(_n_q=t.quantity_t.count())
    order = r.hs_revision.substitute({v: i for i, v in enumerate(HS_REVISIONS)}, else_=-1)
    r = r.mutate(_rev_rank=order + ibis.ifelse(r._n_q > 0, 100, 0))
    r = r.mutate(_rev_max=r._rev_rank.max().over(ibis.window(group_by=list(by))))
    return t.semi_join(r.filter(r._rev_rank == r._rev_max).select(*keys), keys)


def revision_precedence(trade_flows: ir.Table) -> ir.Table:
    """Which trade source serves which years and HS codes under :func:`one_hs_revision` (per
    product, :func:`hs_products`).

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
    vc = (f.value_content_kusd if "value_content_kusd" in f.columns
          else ibis.ifelse(f.n_content == f.n_flows, f.value_kusd, zf)).fill_null(0.0)
    imp = f.select(country=f.importer, mineral=f.mineral, year=f.year,
                   imports_kusd=f.value_kusd, exports_kusd=zf,
                   imports_content_t=f.content_t.fill_null(0.0), exports_content_t=zf,
                   missing=f.n_flows - f.n_content, vc=vc)
    exp = f.select(country=f.exporter, mineral=f.mineral, year=f.year,
                   imports_kusd=zf, exports_kusd=f.value_kusd,
                   imports_content_t=zf, exports_content_t=f.content_t.fill_null(0.0),
                   missing=f.n_flows - f.n_content, vc=vc)
    u = imp.union(exp.cast(imp.schema()))
    agg = u.group_by(["country", "mineral", "year"]).aggregate(
        imports_kusd=u.imports_kusd.sum(), exports_kusd=u.exports_kusd.sum(),
        imports_content_t=u.imports_content_t.sum(), exports_content_t=u.exports_content_t.sum(),
        missing=u.missing.sum(), vc=u.vc.sum(),
    )
    traded = agg.imports_kusd + agg.exports_kusd
    return agg.mutate(
        content_complete=agg.missing == zero,
        content_value_share=ibis.ifelse(traded > 0, agg.vc / traded, ibis.null("float64")),
    ).drop("missing", "vc")


#: Share of a country's trade value (imports plus exports) that must have a known content for
#: a content-basis reliance when some traded forms lack a content factor.
CONTENT_MIN_SHARE = 0.9


#: Mass units of the production table and their factor to tonnes (see reference/units.csv).
MASS_UNITS: dict[str, float] = {"t": 1.0, "kg": 0.001}


def one_basis(p: ir.Table) -> ir.Table:
    """Rows of ``p`` (production rows of one stage and publisher) on one basis per (mineral,
    year), with that basis as ``production_basis``: figures of two bases (USGS's iron ore as
    usable ore and as Fe content) are never added up.

    The basis picked is the one that matches the trade content factors
    (:func:`factor_basis_is_gross`: gross weight, else a content such as ``Fe content``); then
    the one with most named countries; then the first by name.
    """
    gross = factor_basis_is_gross()
    kinds = reference_memtable("factor_basis",
                               {"mineral": list(gross), "_want_gross": list(gross.values())},
                               {"mineral": "string", "_want_gross": "boolean"})
    named = ibis.ifelse(p.country.isin(NOT_COUNTRIES), 0, 1)
    b = p.group_by(["mineral", "year", "basis"]).aggregate(_n=named.sum())
    b = b.left_join(kinds, "mineral").select(b, kinds._want_gross)
    b = b.mutate(_match=ibis.ifelse((b.basis == "gross") == b._want_gross, 0, 1).fill_null(1))
    w = ibis.window(group_by=["mineral", "year"],
                    order_by=[b._match, ibis.desc(b._n), b.basis])
    chosen = b.mutate(_rank=ibis.row_number().over(w)).filter(_._rank == 0).select(
        "mineral", "year", production_basis="basis")
    j = p.join(chosen, [p.mineral == chosen.mineral, p.year == chosen.year,
                        p.basis == chosen.production_basis])
    return j.select(p, chosen.production_basis)


def production_status(production: ir.Table, *, stage: str, sources: ir.Table | None = None,
                      family: str | None = "usgs-mcs", complete_family: str | None = "wmd",
                      years: Sequence[int] | None = None) -> ir.Table:
    """Production per (mineral, year, country) with the rule that turns a gap into a number.

    Columns ``mineral, year, country, production_t, production_flag, production_basis`` for
    every country a publisher lists, and a ``lists`` table (``mineral, year, complete``)
    telling whether some publisher's country list is complete: USGS without a positive "Other
    countries" row (XRW), or World Mining Data (``complete_family``: every producing country,
    stage ``mine`` for the minerals it covers). A country absent from a complete list has
    production 0, flagged ``not_a_listed_producer`` (applied by :func:`import_reliance`).

    One basis per mineral and year (:func:`one_basis`: the basis of the trade content factors,
    ``Fe content`` for iron ore, gross weight for magnesite): a publisher giving two bases
    (USGS iron ore as usable ore and as Fe content) is never summed across them, and a World
    Mining Data figure fills a country USGS does not name only on the same basis.

    ``years`` keeps those years only, once the family is chosen (the choice looks at every
    year; everything after it is per mineral and year, so the rows kept are unchanged).
    """
    p = production.filter((production.stage == stage) & production.unit.isin(list(MASS_UNITS)))
    factor = ibis.cases(*[(p.unit == u, f) for u, f in MASS_UNITS.items()],
                        else_=ibis.null("float64"))
    p = p.mutate(value=p.value * factor, unit=ibis.literal("t"))
    srcs = sources_of(production, sources)
    if family is None and srcs is not None:  # the preferred family of each mineral and stage
        u = preferred_family(p, srcs).drop("family")
    else:
        u = of_family(p, family, sources)
    w = (of_family(p, complete_family, sources)
         if complete_family is not None and srcs is not None else None)
    if years is not None:
        u = u.filter(u.year.isin(list(years)))
        w = w.filter(w.year.isin(list(years))) if w is not None else None
    u = one_basis(u)
    listed = u.filter(~u.country.isin(NOT_COUNTRIES)).group_by(
        ["mineral", "year", "country", "production_basis"]).aggregate(
        production_t=_.value.sum(), n_null=_.value.isnull().sum())
    listed = listed.mutate(
        production_t=ibis.ifelse(listed.n_null > 0, ibis.null("float64"), listed.production_t),
        production_flag=ibis.ifelse(listed.n_null > 0, "production_withheld",
                                    ibis.null("string"))).drop("n_null")
    rest = u.filter(u.country == REST_OF_WORLD).group_by(["mineral", "year"]).aggregate(
        rest_t=_.value.max())
    usgs_lists = u.group_by(["mineral", "year"]).aggregate(n=_.count())
    usgs_lists = usgs_lists.left_join(rest, ["mineral", "year"]).select(
        usgs_lists.mineral, usgs_lists.year,
        complete=rest.rest_t.isnull() | (rest.rest_t <= 0))
    cols = ["mineral", "year", "country", "production_t", "production_flag", "production_basis",
            "source"]
    out = listed.mutate(source=ibis.literal("usgs")).select(*cols)
    if w is None:
        return out, usgs_lists  # (a table from no atlas has no families to tell WMD by)
    wlists = w.select("mineral", "year").distinct().mutate(complete=ibis.literal(True))
    lists = usgs_lists.union(wlists.cast(usgs_lists.schema())).group_by(
        ["mineral", "year"]).aggregate(complete=_.complete.any())
    # countries WMD lists that USGS does not name (inside USGS's "Other countries"), on the
    # basis chosen for the mineral and year (a Li2O tonnage is not a Li content)
    basis = u.select("mineral", "year", "production_basis").distinct()
    wb = w.join(basis, [w.mineral == basis.mineral, w.year == basis.year,
                        w.basis == basis.production_basis]).select(w, basis.production_basis)
    wb = wb.union(one_basis(w.anti_join(basis, ["mineral", "year"])))  # years WMD alone covers
    wl = wb.filter(~wb.country.isin(NOT_COUNTRIES)).group_by(
        ["mineral", "year", "country", "production_basis"]).aggregate(production_t=_.value.sum())
    extra = wl.anti_join(listed, ["mineral", "year", "country"]).mutate(
        production_flag=ibis.literal("production_wmd"), source=ibis.literal("wmd"))
    return out.union(extra.select(*cols).cast(out.schema())), lists


def import_reliance(flows: ir.Table, production: ir.Table, *, stage: str,
                    sources: ir.Table | None = None, family: str | None = "usgs-mcs",
                    years: Sequence[int] | None = None) -> ir.Table:
    """Net import reliance per country, mineral and year (:func:`calc_import_reliance`).

    reliance = (M - X) / (P + M - X), on a metal-content basis: imports M and exports X in
    tonnes of contained mineral (quantity x content factor) and production P in tonnes of the
    mineral at ``stage`` (``mine`` or ``refinery``) from USGS MCS. Production of a country no
    publisher lists is 0 where some publisher's country list is complete
    (``not_a_listed_producer``, :func:`production_status`). Where a traded form's content is
    unknown and P = 0, the reliance is computed on trade value (``reliance_basis = 'value'``;
    with no production the basis does not change the result); where it is unknown for forms
    carrying less than 10 % of the country's trade value (:data:`CONTENT_MIN_SHARE`), on the
    content of the other forms (``partial_content``). Columns: ``country, mineral,
    year, imports_kusd, exports_kusd, imports_content_t, exports_content_t, content_complete,
    production_t, production_flag, production_basis, apparent_consumption_t, import_reliance,
    reliance_basis, reliance_flag`` (the reason of a blank, :data:`RELIANCE_FLAGS`;
    ``production_basis``: the one production basis used, :func:`one_basis`, e.g. ``Fe content``
    for iron ore). Negative: a net exporter. ``years``: compute production for these years
    only (:func:`production_status`; pass the years of ``flows`` when it holds only those).
    """
    nt = net_trade(flows)
    status, lists = production_status(production, stage=stage, sources=sources, family=family,
                                      years=years)
    status = status.view()
    j = nt.left_join(status, ["country", "mineral", "year"]).select(
        nt, status.production_t, status.production_flag, status.production_basis)
    j = j.left_join(lists, ["mineral", "year"]).select(j, lists.complete)
    unlisted = j.production_flag.isnull() & j.production_t.isnull()
    p_flag = ibis.cases(
        (unlisted & j.complete.fill_null(False), "not_a_listed_producer"),
        (unlisted & j.complete.notnull(), "in_rest_of_world"),
        (unlisted, "no_production_data"),
        else_=j.production_flag)
    p = ibis.ifelse(p_flag == "not_a_listed_producer", 0.0, j.production_t)
    j = j.mutate(production_t=p, production_flag=p_flag)
    content = calc_import_reliance(j.production_t, j.imports_content_t, j.exports_content_t)
    value = calc_import_reliance(j.production_t, j.imports_kusd, j.exports_kusd)
    enough = j.content_complete | (j.content_value_share >= CONTENT_MIN_SHARE)
    use_content = enough & j.production_t.notnull() & ~(
        ~j.content_complete & (j.production_t == 0))
    use_value = ~j.content_complete & (j.production_t == 0)
    reliance = ibis.cases((use_content, content), (use_value, value),
                          else_=ibis.null("float64"))
    basis = ibis.cases((reliance.isnull(), ibis.null("string")), (use_content, "content"),
                       (use_value, "value"), else_=ibis.null("string"))
    flag = ibis.cases(
        (j.production_t.isnull(), j.production_flag),
        (~enough & (j.production_t > 0), "content_factor_unknown"),
        (reliance.isnull(), "no_apparent_consumption"),
        (use_value, "value_basis"),
        (~j.content_complete, "partial_content"),
        else_=ibis.null("string"))
    return j.mutate(
        apparent_consumption_t=ibis.ifelse(
            use_content, calc_apparent_consumption(j.production_t, j.imports_content_t,
                                                   j.exports_content_t), ibis.null("float64")),
        import_reliance=reliance, reliance_basis=basis, reliance_flag=flag,
    ).drop("complete")


def reliance_on_basis(trade_flows: ir.Table, hs_map: ir.Table, production: ir.Table, *,
                      stage: str = "mine", forms: Sequence[str] | None = None,
                      sources: ir.Table | None = None, family: str | None = None) -> ir.Table:
    """Net import reliance on a stated basis: the traded ``forms`` of each mineral against its
    production at ``stage`` (``mine``, ``refinery`` or ``smelter``), per country and year.

    This is how a publisher's reliance is reproduced on the publisher's own basis: USGS's copper
    figure is refined imports minus refined exports over refinery production plus that net, so
    ``forms=["metal"], stage="refinery"``; its zinc ores figure is ``forms=["ore"]``,
    ``stage="mine"``. ``forms=None`` counts every traded form (what ``critmin assess`` reports
    as ``import_reliance``, against mine production). ``family=None`` takes production from the
    preferred source family of each mineral and stage, as ``assess`` does.

    Columns: those of :func:`import_reliance` plus ``reliance_low`` and ``reliance_high``, the
    interval the arithmetic allows: both equal ``import_reliance`` where it is known; where the
    production is withheld (``production_withheld``) and the net imports N = M - X are known on
    a content basis, reliance = N / (P + N) for an unknown P >= 0 lies in (0, 1] when N > 0
    (``reliance_low`` 0, ``reliance_high`` 1) and is <= 0 when N <= 0 (``reliance_low`` null,
    ``reliance_high`` 0); otherwise both are null.
    """
    f = mineral_trade(trade_flows, hs_map, stage="all", sources=sources, forms=forms)
    r = import_reliance(f, production, stage=stage, sources=sources, family=family)
    net = r.imports_content_t - r.exports_content_t
    known = r.content_complete | (r.content_value_share >= CONTENT_MIN_SHARE)
    withheld = (r.production_flag == "production_withheld") & known
    low = ibis.cases((r.import_reliance.notnull(), r.import_reliance),
                     (withheld & (net > 0), 0.0), else_=ibis.null("float64"))
    high = ibis.cases((r.import_reliance.notnull(), r.import_reliance),
                      (withheld & (net > 0), 1.0), (withheld, 0.0),
                      else_=ibis.null("float64"))
    return r.mutate(reliance_low=low, reliance_high=high)
