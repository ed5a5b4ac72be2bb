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

Two modes, both one set-based query over the atlas tables (no Python loop over economies,
materials or years; the SQL runs through the Ibis backend):

``compat="geopolrisk-py"``
    Reproduces geopolrisk-py 2.0.1 to the last digit on its inputs (WMD production, the published
    material-to-HS map, WGI PV full precision), defaults and quirks included: production figures
    truncated to integers before the HHI (exact integer arithmetic); ``kg`` figures divided by 1000
    for p and every other unit used as published (natural gas in Mio m3, diamonds in carats);
    missing import quantities count as 0; a partner whose PV the tool cannot match by its numeric
    code gets ``g = 0.5`` (no numeric code in the PV file: LIE, MCO, MTQ, PRI, REU, TWN, JEY; or not
    in the PV file at all), a matched partner without an estimate for the year ``g = 0``; PV
    normalised as ``1 - (PV + 2.5)/5`` up to 2022 and ``(2.5 - PV)/5`` from 2023 (the tool's
    bundled table was built so; the two differ in the last bit); numeric codes join economies,
    partners, production and PV, so Kosovo's production and PV (WMD/WGI code R20 = 697) belong to
    BACI's 697 "Europe EFTA, nes" (XEF), and French Guiana's gold (coded 328 in WMD) is read as
    Guyana's own production (the tool takes the first row with the code); sums in the tool's order
    (partners by BACI code; HS codes within a partner with pandas' compensated sum); no imports
    and no production give WTA = 0, score 0 and price 0. Economies: every country of BACI's
    country table (by ISO3) plus user regions; materials: the map's ``material`` names.
default
    Fixes the tool's known defects and says so in ``flags``: missing data is NA with a flag, never
    a silent zero score (``no_production``, ``pv_missing``, ``no_supply``, ``production_na``);
    production is converted to tonnes with ``units.factor`` before p and imports are added, and
    flagged where it cannot be (``production_not_mass``: NA) or is in a content basis that does
    not match gross traded tonnage (``basis_mismatch``); ``quantity_missing`` when some import
    rows have no quantity (they are left out of f and the price). PV from the full-precision
    release where present, else the 2-decimal release (``pv_2dp``). Economies: countries, the
    groups of ``country_groups`` (membership as of the end of the assessed year) and user regions;
    materials: critmin mineral ids.

Engines: the queries are written in DuckDB's dialect and run on the atlas file (or a DuckDB
Parquet atlas); on a Spark Parquet atlas (:mod:`critmin.engine`) the default mode is transpiled
with sqlglot and run by Spark SQL, giving the same values (``tests/engine``). Compat mode relies
on DuckDB's exact 128-bit integers and ordered list sums and runs on DuckDB only.

Output (pandas): ``economy, material, year, hhi, import_risk, score, price, cf, flags``.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from critmin import provenance, reference
from critmin.errors import ChoiceError, CritminError
from critmin.metrics.formulas import GPV_SQL, calc_gpv

COMPAT = "geopolrisk-py"
CF_CU = 0.409412948
COLUMNS = ["economy", "material", "year", "hhi", "import_risk", "score", "price", "cf", "flags"]

#: Economies whose PV row geopolrisk-py cannot join (the PV file gives them no numeric code).
COMPAT_PV_UNMATCHED = ("JEY", "LIE", "MCO", "MTQ", "PRI", "REU", "TWN")
#: Codes the tool's numeric joins fold together: (atlas ISO3, the economy it counts for).
COMPAT_ALIASES = (("XKX", "XEF"), ("GUF", "GUY"))


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


#: Atlas tables the queries read (registered as views on Spark before a query runs).
_TABLES = ("trade_flows", "production", "governance", "countries", "material_hs_map", "units",
           "country_groups", "sources", "hs_map")


