"""The value chain from the atlas: where an importer's supply really comes from (``trace``), and
projected supply against demand to 2040 (``outlook``).

``trace`` reads BACI trade (HS revision precedence of :func:`critmin.metrics.trade.mineral_trade`)
on a content basis, mine production (USGS MCS) and WGI political stability, and applies the
one-step proportional-sourcing method of :mod:`critmin.metrics.trace`. ``outlook`` reads the
IEA Critical Minerals Data Explorer: demand by sector and scenario (``demand_outlook``), base-year
supply (``production`` rows of family ``iea``) and base-case projections (``supply_outlook``),
and the cooperation registry's projects for ``with_projects``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd
from ibis import _

from critmin.errors import NoDataError
from critmin.metrics import trace as tr
from critmin.metrics.concentration import production_concentration
from critmin.metrics.supply import preferred_family
from critmin.metrics.trade import mineral_trade

if TYPE_CHECKING:
    from critmin.atlas import Atlas

#: Traded forms that feed a refiner (hs_map ``stage``): ores and concentrates, and intermediates
#: for further refining (mattes, hydroxides, oxide sinters).
FEED_FORMS: tuple[str, ...] = ("ore", "intermediate")
#: Outlook scenarios (IEA): stated policies, announced pledges, net zero by 2050.
SCENARIOS: tuple[str, ...] = ("STEPS", "APS", "NZE")
#: Sectors that hold a mineral's total demand in ``demand_outlook``.
TOTAL_SECTORS: tuple[str, ...] = ("Total demand", "Clean technologies (total)")
ATTRIBUTION_IEA = "IEA (2025), Critical Minerals Data Explorer (CC BY 4.0)"


# ------------------------------------------------------------------------------------- trace


@dataclass
class Traced:
    """Everything ``critmin trace`` reports: per-flow tracing, the two views, their metrics."""

    year: int
    flows: pd.DataFrame
    views: pd.DataFrame
    metrics: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def trace_inputs(atlas: Atlas, year: int, minerals: Sequence[str] | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(imports, feed, coverage) for :func:`critmin.metrics.trace.trace`, every importer.

    imports: ``mineral, importer, exporter, form, amount_t`` (contained t; form ``ore`` for
    hs_map chain stage mine, else ``processed``); feed: ``mineral, refiner, origin, amount_t``
    (imports of :data:`FEED_FORMS` plus mine production as origin = refiner); coverage:
    ``mineral, importer, imports_kusd, content_coverage`` (share of import value whose
    contained tonnes are known: a flow without quantity or content factor is left out).
    """
    from critmin.scenarios import data

    tf, src = atlas.table("trade_flows"), atlas.table("sources")
    hs = atlas.table("hs_map")
    if minerals is not None:
        hs = hs.filter(hs.mineral.isin(list(minerals)))

    def flows(m: Any, form: str) -> Any:
        f = mineral_trade(tf, m, sources=src).filter(_.year == year)
        return f.select("mineral", "exporter", "importer", "value_kusd", "content_t",
                        form=ibis.literal(form))

    both = flows(hs.filter(hs.chain_stage == "mine"), "ore").union(
        flows(hs.filter(hs.chain_stage != "mine"), "processed")).to_pandas()
    cov = both.assign(known=both.value_kusd.where(both.content_t.notna(), 0.0)).groupby(
        ["mineral", "importer"], as_index=False)[["value_kusd", "known"]].sum()
    cov = cov.assign(content_coverage=cov.known / cov.value_kusd).rename(
        columns={"value_kusd": "imports_kusd"}).drop(columns="known")
    imports = both.dropna(subset=["content_t"]).rename(columns={"content_t": "amount_t"})
    imports = imports[["mineral", "importer", "exporter", "form", "amount_t"]]
    fi = flows(hs.filter(hs.stage.isin(list(FEED_FORMS))), "feed").to_pandas()
    fi = fi.dropna(subset=["content_t"]).rename(
        columns={"importer": "refiner", "exporter": "origin", "content_t": "amount_t"})
    prod = data.production(atlas, year, "mine", minerals)
    own = pd.DataFrame({"mineral": prod.mineral, "refiner": prod.country,
                        "origin": prod.country, "amount_t": prod.production_t.astype(float)})
    feed = pd.concat([fi[["mineral", "refiner", "origin", "amount_t"]], own], ignore_index=True)
    return imports, feed, cov


