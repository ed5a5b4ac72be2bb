"""What the dashboard pages and the country brief show, as plain tables (pandas) and dicts.

Each function composes library calls (:mod:`critmin.metrics`, :func:`critmin.assess`,
:mod:`critmin.scenarios`, :mod:`critmin.cooperation`) for one page; the web routes, the brief and
any Python user call the same functions, so no surface computes anything itself. Amounts keep
their units in the column names (``value_kusd`` thousand USD, ``quantity_t`` tonnes); shares are
fractions 0-1. Missing data stays missing (NaN / None), never zero.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from critmin import provenance as cite
from critmin import reference, schema
from critmin.atlas import Atlas
from critmin.errors import CritminError, NoDataError

#: Minerals shown on the home page when the atlas has them (the usual "battery + magnet" set).
MAIN_MINERALS = ("lithium", "cobalt", "nickel", "graphite", "rare_earths", "manganese", "copper",
                 "gallium", "germanium", "platinum", "tungsten", "antimony")

CITATION = ("critmin contributors ({year}). critmin country brief: {name}. Atlas version {version}. "
            "Data: {publishers}.")


#: Tooltip of a figure the publisher marks as an estimate.
ESTIMATE_NOTE = ("estimate: the publisher marks the figure as an estimate (USGS 'E', World "
                 "Mining Data 'e'/'p')")


def flag_notes(flags: Any, texts: dict[str, str]) -> list[str | None]:
    """The reason of each flag of ``flags`` (``texts``), for a tooltip; None where no flag."""
    return [texts[f] if isinstance(f, str) and f in texts else None for f in flags]


def estimate_notes(estimated: Any, what: str = "") -> list[str | None]:
    """:data:`ESTIMATE_NOTE` (with ``what`` rests on it) where ``estimated`` is true."""
    return [(ESTIMATE_NOTE + (f"; {what}" if what else "")) if e is True or e == 1 else None
            for e in (pd.Series(estimated, dtype=object).where(pd.notna(estimated), None))]


def codes_note(have: Any, missing: Any) -> str:
    """Tooltip text of the HS codes a trade figure counts and the mapped codes without data."""
    have = list(have) if have is not None else []
    missing = list(missing) if missing is not None else []
    text = "HS codes counted: " + (", ".join(have) if have else "none")
    return text + (f"; mapped without data: {', '.join(missing)}" if missing else "")


def minerals(atlas: Atlas) -> pd.DataFrame:
    """The mineral catalogue: ``mineral, name, family, basis`` (sorted by name)."""
    return (atlas.table("minerals").select("mineral", "name", "family", "basis").to_pandas()
            .sort_values("name", ignore_index=True))


def countries(atlas: Atlas) -> pd.DataFrame:
    """Countries (not groups or regions): ``iso3, name`` sorted by name."""
    c = atlas.table("countries")
    return (c.filter(c.kind == "country").select("iso3", "name").to_pandas()
            .sort_values("name", ignore_index=True))


def mineral_name(atlas: Atlas, mineral: str) -> str:
    """The display name of ``mineral``; raises :class:`CritminError` for unknown ids."""
    return reference.minerals()[reference.require_mineral(mineral)].name


def country_name(atlas: Atlas, iso3: str) -> str:
    c = atlas.table("countries")
    hit = c.filter(c.iso3 == iso3).select("name").to_pandas()
    return str(hit.name.iloc[0]) if len(hit) else iso3


def search(atlas: Atlas, query: str, limit: int = 20) -> list[dict[str, str]]:
    """Minerals and countries whose id, code or name contains ``query`` (case-insensitive):
    ``[{"kind": "mineral"|"country", "id", "name", "url"}]``."""
    q = query.strip().lower()
    if not q:
        return []
    out: list[dict[str, str]] = []
    for r in minerals(atlas).itertuples():
        if q in str(r.mineral).lower() or q in str(r.name).lower():
            out.append({"kind": "mineral", "id": r.mineral, "name": r.name,
                        "url": f"/minerals/{r.mineral}"})
    for r in countries(atlas).itertuples():
        if q == str(r.iso3).lower() or q in str(r.name).lower():
            out.append({"kind": "country", "id": r.iso3, "name": r.name,
                        "url": f"/countries/{r.iso3}"})
    return out[:limit]


# ------------------------------------------------------------------------------------ minerals


def concentration(atlas: Atlas, mineral: str | None = None, *, family: str = "auto"
                  ) -> pd.DataFrame:
    """Production concentration per mineral, stage and year from one source family per mineral
    and stage (``auto``: USGS MCS; for refining, else the IEA, else World Mining Data; see
    :func:`critmin.metrics.supply.preferred_family`; or the pinned ``family``): ``mineral,
    stage, year, unit, basis, total, n_suppliers, hhi, top1_share, top3_share,
    top_supplier``."""
    from critmin.metrics.concentration import family_concentration
    from critmin.metrics.supply import check_family

    if mineral is not None:
        mineral = reference.require_mineral(mineral)
    check_family(family)
    df = family_concentration(atlas, mineral, family=family)
    return df.sort_values(["mineral", "stage", "year"], ignore_index=True)


#: Columns of the concentration view (``critmin concentration`` and ``/api/v1/concentration``).
CONCENTRATION_COLUMNS = ["mineral", "stage", "year", "unit", "basis", "total", "n_suppliers",
                         "hhi", "hhi_points", "top1_share", "top3_share", "top_producer",
                         "published_total", "total_flag", "top_estimated", "estimated_share"]


def concentration_view(full: pd.DataFrame, mineral: str, stage: str | None = None,
                       year: int | None = None) -> pd.DataFrame:
    """The concentration rows of ``mineral`` (optionally one ``stage`` and ``year``) from
    :func:`concentration` output, as ``critmin concentration`` and the API show them.

    Unknown mineral or stage, or a year the mineral's data does not cover, raise
    :class:`~critmin.errors.ChoiceError`; a mineral without production data raises
    :class:`~critmin.errors.NoDataError` saying so."""
    mineral = reference.require_mineral(mineral)
    if stage is not None:
        reference.require_choice("stage", stage, sorted(schema.STAGES))
    df = full[full["mineral"] == mineral]
    if df.empty:
        raise NoDataError(f"no production data for {mineral}: no production source in the atlas "
                          "reports it")
    if stage is not None:
        if not (df["stage"] == stage).any():
            raise NoDataError(f"no {stage} production data for {mineral}: the atlas has "
                              + ", ".join(sorted(set(df["stage"]))))
        df = df[df["stage"] == stage]
    if year is not None:
        reference.require_year(year, df["year"], what=f"production data for {mineral}")
        df = df[df["year"] == year]
    return df.rename(columns={"top_supplier": "top_producer"}).sort_values(
        ["stage", "year"], ignore_index=True)[CONCENTRATION_COLUMNS]


def main_concentration(atlas: Atlas) -> pd.DataFrame:
    """Latest-year mine (else first stage) concentration of :data:`MAIN_MINERALS` in the atlas,
    with the mineral's name; sorted by HHI, most concentrated first."""
    df = concentration(atlas)
    df = df[df.mineral.isin(MAIN_MINERALS)]
    if df.empty:
        return df.assign(name=pd.Series(dtype=str))
    df = df.sort_values(["mineral", "stage", "year"])
    latest = df.groupby(["mineral", "stage"]).tail(1)
    latest = latest.assign(_mine=(latest.stage != "mine").astype(int)).sort_values(
        ["mineral", "_mine"]).groupby("mineral").head(1).drop(columns="_mine")
    names = minerals(atlas).set_index("mineral").name
    latest = latest.assign(name=latest.mineral.map(names),
                           top_supplier_note=estimate_notes(
                               latest.get("top_estimated", pd.Series(False, index=latest.index)),
                               "the shares and HHI rest on it"))
    return latest.sort_values("hhi", ascending=False, ignore_index=True)