class _SparkSQL:
    """Runs the DuckDB-dialect queries on Spark: transpiled with sqlglot, executed by Spark SQL
    over the atlas tables of a Spark :class:`critmin.engine.ParquetAtlas` (same results, so the
    metric runs unchanged on a cluster)."""

    def __init__(self, atlas: Any) -> None:
        self.session = atlas.session

    def has_table(self, name: str) -> bool:
        return bool(self.session.catalog.tableExists(name))

    def raw_sql(self, sql: str) -> _SparkResult:
        import sqlglot

        spark_sql = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
        return _SparkResult(self.session.sql(spark_sql))


class _SparkResult:
    def __init__(self, frame: Any) -> None:
        self.frame = frame

    def fetchall(self) -> list[tuple]:
        return [tuple(r) for r in self.frame.collect()]

    def df(self) -> pd.DataFrame:
        return self.frame.toPandas()


def _backend(source: Any) -> Any:
    """Something with ``raw_sql(sql)`` over the atlas tables: the Ibis DuckDB backend of an
    Atlas (or the backend itself), or a Spark SQL runner for a Spark Parquet atlas."""
    if hasattr(source, "parquet") and hasattr(source, "table"):  # a Parquet atlas (engine.py)
        for name in _TABLES:  # reading a table registers it as a view of its name
            with contextlib.suppress(CritminError):
                source.table(name)
        if getattr(source, "engine", None) == "spark":
            return _SparkSQL(source)
    return source if hasattr(source, "raw_sql") else source.con


def _has_table(con: Any, name: str) -> bool:
    if isinstance(con, _SparkSQL):
        return con.has_table(name)
    rows = con.raw_sql(
        "SELECT 1 FROM information_schema.tables WHERE table_name = '" + name + "'").fetchall()
    return bool(rows)


def _values(rows: Iterable[tuple], cols: Sequence[str], types: Sequence[str]) -> str:
    rows = list(rows)
    if not rows:
        nulls = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in zip(cols, types, strict=True))
        return f"(SELECT {nulls} WHERE false)"

    def lit(v: Any, t: str) -> str:
        if v is None:
            return f"CAST(NULL AS {t})"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        return f"CAST({v} AS {t})"

    body = ", ".join("(" + ", ".join(lit(v, t) for v, t in zip(r, types, strict=True)) + ")"
                     for r in rows)
    return f"(SELECT * FROM (VALUES {body}) AS v({', '.join(cols)}))"


