"""Disruption scenarios: export bans, N-1, re-routing and stockpiles.

"If country Y restricts exports of mineral M, how much of country X's supply is lost, who can fill
the gap, and how long do stockpiles last?" Layers, each usable on its own:

- :mod:`~critmin.scenarios.spec` - the scenario document (YAML/JSON, pydantic);
- :mod:`~critmin.scenarios.exposure` - direct loss without re-routing;
- :mod:`~critmin.scenarios.nminus1` - the N-1 test (largest producer removed);
- :mod:`~critmin.scenarios.reroute` - the re-routing LP and stockpile cover;
- :mod:`~critmin.scenarios.montecarlo` - random shocks for every exporter x mineral;
- :mod:`~critmin.scenarios.restrictions` - the registry of recorded restrictions.

:func:`run` ties them together for one scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from critmin.atlas import Atlas
    from critmin.scenarios.spec import ScenarioSpec

__all__ = ["ScenarioResult", "ScenarioSpec", "load_spec", "parse_spec", "run"]


def __getattr__(name: str) -> Any:
    """The scenario-spec models (pydantic) load on first use, not with the package: the N-1
    test and the other modules do not need them (PEP 562)."""
    if name in ("ScenarioSpec", "load_spec", "parse_spec"):
        from critmin.scenarios import spec

        return getattr(spec, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class ScenarioResult:
    """Tables answering one scenario (all pandas DataFrames; amounts in t/yr of product).

    - ``shocks``: the resolved shocks (exporter, mineral, stage, cut, targets, exports_t);
    - ``exposure``: per mineral, stage and importer: direct loss and its share of supply;
    - ``importers``: per affected importer after re-routing: loss, rerouted, shortfall (t and
      share of supply), stockpile, days covered, draw-down and residual shortfall;
    - ``supply_mix``: per affected importer and origin: base and post-shock supply and share;
    - ``summary``: per mineral and stage: total loss, spare capacity, rerouted and shortfall,
      then ``hs_codes`` (the codes whose world flows in the base year the figures sum) and
      ``hs_codes_missing`` (the mapped codes without a flow, or none with a quantity).
    """

    spec: ScenarioSpec
    shocks: pd.DataFrame
    exposure: pd.DataFrame
    importers: pd.DataFrame
    supply_mix: pd.DataFrame
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _targets(targets: str | list[str], importers: pd.Index, atlas: Atlas,
             year: int) -> frozenset[str] | None:
    from critmin.scenarios import data

    if targets == "all":
        return None
    if isinstance(targets, list):
        return frozenset(targets)
    neg = targets.startswith("non-")
    mem = data.members(atlas, targets[4:] if neg else targets, year)
    return frozenset(c for c in importers if (c not in mem) == neg)


def run(spec: ScenarioSpec | dict[str, Any] | str | Path,
        atlas: Atlas | None = None) -> ScenarioResult:
    """Run a scenario: exposure, then re-routing (unless ``reallocation.method: none``), then
    stockpiles. Shocks on the same mineral and stage are solved together in one LP."""
    from critmin.atlas import Atlas
    from critmin.scenarios import data, exposure, reroute
    from critmin.scenarios.nminus1 import world_hs_codes
    from critmin.scenarios.spec import load_spec, parse_spec

    if isinstance(spec, str | Path):
        spec = load_spec(spec)
    spec = parse_spec(spec)
    atlas = atlas or Atlas.open()
    year = spec.base_year
    _check_year(atlas, year)
    ra = spec.reallocation
    growth = 1.0 + spec.demand_growth
    groups: dict[tuple[str, str], list[Any]] = {}
    for s in spec.shocks:
        groups.setdefault((s.mineral, s.stage), []).append(s)
    preferred: frozenset[str] | None = None
    if ra.prefer:
        preferred = frozenset().union(*(data.members(atlas, g, year) for g in ra.prefer))
    stock_days = {(p.country, p.mineral): p.days_of_imports for p in spec.stockpiles}
    shock_rows, expo, imps, mixes, summ, notes = [], [], [], [], [], []
    for (mineral, stage), shocks in groups.items():
        flows = data.trade(atlas, year, stage, [mineral])
        counted = flows.attrs.get("hs_codes", {}).get(mineral, [])
        have, miss = world_hs_codes(atlas, stage, [year], [mineral]).get((mineral, year),
                                                                         ([], []))
        if flows.empty:
            notes.append(f"no BACI trade for {mineral} ({stage}) in {year}")
        flows = flows.assign(quantity_t=flows.quantity_t * growth)
        prod = data.production(atlas, year, data.PRODUCTION_STAGE[stage], [mineral])
        prod_t = prod.set_index("country").production_t * growth
        importers = pd.Index(flows.importer.unique())
        inputs = []
        for s in shocks:
            t = _targets(s.targets, importers, atlas, year)
            inputs.append(exposure.ShockInput(s.exporter, float(s.cut), t))
            shock_rows.append({
                "exporter": s.exporter, "mineral": mineral, "stage": stage, "cut": s.cut,
                "targets": s.targets if isinstance(s.targets, str) else ",".join(s.targets),
                "duration_months": s.duration_months, "restriction": s.restriction,
                "exports_t": float(flows.quantity_t[flows.exporter == s.exporter].sum()),
                "exports_to_targets_t": float(exposure.losses(
                    flows, [exposure.ShockInput(s.exporter, 1.0, t)]).loss_t.sum()),
            })
        ex = exposure.exposure(flows, inputs, prod_t)
        expo.append(ex.assign(mineral=mineral, stage=stage))
        loss = ex.set_index("importer").loss_t
        shocked = {i.exporter for i in inputs}
        exports = flows.groupby("exporter").quantity_t.sum()
        cap = reroute.spare_capacity(exports, prod_t / growth, ra.spare_capacity)
        cap = cap[~cap.index.isin(list(shocked))]
        theta = ra.theta if ra.method == "lp" else 0.0
        existing = zip(flows.exporter, flows.importer, strict=True)
        rr = reroute.solve(loss, cap, theta=theta, existing=existing, preferred=preferred,
                           new_partner_cost=ra.new_partner_cost, exclude=shocked)
        it = rr.importers.set_index("importer")
        supply = ex.set_index("importer").supply_t
        it["supply_t"] = supply.reindex(it.index)
        it["shortfall_share"] = it.shortfall_t / it.supply_t.where(it.supply_t > 0)
        imports = ex.set_index("importer").imports_t.reindex(it.index)
        days = pd.Series({j: stock_days.get((j, mineral), 0.0) for j in it.index}, dtype=float)
        stock = days / 365.0 * imports
        duration = max(s.duration_months for s in shocks)
        cover = reroute.stockpile_cover(it.shortfall_t, stock, duration)
        it = it.join(cover).reset_index()
        imps.append(it.assign(mineral=mineral, stage=stage, duration_months=duration))
        mixes.append(_mix(flows, prod_t, inputs, rr.flows, set(it.importer))
                     .assign(mineral=mineral, stage=stage))
        summ.append({"mineral": mineral, "stage": stage, "loss_t": float(loss.sum()),
                     "spare_capacity_t": float(cap.sum()), "theta": theta,
                     "rerouted_t": float(it.rerouted_t.sum()),
                     "shortfall_t": float(it.shortfall_t.sum()), "lp_status": rr.status,
                     "hs_codes": counted,
                     "hs_codes_missing": sorted({*miss, *have} - set(counted))})
    lead = ["mineral", "stage"]
    return ScenarioResult(
        spec=spec, shocks=pd.DataFrame(shock_rows),
        exposure=_front(pd.concat(expo, ignore_index=True), lead),
        importers=_front(pd.concat(imps, ignore_index=True), lead).sort_values(
            ["mineral", "stage", "shortfall_t"], ascending=[True, True, False],
            ignore_index=True),
        supply_mix=_front(pd.concat(mixes, ignore_index=True), lead),
        summary=pd.DataFrame(summ), notes=notes)


def _check_year(atlas: Atlas, year: int) -> None:
    from critmin.errors import SpecError

    yt = atlas.table("trade_flows").select("year").distinct().to_pandas()
    years = sorted(int(y) for y in yt.year)
    if year not in years:
        have = f"{years[0]}-{years[-1]}" if years else "none"
        raise SpecError(f"base_year: no BACI trade for {year} in the atlas {atlas.path} "
                        f"(years loaded: {have})")


def _front(df: pd.DataFrame, lead: list[str]) -> pd.DataFrame:
    return df[lead + [c for c in df.columns if c not in lead]]


def _mix(flows: pd.DataFrame, prod_t: pd.Series, shocks: list[Any], rerouted: pd.DataFrame,
         importers: set[str]) -> pd.DataFrame:
    """Supply by origin of the affected importers before and after the shock (own production
    appears with origin = the importer itself)."""
    from critmin.scenarios.exposure import losses

    f = flows[flows.importer.isin(importers)][["exporter", "importer", "quantity_t"]]
    base = f.rename(columns={"exporter": "origin", "quantity_t": "base_t"})
    own = pd.DataFrame({"origin": list(importers), "importer": list(importers)})
    own["base_t"] = own.importer.map(prod_t).fillna(0.0).astype(float)
    base = pd.concat([base, own[own.base_t > 0]], ignore_index=True)
    lo = losses(f, shocks).groupby(["exporter", "importer"]).loss_t.sum()
    rr = rerouted.groupby(["exporter", "importer"]).rerouted_t.sum()
    out = base.groupby(["importer", "origin"], as_index=False).base_t.sum()
    key = pd.MultiIndex.from_frame(out[["origin", "importer"]])
    out["lost_t"] = lo.reindex(key).fillna(0.0).to_numpy()
    extra = rr[~rr.index.isin(key)]
    if len(extra):
        add = pd.DataFrame({"origin": extra.index.get_level_values(0),
                            "importer": extra.index.get_level_values(1), "base_t": 0.0,
                            "lost_t": 0.0})
        out = pd.concat([out, add], ignore_index=True)
        key = pd.MultiIndex.from_frame(out[["origin", "importer"]])
    out["rerouted_t"] = rr.reindex(key).fillna(0.0).to_numpy()
    out["after_t"] = out.base_t - out.lost_t + out.rerouted_t
    tot_b = out.groupby("importer").base_t.transform("sum")
    tot_a = out.groupby("importer").after_t.transform("sum")
    out["share_before"] = out.base_t / tot_b.where(tot_b > 0)
    out["share_after"] = out.after_t / tot_a.where(tot_a > 0)
    return out.sort_values(["importer", "after_t"], ascending=[True, False], ignore_index=True)
