"""Concentration and trade metrics: hand-computed cases, properties and real USGS data."""

from __future__ import annotations

import math
from pathlib import Path

import ibis
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critmin.atlas import Atlas
from critmin.metrics import concentration, trade
from critmin.metrics.concentration import hhi
from tests.conftest import shared

amounts = st.lists(st.floats(min_value=0.001, max_value=1e9, allow_nan=False), min_size=1, max_size=30)


@given(amounts)
def test_hhi_bounds(xs: list[float]) -> None:
    h = hhi(xs)
    assert 1 / len(xs) - 1e-12 <= h <= 1 + 1e-12


@given(amounts, st.floats(min_value=1e-3, max_value=1e3))
def test_hhi_scale_invariant(xs: list[float], k: float) -> None:
    assert hhi([k * x for x in xs]) == pytest.approx(hhi(xs), rel=1e-9)


def _prod(rows: list[tuple]) -> ibis.Table:
    df = pd.DataFrame(rows, columns=["year", "country", "mineral", "stage", "value", "unit", "basis",
                                     "source_id"])
    return ibis.memtable(df)


def test_concentration_hand_case() -> None:
    # shares 0.5, 0.3, 0.1, 0.1 -> HHI 0.36; top-3 0.9; largest A
    t = _prod([(2024, c, "x", "mine", v, "t", "gross", "s") for c, v in
               [("AAA", 50.0), ("BBB", 30.0), ("CCC", 10.0), ("DDD", 10.0)]])
    r = concentration.production_concentration(t).to_pandas().iloc[0]
    assert r.hhi == pytest.approx(0.36)
    assert r.hhi_points == pytest.approx(3600)
    assert r.top1_share == pytest.approx(0.5)
    assert r.top3_share == pytest.approx(0.9)
    assert r.top_supplier == "AAA" and r.n_suppliers == 4 and r.total == pytest.approx(100)


@pytest.mark.slow  # property test over many generated tables
@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=12))
def test_concentration_matches_python(xs: list[float]) -> None:
    t = _prod([(2024, f"C{i:02d}", "x", "mine", v, "t", "gross", "s") for i, v in enumerate(xs)])
    r = concentration.production_concentration(t).to_pandas().iloc[0]
    assert r.hhi == pytest.approx(hhi(xs), rel=1e-9)
    top = sorted(xs, reverse=True)
    assert r.top3_share == pytest.approx(sum(top[:3]) / sum(xs), rel=1e-9)
    assert r.top1_share == pytest.approx(top[0] / sum(xs), rel=1e-9)


def _flows(rows: list[tuple]) -> ibis.Table:
    return ibis.memtable(pd.DataFrame(rows, columns=["year", "exporter", "importer", "mineral",
                                                     "value_kusd", "quantity_t", "content_t",
                                                     "n_flows", "n_content"]))


def test_import_metrics_hand_case() -> None:
    f = _flows([(2024, "AUS", "JPN", "li", 60.0, 6.0, 1.0, 1, 1),
                (2024, "CHN", "JPN", "li", 30.0, 3.0, 0.5, 1, 1),
                (2024, "CHL", "JPN", "li", 10.0, 1.0, 0.2, 1, 1)])
    groups = ibis.memtable(pd.DataFrame({
        "group_id": ["QUAD", "QUAD", "MSP"], "iso3": ["AUS", "JPN", "AUS"],
        "joined": pd.to_datetime(["2025-07-01", "2025-07-01", "2022-06-14"]).date,
        "left": [None, None, None]}))
    r = trade.import_metrics(f, groups, groups=("QUAD", "MSP")).to_pandas().iloc[0]
    assert r.imports_kusd == pytest.approx(100)
    assert r.import_hhi == pytest.approx(0.36 + 0.09 + 0.01)
    assert r.top_supplier == "AUS" and r.top_supplier_share == pytest.approx(0.6)
    assert r.share_msp == pytest.approx(0.6)
    assert r.share_quad == pytest.approx(0.0)  # QUAD initiative launched 2025: not yet in 2024
    assert r.share_own_bloc == pytest.approx(0.0)


