"""N-1 on hand-solved toy cases."""

from __future__ import annotations

import pandas as pd
import pytest

from critmin.scenarios.nminus1 import calc_n_minus_1


def test_net_exporting_top_producer() -> None:
    # A produces 80 and exports 70 to B (production 20): W = 100, D_A = 10, D_B = 90
    r = calc_n_minus_1(pd.Series({"A": 80.0, "B": 20.0}), pd.Series({"B": 70.0}),
                       pd.Series({"A": 70.0}))
    assert r["top_producer"] == "A"
    assert r["top_share"] == pytest.approx(0.8)
    assert r["top_demand_t"] == pytest.approx(10.0)
    assert r["coverage"] == pytest.approx(20.0 / 90.0)


def test_self_sufficient_top_producer_gives_full_coverage() -> None:
    r = calc_n_minus_1(pd.Series({"A": 60.0, "B": 40.0}), pd.Series(dtype=float),
                       pd.Series(dtype=float))
    assert r["coverage"] == pytest.approx(1.0)


def test_net_importing_top_producer_covers_more_than_one() -> None:
    # A produces 50 and imports 30 from C (production 30, no demand); B produces 20
    r = calc_n_minus_1(pd.Series({"A": 50.0, "B": 20.0, "C": 30.0}), pd.Series({"A": 30.0}),
                       pd.Series({"C": 30.0}))
    assert r["top_demand_t"] == pytest.approx(80.0)
    assert r["coverage"] == pytest.approx(50.0 / 20.0)


def test_ties_break_alphabetically_and_monopoly_has_no_coverage() -> None:
    r = calc_n_minus_1(pd.Series({"B": 50.0, "A": 50.0}), pd.Series(dtype=float),
                       pd.Series(dtype=float))
    assert r["top_producer"] == "A"
    r = calc_n_minus_1(pd.Series({"A": 10.0}), pd.Series(dtype=float), pd.Series(dtype=float))
    assert r["top_share"] == 1.0 and r["coverage"] is None
