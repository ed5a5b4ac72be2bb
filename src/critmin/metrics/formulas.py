"""critmin's formulas, each defined once: pure functions of numbers, in the style of pymrio's
``iomath``.

Every function works element-wise on Python floats, pandas Series and Ibis column expressions
alike (the same arithmetic; :func:`_where` picks the conditional of the argument's kind), so the
metrics, scenarios, cooperation analytics, the scan and GeoPolRisk all call the same code. Each
docstring gives the derivation, the units and the one missing-data rule the function applies;
callers never substitute zero for an unknown.

Missing data is ``None``/``NaN`` (Python, pandas) or SQL ``NULL`` (Ibis): an unknown input gives
an unknown result, never a number computed as if the input were zero, unless the rule below
says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

#: Relative tolerance between a publisher's (rounded) world total and the sum of its rows
#: beyond which the world total is flagged (USGS rounds world totals to two or three
#: significant figures, which moves them by up to 0.5 %; 2 % leaves room for that).
TOTAL_TOLERANCE = 0.02

#: Flags of :func:`calc_world_total`.
TOTAL_FLAGS = {
    "published_total_differs": "the publisher's world total differs from the sum of its rows "
                               "(countries and rest of world) by more than 2 %",
    "rest_from_published_total": "no rest-of-world row: the world total is the publisher's, "
                                 "so unnamed countries count in the denominator",
    "no_world_total": "the publisher gives neither a world total nor a rest-of-world row: "
                      "shares are of the named countries only",
}

#: Why a ratio shown as a percentage may exceed 100 % (it is not a share): the flag a value
#: above 1 carries, with the reason shown as a footnote (CLI), a flag column (API) and a
#: tooltip (web, brief).
ABOVE_100_FLAGS = {
    "surplus": "surplus: without the largest producer the rest of the world still produces "
               "more than it consumes (a ratio of supply to demand, not a share)",
    "partners_exceed_imports": "surplus: the partners could send more than the country imports "
                               "from outside the group (capped at 100 %; the uncapped ratio is "
                               "in the *_ratio column)",
}


#: Why a production figure is what it is (``production_flag``) or why reliance is blank
#: (``reliance_flag``); shown as a footnote (CLI), a flag column (API) and a tooltip (web).
RELIANCE_FLAGS: dict[str, str] = {
    "not_a_listed_producer": "not among the producers a complete country list names for this "
                             "mineral and stage (USGS without an 'Other countries' row, or World "
                             "Mining Data): production 0",
    "production_wmd": "production from World Mining Data (USGS counts the country in 'Other "
                      "countries')",
    "production_withheld": "the publisher withholds the country's production (USGS 'W')",
    "in_rest_of_world": "the country's production is inside the publisher's 'Other countries' "
                        "and no complete country list gives it",
    "no_production_data": "no production source covers this mineral, stage and year",
    "content_factor_unknown": "a traded form has no content factor or quantity, and the country "
                              "produces: reliance cannot be put on one basis",
    "no_apparent_consumption": "production plus net imports is not positive (nothing consumed)",
    "value_basis": "computed on trade value (the country produces nothing, so the basis does "
                   "not change the result)",
    "partial_content": "on a content basis from the traded forms with a content factor, which "
                       "carry at least 90 % of the trade value; the rest is left out",
}

def _is_ibis(x: Any) -> bool:
    return type(x).__module__.startswith("ibis.")


def _is_pandas(x: Any) -> bool:
    return type(x).__module__.startswith("pandas.")


def _missing(x: Any) -> Any:
    """True where ``x`` is unknown (None, NaN or NULL)."""
    if _is_ibis(x):
        return x.isnull() | x.isnan() if x.type().is_floating() else x.isnull()
    if _is_pandas(x):
        return x.isna()
    return x is None or (isinstance(x, float) and math.isnan(x))


def _where(cond: Any, yes: Any, no: Any) -> Any:
    """``yes`` where ``cond`` else ``no``, element-wise for any of the supported kinds."""
    import numbers

    if any(_is_ibis(v) for v in (cond, yes, no)):
        import ibis

        def lit(v: Any) -> Any:
            if v is None:
                return ibis.null("float64")
            if isinstance(v, numbers.Number):
                return ibis.literal(float(v), "float64")
            return v

        return ibis.ifelse(cond if _is_ibis(cond) else ibis.literal(bool(cond)), lit(yes), lit(no))
    if any(_is_pandas(v) for v in (cond, yes, no)):
        import numpy as np
        import pandas as pd

        idx = next(v.index for v in (cond, yes, no) if isinstance(v, pd.Series))
        c = cond if isinstance(cond, pd.Series) else pd.Series(cond, index=idx)
        y = yes if isinstance(yes, pd.Series) else pd.Series(np.nan if yes is None else yes,
                                                              index=idx, dtype=float)
        n = no if isinstance(no, pd.Series) else pd.Series(np.nan if no is None else no,
                                                           index=idx, dtype=float)
        return y.where(c.fillna(False).astype(bool), n)
    return yes if cond else no


def _nan(x: Any) -> Any:
    """Python scalars: None -> NaN, so that arithmetic propagates the unknown."""
    return float("nan") if x is None else x


# ------------------------------------------------------------------------------ concentration


def calc_shares(amounts: Any, total: Any) -> Any:
    """Share of each supplier: s_i = x_i / T (dimensionless, 0-1).

    ``amounts`` x_i and ``total`` T in the same unit (tonnes, thousand USD). T is the world
    total (:func:`calc_world_total`), not the sum of the named suppliers, so the shares of the
    named suppliers add up to less than 1 when a rest of world exists.

    Missing data: an unknown x_i or T, or T <= 0, gives an unknown share.

    >>> calc_shares(226_000.0, 301_590.0)
    0.7493...
    >>> calc_shares(5.0, 0.0) is None
    True
    """
    ok = ~_missing(total) & (total > 0) if (_is_ibis(total) or _is_pandas(total)) else (
        not _missing(total) and total > 0)
    if not (_is_ibis(ok) or _is_pandas(ok) or _is_ibis(amounts) or _is_pandas(amounts)):
        return None if not ok or _missing(amounts) else amounts / total
    return _where(ok, amounts / total, None)


def calc_hhi(shares: Iterable[float]) -> float:
    """Herfindahl-Hirschman index H = sum_i s_i^2 (0-1; x 10,000 for points).

    ``shares`` are the shares of world supply of the *named* suppliers (:func:`calc_shares`);
    a rest of world made of unnamed producers contributes nothing, so H is a lower bound of the
    HHI of all producers (each unnamed producer is smaller than any named one; their squares add
    at most s_rest x s_min). 10,000 points = monopoly, > 2,500 highly concentrated (US DoJ).

    Missing data: unknown shares are skipped; no known share gives NaN.

    >>> calc_hhi([0.5, 0.5])
    0.5
    >>> calc_hhi([0.749, 0.116])  # cobalt 2024, DR Congo and Indonesia of the USGS world total
    0.574457
    """
    known = [float(s) for s in shares if not _missing(s)]
    if not known:
        return float("nan")
    return round(sum(s * s for s in known), 12)


def calc_hhi_of_amounts(amounts: Iterable[float], total: float | None = None) -> float:
    """HHI of amounts x_i against a total T: sum_i (x_i / T)^2, with T = sum_i x_i by default.

    Missing data: unknown amounts are skipped; T <= 0 (nothing known) gives NaN.

    >>> calc_hhi_of_amounts([1, 1, 1, 1])
    0.25
    >>> calc_hhi_of_amounts([5, 0])
    1.0
    """
    xs = [float(x) for x in amounts if not _missing(x)]
    t = float(sum(xs)) if total is None or _missing(total) else float(total)
    if t <= 0:
        return float("nan")
    return calc_hhi(x / t for x in xs)


def calc_world_total(named: Any, rest: Any = None, published: Any = None,
                     tolerance: float = TOTAL_TOLERANCE) -> tuple[Any, Any]:
    """World total W (the denominator of every share) and its flag (:data:`TOTAL_FLAGS`).

    From one publisher's rows of one mineral, stage, year, unit and basis: ``named`` N = sum of
    its country rows, ``rest`` R = its "Other countries" row (XRW), ``published`` P = its world
    total (WLD), all in the same unit.

    - R known: W = N + R (USGS: cobalt 2024, 293,810 t named + 7,780 t other = 301,590 t);
      flagged ``published_total_differs`` when |P - W| > tolerance x P.
    - R unknown, P known: W = P when P >= N (the publisher's total covers the countries it does
      not name; ``rest_from_published_total`` when P exceeds N by more than the tolerance), else
      W = N flagged ``published_total_differs``.
    - neither: W = N, flagged ``no_world_total``.

    Missing data: an unknown N gives an unknown W; R and P may each be unknown (above).

    >>> calc_world_total(293_810.0, 7_780.0, 302_000.0)
    (301590.0, None)
    >>> calc_world_total(100.0, None, 150.0)
    (150.0, 'rest_from_published_total')
    >>> calc_world_total(100.0)
    (100.0, 'no_world_total')
    """
    if _is_ibis(named) or _is_pandas(named):
        return _world_total_columns(named, rest, published, tolerance)
    named, rest, published = _nan(named), _nan(rest), _nan(published)
    if math.isnan(named):
        return None, None
    if not math.isnan(rest):
        w = named + rest
        differs = not math.isnan(published) and abs(published - w) > tolerance * published
        return w, ("published_total_differs" if differs else None)
    if not math.isnan(published):
        if published >= named:
            extra = published - named > tolerance * published
            return float(published), ("rest_from_published_total" if extra else None)
        return named, "published_total_differs"
    return named, "no_world_total"


#: :func:`calc_shares` as SQL over columns ``{amount}`` and ``{total}`` (the package SQL files
#: call it as ``{{share(amount, total)}}``, :mod:`critmin.metrics._sql`): NULL where the total is
#: unknown, NaN or not positive.
SHARE_SQL = ("CASE WHEN {total} IS NOT NULL AND NOT ISNAN({total}) AND {total} > 0 "
             "THEN {amount} / {total} END")
#: :func:`calc_world_total` as SQL over columns ``{named}``, ``{rest}``, ``{published}``: the
#: world total W (``{{world_total(named, rest, published)}}``) and its flag
#: (``{{world_total_flag(named, rest, published)}}``), the same cases in the same order as the
#: Python and Ibis forms.
WORLD_TOTAL_SQL = ("CASE WHEN {rest} IS NOT NULL THEN {named} + {rest} "
                   "WHEN {published} IS NOT NULL AND {published} >= {named} THEN {published} "
                   "ELSE {named} END")
WORLD_TOTAL_FLAG_SQL = (
    "CASE WHEN {rest} IS NOT NULL AND {published} IS NOT NULL "
    f"AND ABS({{published}} - ({{named}} + {{rest}})) > CAST({TOTAL_TOLERANCE!r} AS DOUBLE) "
    "* {published} THEN 'published_total_differs' "
    "WHEN {rest} IS NOT NULL THEN NULL "
    "WHEN {published} IS NOT NULL AND {published} < {named} THEN 'published_total_differs' "
    f"WHEN {{published}} IS NOT NULL AND {{published}} - {{named}} > "
    f"CAST({TOTAL_TOLERANCE!r} AS DOUBLE) * {{published}} THEN 'rest_from_published_total' "
    "WHEN {published} IS NOT NULL THEN NULL "
    "ELSE 'no_world_total' END")


def _world_total_columns(named: Any, rest: Any, published: Any, tol: float) -> tuple[Any, Any]:
    if _is_ibis(named):
        import ibis

        rest = rest if rest is not None else ibis.null("float64")
        published = published if published is not None else ibis.null("float64")
        has_r, has_p = rest.notnull(), published.notnull()
        w = ibis.cases((has_r, named + rest), (has_p & (published >= named), published),
                       else_=named)
        flag = ibis.cases(
            (has_r & has_p & ((published - (named + rest)).abs() > tol * published),
             "published_total_differs"),
            (has_r, ibis.null("string")),
            (has_p & (published < named), "published_total_differs"),
            (has_p & (published - named > tol * published), "rest_from_published_total"),
            (has_p, ibis.null("string")),
            else_="no_world_total")
        return w, flag
    import pandas as pd

    idx = named.index
    rest = rest if rest is not None else pd.Series(float("nan"), index=idx)
    published = published if published is not None else pd.Series(float("nan"), index=idx)
    out = [calc_world_total(n, r, p, tol) for n, r, p in zip(named, rest, published, strict=True)]
    return (pd.Series([o[0] for o in out], index=idx, dtype=float),
            pd.Series([o[1] for o in out], index=idx, dtype=object))


# ------------------------------------------------------------------------------ consumption


def calc_apparent_consumption(production: Any, imports: Any, exports: Any) -> Any:
    """Apparent consumption C = P + M - X (tonnes of content, or one consistent unit).

    P production, M imports, X exports of one country, mineral and year. Stock changes are not
    known and not counted (the USGS definition adds them; critmin has no stock data).

    Missing data: any unknown term gives an unknown C (a country with no production listed by a
    publisher that lists all producers has P = 0, which the caller states with a flag; it is not
    an unknown).

    >>> calc_apparent_consumption(0.0, 120.0, 20.0)
    100.0
    """
    scalar = not any(_is_ibis(v) or _is_pandas(v) for v in (production, imports, exports))
    if scalar and any(_missing(v) for v in (production, imports, exports)):
        return None
    return production + imports - exports


def calc_import_reliance(production: Any, imports: Any, exports: Any) -> Any:
    """Net import reliance R = (M - X) / (P + M - X) (fraction; x 100 for the USGS percent).

    The USGS Mineral Commodity Summaries' "net import reliance as a percentage of apparent
    consumption", without stock changes: 1 = everything consumed is imported (no domestic
    production), 0 = self-sufficient, negative = net exporter (USGS prints "E").

    Missing data: an unknown term, or an apparent consumption <= 0 (nothing consumed), gives an
    unknown R.

    >>> calc_import_reliance(0.0, 50.0, 0.0)  # Japan's cobalt ore: no mine production
    1.0
    >>> calc_import_reliance(30.0, 100.0, 30.0)
    0.7
    >>> calc_import_reliance(10.0, 0.0, 10.0) is None
    True
    """
    c = calc_apparent_consumption(production, imports, exports)
    if c is None:
        return None
    if not (_is_ibis(c) or _is_pandas(c)):
        return (imports - exports) / c if c > 0 else None
    return _where(c > 0, (imports - exports) / c, None)


def calc_interval_gap(low: float | None, high: float | None, ref_low: float | None,
                      ref_high: float | None) -> float | None:
    """Distance between a computed interval [low, high] and a published one [ref_low, ref_high]
    (same unit, e.g. percentage points): 0 when they overlap.

    A point figure is an interval with low = high; a bound leaves one end open (None = minus or
    plus infinity): USGS's ">50" is [50, 100], its "E" (net exporter) [None, 0]. Used to compare
    a computed net import reliance, which is itself a bound when the production is withheld,
    with the figure a publisher prints.

    Missing data: a computed interval open at both ends gives None (nothing to compare).

    >>> calc_interval_gap(45.4, 45.4, 45.0, 45.0)
    0.4
    >>> calc_interval_gap(None, 0.0, 30.0, 30.0)  # computed "<= 0" against a printed 30
    30.0
    >>> calc_interval_gap(52.0, 52.0, 50.0, 100.0)  # 52 against ">50"
    0.0
    """
    if low is None and high is None:
        return None
    lo = -math.inf if low is None else low
    hi = math.inf if high is None else high
    ref_lo = -math.inf if ref_low is None else ref_low
    ref_hi = math.inf if ref_high is None else ref_high
    return round(max(0.0, ref_lo - hi, lo - ref_hi), 12)


def calc_n_minus_1_coverage(world: Any, top_production: Any, top_demand: Any,
                            world_demand: Any = None) -> Any:
    """N-1 coverage K = (W - P_top) / (D - D_top) (dimensionless).

    W world supply, D world demand (default W: imports and exports cancel world-wide; a
    scenario that adds supply keeps D), P_top the largest producer's production, D_top its
    apparent consumption (:func:`calc_apparent_consumption`); the numerator is what the rest of
    the world produces, the denominator what it consumes.
    K >= 1: the rest of the world covers its own demand without the largest producer (IEA
    Global Critical Minerals Outlook 2025). All in tonnes of one basis.

    Missing data: an unknown term gives an unknown K (never a demand of 0 assumed for a
    producer whose trade is unknown); a rest-of-world demand <= 0 gives an unknown K.

    >>> round(calc_n_minus_1_coverage(100.0, 80.0, 10.0), 4)
    0.2222
    """
    demand = world if world_demand is None else world_demand
    if not any(_is_ibis(v) or _is_pandas(v) for v in (world, top_production, top_demand)):
        if any(_missing(v) for v in (world, top_production, top_demand, demand)):
            return None
        rest = demand - top_demand
        return (world - top_production) / rest if rest > 0 else None
    rest = demand - top_demand
    return _where(rest > 0, (world - top_production) / rest, None)


# ------------------------------------------------------------------------------ GeoPolRisk


#: :func:`calc_gpv` as SQL (the GeoPolRisk queries), ``{pv}`` the PV column; NULL stays NULL
#: only when the caller guards it (GREATEST/LEAST skip NULLs).
GPV_SQL = "GREATEST(LEAST((2.5 - {pv}) / 5, 1.0), 0.0)"


def calc_gpv(pv: Any) -> Any:
    """GeoPolRisk's political-stability weight g(PV) = clip((2.5 - PV) / 5, 0, 1)
    (dimensionless).

    PV is the World Bank WGI "Political Stability and Absence of Violence/Terrorism" estimate
    (about -2.5 weak to 2.5 strong); g maps it linearly onto 1 (least stable) to 0 (most stable),
    clipped because a few estimates fall outside +-2.5 (Santillan-Saldivar et al. 2021;
    geopolrisk-py ``gprs_calc``).

    Missing data: an unknown PV gives an unknown g.

    >>> calc_gpv(-2.5), calc_gpv(2.5), calc_gpv(0.0), calc_gpv(3.1)
    (1.0, 0.0, 0.5, 0.0)
    """
    if _is_ibis(pv) or _is_pandas(pv):
        return ((2.5 - pv) / 5).clip(0.0, 1.0)
    if _missing(pv):
        return None
    return min(max((2.5 - pv) / 5, 0.0), 1.0)


__all__ = ["GPV_SQL", "SHARE_SQL", "TOTAL_FLAGS", "TOTAL_TOLERANCE", "WORLD_TOTAL_FLAG_SQL",
           "WORLD_TOTAL_SQL", "calc_apparent_consumption", "calc_gpv", "calc_hhi",
           "calc_hhi_of_amounts", "calc_import_reliance", "calc_n_minus_1_coverage",
           "calc_shares", "calc_world_total"]