def producers(atlas: Atlas, mineral: str, stage: str | None = None) -> pd.DataFrame:
    """Producers of ``mineral`` in the latest USGS year of ``stage`` (default: ``mine`` when
    present, else the first stage): ``country, name, stage, year, value, unit, basis, share,
    estimated`` (``estimated``: the publisher marks the figure as an estimate, USGS ``E``)."""
    from critmin.cooperation.analytics import usgs_production
    from critmin.metrics.concentration import NOT_COUNTRIES, REST_OF_WORLD, WORLD
    from critmin.metrics.formulas import calc_shares, calc_world_total

    p = usgs_production(atlas, mineral, aggregates=True).to_pandas()
    if p.empty:
        return pd.DataFrame(columns=["country", "name", "stage", "year", "value", "unit", "basis",
                                     "share", "estimated"])
    if stage is None:
        stages = list(p.stage.unique())
        stage = "mine" if "mine" in stages else sorted(stages)[0]
    p = p[p.stage == stage]
    p = p[p.year == p.year.max()]
    p = p.assign(estimated=p.estimated.fillna(False).astype(bool)).groupby(
        ["country", "stage", "year", "unit", "basis"], as_index=False).agg(
        value=("value", "sum"), estimated=("estimated", "any"))
    world = {}  # shares are of the world total (named countries plus the rest of world)
    for key, g in p.groupby(["unit", "basis"]):
        v = g.set_index("country").value
        world[key] = calc_world_total(float(v.drop(list(NOT_COUNTRIES), errors="ignore").sum()),
                                      v.get(REST_OF_WORLD), v.get(WORLD))[0]
    p = p[~p.country.isin(NOT_COUNTRIES)]
    p = p.assign(share=[calc_shares(v, world[(u, b)])
                        for v, u, b in zip(p.value, p.unit, p.basis, strict=True)])
    names = countries(atlas).set_index("iso3").name
    p = p.assign(name=p.country.map(names).fillna(p.country))
    return p.sort_values("value", ascending=False, ignore_index=True)[
        ["country", "name", "stage", "year", "value", "unit", "basis", "share", "estimated"]]