def _in(col: str, values: Iterable[Any] | None) -> str:
    if values is None:
        return "true"
    vals = list(values)
    if not vals:
        return "false"
    return f"{col} IN (" + ", ".join(
        "'" + str(v).replace("'", "''") + "'" if isinstance(v, str) else str(int(v)) for v in vals
    ) + ")"


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

    ``source`` is an :class:`critmin.atlas.Atlas` or an Ibis backend holding the atlas tables
    (``trade_flows``, ``production``, ``governance``, ``countries``, ``material_hs_map``,
    ``units``, ``country_groups``). ``economies`` are ISO3 codes, group ids or region names (all
    when None); ``regions`` maps user region names to member ISO3 codes. ``compat`` is None or
    ``"geopolrisk-py"`` (see the module docstring). ``pv_unmatched`` (compat only) lists the
    economies whose PV rows the tool cannot join because its PV input gives them no numeric code
    (default: those of the WGI 2025 full-precision file the tool bundles). ``every`` is this
    function's answer for every economy, material and year (``geopolrisk(source)``), kept by a
    caller that asks many questions of one atlas: the inputs are checked as always, then its
    rows are filtered instead of running the query again (the same rows: one query computes all
    of them and filters at the end; not with ``compat`` or ``regions``, whose query depends on
    the economies asked).
    """
    if compat not in (None, COMPAT):
        raise CritminError(f"unknown compat mode {compat!r}: use {COMPAT!r}")
    con = _backend(source)
    for name in _TABLES:  # raw SQL over these tables: every row may count
        provenance.record(name, provenance.ALL)
    regions = dict(regions or {})
    economies = None if economies is None else [e.strip() for e in economies]
    # the checks' lookups (countries, groups, years) are the same for every question about
    # one atlas: kept with ``every`` when a caller keeps it
    checks = _Remembered(con, _memo(every)) if every is not None else con
    if economies is not None:
        economies = [e.upper() if e not in regions and e.upper() not in regions else e
                     for e in economies]
        groups = _check_economies(checks, economies, regions)
        if compat:  # the tool computes a region for its EU; a group id is such a region here
            regions.update({g: groups[g] for g in economies if g in groups and g not in regions})
    if materials is not None:
        materials = _check_materials(checks, list(materials), compat)
    if years is not None:
        years = _check_years(checks, [int(y) for y in years], compat)
    if every is not None and not compat and not regions:
        keep = pd.Series(True, index=every.index)
        for col, vals in (("economy", economies), ("material", materials), ("year", years)):
            if vals is not None:
                keep &= every[col].isin(vals)
        out = every[keep].reset_index(drop=True)
        if out.empty:  # as the query's empty answer: text columns of dtype object, then _finish
            out = _finish(out.astype({c: object for c in out.columns
                                      if isinstance(out[c].dtype, pd.StringDtype)}))
        return out
    if compat:
        sql = _compat_sql(con, regions=regions, pv_unmatched=tuple(pv_unmatched))
    else:
        sql = _default_sql(con, regions=regions)
    filt = " AND ".join([
        _in("economy", None if economies is None else [*economies]),
        _in("material", None if materials is None else list(materials)),
        _in("year", None if years is None else [int(y) for y in years]),
    ])
    # DuckDB SQL run through the Ibis backend's connection (set-based: one query for all rows)
    df = con.raw_sql(
        f"SELECT * FROM ({sql}) AS r WHERE {filt} ORDER BY economy, material, year").df()
    return _finish(df[COLUMNS])


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    """The query's rows with the column types every engine gives."""
    df = df.copy()
    df["year"] = df["year"].astype("int64")
    # the same flags text on every engine (Spark's CONCAT_WS keeps empty pieces)
    df["flags"] = [",".join(f for f in str(x or "").split(",") if f) for x in df["flags"]]
    for c in ("hhi", "import_risk", "score", "price", "cf"):
        df[c] = df[c].astype("float64")
    return df.reset_index(drop=True)


_MEMOS: dict[int, dict[str, Any]] = {}


def _memo(every: pd.DataFrame) -> dict[str, Any]:
    """A dict kept as long as ``every`` lives."""
    key = id(every)
    memo = _MEMOS.get(key)
    if memo is None:
        memo = _MEMOS[key] = {}
        weakref.finalize(every, _MEMOS.pop, key, None)
    return memo


class _Remembered:
    """``con`` whose ``raw_sql`` answers are kept by SQL text in ``memo`` (for the input checks'
    lookups, which do not change while an atlas is open)."""

    def __init__(self, con: Any, memo: dict[str, Any]) -> None:
        self.con, self.memo = con, memo

    def raw_sql(self, sql: str) -> Any:
        hit = self.memo.get(sql)
        if hit is None:
            hit = self.memo[sql] = _Kept(self.con.raw_sql(sql).df())
        return hit


class _Kept:
    """A kept answer of :meth:`_Remembered.raw_sql`: ``df()`` and ``fetchall()``."""

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    def df(self) -> pd.DataFrame:
        return self._df

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._df.itertuples(index=False, name=None))


def _column(con: Any, sql: str) -> list[Any]:
    return list(con.raw_sql(sql).df().iloc[:, 0])


def _check_economies(con: Any, economies: list[str], regions: Mapping[str, Sequence[str]]
                     ) -> dict[str, list[str]]:
    """Raise :class:`~critmin.errors.ChoiceError` for an economy that is neither a country of
    the atlas, a group with memberships nor a user region; return the current members of each
    group named (ordered by country name, as the tool lists its EU)."""
    iso3 = set(_column(con, "SELECT iso3 FROM countries"))
    groups: dict[str, list[str]] = {}
    if _has_table(con, "country_groups"):
        rows = con.raw_sql(
            'SELECT cg.group_id, cg.iso3 FROM country_groups cg JOIN countries c '
            'ON c.iso3 = cg.iso3 WHERE cg."left" IS NULL ORDER BY cg.group_id, c.name').df()
        for g, m in zip(rows.iloc[:, 0], rows.iloc[:, 1], strict=True):
            groups.setdefault(str(g), []).append(str(m))
    for e in economies:
        if e not in regions and e not in iso3 and e not in groups:
            raise ChoiceError("economy", e, hint="use an ISO 3166 alpha-3 code such as JPN, a "
                              "group id (" + ", ".join(sorted(groups)) + ") or a --region name")
    return groups