def world_hhi(atlas: Atlas, year: int, minerals: Sequence[str] | None = None
              ) -> dict[tuple[str, str], float]:
    """{(mineral, stage): HHI of world production} for mine and refinery, latest year <=
    ``year``, one source family per mineral and stage (:func:`preferred_family`)."""
    p = atlas.table("production")
    p = p.filter(p.stage.isin(["mine", "refinery"]) & (p.unit == "t") & (p.year <= year))
    if minerals is not None:
        p = p.filter(p.mineral.isin(list(minerals)))
    p = preferred_family(p, atlas.table("sources")).drop("family")
    c = production_concentration(p, family=None).to_pandas()
    if c.empty:
        return {}
    c = c.sort_values(["mineral", "stage", "year", "total"]).drop_duplicates(
        ["mineral", "stage"], keep="last")
    return {(r.mineral, r.stage): float(r.hhi) for r in c.itertuples()}


def trace_all(atlas: Atlas, year: int, minerals: Sequence[str] | None = None) -> Traced:
    """Traced origins of every importer's imports of every (or the given) mineral in ``year``."""
    from critmin.scenarios import data

    imports, feed, cov = trace_inputs(atlas, year, minerals)
    flows = tr.trace(imports, feed)
    views = tr.compare_views(flows)
    metrics = tr.view_metrics(views, flows, pv=data.governance_pv(atlas, year),
                              hhi_world=world_hhi(atlas, year, minerals))
    metrics = metrics.merge(cov, on=["mineral", "importer"], how="left")
    return Traced(year=year, flows=flows, views=views, metrics=metrics)


def trace_country(atlas: Atlas, country: str, mineral: str, year: int | None = None) -> Traced:
    """Traced origins of ``country``'s imports of ``mineral`` (default year: the latest with
    trade data for it). Unknown country, mineral or year, or no imports: one-line error."""
    from critmin.reference import require_mineral, require_year, resolve_country

    iso3 = resolve_country(country)
    mineral = require_mineral(mineral)
    mapped = atlas.table("hs_map").filter(_.mineral == mineral).count().to_pandas()
    if not mapped:
        raise NoDataError(f"no traded forms of {mineral} are mapped to HS codes "
                          "(critmin/reference/hs_map.csv): nothing to trace")
    years = atlas.table("trade_flows").select("year").distinct().year.to_pandas()
    if year is None:
        f = mineral_trade(atlas.table("trade_flows"), atlas.table("hs_map"),
                          sources=atlas.table("sources"))
        y = f.filter((f.importer == iso3) & (f.mineral == mineral)).year.max().to_pandas()
        if y is None or pd.isna(y):
            raise NoDataError(f"no imports of {mineral} by {iso3} in the atlas")
        year = int(y)
    else:
        require_year(year, years, what="trade data")
    t = trace_all(atlas, year, [mineral])
    sel = lambda d: d[(d.importer == iso3) & (d.mineral == mineral)].reset_index(drop=True)  # noqa: E731
    out = Traced(year=year, flows=sel(t.flows), views=sel(t.views), metrics=sel(t.metrics))
    if out.metrics.empty:
        raise NoDataError(f"no imports of {mineral} by {iso3} in {year} with a known "
                           "content (quantity and content factor)")
    out.metrics = out.metrics.assign(**trace_codes(atlas, iso3, mineral, year))
    cov = float(out.metrics.content_coverage.iloc[0])
    if cov < 0.999:
        out.notes.append(f"{1 - cov:.0%} of the import value has no known contained tonnes "
                         "(no quantity or no content factor) and is not traced")
    un = float(out.metrics.untraced_share.iloc[0])
    if un > 0:
        out.notes.append(f"{un:.0%} of the contained tonnes come from exporters with no known "
                         "feed (no mine production, no feed imports): kept at the exporter")
    out.notes.append("method: one step upstream, proportional sourcing (each exporter's sales "
                     "are sourced like its average feed: own mining plus imported ores and "
                     "intermediates, contained tonnes)")
    return out


#: Fields of :func:`trace_codes` (added to the metrics of :func:`trace_country`).
TRACE_CODE_COLUMNS = ["hs_codes", "hs_codes_missing", "feed_hs_codes", "feed_hs_codes_missing"]


def trace_codes(atlas: Atlas, iso3: str, mineral: str, year: int) -> dict[str, list[list[str]]]:
    """The HS codes the two trade figures of a trace count in ``year``
    (:func:`critmin.metrics.trade.hs_coverage`), as one-row columns of sorted lists:

    - ``hs_codes``, ``hs_codes_missing``: the importer's imports of the mineral (every mapped
      code; the amounts traced);
    - ``feed_hs_codes``, ``feed_hs_codes_missing``: world imports of the feed forms
      (:data:`FEED_FORMS`) that give the refiners' feed shares.
    """
    from critmin.metrics.trade import hs_coverage

    tf, src = atlas.table("trade_flows"), atlas.table("sources")
    hs = atlas.table("hs_map").filter(_.mineral == mineral)
    feed = hs.filter(hs.stage.isin(list(FEED_FORMS)))
    out: dict[str, list[list[str]]] = {}
    for prefix, m, kw in (("", hs, {"importer": iso3}), ("feed_", feed, {"by_importer": False})):
        cov = hs_coverage(tf, m, year=year, sources=src, **kw).to_pandas()
        for col in ("hs_codes", "hs_codes_missing"):
            codes = cov[col].iloc[0] if len(cov) else None
            out[prefix + col] = [sorted(codes) if codes is not None else []]
    return out