def _mineral_flows(atlas: Atlas, mineral: str, year: int | None = None) -> tuple[Any, int | None]:
    from ibis import _

    from critmin.metrics.trade import mineral_trade

    f = mineral_trade(atlas.table("trade_flows"), atlas.table("hs_map"),
                      sources=atlas.table("sources")).filter(_.mineral == mineral)
    if year is None:
        y = f.year.max().to_pandas()
        if y is None or pd.isna(y):
            return f, None
        year = int(y)
    return f.filter(_.year == year), year


def exporters(atlas: Atlas, mineral: str, year: int | None = None, top: int = 10
              ) -> pd.DataFrame:
    """Top exporters of ``mineral`` (BACI, all HS codes of the mineral) in ``year`` (default:
    latest): ``exporter, name, year, value_kusd, quantity_t, share`` (share of world exports by
    value)."""
    from ibis import _

    f, year = _mineral_flows(atlas, mineral, year)
    cols = ["exporter", "name", "year", "value_kusd", "quantity_t", "share"]
    if year is None:
        return pd.DataFrame(columns=cols)
    g = f.group_by("exporter").aggregate(value_kusd=_.value_kusd.sum(),
                                         quantity_t=_.quantity_t.sum()).to_pandas()
    g = g.assign(share=g.value_kusd / g.value_kusd.sum(), year=year)
    names = countries(atlas).set_index("iso3").name
    g = g.assign(name=g.exporter.map(names).fillna(g.exporter))
    return g.sort_values("value_kusd", ascending=False, ignore_index=True).head(top)[cols]


def flows(atlas: Atlas, mineral: str, year: int | None = None, top: int = 25) -> pd.DataFrame:
    """The ``top`` largest bilateral flows of ``mineral`` by value: ``exporter, importer, year,
    value_kusd, quantity_t`` (for the Sankey diagram)."""
    f, year = _mineral_flows(atlas, mineral, year)
    cols = ["exporter", "importer", "year", "value_kusd", "quantity_t"]
    if year is None:
        return pd.DataFrame(columns=cols)
    df = f.order_by(ibis_desc("value_kusd")).limit(top).to_pandas()
    return df[cols].reset_index(drop=True)


def ibis_desc(col: str) -> Any:
    import ibis

    return ibis.desc(col)


def n_minus_1(atlas: Atlas, mineral: str) -> pd.DataFrame:
    """The N-1 test for ``mineral`` (:func:`critmin.scenarios.nminus1.n_minus_1`), with the
    tooltips ``coverage_note`` (why a coverage is above 100 %) and ``top_producer_note`` (the
    top producer's figure is an estimate)."""
    from critmin.metrics.formulas import ABOVE_100_FLAGS
    from critmin.scenarios.nminus1 import n_minus_1 as calc

    df = calc(atlas, mineral=mineral)
    return df.assign(coverage_note=flag_notes(df.coverage_flag, ABOVE_100_FLAGS),
                     top_producer_note=estimate_notes(df.top_estimated,
                                                      "its share and the coverage rest on it"))


def layers(atlas: Atlas, mineral: str) -> pd.DataFrame:
    """The three layers of a mineral, latest year of each: mined and refined (production, one
    source family per stage) and traded (exports of processed goods by value, BACI): ``layer,
    rank, country, name, year, amount, unit, share, source, estimated`` (the publisher marks the
    production figure as an estimate). The refiner is shown apart from the source of its ore."""
    from ibis import _

    from critmin.cooperation.analytics import usgs_production
    from critmin.metrics.trade import mineral_trade

    out = []
    p = usgs_production(atlas, mineral).to_pandas()
    for stage, layer in (("mine", "mined"), ("refinery", "refined")):
        q = p[(p.stage == stage) & (p.unit == "t")]
        if q.empty:
            continue
        q = q[q.year == q.year.max()]
        q = q[q.basis == q.groupby("basis").value.sum().idxmax()]
        q = q.assign(est=q.estimated.fillna(False).astype(bool)
                     | (q.flag == "provisional").fillna(False))
        g = q.groupby("country", as_index=False).agg(value=("value", "sum"), est=("est", "any"))
        total = g.value.sum()  # incl. a publisher's rest of world
        g = g[g.country != "XRW"].nlargest(5, "value")
        src = ", ".join(sorted(set(q.source_id)))
        out += [{"layer": layer, "rank": i + 1, "country": r.country, "year": int(q.year.max()),
                 "amount": r.value, "unit": f"t ({q.basis.iloc[0]})", "share": r.value / total,
                 "source": src, "estimated": bool(r.est)} for i, r in enumerate(g.itertuples())]
    hs = atlas.table("hs_map")
    f = mineral_trade(atlas.table("trade_flows"), hs.filter(hs.chain_stage == "refined"),
                      sources=atlas.table("sources")).filter(_.mineral == mineral)
    y = f.year.max().to_pandas()
    if y is not None and not pd.isna(y):
        g = f.filter(_.year == int(y)).group_by("exporter").aggregate(
            v=_.value_kusd.sum()).to_pandas()
        tot = g.v.sum()
        g = g.nlargest(5, "v")
        out += [{"layer": "traded (processed goods)", "rank": i + 1, "country": r.exporter,
                 "year": int(y), "amount": r.v, "unit": "kUSD", "share": r.v / tot,
                 "source": "CEPII BACI", "estimated": False} for i, r in enumerate(g.itertuples())]
    cols = ["layer", "rank", "country", "name", "year", "amount", "unit", "share", "source",
            "estimated"]
    df = pd.DataFrame(out, columns=[c for c in cols if c != "name"])
    names = countries(atlas).set_index("iso3").name
    return df.assign(name=df.country.map(names).fillna(df.country))[cols]