def test_import_reliance_hand_case() -> None:
    f = _flows([(2024, "AUS", "JPN", "li", 60.0, 100.0, 10.0, 1, 1),
                (2024, "JPN", "KOR", "li", 5.0, 20.0, 2.0, 1, 1)])
    p = ibis.memtable(pd.DataFrame({
        "year": [2024], "country": ["JPN"], "mineral": ["li"], "stage": ["mine"], "value": [4.0],
        "unit": ["t"], "basis": ["Li content"], "source_id": ["s"]}))
    r = trade.import_reliance(f, p, stage="mine").to_pandas().set_index("country")
    # (10 - 2) / (4 + 10 - 2) = 8 / 12
    assert r.loc["JPN", "import_reliance"] == pytest.approx(8 / 12)
    assert r.loc["JPN", "reliance_flag"] is None or pd.isna(r.loc["JPN", "reliance_flag"])
    # the list (JPN, no "Other countries" row) is complete: AUS and KOR produce 0, flagged;
    # AUS only exports, so nothing is consumed: NA with the reason, never a silent 0
    assert r.loc["AUS", "production_flag"] == "not_a_listed_producer"
    assert pd.isna(r.loc["AUS", "import_reliance"])
    assert r.loc["AUS", "reliance_flag"] == "no_apparent_consumption"
    # KOR imports 2 t and produces nothing: 100 %
    assert r.loc["KOR", "import_reliance"] == 1.0
    # with a rest-of-world row the list is not complete: KOR may be inside "Other countries"
    p2 = ibis.memtable(pd.DataFrame({
        "year": [2024, 2024], "country": ["JPN", "XRW"], "mineral": ["li", "li"],
        "stage": ["mine", "mine"], "value": [4.0, 1.0], "unit": ["t", "t"],
        "basis": ["Li content", "Li content"], "source_id": ["s", "s"]}))
    r2 = trade.import_reliance(f, p2, stage="mine").to_pandas().set_index("country")
    assert pd.isna(r2.loc["KOR", "import_reliance"])
    assert r2.loc["KOR", "reliance_flag"] == "in_rest_of_world"


def test_usgs_cobalt_concentration(full_atlas: Path) -> None:
    """Cobalt mine 2024 from MCS 2026, checked against the raw file computed by hand: shares are
    of the world total, the named countries plus USGS's "Other countries" (226,000 of 301,590 t
    = 74.9 %), and the published rounded world total is kept beside it."""
    raw = pd.read_csv(shared("usgs", "MCS2026_Commodities_Data.csv"), encoding="cp1252", dtype=str)
    rows = raw[(raw.Commodity == "Cobalt") & (raw.Year == "2024")
               & raw.Statistics_detail.str.startswith("Mine production")]
    val = rows.set_index("Country").Value.str.replace(",", "").astype(float)
    named = val.drop(["World total", "Other countries"])
    world = named.sum() + val["Other countries"]
    assert world == 301_590
    with Atlas(full_atlas) as a:
        r = concentration.production_concentration(
            a.table("production"), mineral="cobalt", stage="mine", year=2024,
            sources=a.table("sources"), family="usgs-mcs").to_pandas()
    r = r[r.unit == "t"].iloc[0]
    assert r.top_supplier == "COD"
    assert r.total == pytest.approx(world)
    assert r.published_total == val["World total"] == 302_000
    assert r.rest_of_world == val["Other countries"]
    assert pd.isna(r.total_flag)  # 302,000 is 301,590 rounded
    assert r.hhi == pytest.approx(float(((named / world) ** 2).sum()), rel=1e-12)
    assert round(r.top1_share * 100, 1) == 74.9
    assert r.n_suppliers == len(named)
    assert not math.isnan(r.top3_share)