# ----------------------------------------------------------------------------------- outlook


@dataclass
class Outlook:
    """``critmin outlook``: demand by sector, supply by country and the yearly balance."""

    mineral: str
    scenario: str
    balance: pd.DataFrame
    demand: pd.DataFrame
    supply: pd.DataFrame
    notes: list[str] = field(default_factory=list)


BALANCE_COLUMNS = ["mineral", "scenario", "stage", "year", "basis", "demand_t", "supply_t",
                   "balance_t", "top_producer", "top3_share", "hhi"]
PROJECT_COLUMNS = ["added_t", "supply_with_projects_t", "balance_with_projects_t",
                   "top3_share_with_projects", "hhi_with_projects", "projects"]


def outlook_minerals(atlas: Atlas) -> list[str]:
    """Minerals with both IEA supply projections and demand in the atlas."""
    s = set(atlas.table("supply_outlook").select("mineral").distinct().mineral.to_pandas())
    d = set(atlas.table("demand_outlook").select("mineral").distinct().mineral.to_pandas())
    return sorted(s & d)


def _concentration(rows: pd.DataFrame) -> pd.DataFrame:
    """production_concentration of (mineral, stage, year, basis, country, value) rows: one
    query for every mineral, stage and year."""
    t = ibis.memtable(rows.assign(unit="t", source_id="outlook").astype(
        {"year": "int16", "value": float})[["mineral", "stage", "year", "basis", "country",
                                             "value", "unit", "source_id"]])
    return production_concentration(t, family=None).to_pandas()


