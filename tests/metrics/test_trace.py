"""Traced origins (one step upstream, proportional sourcing) on a hand-computable network."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critmin.metrics.trace import compare_views, trace, view_metrics


def _network() -> tuple[pd.DataFrame, pd.DataFrame]:
    # Japan buys cobalt: 100 t (contained) processed from Finland, 50 t from China, 40 t from
    # Belgium (no known feed), 10 t of ore from Australia.
    imports = pd.DataFrame({
        "mineral": ["cobalt"] * 4, "importer": ["JPN"] * 4,
        "exporter": ["FIN", "CHN", "BEL", "AUS"],
        "form": ["processed", "processed", "processed", "ore"],
        "amount_t": [100.0, 50.0, 40.0, 10.0],
    })
    # Finland's feed: 60 t from DR Congo, 20 t from Indonesia, 20 t mined at home;
    # China's: 30 t DR Congo, 10 t Indonesia, 10 t at home.
    feed = pd.DataFrame({
        "mineral": ["cobalt"] * 6, "refiner": ["FIN"] * 3 + ["CHN"] * 3,
        "origin": ["COD", "IDN", "FIN", "COD", "IDN", "CHN"],
        "amount_t": [60.0, 20.0, 20.0, 30.0, 10.0, 10.0],
    })
    return imports, feed


def test_hand_computed_network() -> None:
    imports, feed = _network()
    t = trace(imports, feed)
    by_origin = t.groupby("origin").amount_t.sum().to_dict()
    # COD = 100 x 0.6 + 50 x 0.6 = 90; IDN = 100 x 0.2 + 50 x 0.2 = 30; FIN 20; CHN 10;
    # AUS 10 (ore, at origin); BEL 40 (untraced)
    assert by_origin == pytest.approx({"COD": 90.0, "IDN": 30.0, "FIN": 20.0, "CHN": 10.0,
                                       "AUS": 10.0, "BEL": 40.0})
    assert set(t.how) == {"ore", "traced", "untraced"}
    v = compare_views(t).set_index("country")
    assert v.loc["FIN", "direct_share"] == pytest.approx(0.5)
    assert v.loc["COD", "direct_share"] == 0.0
    assert v.loc["COD", "traced_share"] == pytest.approx(0.45)
    assert v.loc["COD", "change"] == pytest.approx(0.45)
    assert v.loc["FIN", "change"] == pytest.approx(0.1 - 0.5)
    pv = {"COD": -2.0, "IDN": -0.5, "FIN": 1.0, "CHN": 0.0, "AUS": 1.5, "BEL": 0.5}
    m = view_metrics(compare_views(t), t, pv=pv,
                     hhi_world={("cobalt", "refinery"): 0.5, ("cobalt", "mine"): 0.3}).iloc[0]
    assert m.total_t == pytest.approx(200.0)
    # direct shares .5 .25 .2 .05: HHI .355; traced .45 .2 .15 .1 .05 .05: HHI .28
    assert m.hhi_direct == pytest.approx(0.355)
    assert m.hhi_traced == pytest.approx(0.28)
    assert (m.top_direct, m.top_traced) == ("FIN", "COD")
    assert m.top_traced_share == pytest.approx(0.45)
    # g = (2.5 - PV) / 5: COD .9, IDN .6, FIN .3, CHN .5, AUS .2, BEL .4
    assert m.wta_direct == pytest.approx(0.5 * 0.3 + 0.25 * 0.5 + 0.05 * 0.2 + 0.2 * 0.4)
    assert m.wta_traced == pytest.approx(0.45 * 0.9 + 0.15 * 0.6 + 0.1 * 0.3 + 0.05 * 0.5
                                         + 0.05 * 0.2 + 0.2 * 0.4)
    assert m.score_direct == pytest.approx(0.5 * 0.365)
    assert m.score_traced == pytest.approx(0.3 * 0.64)
    assert m.untraced_share == pytest.approx(0.2)
    assert m.pv_coverage == pytest.approx(1.0)


def test_missing_pv_is_not_a_zero() -> None:
    imports, feed = _network()
    t = trace(imports, feed)
    m = view_metrics(compare_views(t), t, pv={"FIN": 1.0}).iloc[0]
    assert m.wta_direct == pytest.approx(0.3)  # only Finland's PV is known
    assert m.pv_coverage == pytest.approx((0.5 + 0.1) / 2)
    assert pd.isna(m.score_direct)  # no world HHI given


amounts = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)


@pytest.mark.slow  # property test over generated chains
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.sampled_from(["ore", "processed"]),
                          amounts), min_size=1, max_size=8),
       st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.sampled_from(["A", "B", "D", "E"]),
                          amounts), max_size=10))
def test_tracing_conserves_tonnes(imp: list, fd: list) -> None:
    imports = pd.DataFrame({"mineral": "m", "importer": "Z", "exporter": [x[0] for x in imp],
                            "form": [x[1] for x in imp], "amount_t": [x[2] for x in imp]})
    feed = pd.DataFrame({"mineral": "m", "refiner": [x[0] for x in fd],
                         "origin": [x[1] for x in fd], "amount_t": [x[2] for x in fd]},
                        columns=["mineral", "refiner", "origin", "amount_t"])
    t = trace(imports, feed)
    assert t.amount_t.sum() == pytest.approx(imports.amount_t.sum(), rel=1e-9, abs=1e-6)
    if imports.amount_t.sum() > 0:
        v = compare_views(t)
        assert v.traced_share.sum() == pytest.approx(1.0)
        assert v.direct_share.sum() == pytest.approx(1.0)
        m = view_metrics(v, t).iloc[0]
        assert 0 < m.hhi_traced <= 1 and 0 < m.hhi_direct <= 1
