"""GeoPolRisk: geopolitical supply risk of an economy's imports of a raw material (dimensionless).

The method (Gemechu et al. 2016; Koyamparambath et al. 2024; reference implementation geopolrisk-py
2.0.1) multiplies the concentration of world production by the political-stability-weighted share
of imports in the economy's supply:

- ``HHI_A,t = sum_i P_i^2 / (sum_i P_i)^2`` over the World Mining Data production ``P_i`` of
  material A in year t (missing figures count as 0, world totals excluded);
- ``g_i,t = clip((2.5 - PV_i,t) / 5, 0, 1)``, PV the WGI Political Stability and Absence of
  Violence estimate of partner i (full precision); ``g = 0`` for partners inside the assessed
  economy (a region or group);
- ``f_i`` = BACI import quantity (t) from partner i, summed over the material's HS codes
  (``material_hs_map``) and the economy's members;
- import risk ``WTA = sum_i g_i f_i / (p + sum_i f_i)``, p the economy's own production;
- ``score = HHI x WTA``; ``price = sum(value) / sum(quantity)`` (kUSD/t = USD/kg);
  characterisation factor ``cf = score x price / 0.409412948`` (kg Cu-eq/kg; 0.409412948 is the
  tool's average copper CF).

Two modes, each one set-based query over the atlas tables (no Python loop over economies,
materials or years), kept as SQL files in ``critmin/metrics/sql/`` and run with bound parameters
(:mod:`critmin.metrics._sql`):

default (``sql/geopolrisk.sql``)
    Fixes the tool's known defects and says so in ``flags``: missing data is NA with a flag, never
    a silent zero score (``no_production``, ``pv_missing``, ``no_supply``, ``production_na``);
    production is converted to tonnes with ``units.factor`` before p and imports are added, and
    flagged where it cannot be (``production_not_mass``: NA) or is in a content basis that does
    not match gross traded tonnage (``basis_mismatch``); ``quantity_missing`` when some import
    rows have no quantity (they are left out of f and the price). PV from the full-precision
    release where present, else the 2-decimal release (``pv_2dp``). Economies: countries, the
    groups of ``country_groups`` (membership as of the end of the assessed year) and user regions;
    materials: critmin mineral ids.
``compat="geopolrisk-py"`` (:mod:`critmin.metrics.geopolrisk_compat`)
    Reproduces geopolrisk-py 2.0.1 to the last digit on its inputs, defaults and quirks included;
    an oracle the tests compare with the tool's published output.

Engines: the queries are written in DuckDB's dialect and run on the atlas file (or a DuckDB
Parquet atlas); on a Spark Parquet atlas (:mod:`critmin.engine`) the default mode is transpiled
with sqlglot and run by Spark SQL, giving the same values (``tests/engine``). Compat mode relies
on DuckDB's exact 128-bit integers and ordered list sums and runs on DuckDB only.

Output (pandas): ``economy, material, year, hhi, import_risk, score, price, cf, flags``; the
default mode adds ``hs_codes`` (the material's mapped HS92 codes with at least one import row of
the economy or a member in the year: the codes f and the price count) and ``hs_codes_missing``
(its mapped codes without a row), sorted lists labelled ``HS92:260400``. Compat mode keeps the
tool's columns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import pandas as pd

from critmin import provenance, reference
from critmin.errors import ChoiceError, CritminError
from critmin.metrics import geopolrisk_compat
from critmin.metrics._sql import Runner, queries, render, runner
from critmin.metrics.formulas import calc_gpv
from critmin.metrics.frames import kept_rows, memo
from critmin.metrics.geopolrisk_compat import COMPAT, COMPAT_ALIASES, COMPAT_PV_UNMATCHED

T = TypeVar("T")
CF_CU = 0.409412948
COLUMNS = ["economy", "material", "year", "hhi", "import_risk", "score", "price", "cf", "flags"]
#: The default mode's columns: :data:`COLUMNS`, then the HS codes the imports count.
DEFAULT_COLUMNS = [*COLUMNS, "hs_codes", "hs_codes_missing"]


def g_from_pv(pv: float) -> float:
    """Political-stability weight in [0, 1] from a WGI PV estimate: :func:`calc_gpv`.

    >>> g_from_pv(2.5), g_from_pv(-2.5), g_from_pv(0.0), g_from_pv(3.1)
    (0.0, 1.0, 0.5, 0.0)
    """
    return calc_gpv(pv)


def import_risk(g: Sequence[float], f: Sequence[float], p: float = 0.0) -> float:
    """Weighted import risk WTA = sum(g_i f_i) / (p + sum f_i), in [0, 1]; NaN when p + sum f = 0.

    >>> import_risk([0.5, 1.0], [10, 30], p=10)
    0.7
    """
    den = p + sum(f)
    return sum(gi * fi for gi, fi in zip(g, f, strict=True)) / den if den > 0 else math.nan


def parse_region(spec: str) -> tuple[str, list[str]]:
    """``"NAME=ISO3,ISO3,..."`` -> (NAME, [ISO3, ...]).

    >>> parse_region("ABC=USA, can,MEX")
    ('ABC', ['USA', 'CAN', 'MEX'])
    """
    name, sep, members = spec.partition("=")
    codes = [c.strip().upper() for c in members.split(",") if c.strip()]
    if not sep or not name.strip() or not codes:
        raise CritminError(f"bad region {spec!r}: use NAME=ISO3,ISO3,...")
    return name.strip(), codes


#: Atlas tables the queries read (registered as views on a Parquet atlas before a query runs).
_TABLES = ("trade_flows", "production", "governance", "countries", "material_hs_map", "units",
           "country_groups", "sources", "hs_map")
_FILE = "geopolrisk.sql"


def geopolrisk(
    source: Any,
    *,
    economies: Iterable[str] | None = None,
    materials: Iterable[str] | None = None,
    years: Iterable[int] | None = None,
    regions: Mapping[str, Sequence[str]] | None = None,
    compat: str | None = None,
    pv_unmatched: Iterable[str] = COMPAT_PV_UNMATCHED,
    every: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """GeoPolRisk HHI, import risk, score, price (USD/kg) and CF for economies x materials x years.

    ``source`` is an :class:`critmin.atlas.Atlas`, a :class:`critmin.engine.ParquetAtlas` or an
    Ibis DuckDB backend holding the atlas tables (``trade_flows``, ``production``,
    ``governance``, ``countries``, ``material_hs_map``, ``units``, ``country_groups``).
    ``economies`` are ISO3 codes, group ids or region names (all when None); ``regions`` maps
    user region names to member ISO3 codes. ``compat`` is None or ``"geopolrisk-py"`` (see the
    module docstring). ``pv_unmatched`` (compat only) lists the economies whose PV rows the tool
    cannot join because its PV input gives them no numeric code (default: those of the WGI 2025
    full-precision file the tool bundles). ``every`` is this function's answer for every
    economy, material and year (``geopolrisk(source)``), kept by a caller that asks many
    questions of one atlas: the inputs are checked as always, then its rows are filtered instead
    of running the query again (the same rows: one query computes all of them and filters at the
    end; not with ``compat`` or ``regions``, whose query depends on the economies asked).
    """
    if compat not in (None, COMPAT):
        raise CritminError(f"unknown compat mode {compat!r}: use {COMPAT!r}")
    run = runner(source, _TABLES)
    for name in _TABLES:  # raw SQL over these tables: every row may count
        provenance.record(name, provenance.ALL)
    regions = dict(regions or {})
    economies = None if economies is None else [e.strip() for e in economies]
    # the checks' lookups (countries, groups, years) are the same for every question about
    # one atlas: kept with ``every`` when a caller keeps it
    checks = _Remembered(run, memo(every)) if every is not None else run
    if economies is not None:
        economies = [e.upper() if e not in regions and e.upper() not in regions else e
                     for e in economies]
        groups = _check_economies(checks, economies, regions)
        if compat:  # the tool computes a region for its EU; a group id is such a region here
            regions.update({g: groups[g] for g in economies if g in groups and g not in regions})
    if materials is not None:
        materials = (geopolrisk_compat.check_materials(checks, list(materials)) if compat
                     else [reference.require_mineral(m) for m in materials])
    if years is not None:
        years = _check_years(checks, [int(y) for y in years], wmd_only=bool(compat))
    if every is not None and not compat and not regions:
        asked = {col: vals for col, vals in (("economy", economies), ("material", materials),
                                             ("year", years)) if vals is not None}
        out = kept_rows(every, asked)
        if out.empty:  # as the query's empty answer: text columns of dtype object, then _finish
            out = _finish(out.astype({c: object for c in out.columns
                                      if isinstance(out[c].dtype, pd.StringDtype)}))
        return out
    filters = {"economies": economies, "materials": materials, "years": years}
    if compat:
        df = geopolrisk_compat.query(run, regions=regions, pv_unmatched=tuple(pv_unmatched),
                                     cf_cu=CF_CU, filters=filters)
    else:
        df = _default(run, regions=regions, filters=filters)
    return _finish(df[COLUMNS if compat else DEFAULT_COLUMNS])


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    """The query's rows with the column types every engine gives."""
    df = df.copy()
    df["year"] = df["year"].astype("int64")
    # the same flags text on every engine (Spark's CONCAT_WS keeps empty pieces)
    df["flags"] = [",".join(f for f in str(x or "").split(",") if f) for x in df["flags"]]
    for c in ("hhi", "import_risk", "score", "price", "cf"):
        df[c] = df[c].astype("float64")
    for c in ("hs_codes", "hs_codes_missing"):  # lists (the query gives arrays), as elsewhere
        if c in df.columns:
            df[c] = [v.tolist() if hasattr(v, "tolist") else list(v) for v in df[c]]
    return df.reset_index(drop=True)