def chain_flows(atlas: Atlas, mineral: str, importer: str | None = None) -> pd.DataFrame:
    """Traced flows (mine origin -> exporter -> importer, contained t) of ``mineral`` in the
    latest trade year, for every importer or one (:func:`critmin.valuechain.trace_all`)."""
    from critmin.valuechain import trace_all

    years = trade_years(atlas)
    if not years:
        return pd.DataFrame(columns=["mineral", "importer", "exporter", "origin", "amount_t",
                                     "how"])
    f = trace_all(atlas, max(years), [mineral]).flows
    return f if importer is None else f[f.importer == importer]


#: How many of a country's largest imports the country page tries for its traced-chain Sankey
#: (the first with traced flows is drawn; coking coal, for one, has no mine data to trace to).
CHAIN_TRIES = 5


def outlook_page(atlas: Atlas, mineral: str) -> dict[str, Any] | None:
    """Demand by scenario and refining supply by country for the mineral page's outlook chart,
    or None when the atlas has no IEA outlook for ``mineral``."""
    from critmin.valuechain import SCENARIOS, TOTAL_SECTORS, outlook_minerals, outlooks

    if mineral not in outlook_minerals(atlas):
        return None
    every = outlooks(atlas, [mineral], SCENARIOS)
    frames = []
    for scen in SCENARIOS:
        d = every[(mineral, scen)].demand
        d = d[d.sector.isin(TOTAL_SECTORS)]
        frames.append(d.groupby(["scenario", "year"], as_index=False).demand_t.sum())
    demand = pd.concat(frames).drop_duplicates(["scenario", "year"])
    first = every[(mineral, SCENARIOS[0])]
    return {"demand": demand, "supply": first.supply[first.supply.stage == "refinery"],
            "balance": first.balance, "notes": first.notes}


def mineral_page(atlas: Atlas, mineral: str) -> dict[str, Any]:
    """Everything the mineral page shows: name, producers, concentration over time, the three
    layers (mined, refined, traded), exporters, flows, the traced chain, the outlook and the N-1
    table."""
    return {"mineral": mineral, "name": mineral_name(atlas, mineral),
            "producers": producers(atlas, mineral), "concentration": concentration(atlas, mineral),
            "layers": layers(atlas, mineral), "chain": chain_flows(atlas, mineral),
            "outlook": outlook_page(atlas, mineral),
            "exporters": exporters(atlas, mineral), "flows": flows(atlas, mineral),
            "trade_codes": trade_codes(atlas, mineral), "n_minus_1": n_minus_1(atlas, mineral)}


def trade_codes(atlas: Atlas, mineral: str, year: int | None = None) -> dict[str, Any]:
    """The HS codes the mineral's world trade figures (exporters, flows) count in ``year``
    (default: the latest trade year of the mineral) and the mapped codes without any flow:
    ``{"year", "hs_codes", "hs_codes_missing", "note"}``
    (:func:`critmin.metrics.trade.hs_coverage`)."""
    from critmin.metrics.trade import hs_coverage

    _f, year = _mineral_flows(atlas, mineral, year)
    if year is None:
        return {"year": None, "hs_codes": [], "hs_codes_missing": [], "note": ""}
    hs = atlas.table("hs_map")
    cov = hs_coverage(atlas.table("trade_flows"), hs.filter(hs.mineral == mineral), year=year,
                      by_importer=False, sources=atlas.table("sources")).to_pandas()
    have = sorted(cov.hs_codes.iloc[0] or []) if len(cov) else []
    missing = sorted(cov.hs_codes_missing.iloc[0] or []) if len(cov) else []
    return {"year": year, "hs_codes": have, "hs_codes_missing": missing,
            "note": codes_note(have, missing)}


# ------------------------------------------------------------------------------------ countries


