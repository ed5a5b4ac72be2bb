"""Re-routing LP: toy cases and sanity properties on random small instances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from critmin.scenarios.exposure import ShockInput, exposure
from critmin.scenarios.reroute import solve, spare_capacity, stockpile_cover


def test_two_country_monopoly_loses_cut_times_demand() -> None:
    flows = pd.DataFrame({"exporter": ["Y"], "importer": ["X"], "quantity_t": [100.0]})
    for cut in (0.0, 0.3, 1.0):
        ex = exposure(flows, [ShockInput("Y", cut, None)])
        cap = spare_capacity(pd.Series({"Y": 100.0}), None, 0.5)
        r = solve(ex.set_index("importer").loss_t, cap, theta=1.0, exclude={"Y"})
        short = r.importers.shortfall_t.sum() if len(r.importers) else 0.0
        assert short == pytest.approx(cut * 100.0)


def test_hand_solved_capacity_and_preference() -> None:
    # A loses 60, B loses 40; Z has 50 of spare capacity, W 30; theta = 1
    loss = pd.Series({"A": 60.0, "B": 40.0})
    cap = pd.Series({"Z": 50.0, "W": 30.0})
    r = solve(loss, cap, theta=1.0, existing={("Z", "A"), ("W", "B")})
    assert r.importers.shortfall_t.sum() == pytest.approx(20.0)
    assert r.flows.rerouted_t.sum() == pytest.approx(80.0)
    # the shortfall is shared: nobody is short of more than the first quarter of its loss
    s = r.importers.set_index("importer").shortfall_t
    assert s["A"] <= 15.0 + 1e-6 and s["B"] <= 10.0 + 1e-6
    # half the capacity moves with theta = 0.5
    r = solve(loss, cap, theta=0.5)
    assert r.importers.shortfall_t.sum() == pytest.approx(100.0 - 40.0)
    # preferred exporters are used first when there is more capacity than loss
    r = solve(pd.Series({"A": 10.0}), pd.Series({"Z": 50.0, "W": 50.0}), theta=1.0,
              preferred={"W"})
    assert set(r.flows.exporter) == {"W"}
    # existing partners are used before new ones
    r = solve(pd.Series({"A": 10.0}), pd.Series({"Z": 50.0, "W": 50.0}), theta=1.0,
              existing={("Z", "A")})
    assert set(r.flows.exporter) == {"Z"}


def test_importer_cannot_supply_itself_and_shocked_exporters_are_excluded() -> None:
    r = solve(pd.Series({"A": 10.0}), pd.Series({"A": 100.0, "Y": 100.0}), theta=1.0,
              exclude={"Y"})
    assert r.importers.shortfall_t.sum() == pytest.approx(10.0)
    assert r.flows.empty


def test_stockpile_cover() -> None:
    t = stockpile_cover(pd.Series({"JPN": 730.0, "KOR": 0.0, "IND": 100.0}),
                        pd.Series({"JPN": 120.0, "KOR": 5.0}), 6)
    assert t.loc["JPN", "days_covered"] == pytest.approx(60.0)
    assert t.loc["JPN", "drawdown_t"] == pytest.approx(120.0)
    assert t.loc["JPN", "residual_shortfall_t"] == pytest.approx(365.0 - 120.0)
    assert np.isinf(t.loc["KOR", "days_covered"]) and t.loc["KOR", "drawdown_t"] == 0.0
    assert t.loc["IND", "days_covered"] == 0.0
    assert t.loc["IND", "residual_shortfall_t"] == pytest.approx(50.0)


# --------------------------------------------------------------------------- properties

@st.composite
def instances(draw: st.DrawFn) -> tuple[pd.DataFrame, float, float, pd.Series]:
    """Random small markets: countries C0..Cn, exporter C0 shocked with a random cut."""
    n = draw(st.integers(2, 6))
    names = [f"C{i}" for i in range(n)]
    q = draw(st.lists(st.lists(st.floats(0, 100), min_size=n, max_size=n),
                      min_size=n, max_size=n))
    rows = [(names[i], names[j], q[i][j]) for i in range(n) for j in range(n)
            if i != j and q[i][j] > 0]
    flows = pd.DataFrame(rows, columns=["exporter", "importer", "quantity_t"])
    cut = draw(st.floats(0, 1))
    theta = draw(st.floats(0, 1))
    spare = draw(st.floats(0, 2))
    prod = pd.Series({c: draw(st.floats(0, 200)) for c in names})
    return flows, cut, theta, spare * prod


@pytest.mark.slow  # property test, one LP per example
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_lp_properties(inst: tuple[pd.DataFrame, float, float, pd.Series]) -> None:
    flows, cut, theta, cap = inst
    ex = exposure(flows, [ShockInput("C0", cut, None)])
    loss = ex.set_index("importer").loss_t if len(ex) else pd.Series(dtype=float)
    cap = cap.drop("C0")
    r = solve(loss, cap, theta=theta, exclude={"C0"},
              existing=set(zip(flows.exporter, flows.importer, strict=True)))
    it = r.importers.set_index("importer")
    tol = 1e-6 * max(1.0, float(loss.sum()))
    # no negative flows or shortfalls
    assert (r.flows.rerouted_t >= -tol).all()
    assert (it.shortfall_t >= -tol).all() and (it.rerouted_t >= -tol).all()
    # mass balance per importer: rerouted + shortfall = loss, and rerouted = sum of new flows
    assert np.allclose(it.rerouted_t + it.shortfall_t, it.loss_t, atol=tol)
    by_imp = r.flows.groupby("importer").rerouted_t.sum().reindex(it.index).fillna(0.0)
    assert np.allclose(by_imp, it.rerouted_t, atol=tol)
    # capacity respected
    by_exp = r.flows.groupby("exporter").rerouted_t.sum()
    assert (by_exp <= theta * cap.reindex(by_exp.index) + tol).all()
    # world shortfall >= cut x exports of the shocked exporter - total spare capacity
    exports_y = flows.quantity_t[flows.exporter == "C0"].sum()
    assert it.shortfall_t.sum() >= cut * exports_y - theta * cap.sum() - tol
    assert it.shortfall_t.sum() >= cut * exports_y - cap.sum() - tol
    # theta = 0 equals the exposure layer
    r0 = solve(loss, cap, theta=0.0, exclude={"C0"})
    assert np.allclose(r0.importers.set_index("importer").shortfall_t.reindex(loss.index)
                       .fillna(0.0), loss, atol=tol)
    # theta = 1 with ample spare capacity (the whole loss at every exporter) covers everything
    n = len(cap) + 1
    ample = pd.Series(float(loss.sum()) + 1.0, index=[f"C{i}" for i in range(1, n)])
    if n > 2:  # an importer needs an exporter other than itself
        r1 = solve(loss, ample, theta=1.0, exclude={"C0"})
        assert r1.importers.shortfall_t.sum() == pytest.approx(0.0, abs=tol)