class _Remembered(Runner):
    """``run`` whose answers are kept by query and parameters in ``memo`` (for the input checks'
    lookups, which do not change while an atlas is open)."""

    def __init__(self, run: Runner, memo: dict[Any, Any]) -> None:
        self.run, self.memo = run, memo

    def has_table(self, name: str) -> bool:
        key = ("has_table", name)
        if key not in self.memo:
            self.memo[key] = self.run.has_table(name)
        return bool(self.memo[key])

    def df(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        key = (sql, tuple(sorted((params or {}).items())))
        if key not in self.memo:
            self.memo[key] = self.run.df(sql, params)
        return self.memo[key]

    def kept(self, key: Any, compute: Callable[[], T]) -> T:
        if ("kept", key) not in self.memo:
            self.memo[("kept", key)] = compute()
        return self.memo[("kept", key)]  # type: ignore[no-any-return]


def _check_economies(run: Runner, economies: list[str], regions: Mapping[str, Sequence[str]]
                     ) -> dict[str, list[str]]:
    """Raise :class:`~critmin.errors.ChoiceError` for an economy that is neither a country of
    the atlas, a group with memberships nor a user region; return the current members of each
    group named (ordered by country name, as the tool lists its EU)."""
    iso3, groups = run.kept("economy lookups", lambda: _economy_lookups(run))
    for e in economies:
        if e not in regions and e not in iso3 and e not in groups:
            raise ChoiceError("economy", e, hint="use an ISO 3166 alpha-3 code such as JPN, a "
                              "group id (" + ", ".join(sorted(groups)) + ") or a --region name")
    return {g: list(m) for g, m in groups.items()}


def _economy_lookups(run: Runner) -> tuple[frozenset[str], dict[str, tuple[str, ...]]]:
    """The atlas's ISO3 codes, and the current members of each country group."""
    iso3 = frozenset(run.column(queries(_FILE)["countries"]))
    groups: dict[str, list[str]] = {}
    if run.has_table("country_groups"):
        rows = run.df(queries(_FILE)["current_group_members"])
        for g, m in zip(rows.iloc[:, 0], rows.iloc[:, 1], strict=True):
            groups.setdefault(str(g), []).append(str(m))
    return iso3, {g: tuple(m) for g, m in groups.items()}


def _check_years(run: Runner, years: list[int], *, wmd_only: bool) -> list[int]:
    """Years outside the span of the production (World Mining Data's only, ``wmd_only``) and
    trade data raise a :class:`ChoiceError` naming the span."""
    have = run.kept(("data years", wmd_only), lambda: [
        int(y) for y in run.column(queries(_FILE)["data_years"], {"wmd_only": wmd_only})])
    span = range(min(have), max(have) + 1) if have else []
    for y in years:
        reference.require_year(y, span, what="the production and trade data")
    return years


def _default(run: Runner, *, regions: Mapping[str, Sequence[str]],
             filters: Mapping[str, list | None]) -> pd.DataFrame:
    """The default mode's rows for the ``filters`` (economies, materials, years; None: all).

    Inputs: the published GeoPolRisk inputs (``material_hs_map``, World Mining Data) where the
    atlas has them; otherwise critmin's own HS map (every HS92 code of the mineral, ores and
    processed forms, as the published map mixes stages too) and USGS MCS mine production of the
    latest release, flagged ``hs_map_critmin`` / ``production_usgs``. This is what makes
    GeoPolRisk available on the bundled starter atlas, which ships neither WMD nor the published
    map."""
    flags = []
    if _count(run, "count_published_map", "material_hs_map"):
        material_map = "material_map_published"
    else:
        material_map = "material_map_critmin"
        flags.append("hs_map_critmin")
    if _count(run, "count_wmd_production", "production") or not run.has_table("sources"):
        production_filter = "production_wmd"
    else:
        production_filter = "production_usgs"
        flags.append("production_usgs")
    has_units = run.has_table("units")
    sql = render(_FILE, "default", material_map=material_map,
                 production_filter=production_filter,
                 units="units_table" if has_units else "units_reference",
                 groups="groups_members" if run.has_table("country_groups") else "no_groups",
                 filter="filter")
    params = {
        "regions": [{"economy": name, "member": m} for name, members in regions.items()
                    for m in members] or None,
        "reference_units": None if has_units else [
            {"unit": u, "canonical": c, "factor": f} for u, c, f in _reference_units()],
        "fallback_flags": ",".join(flags) or None,
        **_basis_minerals(),
        "cf_cu": CF_CU, **filters,
    }
    return run.df(sql, params)


def _basis_minerals() -> dict[str, list[str] | None]:
    """The minerals whose trade content factors are on a gross basis and those on a content
    basis (:func:`critmin.reference.factor_basis_is_gross`), for the USGS fallback's one
    production basis per mineral and year."""
    kinds = reference.factor_basis_is_gross()
    return {"gross_minerals": [m for m, g in kinds.items() if g] or None,
            "content_minerals": [m for m, g in kinds.items() if not g] or None}


def _count(run: Runner, query: str, table: str) -> int:
    """Named query ``query``'s count, 0 when ``table`` does not exist (any other error is
    raised)."""
    if not run.has_table(table):
        return 0
    return int(run.column(queries(_FILE)[query])[0])


def _reference_units() -> list[tuple[str, str, float]]:
    return [(r["unit"], r["canonical"], float(r["factor"])) for r in reference.rows("units") or []]


__all__ = ["CF_CU", "COLUMNS", "COMPAT", "COMPAT_ALIASES", "COMPAT_PV_UNMATCHED",
           "DEFAULT_COLUMNS", "g_from_pv", "geopolrisk", "import_risk", "parse_region"]