def _check_materials(con: Any, materials: list[str], compat: str | None) -> list[str]:
    if compat:
        known = sorted(set(_column(con, "SELECT DISTINCT material FROM material_hs_map")))
        for m in materials:
            if m not in known:
                raise ChoiceError("material", m, known)
        return materials
    return [reference.require_mineral(m) for m in materials]


def _check_years(con: Any, years: list[int], compat: str | None) -> list[int]:
    """Years outside the span of the production and trade data raise a :class:`ChoiceError`
    naming the span."""
    where = " WHERE source_id LIKE 'wmd%'" if compat else ""
    have = [int(y) for y in _column(con, f"SELECT DISTINCT year FROM production{where}")
            + _column(con, "SELECT DISTINCT year FROM trade_flows") if y is not None]
    span = range(min(have), max(have) + 1) if have else []
    for y in years:
        reference.require_year(y, span, what="the production and trade data")
    return years


# --------------------------------------------------------------------------------------------
# compat: geopolrisk-py 2.0.1


def _compat_sql(con: Any, *, regions: Mapping[str, Sequence[str]],
                pv_unmatched: tuple[str, ...]) -> str:
    alias_rows = _values(COMPAT_ALIASES, ["iso3", "as_iso3"], ["VARCHAR", "VARCHAR"])
    region_rows = _values(
        [(name, m, i) for name, members in regions.items() for i, m in enumerate(members)],
        ["economy", "member", "ord"], ["VARCHAR", "VARCHAR", "INTEGER"])
    unmatched = ", ".join(f"'{c}'" for c in pv_unmatched) or "''"
    return f"""
WITH
alias AS {alias_rows},
cc AS (SELECT iso3, CAST(baci_code AS INTEGER) AS code FROM countries WHERE baci_code IS NOT NULL),
mat AS (SELECT DISTINCT material, mineral, hs_code FROM material_hs_map),
materials AS (SELECT DISTINCT material, mineral FROM mat),
-- production in the tool's terms: the economy a row counts for, and whether it was folded in
prod AS (
    SELECT p.year, COALESCE(a.as_iso3, p.country) AS iso3, p.mineral, p.value, p.unit,
           a.iso3 IS NOT NULL AS folded
    FROM production p LEFT JOIN alias a ON a.iso3 = p.country
    WHERE p.source_id LIKE 'wmd%' AND p.country NOT IN ('WLD', 'XRW')  -- countries only
),
hhi AS (  -- exact integer arithmetic on the truncated figures, as the tool's int columns
    SELECT material, year, SUM(n * n) AS num, SUM(n) AS tot
    FROM (SELECT m.material, p.year, CAST(TRUNC(COALESCE(p.value, 0)) AS HUGEINT) AS n
          FROM prod p JOIN materials m ON m.mineral = p.mineral)
    GROUP BY material, year
),
own AS (  -- the tool's ProdQty: first row with the economy's code (a folded row sorts first)
    SELECT m.material, p.year, p.iso3,
           ARG_MAX(CASE WHEN p.unit = 'kg' THEN COALESCE(p.value, 0) / 1000
                        ELSE COALESCE(p.value, 0) END, p.folded) AS qty
    FROM prod p JOIN materials m ON m.mineral = p.mineral
    GROUP BY m.material, p.year, p.iso3
),
years AS (SELECT DISTINCT year FROM prod),
pv AS (
    -- the tool reads the first row with a numeric code: for Guyana's code that is the block
    -- the PV file mislabels (French Guiana's, relabelled GUF by critmin's WGI loader)
    SELECT g.year, COALESCE(a.as_iso3, g.country) AS iso3,
           MAX_BY(g.estimate, a.iso3 IS NOT NULL) AS pv
    FROM governance g LEFT JOIN alias a ON a.iso3 = g.country
    WHERE g.indicator = 'pv' AND g.source_id LIKE 'wgi-pv%' AND g.country NOT IN ({unmatched})
    GROUP BY ALL
),
pv_known AS (SELECT DISTINCT iso3 FROM pv),
members AS (
    SELECT iso3 AS economy, iso3 AS member, 0 AS ord FROM cc
    UNION ALL SELECT economy, member, ord FROM {region_rows}
),
flows AS (
    SELECT t.year, t.importer, t.exporter, m.material,
           LIST(COALESCE(t.quantity_t, 0) ORDER BY t.hs_code) AS q,
           LIST(t.value_kusd ORDER BY t.hs_code) AS v
    FROM trade_flows t JOIN mat m ON m.hs_code = t.hs_code
    WHERE t.hs_revision = 'HS92' AND t.year IN (SELECT year FROM years)
    GROUP BY ALL
),
-- pandas' compensated (Kahan) group sum over the HS codes of one partner, in HS code order
flows2 AS (
    SELECT *,
        CASE len(q) WHEN 1 THEN q[1] WHEN 2 THEN q[1] + q[2]
             ELSE (q[1] + q[2]) + (q[3] - (((q[1] + q[2]) - q[1]) - q[2])) END AS qty,
        CASE len(v) WHEN 1 THEN v[1] WHEN 2 THEN v[1] + v[2]
             ELSE (v[1] + v[2]) + (v[3] - (((v[1] + v[2]) - v[1]) - v[2])) END AS val
    FROM flows
),
partner AS (
    SELECT e.economy, e.member, e.ord, f.year, f.material, f.qty, f.val, ec.code AS pcode,
        CASE WHEN f.exporter IN (SELECT member FROM members x WHERE x.economy = e.economy) THEN 0.0
             WHEN pv.pv IS NOT NULL THEN GREATEST(LEAST(
                 CASE WHEN f.year >= 2023 THEN (2.5 - pv.pv) / 5 ELSE 1 - (pv.pv + 2.5) / 5 END,
                 1.0), 0.0)
             WHEN f.exporter IN (SELECT iso3 FROM pv_known) THEN 0.0
             ELSE 0.5 END AS g
    FROM members e JOIN flows2 f ON f.importer = e.member
    LEFT JOIN cc ec ON ec.iso3 = f.exporter
    LEFT JOIN pv ON pv.iso3 = f.exporter AND pv.year = f.year
),
per_member AS (
    SELECT economy, member, ord, year, material,
        LIST_REDUCE(LIST(qty * g ORDER BY pcode), lambda a, b: a + b) AS num,
        LIST_REDUCE(LIST(qty ORDER BY pcode), lambda a, b: a + b) AS qty,
        LIST_REDUCE(LIST(val ORDER BY pcode), lambda a, b: a + b) AS val
    FROM partner GROUP BY ALL
),
grid AS (
    SELECT e.economy, e.member, e.ord, y.year, m.material, m.mineral
    FROM members e CROSS JOIN years y CROSS JOIN materials m
),
member_rows AS (
    SELECT g.economy, g.ord, g.year, g.material,
           COALESCE(pm.num, 0.0) AS num, COALESCE(pm.qty, 0.0) AS qty,
           COALESCE(pm.val, 0.0) AS val, COALESCE(o.qty, 0.0) AS p
    FROM grid g
    LEFT JOIN per_member pm ON pm.economy = g.economy AND pm.member = g.member
         AND pm.year = g.year AND pm.material = g.material
    LEFT JOIN own o ON o.iso3 = g.member AND o.year = g.year AND o.material = g.material
),
agg AS (
    SELECT economy, year, material,
        LIST_REDUCE(LIST(num ORDER BY ord), lambda a, b: a + b) AS num,
        LIST_REDUCE(LIST(qty ORDER BY ord), lambda a, b: a + b) AS qty,
        LIST_REDUCE(LIST(val ORDER BY ord), lambda a, b: a + b) AS val,
        LIST_REDUCE(LIST(p ORDER BY ord), lambda a, b: a + b) AS p
    FROM member_rows GROUP BY ALL
),
res AS (
    SELECT a.economy, a.material, a.year,
        CASE WHEN h.tot > 0 THEN CAST(h.num AS DOUBLE) / CAST(h.tot * h.tot AS DOUBLE) END AS hhi,
        CASE WHEN a.qty + a.p = 0 THEN 0.0 ELSE a.num / (a.qty + a.p) END AS wta,
        CASE WHEN a.qty = 0 THEN 0.0 ELSE a.val / a.qty END AS price
    FROM agg a LEFT JOIN hhi h ON h.material = a.material AND h.year = a.year
)
SELECT economy, material, CAST(year AS BIGINT) AS year, hhi,
       CASE WHEN hhi IS NOT NULL THEN wta END AS import_risk,
       hhi * wta AS score,
       CASE WHEN hhi IS NOT NULL THEN price END AS price,
       (hhi * wta * price) / {CF_CU} AS cf,
       CASE WHEN hhi IS NULL THEN 'no_production' ELSE '' END AS flags
FROM res
"""


