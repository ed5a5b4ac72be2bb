"""The current value of every watched indicator, computed once per evaluation for all rules.

Each indicator comes from critmin's metric functions, for the latest data in the atlas:

- ``import_share``, ``import_hhi``, ``top_supplier_share``: BACI flows of the mineral's HS codes
  (:func:`critmin.metrics.trade.mineral_trade`, stage ``all``, ``mine`` or ``refined``) into the
  country (or into the members of a group, trade between members left out) in the latest BACI
  year; share s_i = value_i / sum_j value_j (thousand USD), HHI = sum_i s_i^2
  (:func:`critmin.metrics.concentration.hhi`); a bloc's share is the sum of its members' shares
  (membership in that year);
- ``production_hhi``, ``production_top_share``: :func:`critmin.metrics.concentration.
  production_concentration` on one production source family per mineral and stage
  (:func:`critmin.metrics.supply.preferred_family`: USGS MCS; for refining else the IEA, else
  World Mining Data; latest release per year, mass units) in the latest year with data, the
  basis with the largest total;
- ``traced_origin_share``: the share of the importer's imports (contained tonnes) traced one
  step upstream to mines of the supplier country or bloc (:func:`critmin.valuechain.trace_all`,
  proportional sourcing), latest BACI year;
- ``import_reliance``: :func:`critmin.metrics.trade.import_reliance` in the latest BACI year;
- ``geopolrisk``: :func:`critmin.metrics.geopolrisk.geopolrisk` (default mode) in that year;
- ``n_minus_1``: coverage from :func:`critmin.scenarios.nminus1.n_minus_1`, latest year.

Every reading carries the data it came from (year, source files and their releases): a change
in those is what "a new release" means to a change rule.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd
from ibis import _

from critmin.metrics import concentration, trade
from critmin.watch.rules import INDICATORS, RuleSpec

if TYPE_CHECKING:
    from critmin.atlas import Atlas

#: HS-map chain stage of a rule stage.
CHAIN = {"all": "all", "mine": "mine", "refinery": "refined"}

Key = tuple[str, str, str, str, str | None]


def key(spec: RuleSpec) -> Key:
    """What a reading is computed for: (indicator, country, mineral, stage, supplier); the
    country is dropped for indicators of the mineral (``world``)."""
    country = "" if INDICATORS[spec.indicator].world else spec.country
    return (spec.indicator, country, spec.mineral, spec.stage, spec.supplier)


@dataclass
class Reading:
    """An indicator's value (None when the atlas has no data for it) and its provenance."""

    value: float | None
    year: int | None
    family: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def release(self) -> dict[str, Any]:
        """The data compared: family, year and source files (id and release)."""
        return {"family": self.family, "year": self.year, "sources": self.sources}

    def fingerprint(self) -> str:
        """A hash of the data behind the value (year and source files): it changes when the
        atlas gains a year or a release."""
        blob = json.dumps([self.year, [s["source_id"] for s in self.sources]], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


class Context:
    """Atlas tables and lookups shared by the indicator families of one evaluation."""

    def __init__(self, atlas: Atlas) -> None:
        self.atlas = atlas
        self.tf = atlas.table("trade_flows")
        self.hs = atlas.table("hs_map")
        self.src = atlas.table("sources")
        self.prod = atlas.table("production")
        sources = atlas.sql("SELECT source_id, family, release, file FROM sources")
        self.releases = {r.source_id: (r.family, r.release) for r in sources.itertuples()}
        self._members: dict[int, dict[str, set[str]]] = {}

    @cached_property
    def trade_year(self) -> int | None:
        """The latest year of BACI trade in the atlas."""
        y = self.atlas.sql("SELECT max(t.year) AS y FROM trade_flows t JOIN sources s "
                           "USING (source_id) WHERE s.family = 'baci'").y.iloc[0]
        return None if pd.isna(y) else int(y)

    def groups(self) -> set[str]:
        return set(self.atlas.table("groups").group_id.to_pandas())

    def members(self, year: int) -> dict[str, set[str]]:
        """Members of each group during ``year`` (joined by 31 Dec, not left before 1 Jan)."""
        if year not in self._members:
            cg = self.atlas.table("country_groups")
            m = trade.members_in_year(cg, ibis.memtable({"year": [year]})).to_pandas()
            out: dict[str, set[str]] = defaultdict(set)
            for g, iso3 in zip(m.group_id, m.iso3, strict=True):
                out[str(g)].add(str(iso3))
            self._members[year] = dict(out)
        return self._members[year]

    def expand(self, code: str, year: int) -> set[str]:
        """A country code as itself, a group id as its members in ``year``."""
        return self.members(year).get(code, {code} if len(code) == 3 else set())

    @cached_property
    def _production_sources(self) -> dict[tuple[int, str, str], list[str]]:
        df = self.atlas.sql("SELECT DISTINCT year, mineral, stage, source_id FROM production")
        out: dict[tuple[int, str, str], list[str]] = defaultdict(list)
        for y, m, st, sid in zip(df.year, df.mineral, df.stage, df.source_id, strict=True):
            out[(int(y), str(m), str(st))].append(str(sid))
        return out

    def production_sources(self, year: int, mineral: str, stage: str,
                           family: str = "usgs-mcs") -> list[dict[str, Any]]:
        """Source files of ``family`` with production rows for (year, mineral, stage)."""
        ids = sorted(self._production_sources.get((year, mineral, stage), []))
        return [{"source_id": i, "family": self.releases[i][0], "release": self.releases[i][1]}
                for i in ids if i in self.releases and self.releases[i][0] == family]

    def sources_of(self, table: str, where: str, family: str) -> list[dict[str, Any]]:
        """Source files of ``family`` with rows in ``table`` matching ``where`` (SQL)."""
        ids = self.atlas.sql(f"SELECT DISTINCT source_id FROM {table} WHERE {where}").source_id
        return [{"source_id": i, "family": self.releases[i][0], "release": self.releases[i][1]}
                for i in sorted(ids) if i in self.releases and self.releases[i][0] == family]


def compute(atlas: Atlas, specs: Iterable[RuleSpec]) -> dict[Key, Reading]:
    """The reading of every indicator the (threshold and change) rules ``specs`` watch, each
    indicator family computed once, set-based, for all of them."""
    by_family: dict[str, dict[Key, RuleSpec]] = defaultdict(dict)
    for s in specs:
        fam = {"import_share": "trade", "import_hhi": "trade", "top_supplier_share": "trade",
               "production_hhi": "production", "production_top_share": "production"
               }.get(s.indicator, s.indicator)
        by_family[fam][key(s)] = s
    ctx = Context(atlas)
    out: dict[Key, Reading] = {}
    for fam, wanted in by_family.items():
        out.update(_FAMILIES[fam](ctx, wanted))
    return out


def supplier_values(ctx: Context, chain: str, year: int, minerals: set[str], importers: set[str]
                    ) -> dict[tuple[str, str], dict[str, float]]:
    """Import value (thousand USD) by exporter, per (mineral, importer), in ``year``
    (:func:`critmin.metrics.trade.mineral_trade` rows: one per exporter and importer)."""
    f = trade.mineral_trade(ctx.tf, ctx.hs, stage=chain, sources=ctx.src)
    f = f.filter((_.year == year) & _.mineral.isin(sorted(minerals))
                 & _.importer.isin(sorted(importers)) & (_.value_kusd > 0))
    df = f.select("mineral", "importer", "exporter", "value_kusd").to_pandas()
    out: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for m, i, e, v in zip(df.mineral, df.importer, df.exporter, df.value_kusd, strict=True):
        out[(m, i)][e] = out[(m, i)].get(e, 0.0) + float(v)
    return out


def import_values(ctx: Context, by_pair: dict[tuple[str, str], dict[str, float]], country: str,
                  mineral: str, year: int) -> dict[str, float]:
    """Imports of ``country`` (or of a group's members from outside the group) by supplier."""
    importers = ctx.expand(country, year)
    out: dict[str, float] = defaultdict(float)
    for i in importers:
        for e, v in by_pair.get((mineral, i), {}).items():
            if e not in importers:
                out[e] += v
    return {e: v for e, v in out.items() if v > 0}


def hs_code_lists(ctx: Context, chain: str, year: int, minerals: set[str], countries: set[str]
                  ) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """``(mineral, country) -> (hs_codes, hs_codes_missing)`` in ``year``, sorted: the HS codes
    with a flow the reading sums and the mapped codes without
    (:func:`critmin.metrics.trade.hs_coverage`). For a country, its imports (one grouped query
    for all the countries); for a group, its members' imports from outside the group, as
    :func:`import_values` sums them (one query per group)."""
    def lists(cov: Any, key: str) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
        df = cov.filter(cov.mineral.isin(sorted(minerals))).to_pandas()
        return {(str(m), str(k)): (sorted(c) if c is not None else [],
                                   sorted(x) if x is not None else [])
                for m, k, c, x in zip(df.mineral, df[key], df.hs_codes, df.hs_codes_missing,
                                      strict=True)}

    groups = {c for c in countries if ctx.expand(c, year) != {c}}
    plain = sorted(countries - groups)
    out: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    if plain:
        cov = trade.hs_coverage(ctx.tf, ctx.hs, year=year, stage=chain, sources=ctx.src)
        out.update(lists(cov.filter(cov.importer.isin(plain)), "importer"))
    for g in sorted(groups):
        mem = sorted(ctx.expand(g, year))
        cov = trade.hs_coverage(
            ctx.tf, ctx.hs, year=year, stage=chain, sources=ctx.src, by_importer=False,
            where=lambda j, mem=mem: j.importer.isin(mem) & ~j.exporter.isin(mem))
        out.update(lists(cov.mutate(group=ibis.literal(g)), "group"))
    return out


def coverage_detail(lists: dict[tuple[str, str], tuple[list[str], list[str]]], mineral: str,
                    country: str) -> dict[str, list[str]]:
    """A reading's ``hs_codes`` and ``hs_codes_missing`` (:func:`hs_code_lists`; empty when
    the country has no flow of the mineral)."""
    counted, missing = lists.get((mineral, country), ([], []))
    return {"hs_codes": counted, "hs_codes_missing": missing}


def _trade(ctx: Context, wanted: dict[Key, RuleSpec]) -> dict[Key, Reading]:
    year = ctx.trade_year
    if year is None:
        return {k: Reading(None, None, "baci") for k in wanted}
    sources = ctx.sources_of("trade_flows", f"year = {year}", "baci")
    out: dict[Key, Reading] = {}
    for chain in sorted({CHAIN[s.stage] for s in wanted.values()}):
        specs = {k: s for k, s in wanted.items() if CHAIN[s.stage] == chain}
        importers = set().union(*(ctx.expand(s.country, year) for s in specs.values()))
        minerals = {s.mineral for s in specs.values()}
        by_pair = supplier_values(ctx, chain, year, minerals, importers)
        lists = hs_code_lists(ctx, chain, year, minerals, {s.country for s in specs.values()})
        for k, s in specs.items():
            values = import_values(ctx, by_pair, s.country, s.mineral, year)
            total = sum(values.values())
            detail: dict[str, Any] = {"imports_kusd": total}
            value: float | None = None
            if total > 0:
                if s.indicator == "import_hhi":
                    value = concentration.hhi(list(values.values()))
                elif s.indicator == "top_supplier_share":
                    top = max(values, key=lambda e: (values[e], e))
                    value = values[top] / total
                    detail["top_supplier"] = top
                else:
                    sup = ctx.expand(s.supplier or "", year)
                    value = sum(v for e, v in values.items() if e in sup) / total
            detail.update(coverage_detail(lists, s.mineral, s.country))
            out[k] = Reading(value, year, "baci", sources, detail)
    return out


def _latest(df: pd.DataFrame, size: str) -> dict[tuple[str, str], Any]:
    """Per (mineral, stage): the row of the latest year with the largest ``size``."""
    df = df.sort_values(["mineral", "stage", "year", size], ascending=[True, True, False, False])
    return {(r.mineral, r.stage): r for r in df.drop_duplicates(["mineral", "stage"])
            .itertuples()}


def _production(ctx: Context, wanted: dict[Key, RuleSpec]) -> dict[Key, Reading]:
    from critmin.metrics.supply import preferred_family

    minerals = sorted({s.mineral for s in wanted.values()})
    p = ctx.prod.filter(_.mineral.isin(minerals) & _.stage.isin(["mine", "refinery"])
                        & (_.unit == "t"))
    p = preferred_family(p, ctx.src)  # one family per mineral and stage (refining: USGS, IEA, WMD)
    family = {(r.mineral, r.stage): str(r.family) for r in
              p.select("mineral", "stage", "family").distinct().to_pandas().itertuples()}
    conc = concentration.production_concentration(p.drop("family"), sources=ctx.src)
    latest = _latest(conc.to_pandas(), "total")
    out: dict[Key, Reading] = {}
    for k, s in wanted.items():
        c = latest.get((s.mineral, s.stage))
        fam = family.get((s.mineral, s.stage), "usgs-mcs")
        if c is None:
            out[k] = Reading(None, None, fam)
            continue
        year = int(c.year)
        value = float(c.hhi if s.indicator == "production_hhi" else c.top1_share)
        out[k] = Reading(value, year, fam, ctx.production_sources(year, s.mineral, s.stage, fam),
                         {"top_producer": str(c.top_supplier), "basis": str(c.basis)})
    return out


def _import_reliance(ctx: Context, wanted: dict[Key, RuleSpec]) -> dict[Key, Reading]:
    year = ctx.trade_year
    if year is None:
        return {k: Reading(None, None, "baci") for k in wanted}
    sources = (ctx.sources_of("trade_flows", f"year = {year}", "baci")
               + ctx.sources_of("production", f"year = {year}", "usgs-mcs"))
    out: dict[Key, Reading] = {}
    for stage in sorted({s.stage for s in wanted.values()}):
        specs = {k: s for k, s in wanted.items() if s.stage == stage}
        f = trade.mineral_trade(ctx.tf, ctx.hs, stage=CHAIN[stage], sources=ctx.src)
        f = f.filter((_.year == year) & _.mineral.isin(sorted({s.mineral for s in specs.values()})))
        r = trade.import_reliance(f, ctx.prod, stage=stage, sources=ctx.src)
        r = r.filter(_.country.isin(sorted({s.country for s in specs.values()}))).to_pandas()
        idx = r.set_index(["country", "mineral"])
        lists = hs_code_lists(ctx, CHAIN[stage], year, {s.mineral for s in specs.values()},
                              {s.country for s in specs.values()})
        for k, s in specs.items():
            value, flag = None, "no_trade_data"
            if (s.country, s.mineral) in idx.index:
                row = idx.loc[(s.country, s.mineral)]
                value = None if pd.isna(row.import_reliance) else float(row.import_reliance)
                flag = None if pd.isna(row.reliance_flag) else str(row.reliance_flag)
            out[k] = Reading(value, year, "baci", sources,
                             {"reliance_flag": flag,
                              **coverage_detail(lists, s.mineral, s.country)})
    return out


def _geopolrisk(ctx: Context, wanted: dict[Key, RuleSpec]) -> dict[Key, Reading]:
    from critmin.metrics.geopolrisk import geopolrisk

    year = ctx.trade_year
    if year is None:
        return {k: Reading(None, None, "baci") for k in wanted}
    gpr = geopolrisk(ctx.atlas, economies=sorted({s.country for s in wanted.values()}),
                     materials=sorted({s.mineral for s in wanted.values()}), years=[year])
    idx = {(str(e), str(m)): (v, c, x) for e, m, v, c, x in zip(
        gpr.economy, gpr.material, gpr.score, gpr.hs_codes, gpr.hs_codes_missing, strict=True)}
    sources = ctx.sources_of("trade_flows", f"year = {year}", "baci")
    out: dict[Key, Reading] = {}
    for k, s in wanted.items():
        v, c, x = idx.get((s.country, s.mineral), (None, None, None))
        detail = {"hs_codes": sorted(c if c is not None else ()),
                  "hs_codes_missing": sorted(x if x is not None else ())}
        out[k] = Reading(None if v is None or pd.isna(v) else float(v), year, "baci", sources,
                         detail)
    return out


def _n_minus_1(ctx: Context, wanted: dict[Key, RuleSpec]) -> dict[Key, Reading]:
    from critmin.scenarios.nminus1 import n_minus_1

    stages = sorted({s.stage for s in wanted.values()})
    t = n_minus_1(ctx.atlas, stage=stages[0] if len(stages) == 1 else None)
    latest = _latest(t, "world_production_t")
    out: dict[Key, Reading] = {}
    for k, s in wanted.items():
        c = latest.get((s.mineral, s.stage))
        if c is None:
            out[k] = Reading(None, None, "usgs-mcs")
            continue
        year = int(c.year)
        out[k] = Reading(None if pd.isna(c.coverage) else float(c.coverage), year, "usgs-mcs",
                         ctx.production_sources(year, s.mineral, s.stage),
                         {"top_producer": str(c.top_producer),
                          "content_flag": None if pd.isna(c.content_flag)
                          else str(c.content_flag)})
    return out


def _traced_origin(ctx: Context, wanted: dict[Key, RuleSpec]) -> dict[Key, Reading]:
    """Share of the importer's imports (contained tonnes) traced one step upstream to mines in
    the supplier country or bloc (:func:`critmin.valuechain.trace_all`, proportional
    sourcing)."""
    from critmin.valuechain import trace_all

    year = ctx.trade_year
    if year is None:
        return {k: Reading(None, None, "baci") for k in wanted}
    views = trace_all(ctx.atlas, year, sorted({s.mineral for s in wanted.values()})).views
    by_pair: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for m, i, c, v in zip(views.mineral, views.importer, views.country, views.traced_share,
                          strict=True):
        by_pair[(str(m), str(i))][str(c)] = float(v)
    sources = (ctx.sources_of("trade_flows", f"year = {year}", "baci")
               + ctx.sources_of("production", f"year = {year}", "usgs-mcs"))
    out: dict[Key, Reading] = {}
    for k, s in wanted.items():
        shares = by_pair.get((s.mineral, s.country))
        sup = ctx.expand(s.supplier or "", year)
        value = None if not shares else sum(v for c, v in shares.items() if c in sup)
        out[k] = Reading(value, year, "baci", sources)
    return out


_FAMILIES = {"trade": _trade, "production": _production, "import_reliance": _import_reliance,
             "geopolrisk": _geopolrisk, "n_minus_1": _n_minus_1,
             "traced_origin_share": _traced_origin}