def risk_table(atlas: Atlas, country: str, year: int | None = None) -> pd.DataFrame:
    """The country's supply-risk table (:func:`critmin.assess`), with mineral names."""
    from critmin.assessment import assess

    df = assess(country, year=year, atlas=atlas)
    names = minerals(atlas).set_index("mineral").name
    return df.assign(name=df.mineral.map(names).fillna(df.mineral))


#: The risk matrix's axes: (column, label). x is always the top supplier's share of imports
#: (known wherever the country imports the mineral; import reliance stays in the table, where a
#: blank carries its reason); y is the GeoPolRisk score when the atlas can compute it (it has the
#: GeoPolRisk material map), else the concentration of imports. The choice depends on the atlas,
#: never on the country, so every country page has the same axes.
MATRIX_X = ("top_supplier_share", "share of imports from the top supplier")
MATRIX_Y = ("geopolrisk", "GeoPolRisk score")
MATRIX_Y_FALLBACK = ("import_hhi", "import concentration (HHI; GeoPolRisk not in this atlas)")


def matrix_axes(atlas: Atlas) -> tuple[tuple[str, str], tuple[str, str]]:
    """The (x, y) axes of the risk matrix for ``atlas`` (the same for every country)."""
    try:
        has_map = int(atlas.table("material_hs_map").count().to_pandas()) > 0
    except CritminError:
        has_map = False
    return MATRIX_X, (MATRIX_Y if has_map else MATRIX_Y_FALLBACK)


def risk_matrix(risk: pd.DataFrame, axes: tuple[tuple[str, str], tuple[str, str]] = (
        MATRIX_X, MATRIX_Y)) -> dict[str, Any]:
    """Axes and points of the risk matrix from a :func:`risk_table`, on ``axes`` (see
    :func:`matrix_axes`). Minerals missing either value are listed in ``missing`` with the
    reason, not plotted at zero."""
    (x, xl), (y, yl) = axes
    xs = pd.to_numeric(risk[x], errors="coerce") if x in risk else pd.Series(float("nan"),
                                                                            index=risk.index)
    ys = pd.to_numeric(risk[y], errors="coerce") if y in risk else pd.Series(float("nan"),
                                                                            index=risk.index)
    ok = xs.notna() & ys.notna()
    return {"x": x, "y": y, "x_label": xl, "y_label": yl,
            "points": [{"mineral": m, "name": n, "x": float(a), "y": float(b),
                        "imports_kusd": float(v) if pd.notna(v) else None}
                       for m, n, a, b, v in zip(risk.mineral[ok], risk.name[ok], xs[ok], ys[ok],
                                                risk.imports_kusd[ok], strict=True)],
            "missing": list(risk.name[~ok])}


SUPPLIER_COLUMNS = ["exporter", "name", "year", "value_kusd", "share", "minerals", "hs_codes",
                    "hs_codes_missing", "codes_note"]


def suppliers(atlas: Atlas, country: str, year: int | None = None, top: int = 10
              ) -> pd.DataFrame:
    """The table of :func:`supplier_table`."""
    return supplier_table(atlas, country, year, top)[0]