# --------------------------------------------------------------------------------------------
# default: the method with the tool's defects fixed and flagged


def _default_sql(con: Any, *, regions: Mapping[str, Sequence[str]]) -> str:
    region_rows = _values(
        [(name, m) for name, members in regions.items() for m in members],
        ["economy", "member"], ["VARCHAR", "VARCHAR"])
    has_groups = _has_table(con, "country_groups")
    groups = ("""UNION ALL
    SELECT cg.group_id AS economy, cg.iso3 AS member, y.year
    FROM country_groups cg CROSS JOIN years y
    WHERE (cg.joined IS NULL OR cg.joined <= MAKE_DATE(CAST(y.year AS INTEGER), 12, 31))
      AND (cg."left" IS NULL OR cg."left" > MAKE_DATE(CAST(y.year AS INTEGER), 12, 31))"""
              if has_groups else "")
    mat_sql, prod_filter, fallback_flags = _default_inputs(con)
    units = ("units" if _has_table(con, "units")
             else _values(_reference_units(), ["unit", "canonical", "factor"],
                          ["VARCHAR", "VARCHAR", "DOUBLE"]))
    return f"""
WITH
mat AS ({mat_sql}),
materials AS (SELECT DISTINCT mineral FROM mat),
prod AS (
    SELECT p.year, p.country, p.mineral, p.value * u.factor AS value, u.canonical, p.basis,
           p.value IS NULL AS missing
    FROM production p LEFT JOIN {units} u ON u.unit = p.unit
    WHERE {prod_filter} AND p.mineral IN (SELECT mineral FROM materials)
          AND p.country NOT IN ('WLD', 'XRW')  -- the method's HHI is over named producers
),
years AS (SELECT DISTINCT year FROM prod),
hhi AS (
    SELECT mineral, year,
           SUM(value * value) / (SUM(value) * SUM(value)) AS hhi,
           BOOL_OR(missing) AS incomplete,
           MAX(canonical) AS canonical,
           BOOL_OR(basis <> 'gross') AS content_basis
    FROM prod GROUP BY ALL
),
members AS (
    SELECT c.iso3 AS economy, c.iso3 AS member, y.year
    FROM countries c CROSS JOIN years y WHERE c.baci_code IS NOT NULL
    UNION ALL SELECT r.economy, r.member, y.year FROM {region_rows} r CROSS JOIN years y
    {groups}
),
pv AS (
    SELECT year, country,
           COALESCE(MAX(CASE WHEN source_id LIKE 'wgi-pv%' THEN estimate END),
                    MAX(estimate)) AS pv,
           BOOL_AND(source_id NOT LIKE 'wgi-pv%') AS pv_2dp
    FROM governance WHERE indicator = 'pv' GROUP BY ALL
),
flows AS (
    SELECT t.year, t.importer, t.exporter, m.mineral,
           SUM(t.quantity_t) AS qty,
           SUM(CASE WHEN t.quantity_t IS NOT NULL THEN t.value_kusd END) AS val,
           BOOL_OR(t.quantity_t IS NULL) AS qty_missing
    FROM trade_flows t JOIN mat m ON m.hs_code = t.hs_code
    WHERE t.hs_revision = 'HS92' AND t.year IN (SELECT year FROM years)
    GROUP BY ALL
),
partner AS (
    SELECT e.economy, f.year, f.mineral, f.exporter, f.qty, f.val, f.qty_missing,
        CASE WHEN f.exporter IN (SELECT member FROM members x
                                 WHERE x.economy = e.economy AND x.year = f.year) THEN 0.0
             WHEN pv.pv IS NULL THEN NULL  -- GREATEST/LEAST would skip the NULL
             ELSE {GPV_SQL.format(pv="pv.pv")} END AS g,
        pv.pv_2dp
    FROM members e JOIN flows f ON f.importer = e.member AND f.year = e.year
    LEFT JOIN pv ON pv.country = f.exporter AND pv.year = f.year
),
imports AS (
    SELECT economy, year, mineral, SUM(qty) AS qty, SUM(val) AS val, SUM(qty * g) AS num,
           BOOL_OR(g IS NULL AND COALESCE(qty, 0) > 0) AS pv_missing,
           BOOL_OR(COALESCE(pv_2dp, false)) AS pv_2dp,
           BOOL_OR(qty_missing) AS qty_missing
    FROM partner GROUP BY ALL
),
own AS (
    SELECT e.economy, e.year, p.mineral, SUM(p.value) AS p, BOOL_OR(p.missing) AS p_missing
    FROM members e JOIN prod p ON p.country = e.member AND p.year = e.year
    GROUP BY ALL
),
grid AS (
    SELECT DISTINCT e.economy, e.year, m.mineral FROM members e CROSS JOIN materials m
),
res AS (
    SELECT g.economy, g.mineral AS material, g.year, h.hhi, h.canonical,
           COALESCE(i.qty, 0) AS qty, i.val, COALESCE(i.num, 0) AS num,
           COALESCE(o.p, 0) AS p,
           h.hhi IS NULL OR NOT (h.hhi = h.hhi) AS no_production,
           COALESCE(h.incomplete, false) AS incomplete,
           COALESCE(h.canonical, 't') <> 't' AS not_mass,
           COALESCE(h.content_basis, false) AS basis_mismatch,
           COALESCE(i.pv_missing, false) AS pv_missing,
           COALESCE(i.pv_2dp, false) AS pv_2dp,
           COALESCE(i.qty_missing, false) AS qty_missing,
           COALESCE(o.p_missing, false) AS p_missing
    FROM grid g
    LEFT JOIN hhi h ON h.mineral = g.mineral AND h.year = g.year
    LEFT JOIN imports i ON i.economy = g.economy AND i.year = g.year AND i.mineral = g.mineral
    LEFT JOIN own o ON o.economy = g.economy AND o.year = g.year AND o.mineral = g.mineral
),
res2 AS (
    SELECT *,
        CASE WHEN no_production THEN NULL ELSE hhi END AS hhi_ok,
        CASE WHEN not_mass OR pv_missing OR p_missing OR qty + p = 0 THEN NULL
             ELSE num / (qty + p) END AS wta,
        CASE WHEN qty > 0 THEN val / qty END AS price_ok
    FROM res
)
SELECT economy, material, CAST(year AS BIGINT) AS year, hhi_ok AS hhi, wta AS import_risk,
       hhi_ok * wta AS score, price_ok AS price, hhi_ok * wta * price_ok / {CF_CU} AS cf,
       CONCAT_WS(',',
           CASE WHEN no_production THEN 'no_production' END,
           CASE WHEN incomplete AND NOT no_production THEN 'production_incomplete' END,
           CASE WHEN not_mass THEN 'production_not_mass' END,
           CASE WHEN basis_mismatch THEN 'basis_mismatch' END,
           CASE WHEN pv_missing THEN 'pv_missing' END,
           CASE WHEN pv_2dp THEN 'pv_2dp' END,
           CASE WHEN qty_missing THEN 'quantity_missing' END,
           CASE WHEN p_missing THEN 'production_na' END,
           CASE WHEN qty + p = 0 THEN 'no_supply' END{fallback_flags}) AS flags
FROM res2
"""


