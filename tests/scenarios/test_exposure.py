"""Exposure layer on hand-solved toy cases."""

from __future__ import annotations

import pandas as pd
import pytest

from critmin.scenarios.exposure import ShockInput, exposure, losses

FLOWS = pd.DataFrame({
    "exporter": ["Y", "Y", "Z", "Z", "W"],
    "importer": ["A", "B", "A", "B", "A"],
    "quantity_t": [60.0, 30.0, 20.0, 70.0, 20.0],
})


def test_full_ban_all_targets() -> None:
    t = exposure(FLOWS, [ShockInput("Y", 1.0, None)], pd.Series({"A": 100.0})).set_index(
        "importer")
    # A: loss 60 of supply 100 production + 100 imports; B: 30 of 100 imports, no production
    assert t.loc["A", "loss_t"] == 60.0
    assert t.loc["A", "supply_t"] == 200.0
    assert t.loc["A", "loss_share"] == pytest.approx(0.3)
    assert t.loc["B", "loss_t"] == 30.0
    assert t.loc["B", "loss_share"] == pytest.approx(0.3)
    assert bool(t.loc["A", "production_known"]) and not bool(t.loc["B", "production_known"])
    assert list(t.index) == ["A", "B"]  # sorted by loss


def test_partial_cut_and_targets() -> None:
    t = exposure(FLOWS, [ShockInput("Y", 0.5, frozenset({"B"}))]).set_index("importer")
    assert t.loc["A", "loss_t"] == 0.0
    assert t.loc["B", "loss_t"] == 15.0
    assert t.loc["A", "imports_from_shocked_t"] == 60.0


def test_two_shocks_add_up() -> None:
    shocks = [ShockInput("Y", 1.0, None), ShockInput("Z", 0.5, frozenset({"A"}))]
    t = exposure(FLOWS, shocks).set_index("importer")
    assert t.loc["A", "loss_t"] == 60.0 + 10.0
    assert t.loc["B", "loss_t"] == 30.0
    lo = losses(FLOWS, shocks)
    assert lo.loss_t.sum() == 100.0


def test_zero_cut_loses_nothing() -> None:
    t = exposure(FLOWS, [ShockInput("Y", 0.0, None)])
    assert (t.loss_t == 0).all()
