"""Production concentration is assembled twice: in package SQL (``sql/concentration.sql``, what
``production_concentration`` and ``critmin concentration`` run, without Ibis) and in Ibis
(:func:`concentration` over :func:`world_totals`, what the dependency scan and the cooperation
analytics compose further). Both render the formulas of :mod:`critmin.metrics.formulas`; this
test fails as soon as the two disagree on any input (world and rest-of-world rows, null and
non-positive values, ties, several units and bases), so neither can drift from the other.

The expected figures of a hand-checkable case come from the definitions, not from critmin.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from critmin.metrics.concentration import (
    NOT_COUNTRIES,
    concentration,
    production_concentration,
    world_totals,
)

KEYS = ["mineral", "stage", "year", "unit", "basis"]
COLUMNS = ["total", "n_suppliers", "hhi", "top1_share", "top3_share", "top_supplier",
           "hhi_points", "named_total", "rest_of_world", "published_total", "total_flag"]


def _both(rows: list[dict[str, object]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    import ibis

    con = ibis.duckdb.connect()
    df = pd.DataFrame(rows, columns=[*KEYS, "country", "value"]).astype(
        {"year": "int64", "value": "float64"})
    p = con.create_table("production", df)
    sql = production_concentration(p, family=None).to_pandas()
    # the Ibis function is generic: its callers pass the supplier rows (countries only) and
    # the world totals of all rows, as the scan and the cooperation analytics do
    suppliers = p.filter(~p.country.isin(NOT_COUNTRIES))
    ib = concentration(suppliers, KEYS, "value", "country", totals=world_totals(p)).to_pandas()
    key = [*KEYS]
    sql = sql[[*KEYS, *COLUMNS]].sort_values(key).reset_index(drop=True)
    ib = ib[[*KEYS, *COLUMNS]].sort_values(key).reset_index(drop=True)
    con.disconnect()
    return sql, ib


def _assert_same(sql: pd.DataFrame, ib: pd.DataFrame) -> None:
    assert len(sql) == len(ib)
    for col in [*KEYS, *COLUMNS]:
        for a, b in zip(sql[col], ib[col], strict=True):
            if isinstance(a, float) or isinstance(b, float):
                if a is None or b is None or pd.isna(a) or pd.isna(b):
                    assert (a is None or pd.isna(a)) and (b is None or pd.isna(b)), col
                else:
                    assert math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-15), col
            else:
                assert a == b, (col, a, b)


def test_hand_checked_case() -> None:
    """Three producers of 60, 30 and 10 t plus a rest of world of 100 t: world 200 t, shares
    0.30, 0.15, 0.05; HHI 0.09 + 0.0225 + 0.0025 = 0.115; top-3 0.50; top supplier A."""
    rows = [dict(mineral="x", stage="mine", year=2024, unit="t", basis="gross", country=c,
                 value=v) for c, v in [("A", 60.0), ("B", 30.0), ("C", 10.0), ("XRW", 100.0)]]
    sql, ib = _both(rows)
    _assert_same(sql, ib)
    r = sql.iloc[0]
    assert r.total == pytest.approx(200.0)
    assert r.hhi == pytest.approx(0.115)
    assert r.top1_share == pytest.approx(0.30)
    assert r.top3_share == pytest.approx(0.50)
    assert r.top_supplier == "A" and r.n_suppliers == 3


_values = st.one_of(st.none(), st.floats(min_value=-5, max_value=1e6, allow_nan=False),
                    st.sampled_from([0.0, 10.0, 10.0]))
_row = st.fixed_dictionaries({
    "mineral": st.sampled_from(["cobalt", "nickel"]),
    "stage": st.sampled_from(["mine", "refinery"]),
    "year": st.sampled_from([2023, 2024]),
    "unit": st.sampled_from(["t", "kg"]),
    "basis": st.sampled_from(["gross", "content"]),
    "country": st.sampled_from(["AAA", "BBB", "CCC", "DDD", "EEE", "WLD", "XRW"]),
    "value": _values,
})


@given(st.lists(_row, min_size=1, max_size=40))
def test_sql_and_ibis_assemblies_agree(rows: list[dict[str, object]]) -> None:
    sql, ib = _both(rows)
    _assert_same(sql, ib)