def supplier_table(atlas: Atlas, country: str, year: int | None = None, top: int = 10
                   ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(table, codes): the country's largest suppliers over all mapped minerals in ``year`` (default: latest):
    ``exporter, name, year, value_kusd, share, minerals, hs_codes, hs_codes_missing,
    codes_note``: the HS codes each value counts (codes with an import row from that supplier)
    and the mapped codes of its minerals without any import row for the country
    (:func:`critmin.metrics.trade.hs_coverage`); ``codes_note`` says both as a tooltip. codes:
    the codes the total (the shares' denominator) counts, :func:`supplier_codes`."""
    from ibis import _

    from critmin.metrics.trade import hs_codes_by_exporter, mineral_trade
    from critmin.reference import resolve_country

    iso3 = resolve_country(country)
    tf, hs, src = atlas.table("trade_flows"), atlas.table("hs_map"), atlas.table("sources")
    f = mineral_trade(tf, hs, sources=src).filter(_.importer == iso3)
    if year is None:
        y = f.year.max().to_pandas()
        if y is None or pd.isna(y):
            return pd.DataFrame(columns=SUPPLIER_COLUMNS), supplier_codes(atlas, iso3, None)
        year = int(y)
    df = f.filter(_.year == year).to_pandas()
    g = df.groupby("exporter").agg(value_kusd=("value_kusd", "sum"),
                                   minerals=("mineral", lambda s: ", ".join(sorted(set(s)))))
    g = g.reset_index()
    g = g.assign(share=g.value_kusd / g.value_kusd.sum(), year=year)
    names = countries(atlas).set_index("iso3").name
    g = g.assign(name=g.exporter.map(names).fillna(g.exporter))
    g = g.sort_values("value_kusd", ascending=False, ignore_index=True).head(top)
    by_exp = hs_codes_by_exporter(tf, hs, year=year, importer=iso3, sources=src).to_pandas()
    have: dict[str, set[str]] = {}
    for e, codes in zip(by_exp.exporter, by_exp.hs_codes, strict=True):
        have.setdefault(e, set()).update(codes if codes is not None else ())
    codes = supplier_codes(atlas, iso3, year)
    missing = codes["by_mineral"]
    g["hs_codes"] = [sorted(have.get(e, ())) for e in g.exporter]
    g["hs_codes_missing"] = [sorted({c for m in ms.split(", ") for c in missing.get(m, ())})
                             for ms in g.minerals]
    g["codes_note"] = [codes_note(h, m) for h, m in zip(g.hs_codes, g.hs_codes_missing,
                                                        strict=True)]
    return g[SUPPLIER_COLUMNS], codes


def supplier_codes(atlas: Atlas, iso3: str, year: int | None) -> dict[str, Any]:
    """The HS codes ``iso3``'s imports of every mapped mineral count in ``year`` (the total the
    suppliers' shares divide by) and the mapped codes without an import row:
    ``{"year", "hs_codes", "hs_codes_missing", "note", "by_mineral"}`` (``by_mineral``: mineral ->
    its codes without data; :func:`critmin.metrics.trade.hs_coverage`)."""
    from critmin.metrics.trade import hs_coverage

    if year is None:
        return {"year": None, "hs_codes": [], "hs_codes_missing": [], "note": "",
                "by_mineral": {}}
    cov = hs_coverage(atlas.table("trade_flows"), atlas.table("hs_map"), year=year,
                      importer=iso3, sources=atlas.table("sources")).to_pandas()
    by_mineral = {m: sorted(x) if x is not None else []
                  for m, x in zip(cov.mineral, cov.hs_codes_missing, strict=True)}
    have = sorted({c for h in cov.hs_codes if h is not None for c in h})
    missing = sorted({c for x in by_mineral.values() for c in x})
    return {"year": year, "hs_codes": have, "hs_codes_missing": missing,
            "note": codes_note(have, missing), "by_mineral": by_mineral}


def coverage_group(atlas: Atlas, iso3: str, group: str | None = None) -> str:
    """``group`` or the first group of :func:`critmin.reference.groups` that ``iso3`` belongs to
    (else the first group)."""
    if group:
        return reference.require_group(group)
    cg = atlas.table("country_groups")
    mine = set(cg.filter(cg.iso3 == iso3).group_id.to_pandas())
    return next((g for g in reference.groups() if g in mine), reference.groups()[0])


def partner_coverage(atlas: Atlas, iso3: str, group: str | None = None,
                     year: int | None = None) -> pd.DataFrame:
    """How much of ``iso3``'s imports from outside ``group`` its partners could supply
    (:func:`critmin.cooperation.analytics.coverage`)."""
    from critmin.cooperation.analytics import coverage

    return coverage(iso3, coverage_group(atlas, iso3, group), year=year, atlas=atlas)


def country_page(atlas: Atlas, country: str, year: int | None = None,
                 group: str | None = None) -> dict[str, Any]:
    """Everything the country page shows, with tooltips: ``imports_note`` (the HS codes each
    import figure counts), the reasons of blank reliances, of coverages above 100 % and of
    estimates."""
    from critmin.metrics.formulas import ABOVE_100_FLAGS, RELIANCE_FLAGS
    from critmin.reference import resolve_country

    iso3 = resolve_country(country)
    risk = risk_table(atlas, iso3, year)
    if "import_reliance_flag" in risk.columns:  # the reason of a blank, as a tooltip
        risk = risk.assign(import_reliance_note=[
            RELIANCE_FLAGS.get(f, f) if isinstance(f, str) else None
            for f in risk.import_reliance_flag])
    risk = risk.assign(
        imports_note=[codes_note(h, m) for h, m in zip(risk.hs_codes, risk.hs_codes_missing,
                                                       strict=True)],
        top_producer_mine_note=estimate_notes(risk.top_producer_estimated_mine,
                                              "the mine HHI and top-3 share rest on it"),
        top_producer_refinery_note=estimate_notes(
            risk.top_producer_estimated_refinery, "the refining HHI and top-3 share rest on it"))
    g = coverage_group(atlas, iso3, group)
    sup, sup_codes = supplier_table(atlas, iso3, year)
    try:
        cov = partner_coverage(atlas, iso3, g, year)
        cov = cov.assign(coverage_note=flag_notes(cov.flag, ABOVE_100_FLAGS),
                         coverage_value_note=flag_notes(cov.coverage_value_flag,
                                                        ABOVE_100_FLAGS),
                         imports_note=[codes_note(h, m) for h, m in zip(
                             cov.hs_codes, cov.hs_codes_missing, strict=True)],
                         partner_note=[codes_note(h, m) for h, m in zip(
                             cov.partner_hs_codes, cov.partner_hs_codes_missing, strict=True)])
    except CritminError as exc:
        cov = pd.DataFrame({"note": [str(exc)]})
    return {"iso3": iso3, "name": country_name(atlas, iso3),
            "year": int(risk.year.max()) if len(risk) else year, "risk": risk,
            "by_stage": imports_by_stage(atlas, iso3, year),
            "matrix": risk_matrix(risk, matrix_axes(atlas)), "suppliers": sup,
            "suppliers_codes": sup_codes,
            "group": g, "coverage": cov, "lists": critical_lists(atlas, risk)}


def outlook_summary(atlas: Atlas, minerals: list[str], scenario: str = "STEPS") -> pd.DataFrame:
    """The outlook (IEA) of each of ``minerals`` that has one, refining stage: ``mineral, year,
    demand_t, supply_t, balance_t, top_producer, top3_share, hhi`` for 2024-2040."""
    from critmin.valuechain import outlook_minerals, outlooks

    have = [m for m in outlook_minerals(atlas) if m in set(minerals)]
    frames = [o.balance for o in outlooks(atlas, have, [scenario]).values()] if have else []
    cols = ["mineral", "year", "demand_t", "supply_t", "balance_t", "top_producer",
            "top3_share", "hhi"]
    if not frames:
        return pd.DataFrame(columns=cols)
    df = pd.concat(frames, ignore_index=True)
    return df[df.stage == "refinery"][cols].reset_index(drop=True)


#: Import stages shown to users: hs_map ``stage`` -> ore, refined or chemical, component.
IMPORT_STAGES = {"ore": "ore", "intermediate": "refined or chemical",
                 "chemical": "refined or chemical", "metal": "refined or chemical",
                 "alloy": "refined or chemical", "scrap": "refined or chemical"}
#: HS codes that are components (manufactured parts), not materials.
COMPONENT_CODES = frozenset({"850511"})


def imports_by_stage(atlas: Atlas, country: str, year: int | None = None) -> pd.DataFrame:
    """A country's imports per mineral and stage (ore; refined or chemical; component) in
    ``year`` (default: latest): ``mineral, stage, year, imports_kusd, content_t, share,
    hs_codes, hs_codes_missing``: the HS codes counted (codes with import rows for the country
    in the atlas release read, with their revision) and the mapped codes of that stage without
    any (:func:`critmin.metrics.trade.hs_coverage`). A stage of an imported mineral whose mapped
    codes have no import row is a row without figures (imports unknown, not zero) listing
    them."""
    from ibis import _

    from critmin.metrics.trade import hs_coverage, mineral_trade
    from critmin.reference import resolve_country

    iso3 = resolve_country(country)
    cols = ["mineral", "stage", "year", "imports_kusd", "content_t", "share", "hs_codes",
            "hs_codes_missing"]
    hs = atlas.table("hs_map").to_pandas()
    tf, src = atlas.table("trade_flows"), atlas.table("sources")
    frames = []
    hs["kind"] = hs.stage.map(IMPORT_STAGES).where(~hs.hs_code.isin(COMPONENT_CODES),
                                                   "component")
    for kind, g in hs.groupby("kind"):
        m = atlas.table("hs_map").filter(_.hs_code.isin(list(g.hs_code.unique())))
        f = mineral_trade(tf, m, sources=src).filter(_.importer == iso3)
        if year is not None:
            f = f.filter(_.year == year)
        d = f.to_pandas()
        if d.empty:
            continue
        y = year or int(d.year.max())
        d = d[d.year == y].groupby("mineral", as_index=False).agg(
            imports_kusd=("value_kusd", "sum"),
            content_t=("content_t", lambda c: c.sum(min_count=1)))
        frames.append(d.assign(stage=kind, year=y))
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    out = out[out.year == out.year.max()]
    out["share"] = out.imports_kusd / out.groupby("mineral").imports_kusd.transform("sum")
    cov = hs_coverage(tf, atlas.table("hs_map"), year=int(out.year.max()), importer=iso3,
                      sources=src).to_pandas()
    kind_of = {(f"{r}:{c}", m): k for c, r, m, k in zip(hs.hs_code, hs.hs_revision, hs.mineral,
                                                       hs.kind, strict=True)}
    lists: dict[tuple[str, str, str], list[str]] = {}
    for m, have, miss in zip(cov.mineral, cov.hs_codes, cov.hs_codes_missing, strict=True):
        for col, codes in (("hs_codes", have), ("hs_codes_missing", miss)):
            for label in codes if codes is not None else ():
                lists.setdefault((m, kind_of.get((label, m), ""), col), []).append(label)
    # a stage whose mapped codes have no import row shows as a row without figures, listing them
    shown = set(zip(out.mineral, out.stage, strict=True))
    empty = sorted({(m, k) for m, k, col in lists if col == "hs_codes_missing"
                    and (m, k) not in shown and m in set(out.mineral)})
    if empty:
        out = pd.concat([out, pd.DataFrame({"mineral": [m for m, _k in empty],
                                            "stage": [k for _m, k in empty],
                                            "year": int(out.year.max())})], ignore_index=True)
    for col in ("hs_codes", "hs_codes_missing"):
        out[col] = [sorted(lists.get((m, k, col), []))
                    for m, k in zip(out.mineral, out.stage, strict=True)]
    return out.sort_values(["mineral", "stage"], ignore_index=True)[cols]


def critical_lists(atlas: Atlas, risk: pd.DataFrame) -> pd.DataFrame:
    """Which national lists name each mineral of ``risk``: ``mineral, name, lists``."""
    return risk[["mineral", "name", "lists"]].assign(
        lists=risk.lists.map(lambda v: ", ".join(v) if isinstance(v, list | tuple) else
                             (", ".join(list(v)) if hasattr(v, "tolist") else (v or ""))))


# ------------------------------------------------------------------------------------ provenance


def provenance(atlas: Atlas) -> pd.DataFrame:
    """The atlas ``sources`` table: who published each loaded file, release, licence, SHA-256."""
    return atlas.table("sources").select(
        "source_id", "family", "release", "publisher", "title", "licence", "url", "sha256",
        "rows").to_pandas().sort_values(["family", "source_id"], ignore_index=True)


def atlas_version(atlas: Atlas) -> str:
    """``<critmin version>+<12 hex digits over the loaded files' checksums>`` (as the API)."""
    return cite.atlas_version(cite.atlas_sources(atlas))


def citation(atlas: Atlas, name: str, prov: pd.DataFrame | None = None,
             today: dt.date | None = None) -> str:
    """How to cite a brief built from ``atlas``."""
    prov = provenance(atlas) if prov is None else prov
    pubs = "; ".join(dict.fromkeys(f"{p} ({f})" for p, f in zip(prov.publisher, prov.family,
                                                                 strict=True)))
    return CITATION.format(year=(today or dt.date.today()).year, name=name,
                           version=atlas_version(atlas), publishers=pubs or "none")


# ------------------------------------------------------------------------------------ scenarios


def scenario_spec(exporter: str, mineral: str, *, stage: str = "all", cut: float = 1.0,
                  targets: str = "all", base_year: int, name: str | None = None
                  ) -> dict[str, Any]:
    """A one-shock scenario spec (the format of docs/scenarios.md) from the form's fields;
    ``targets`` is ``all``, a group (``MSP``, ``non-MSP``) or comma-separated ISO3 codes."""
    t: str | list[str] = targets.strip() or "all"
    if isinstance(t, str) and "," in t:
        t = [x.strip().upper() for x in t.split(",") if x.strip()]
    return {"name": name or f"{exporter} cuts {mineral} exports by {cut:.0%}",
            "base_year": base_year,
            "shocks": [{"exporter": exporter, "mineral": mineral, "stage": stage, "cut": cut,
                        "targets": t}]}


def run_scenario(atlas: Atlas, spec: dict[str, Any]) -> Any:
    """:func:`critmin.scenarios.run` on ``spec`` (a :class:`ScenarioResult`)."""
    from critmin.scenarios import run

    return run(spec, atlas)


def trade_years(atlas: Atlas) -> list[int]:
    """Years with trade data, latest first (base years the scenario form offers)."""
    t = atlas.table("trade_flows")
    return sorted((int(y) for y in t.select("year").distinct().to_pandas().year), reverse=True)


# ------------------------------------------------------------------------------------ cooperation


def cooperation_page(registry: Any) -> dict[str, Any]:
    """Frameworks, groups with their members, agreements and projects of a
    :class:`~critmin.cooperation.registry.Registry`, plus project counts per host country."""
    frameworks = registry.list("frameworks")
    groups = registry.list("groups")
    members = registry.list("memberships")
    projects = registry.list("projects")
    if len(members):
        live = members[members["left"].isna()] if "left" in members else members
        by_group = live.groupby("group_id").iso3.apply(lambda s: ", ".join(sorted(s)))
        groups = groups.assign(members=groups.group_id.map(by_group).fillna(""),
                               n_members=groups.group_id.map(live.groupby("group_id").size())
                               .fillna(0).astype(int))
    per_country = (projects.groupby("country").size().rename("projects").reset_index()
                   if len(projects) else pd.DataFrame(columns=["country", "projects"]))
    return {"frameworks": frameworks, "groups": groups, "agreements": registry.list("agreements"),
            "projects": projects, "projects_per_country": per_country}


def whatif(atlas: Atlas, project_ids: list[str], year: int | None = None) -> pd.DataFrame:
    """Concentration before/after projects come online
    (:func:`critmin.cooperation.analytics.whatif`)."""
    from critmin.cooperation.analytics import whatif as calc

    return calc(project_ids, year=year, atlas=atlas)