def _count(con: Any, sql: str, table: str) -> int:
    """``sql``'s count, 0 when ``table`` does not exist (any other error is raised)."""
    if not _has_table(con, table):
        return 0
    return int(con.raw_sql(sql).fetchall()[0][0])


def _default_inputs(con: Any) -> tuple[str, str, str]:
    """The material map and production the default mode uses: the published GeoPolRisk inputs
    (``material_hs_map``, World Mining Data) where the atlas has them; otherwise critmin's own HS
    map (every HS92 code of the mineral, ores and processed forms, as the published map mixes
    stages too) and USGS MCS mine
    production of the latest release, flagged ``hs_map_critmin`` / ``production_usgs``. This is
    what makes GeoPolRisk available on the bundled starter atlas, which ships neither WMD nor
    the published map."""
    flags = ""
    if _count(con, "SELECT count(*) FROM material_hs_map WHERE mineral IS NOT NULL",
              "material_hs_map"):
        mat = "SELECT DISTINCT mineral, hs_code FROM material_hs_map WHERE mineral IS NOT NULL"
    else:
        mat = "SELECT DISTINCT mineral, hs_code FROM hs_map WHERE hs_revision = 'HS92'"
        flags += ", 'hs_map_critmin'"
    if _count(con, "SELECT count(*) FROM production WHERE source_id LIKE 'wmd%'",
              "production") or not _has_table(con, "sources"):
        prod = "p.source_id LIKE 'wmd%'"
    else:
        usgs = "SELECT source_id FROM sources WHERE family = 'usgs-mcs'"
        prod = f"""p.stage = 'mine' AND p.source_id IN ({usgs})
              AND (p.mineral, p.year, p.basis) IN ({_one_basis_sql(usgs)})"""
        flags += ", 'production_usgs'"
    return mat, prod, flags