def _outlook_inputs(atlas: Atlas, minerals: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(demand, supply) rows of ``minerals``, each read once: IEA demand of every scenario, and
    IEA supply (base-year production rows of family ``iea`` and base-case projections)."""
    d = atlas.table("demand_outlook").filter(_.mineral.isin(list(minerals))).to_pandas()
    prod = atlas.table("production")
    src = atlas.table("sources").filter(_.family == "iea").select("source_id")
    cols = ["mineral", "stage", "year", "basis", "country", "value"]
    base = prod.filter(_.mineral.isin(list(minerals)) & _.stage.isin(["mine", "refinery"]))
    base = base.semi_join(src, "source_id").select(*cols)
    proj = atlas.table("supply_outlook").filter(_.mineral.isin(list(minerals))).select(*cols)
    supply = pd.concat([base.to_pandas(), proj.to_pandas()], ignore_index=True)
    return d, supply


def outlooks(atlas: Atlas, minerals: Sequence[str] | None = None,
             scenarios: Sequence[str] = SCENARIOS, *, with_projects: bool = False,
             registry: Any = None) -> dict[tuple[str, str], Outlook]:
    """:func:`outlook` of every (or the given) mineral x scenario, set-based: the atlas is read
    once and the concentration of supply computed in one query."""
    minerals = list(minerals) if minerals is not None else outlook_minerals(atlas)
    demand_all, supply = _outlook_inputs(atlas, minerals)
    conc = _concentration(supply)
    bal_all = conc[["mineral", "stage", "year", "basis", "total", "top_supplier", "top3_share",
                    "hhi"]].rename(columns={"total": "supply_t", "top_supplier": "top_producer"})
    extra, pnotes = (_project_rows(atlas, minerals, supply, registry) if with_projects
                     else (None, {}))
    if extra is not None:
        after = _concentration(pd.concat([supply, extra.drop(columns="project")],
                                         ignore_index=True))
        after = after[["mineral", "stage", "year", "total", "top3_share", "hhi"]].rename(
            columns={"total": "supply_with_projects_t", "top3_share": "top3_share_with_projects",
                     "hhi": "hhi_with_projects"})
        added = extra.groupby(["mineral", "stage", "year"]).agg(
            added_t=("value", "sum"),
            projects=("project", lambda x: ", ".join(sorted(set(x))))).reset_index()
        keys = ["mineral", "stage", "year"]
        bal_all = bal_all.merge(after, on=keys, how="left").merge(added, on=keys, how="left")
        bal_all["added_t"] = bal_all.added_t.fillna(0.0)
        bal_all["projects"] = bal_all.projects.fillna("")
    out: dict[tuple[str, str], Outlook] = {}
    for mineral in minerals:
        dm = demand_all[demand_all.mineral == mineral]
        sector_items = sorted(set(dm[dm.sector == "Total demand"].item))
        item = sector_items[0] if sector_items else \
            dm[dm.sector.isin(TOTAL_SECTORS)].groupby("item").year.nunique().idxmax()
        dm = dm[dm.item == item]
        sm = supply[supply.mineral == mineral].drop(columns="mineral")
        for scenario in scenarios:
            d = dm[dm.scenario.isin(["historical", scenario])]
            total = d[d.sector.isin(TOTAL_SECTORS)].groupby("year").value.sum()
            bal = bal_all[bal_all.mineral == mineral].assign(scenario=scenario)
            bal["demand_t"] = bal.year.map(total)
            bal["balance_t"] = bal.supply_t - bal.demand_t
            cols = BALANCE_COLUMNS
            notes = [f"demand: IEA item {item!r}, scenario {scenario} (base year: "
                     f"historical); supply: IEA base case; cite as {ATTRIBUTION_IEA}"]
            if mineral == "rare_earths":
                notes.append("IEA rare earths are the magnet rare earths (Nd, Pr, Dy, Tb "
                             "oxides): compare shares, not tonnes, with USGS's all rare-earth "
                             "oxides")
            if with_projects:
                bal["balance_with_projects_t"] = bal.supply_with_projects_t - bal.demand_t
                cols = cols + PROJECT_COLUMNS
                notes += pnotes.get(mineral, [])
            out[(mineral, scenario)] = Outlook(
                mineral=mineral, scenario=scenario,
                balance=bal.sort_values(["stage", "year"], ignore_index=True)[cols],
                demand=d[["year", "sector", "scenario", "value"]].rename(
                    columns={"value": "demand_t"}).reset_index(drop=True),
                supply=sm.sort_values(["stage", "year", "value"], ascending=[True, True, False],
                                      ignore_index=True),
                notes=notes)
    return out


def outlook(atlas: Atlas, mineral: str, scenario: str = "STEPS", *,
            with_projects: bool = False, registry: Any = None) -> Outlook:
    """Projected demand (total and by sector) against base-case supply for mining and refining.

    Per stage and year (base year 2024 and 2030, 2035, 2040): ``demand_t`` (the scenario's total
    demand), ``supply_t`` (world supply incl. the rest of world), ``balance_t`` = supply -
    demand, the top producer, top-3 share and HHI of supply (shares of the world total). With
    ``with_projects``: the registry's projects of the mineral and stage not yet operating are
    added from their start year at nameplate capacity converted to the IEA basis; projects
    without a start year or a known conversion are listed in ``notes``.
    """
    from critmin.reference import require_choice, require_mineral

    require_choice("scenario", scenario, SCENARIOS)
    mineral = require_mineral(mineral)
    have = outlook_minerals(atlas)
    if mineral not in have:
        raise NoDataError(f"no outlook for {mineral!r}: the atlas has IEA supply projections "
                          f"and demand for {', '.join(have) or 'no mineral'} "
                          "(load ../shared/data/iea)")
    return outlooks(atlas, [mineral], [scenario], with_projects=with_projects,
                    registry=registry)[(mineral, scenario)]


def _project_rows(atlas: Atlas, minerals: Sequence[str], supply: pd.DataFrame, registry: Any
                  ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Supply rows of the registry's projects not yet operating (from their start year, on the
    IEA basis of their mineral and stage), and per mineral the notes on projects left out."""
    from critmin.cooperation.analytics import converted_capacity
    from critmin.cooperation.registry import Registry
    from critmin.errors import SpecError

    reg = registry or Registry.from_atlas(atlas)
    notes: dict[str, list[str]] = {}
    extra = []
    for pr in reg.projects:
        stage = "refinery" if pr.stage == "smelter" else pr.stage
        if pr.mineral not in minerals or stage not in ("mine", "refinery") or \
                pr.status == "operating":
            continue
        sel = supply[(supply.mineral == pr.mineral) & (supply.stage == stage)]
        if sel.empty:
            continue
        basis = str(sel.basis.iloc[0])
        if pr.start_year is None:
            notes.setdefault(pr.mineral, []).append(
                f"{pr.id} ({pr.status}): no start year, not added")
            continue
        try:
            cap = converted_capacity(pr, "t", basis, reg.ctx)
        except SpecError as exc:
            notes.setdefault(pr.mineral, []).append(f"{pr.id}: not added ({exc})")
            continue
        for y in sorted(sel.year.unique()):
            if y >= pr.start_year:
                extra.append({"mineral": pr.mineral, "stage": stage, "year": y, "basis": basis,
                              "country": pr.country, "value": cap, "project": pr.id})
    for m in minerals:
        if not any(e["mineral"] == m for e in extra):
            notes.setdefault(m, []).append(
                f"no {m} project not yet operating has a start year and a capacity "
                "convertible to the IEA basis")
    cols = ["mineral", "stage", "year", "basis", "country", "value", "project"]
    return pd.DataFrame(extra, columns=cols), notes
