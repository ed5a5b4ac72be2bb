"""What cooperation changes: bloc shares, partner coverage and what-if for new projects.

Pure functions over the atlas, set-based in Ibis (every group, country and mineral at once; the
result is filtered at the end). Production is the USGS Mineral Commodity Summaries data of the
``production`` table (family ``usgs-mcs``, latest release per key); trade is CEPII BACI through
:func:`critmin.metrics.trade.mineral_trade`. Memberships are those of ``country_groups`` in the
year considered (:func:`critmin.metrics.trade.members_in_year`).

"World" production is the sum over the country rows of the production table: USGS's "Other
countries" aggregate is not a country and is left out (as in
:func:`critmin.metrics.concentration.production_concentration`), so world totals are slightly
below USGS's rounded "World total" (cobalt mine 2024: 293,810 t of 302,000 t).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from critmin import reference
from critmin.atlas import Atlas
from critmin.cooperation.models import Context, Project, rate_unit
from critmin.errors import SpecError
from critmin.metrics.concentration import (
    NOT_COUNTRIES,
    concentration,
    world_totals,
)
from critmin.metrics.formulas import (
    ABOVE_100_FLAGS,
    calc_apparent_consumption,
    calc_n_minus_1_coverage,
)
from critmin.metrics.supply import preferred_family
from critmin.metrics.trade import (
    hs_coverage,
    members_in_year,
    mineral_trade,
    net_trade,
    one_basis,
)

#: Default spare capacity of partners' producers, as a fraction of their production (10 %: a
#: round figure for the utilisation headroom of mines and refineries; pass your own).
SPARE_CAPACITY = 0.10


# ----------------------------------------------------------------------------------------- inputs


def usgs_production(atlas: Atlas, mineral: str | None = None, stage: str | None = None, *,
                    aggregates: bool = False) -> ir.Table:
    """Country production rows, optionally filtered: USGS MCS (one release, see
    :class:`Atlas`) for mining; for refining the first family that publishes the mineral's
    refining (:func:`critmin.metrics.supply.preferred_family`: USGS MCS, else the IEA, else World
    Mining Data); with ``aggregates`` also the publisher's world total (WLD) and rest-of-world
    (XRW) rows."""
    p = atlas.table("production")
    if mineral is not None:
        p = p.filter(_.mineral == mineral)
    if stage is not None:
        p = p.filter(_.stage == stage)
    if not aggregates:
        p = p.filter(~p.country.isin(NOT_COUNTRIES))
    p = preferred_family(p, atlas.table("sources")).drop("family")
    return p.filter(p.value.notnull())


def _check_group(atlas: Atlas, group: str) -> str:
    """``group`` when the atlas lists memberships for it (:class:`ChoiceError` otherwise)."""
    return reference.require_group(group, sorted(set(
        atlas.table("country_groups").group_id.to_pandas())))


def _latest_year(t: ir.Table, upto: int | None = None) -> int | None:
    if upto is not None:
        t = t.filter(t.year <= upto)
    y = t.year.max().to_pandas()
    return None if y is None or pd.isna(y) else int(y)


def _years(year: int) -> ir.Table:
    return ibis.memtable({"year": [year]})


# ------------------------------------------------------------------------------------------ blocs


def blocs(mineral: str, stage: str | None = None, year: int | None = None, *,
          atlas: Atlas | None = None, groups: Sequence[str] | None = None) -> pd.DataFrame:
    """Each group's share of world production and exports of ``mineral``, and its members'
    combined net import reliance.

    For group G with members M (in the year), stage k and year t:

    - production_share = sum_{c in M} P_c / sum_c P_c, P = USGS production at stage k (t of the
      production table's basis; every stage when ``stage`` is None, one row per stage);
    - export_share = sum_{c in M} X_c / sum_c X_c, X_c = country c's exports of all the mineral's
      HS codes (ores to metal, whatever ``stage``) to every destination (thousand USD, BACI;
      intra-group trade included; null when the atlas has no trade in the mineral), in
      ``trade_year`` (``year``, or the latest year with trade data up to the production year);
    - import_reliance = sum_{c in M} N_c / sum_{c in M} (P_c + N_c), N_c = imports - exports in
      tonnes of contained mineral over all HS codes of the mineral (trade between members
      cancels in the sum, so this is the bloc's reliance on the rest of the world). Members
      without a production row count as producing nothing. Null, with ``reliance_flag``, when a
      member's trade lacks a content factor (``content_factor_unknown``) or the bloc's apparent
      consumption is not positive.

    Coverage of the trade figures: ``hs_codes`` are the mineral's HS codes (every form) with
    world trade rows in ``trade_year``, the codes export_share and import_reliance sum;
    ``hs_codes_missing`` the mapped codes without rows (the same lists on every row).

    Rows: one per group and stage, sorted by production share.
    """
    atlas = atlas or Atlas.open()
    mineral = reference.require_mineral(mineral)
    p = usgs_production(atlas, mineral, stage)
    prod_year = year if year is not None else _latest_year(p)
    if prod_year is None:
        raise SpecError(f"no USGS production data for {mineral}"
                        + (f" at stage {stage}" if stage else "") + " in the atlas")
    p = p.filter(p.year == prod_year)
    if p.count().to_pandas() == 0:
        raise SpecError(f"no USGS production data for {mineral} in {prod_year}"
                        + (f" at stage {stage}" if stage else ""))
    cg = atlas.table("country_groups")
    if groups is not None:
        for g in groups:
            _check_group(atlas, g)
        cg = cg.filter(cg.group_id.isin(list(groups)))

    # production shares
    mem = members_in_year(cg, _years(prod_year))
    keys = ["stage", "unit", "basis"]
    pa = usgs_production(atlas, mineral, stage, aggregates=True).filter(_.year == prod_year)
    world = world_totals(pa, keys).select(*keys, world_production="world_t")
    gp = p.join(mem, [p.country == mem.iso3, p.year == mem.year])
    gp = gp.group_by(["group_id", *keys]).aggregate(group_production=gp.value.sum(),
                                                    n_producers=gp.country.nunique())
    gids = mem.select("group_id").distinct()
    nmem = mem.group_by("group_id").aggregate(n_members=mem.iso3.nunique())
    base = gids.cross_join(world).join(nmem, "group_id")
    out = base.left_join(gp, ["group_id", *keys]).select(
        base, group_production=gp.group_production.fill_null(0.0),
        n_producers=gp.n_producers.fill_null(0))
    out = out.mutate(production_share=out.group_production / out.world_production)
    df = out.to_pandas()

    # export shares and reliance in the trade year
    flows = mineral_trade(atlas.table("trade_flows"), atlas.table("hs_map"), stage="all",
                          sources=atlas.table("sources")).filter(_.mineral == mineral)
    trade_year = year if year is not None else _latest_year(flows, prod_year) or _latest_year(flows)
    df["mineral"] = mineral
    df["production_year"] = prod_year
    df["trade_year"] = trade_year
    if trade_year is None:
        for c in ("world_exports_kusd", "group_exports_kusd", "export_share", "import_reliance"):
            df[c] = None
        df["reliance_flag"] = "no_trade_data"
    else:
        df = df.merge(_bloc_trade(atlas, cg, mineral, stage, trade_year), on="group_id", how="left")
    from critmin.scenarios.nminus1 import world_hs_codes

    have, miss = (world_hs_codes(atlas, "all", [trade_year], [mineral]).get(
        (mineral, trade_year), ([], [])) if trade_year is not None else ([], []))
    df["hs_codes"] = [list(have) for _ in range(len(df))]
    df["hs_codes_missing"] = [list(miss) for _ in range(len(df))]
    cols = ["group_id", "mineral", "stage", "production_year", "unit", "basis", "n_members",
            "n_producers", "group_production", "world_production", "production_share",
            "trade_year", "group_exports_kusd", "world_exports_kusd", "export_share",
            "import_reliance", "reliance_flag", "hs_codes", "hs_codes_missing"]
    return df[cols].sort_values(["stage", "production_share", "group_id"],
                                ascending=[True, False, True], ignore_index=True)


def _bloc_trade(atlas: Atlas, cg: ir.Table, mineral: str, stage: str | None, year: int
                ) -> pd.DataFrame:
    """Export share (value) and combined import reliance (content) per group in ``year``."""
    tf, hs, src = atlas.table("trade_flows"), atlas.table("hs_map"), atlas.table("sources")
    mem = members_in_year(cg, _years(year))
    f = mineral_trade(tf, hs, stage="all", sources=src).filter(
        (_.mineral == mineral) & (_.year == year))
    world = f.value_kusd.sum().name("world_exports_kusd")
    gx = f.join(mem, [f.exporter == mem.iso3, f.year == mem.year])
    gx = gx.group_by("group_id").aggregate(group_exports_kusd=gx.value_kusd.sum())
    gx = gx.mutate(world_exports_kusd=world.as_scalar())
    gx = gx.mutate(export_share=gx.group_exports_kusd / gx.world_exports_kusd)

    # reliance: all forms of the mineral, contained tonnes; production at the reliance stage
    allf = mineral_trade(tf, hs, stage="all", sources=src).filter(
        (_.mineral == mineral) & (_.year == year))
    nt = net_trade(allf)
    rstage = stage or "mine"
    p = one_basis(usgs_production(atlas, mineral, rstage).filter(
        (_.year == year) & (_.unit == "t")))  # iron ore: Fe content, never + usable ore
    p = p.group_by("country").aggregate(production_t=p.value.sum())
    m = mem.select("group_id", "iso3")
    j = m.left_join(nt, m.iso3 == nt.country).select(
        m.group_id, m.iso3,
        net_t=(nt.imports_content_t - nt.exports_content_t).fill_null(0.0),
        complete=nt.content_complete.fill_null(True).cast("int8"))
    j = j.left_join(p, j.iso3 == p.country).select(
        j.group_id, j.net_t, j.complete, production_t=p.production_t.fill_null(0.0))
    r = j.group_by("group_id").aggregate(net_t=j.net_t.sum(), production_t=j.production_t.sum(),
                                         complete=j.complete.min())
    cons = r.production_t + r.net_t
    flag = ibis.cases((r.complete == 0, "content_factor_unknown"),
                      (cons <= 0, "no_apparent_consumption"), else_=ibis.null("string"))
    r = r.mutate(reliance_flag=flag,
                 import_reliance=ibis.ifelse(flag.isnull(), r.net_t / cons, ibis.null("float64")))
    out = r.select("group_id", "import_reliance", "reliance_flag").to_pandas()
    gxd = gx.to_pandas()
    out = out.merge(gxd, on="group_id", how="left")
    wx = float(f.value_kusd.sum().to_pandas() or 0.0)
    out["world_exports_kusd"] = wx
    out["group_exports_kusd"] = out["group_exports_kusd"].fillna(0.0)
    out["export_share"] = out["group_exports_kusd"] / wx if wx > 0 else None
    return out


# --------------------------------------------------------------------------------------- coverage


#: The HS-code fields of :func:`coverage`: codes counted and mapped codes without data of the
#: country's imports from outside the group and of the partners' exports outside it.
COVERAGE_CODE_COLUMNS = ["hs_codes", "hs_codes_missing", "partner_hs_codes",
                         "partner_hs_codes_missing"]


def coverage(country: str, group: str, mineral: str | None = None, year: int | None = None, *,
             spare_capacity: float = SPARE_CAPACITY, atlas: Atlas | None = None) -> pd.DataFrame:
    """How much of ``country``'s imports from outside ``group`` its partners in the group could
    supply, per mineral.

    With partners Q = members of the group in the year other than the country, amounts in tonnes
    of contained mineral (all HS codes of the mineral; BACI quantity x content factor):

    - imports_outside_t = imports of the country from exporters not in the group;
    - partner_exports_outside_t = exports of Q to importers not in the group (what partners
      could redirect);
    - spare_t = ``spare_capacity`` x production of Q (USGS mine production in tonnes, the
      latest year up to the trade year; 10 % by default, :data:`SPARE_CAPACITY`);
    - coverage = min(1, (partner_exports_outside_t + spare_t) / imports_outside_t).

    ``coverage`` is null (``flag`` = ``content_factor_unknown``) when a flow's content is unknown;
    ``coverage_value`` = min(1, partner exports outside / imports outside) in thousand USD
    (without spare capacity, which has no price) is given either way. A ratio above 1 is not a
    share: both coverages are capped at 1, the uncapped ratios are ``coverage_ratio`` and
    ``coverage_value_ratio``, and ``flag`` / ``coverage_value_flag`` say
    ``partners_exceed_imports`` (:data:`~critmin.metrics.formulas.ABOVE_100_FLAGS`). ``year``
    defaults to the latest year with trade data for the country. ``hs_codes``,
    ``hs_codes_missing`` (the country's imports from outside the group) and ``partner_hs_codes``,
    ``partner_hs_codes_missing`` (the partners' exports outside it): the HS codes each figure
    counts and the mapped codes without data that year (:func:`~critmin.metrics.trade.hs_coverage`).
    """
    from critmin.reference import resolve_country

    atlas = atlas or Atlas.open()
    iso3 = resolve_country(country)
    group = _check_group(atlas, group)
    if mineral is not None:
        mineral = reference.require_mineral(mineral)
    if spare_capacity < 0:
        raise SpecError(f"spare_capacity must be >= 0, got {spare_capacity}")
    tf, hs, src = atlas.table("trade_flows"), atlas.table("hs_map"), atlas.table("sources")
    f = mineral_trade(tf, hs, stage="all", sources=src)
    if mineral is not None:
        f = f.filter(f.mineral == mineral)
    if year is None:
        year = _latest_year(f.filter(f.importer == iso3))
        if year is None:
            raise SpecError(f"no trade data for {iso3}" + (f" in {mineral}" if mineral else ""))
    f = f.filter(f.year == year)
    cg = atlas.table("country_groups").filter(_.group_id == group)
    mem = members_in_year(cg, _years(year)).select("iso3")
    partners = mem.filter(mem.iso3 != iso3)
    known = f.content_t.notnull() & (f.n_content == f.n_flows)
    fm = f.mutate(exp_in=f.exporter.isin(mem.iso3), imp_in=f.importer.isin(mem.iso3),
                  exp_partner=f.exporter.isin(partners.iso3), known=known.cast("int8"))
    imp = fm.filter((fm.importer == iso3) & ~fm.exp_in).group_by("mineral").aggregate(
        imports_outside_kusd=_.value_kusd.sum(), imports_outside_t=_.content_t.sum(),
        imp_complete=_.known.min())
    exp = fm.filter(fm.exp_partner & ~fm.imp_in).group_by("mineral").aggregate(
        partner_exports_outside_kusd=_.value_kusd.sum(),
        partner_exports_outside_t=_.content_t.sum(), exp_complete=_.known.min())
    p = one_basis(usgs_production(atlas, stage="mine").filter(
        (_.year <= year) & (_.unit == "t")))
    p = p.filter(p.country.isin(partners.iso3))
    py = p.group_by("mineral").aggregate(production_year=p.year.max())
    p = p.join(py, [p.mineral == py.mineral, p.year == py.production_year])
    pp = p.group_by(["mineral", "production_year"]).aggregate(partner_production_t=p.value.sum())
    j = imp.left_join(exp, "mineral").select(imp, exp.partner_exports_outside_kusd,
                                             exp.partner_exports_outside_t, exp.exp_complete)
    j = j.left_join(pp, "mineral").select(j, pp.production_year, pp.partner_production_t)
    df = j.to_pandas()
    df.insert(0, "country", iso3)
    df.insert(1, "group_id", group)
    df["year"] = year
    for c in ("partner_exports_outside_kusd", "partner_exports_outside_t", "partner_production_t"):
        df[c] = df[c].fillna(0.0)
    df["spare_capacity"] = spare_capacity
    df["spare_t"] = spare_capacity * df["partner_production_t"]
    complete = (df.imp_complete == 1) & (df.exp_complete.fillna(1) == 1)
    ratio = (df.partner_exports_outside_t + df.spare_t) / df.imports_outside_t
    df["coverage_ratio"] = ratio.where(complete & (df.imports_outside_t > 0))
    df["coverage"] = df.coverage_ratio.clip(upper=1.0)
    df["coverage_value_ratio"] = (df.partner_exports_outside_kusd
                                  / df.imports_outside_kusd).where(df.imports_outside_kusd > 0)
    df["coverage_value"] = df.coverage_value_ratio.clip(upper=1.0)
    df["coverage_value_flag"] = [("partners_exceed_imports" if pd.notna(r) and r > 1 else None)
                                 for r in df.coverage_value_ratio]
    df["flag"] = None
    # a ratio above 1 is not a share: the partners could send more than the country imports
    df.loc[complete & (df.coverage_ratio > 1), "flag"] = "partners_exceed_imports"
    df.loc[~complete, "flag"] = "content_factor_unknown"
    # the HS codes each trade figure counts, and the mapped codes without data
    outside = lambda t: ~t.exporter.isin(mem.iso3)  # noqa: E731
    sold = lambda t: t.exporter.isin(partners.iso3) & ~t.importer.isin(mem.iso3)  # noqa: E731
    hs_m = hs if mineral is None else hs.filter(hs.mineral == mineral)
    codes = {}
    for prefix, kw in (("", {"importer": iso3, "where": outside}),
                       ("partner_", {"by_importer": False, "where": sold})):
        cov = hs_coverage(tf, hs_m, year=year, sources=src, **kw).to_pandas()
        codes[prefix] = {m: (sorted(h) if h is not None else [],
                             sorted(x) if x is not None else [])
                         for m, h, x in zip(cov.mineral, cov.hs_codes, cov.hs_codes_missing,
                                            strict=True)}
    mapped = {m: sorted([*h, *x]) for m, (h, x) in codes[""].items()}
    for prefix in ("", "partner_"):
        # a mineral no kept flow carries: none counted, every mapped code of the year missing
        got = [codes[prefix].get(m, ([], mapped.get(m, []))) for m in df.mineral]
        df[f"{prefix}hs_codes"] = [h for h, _x in got]
        df[f"{prefix}hs_codes_missing"] = [x for _h, x in got]
    cols = ["country", "group_id", "mineral", "year", "imports_outside_kusd", "imports_outside_t",
            "partner_exports_outside_kusd", "partner_exports_outside_t", "production_year",
            "partner_production_t", "spare_capacity", "spare_t", "coverage", "coverage_ratio",
            "coverage_value", "flag", "coverage_value_ratio", "coverage_value_flag",
            *COVERAGE_CODE_COLUMNS]
    return df[cols].sort_values("imports_outside_kusd", ascending=False, ignore_index=True)


# ----------------------------------------------------------------------------------------- whatif


@cache
def capacity_basis() -> dict[str, dict[str, float]]:
    """project id -> {production basis: factor}: converts a project's capacity to a basis of
    the production table (``cooperation/capacity_basis.csv``, one cited line per project and
    basis: e.g. REO for USGS and magnet rare-earth oxides for the IEA's refining figures)."""
    text = resources.files("critmin.cooperation").joinpath("capacity_basis.csv").read_text("utf-8")
    out: dict[str, dict[str, float]] = {}
    for r in csv.DictReader(text.splitlines()):
        out.setdefault(r["project_id"], {})[r["production_basis"]] = float(r["factor"])
    return out


def converted_capacity(project: Project, unit: str, basis: str, ctx: Context) -> float:
    """Capacity of ``project`` in the production table's ``unit`` per year on ``basis``.

    capacity_converted = capacity x unit_factor x basis_factor, where unit_factor comes from
    ``reference/units.csv`` (``kt/y`` -> 1000 t) and basis_factor from :func:`capacity_basis`.
    Refuses (:class:`SpecError`) when the project has no capacity, its unit is not a rate of the
    table's unit, or its basis differs and no factor is known.
    """
    if project.capacity is None or project.unit is None:
        raise SpecError(f"project {project.id!r} has no published capacity: it cannot be added")
    ru = rate_unit(project.unit, ctx.units)
    if ru is None or ru[0] != unit:
        raise SpecError(f"project {project.id!r}: capacity unit {project.unit!r} cannot be "
                        f"converted to the production table's unit {unit!r} per year")
    factor = capacity_basis().get(project.id, {}).get(basis)
    if factor is None:
        raise SpecError(
            f"project {project.id!r}: capacity basis {project.basis!r} differs from the production "
            f"basis {basis!r} of {project.mineral} {project.stage} and no conversion factor is known; "
            "add one to critmin/cooperation/capacity_basis.csv")
    return project.capacity * ru[1] * factor


def whatif(project_ids: Iterable[str], year: int | None = None, *, atlas: Atlas | None = None,
           groups: Sequence[str] | None = None, registry: Any = None) -> pd.DataFrame:
    """Concentration of production before and after the projects' capacity comes online.

    Per mineral and stage of the projects, with USGS production P_c of ``year`` (default: the
    latest year with data) and the projects' converted capacity added to their host countries:

    - hhi = sum_c s_c^2 (0-1), top1_share = max_c s_c, s_c = P_c / S, S = sum_c P_c;
    - N-1 coverage = (S - P_top) / (D - d_top): can the rest of the world meet world demand
      without the top producer? World demand D = sum_c (P_c + M_c - X_c) = S in a closed world
      (imports and exports cancel); we hold D at the before level (new capacity adds supply, not
      demand). The top producer's demand d_top is its apparent consumption P_top + M_top - X_top
      (contained tonnes, BACI, same year) when all its flows have a content factor; otherwise
      d_top = 0, the conservative bound (coverage is lowest when the top producer keeps nothing
      for itself); ``n1_demand`` says which was used;
    - share_<group> = sum over members of the group in the year of s_c.

    The capacity is added on top of the year's production: for a project that was already
    operating in that year (noted in ``added_capacity``) its output is probably in the production
    data already.

    Output: long table ``mineral, stage, year, unit, basis, metric, before, after, change`` with
    metrics ``world_production``, ``added_capacity``, ``hhi``, ``top1_share``, ``top_producer``
    (as text in ``note``), ``n1_coverage`` and ``share_<group>``.

    Coverage of the trade figures: ``hs_codes`` (last but one column) are the mineral's HS codes
    (every form) with world trade rows in ``year``, the trade the top producer's apparent
    consumption d_top of ``n1_coverage`` is drawn from; ``hs_codes_missing`` the mapped codes
    without rows (the same lists on every row of the mineral).
    """
    from critmin.cooperation.registry import Registry

    ids = list(dict.fromkeys(project_ids))
    if not ids:
        raise SpecError("name at least one project (--project ID)")
    atlas = atlas or Atlas.open()
    reg = registry or Registry.from_atlas(atlas)
    projects = [reg.get("projects", i) for i in ids]
    by_key: dict[tuple[str, str], list[Project]] = {}
    for pr in projects:
        assert isinstance(pr, Project)
        if pr.stage == "capacity":
            raise SpecError(f"project {pr.id!r} is downstream manufacturing capacity "
                            f"({pr.basis}), not {pr.mineral} production: it cannot be added")
        by_key.setdefault((pr.mineral, pr.stage), []).append(pr)
    groups = [reference.require_group(g) for g in groups] if groups else reference.groups()
    frames = [_whatif_one(atlas, reg.ctx, m, s, ps, year, groups) for (m, s), ps in by_key.items()]
    return pd.concat(frames, ignore_index=True)


def _whatif_one(atlas: Atlas, ctx: Context, mineral: str, stage: str, projects: list[Project],
                year: int | None, groups: Sequence[str]) -> pd.DataFrame:
    p = usgs_production(atlas, mineral, stage)
    y = year if year is not None else _latest_year(p)
    names = ", ".join(pr.id for pr in projects)
    if y is None:
        raise SpecError(f"no production data (USGS MCS, IEA or World Mining Data) for {mineral} "
                        f"at stage {stage} in the atlas: "
                        f"cannot place project(s) {names}")
    p = p.filter(p.year == y)
    bases = p.select("unit", "basis").distinct().to_pandas()
    if bases.empty:
        raise SpecError(f"no production data (USGS MCS, IEA or World Mining Data) for {mineral} "
                        f"at stage {stage} in {y}: "
                        f"cannot place project(s) {names}")
    conv = capacity_basis()
    wanted = {b for pr in projects for b in conv.get(pr.id, {})}
    pick = bases[bases.basis.isin(wanted)] if wanted else bases
    if len(pick) != 1:
        pick = bases.iloc[:1]
    unit, basis = str(pick.unit.iloc[0]), str(pick.basis.iloc[0])
    p = p.filter((p.unit == unit) & (p.basis == basis))
    added = {}
    for pr in projects:
        added[pr.country] = added.get(pr.country, 0.0) + converted_capacity(pr, unit, basis, ctx)
    total_added = sum(added.values())

    base = p.select("country", "value", scenario=ibis.literal("before"))
    extra = ibis.memtable(pd.DataFrame({"country": list(added), "value": list(added.values())}))
    after = base.mutate(scenario=ibis.literal("after")).union(
        extra.mutate(scenario=ibis.literal("after")).cast(base.schema()))
    both = base.union(after).mutate(year=ibis.literal(y, "int16"))
    # shares of the world total (named countries plus USGS's rest of world), before and after
    pa = usgs_production(atlas, mineral, stage, aggregates=True).filter(
        (_.year == y) & (_.unit == unit) & (_.basis == basis))
    wt = world_totals(pa, ["unit", "basis"]).to_pandas()
    if wt.empty:
        raise SpecError(f"no USGS world total for {mineral} at stage {stage} in {y}")
    w0 = wt.iloc[0]
    totals = ibis.memtable(pd.DataFrame({
        "scenario": ["before", "after"],
        "world_t": [float(w0.world_t), float(w0.world_t) + total_added],
        "named_t": [float(w0.named_t), float(w0.named_t) + total_added],
        "rest_t": [w0.rest_t, w0.rest_t], "published_t": [w0.published_t, w0.published_t],
        "total_flag": [w0.total_flag, w0.total_flag]}))
    conc = concentration(both, ["scenario"], "value", "country", totals=totals)
    mem = members_in_year(atlas.table("country_groups").filter(_.group_id.isin(list(groups))),
                          _years(y))
    gs = both.group_by(["scenario", "country"]).aggregate(value=_.value.sum())
    gj = gs.join(mem, gs.country == mem.iso3)
    gshare = gj.group_by(["scenario", "group_id"]).aggregate(group_value=gj.value.sum()).to_pandas()
    per_country = gs.to_pandas()
    c = conc.to_pandas().set_index("scenario")

    demand = _apparent_consumption(atlas, mineral, y)
    world_demand = float(c.loc["before", "total"])
    rows: list[dict[str, Any]] = []

    def add(metric: str, before: Any, after: Any, note: str | None = None) -> None:
        change = after - before if isinstance(before, float) and isinstance(after, float) else None
        rows.append({"metric": metric, "before": before, "after": after, "change": change,
                     "note": note})

    add("world_production", float(c.loc["before", "total"]), float(c.loc["after", "total"]))
    online = [pr.id for pr in projects
              if pr.status == "operating" and (pr.start_year is None or pr.start_year <= y)]
    add("added_capacity", 0.0, float(total_added), "projects: " + ", ".join(
        f"{pr.id} ({pr.country})" for pr in projects) + (
        f"; already operating, so possibly counted twice: {', '.join(online)}" if online else ""))
    add("hhi", float(c.loc["before", "hhi"]), float(c.loc["after", "hhi"]))
    add("top1_share", float(c.loc["before", "top1_share"]), float(c.loc["after", "top1_share"]),
        f"top producer {c.loc['before', 'top_supplier']} -> {c.loc['after', 'top_supplier']}")
    n1: dict[str, float] = {}
    notes = []
    for sc in ("before", "after"):
        top = str(c.loc[sc, "top_supplier"])
        s_total = float(c.loc[sc, "total"])
        s_top = float(per_country[(per_country.scenario == sc)
                                  & (per_country.country == top)].value.sum())
        d_top = demand.get(top)  # unknown when the top producer's trade lacks content
        cov = calc_n_minus_1_coverage(s_total, s_top, d_top, world_demand)
        n1[sc] = float("nan") if cov is None else float(cov)
        notes.append(f"{sc}: " + ("d_top=apparent_consumption" if d_top is not None
                                  else "top producer's demand unknown (content factor)"))
        if cov is not None and cov > 1:
            notes.append(f"{sc} above 1: {ABOVE_100_FLAGS['surplus']}")
    add("n1_coverage", n1["before"], n1["after"], "; ".join(notes))
    for g in groups:
        vals = {sc: float(gshare[(gshare.scenario == sc) & (gshare.group_id == g)].group_value.sum())
                / float(c.loc[sc, "total"]) for sc in ("before", "after")}
        add(f"share_{g.lower()}", vals["before"], vals["after"])
    out = pd.DataFrame(rows)
    out.insert(0, "mineral", mineral)
    out.insert(1, "stage", stage)
    out.insert(2, "year", y)
    out.insert(3, "unit", unit)
    out.insert(4, "basis", basis)
    from critmin.scenarios.nminus1 import world_hs_codes

    have, miss = world_hs_codes(atlas, "all", [y], [mineral]).get((mineral, y), ([], []))
    out["hs_codes"] = [list(have) for _ in range(len(out))]
    out["hs_codes_missing"] = [list(miss) for _ in range(len(out))]
    return out


def _apparent_consumption(atlas: Atlas, mineral: str, year: int) -> dict[str, float]:
    """country -> production + imports - exports (contained t) where all its flows in ``year``
    have a content factor; countries with incomplete content are left out."""
    tf, hs, src = atlas.table("trade_flows"), atlas.table("hs_map"), atlas.table("sources")
    f = mineral_trade(tf, hs, stage="all", sources=src).filter(
        (_.mineral == mineral) & (_.year == year))
    nt = net_trade(f).filter(_.content_complete)
    p = one_basis(usgs_production(atlas, mineral, "mine").filter(
        (_.year == year) & (_.unit == "t")))
    p = p.group_by("country").aggregate(production_t=p.value.sum())
    j = nt.join(p, "country")
    j = j.select("country", d=calc_apparent_consumption(j.production_t, j.imports_content_t,
                                                         j.exports_content_t))
    df = j.to_pandas()
    return dict(zip(df.country, df.d.astype(float), strict=True))