def _one_basis_sql(sources_sql: str) -> str:
    """(mineral, year, basis) of the one USGS mine-production basis per mineral and year, the
    rule of :func:`critmin.metrics.trade.one_basis` in SQL (the trade content factors' basis,
    then most named countries, then by name): iron ore's usable ore and Fe content are never
    mixed in one HHI."""
    from critmin.metrics.trade import factor_basis_is_gross

    def lst(ms: list[str]) -> str:
        return ", ".join("'" + m.replace("'", "''") + "'" for m in ms) or "NULL"

    kinds = factor_basis_is_gross()
    gross = lst([m for m, g in kinds.items() if g])
    content = lst([m for m, g in kinds.items() if not g])
    return f"""SELECT mineral, year, basis FROM (
        SELECT mineral, year, basis, ROW_NUMBER() OVER (
            PARTITION BY mineral, year ORDER BY
            CASE WHEN mineral IN ({gross}) THEN basis = 'gross'
                 WHEN mineral IN ({content}) THEN basis <> 'gross' ELSE false END DESC,
            COUNT(*) FILTER (WHERE country NOT IN ('WLD', 'XRW')) DESC, basis) AS rk
        FROM production WHERE stage = 'mine' AND source_id IN ({sources_sql})
        GROUP BY mineral, year, basis) WHERE rk = 1"""


def _reference_units() -> list[tuple[str, str, float]]:
    from critmin import reference

    return [(r["unit"], r["canonical"], float(r["factor"])) for r in reference.rows("units") or []]
