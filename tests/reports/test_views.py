"""The page data and formatting helpers (no browser): missing data stays missing."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from critmin.atlas import Atlas
from critmin.errors import CritminError
from critmin.reports import charts, views
from critmin.reports.html import fmt, table


def test_fmt_never_turns_missing_into_zero() -> None:
    assert fmt(None, "pct") == "–"
    assert fmt(float("nan"), "kusd") == "–"
    assert fmt(pd.NA, "num") == "–"
    assert fmt(0.256, "pct") == "25.6%"
    assert fmt(0.5, "hhi") == "5,000"
    assert fmt(["EU-2023", "JPN"], "list") == "EU-2023, JPN"


def test_table_escapes_and_links() -> None:
    df = pd.DataFrame({"iso3": ["JPN"], "name": ["<b>Japan</b>"], "share": [math.nan],
                       "value": [3.0]})
    html = str(table(df, [("iso3", "ISO3", ""), ("name", "Name", ""), ("share", "Share", "pct"),
                          ("absent", "Skipped", "")],
                     links={"iso3": "/countries/{value}", "name": "/x/{iso3}"}))
    assert '<a href="/countries/JPN">JPN</a>' in html and 'href="/x/JPN"' in html
    assert "&lt;b&gt;Japan&lt;/b&gt;" in html and "Skipped" not in html and "–" in html


def test_risk_matrix_lists_missing_and_keeps_its_axes() -> None:
    risk = pd.DataFrame({
        "mineral": ["a", "b", "c", "d"], "name": ["A", "B", "C", "D"],
        "import_reliance": [1.0, 0.5, None, 0.2], "geopolrisk": [0.1, 0.2, 0.3, None],
        "top_supplier_share": [0.5, 0.6, None, 0.9], "import_hhi": [0.3, 0.4, 0.5, 0.2],
        "imports_kusd": [10.0, 20.0, 30.0, 40.0]})
    m = views.risk_matrix(risk)
    assert (m["x"], m["y"]) == ("top_supplier_share", "geopolrisk")
    assert [p["mineral"] for p in m["points"]] == ["a", "b"]
    assert m["missing"] == ["C", "D"]  # listed, not plotted at zero
    # a country with few GeoPolRisk figures keeps the axes (no fallback per country)
    sparse = risk.assign(geopolrisk=[0.1, None, None, None])
    assert (views.risk_matrix(sparse)["x"], views.risk_matrix(sparse)["y"]) == (
        "top_supplier_share", "geopolrisk")
    fig = charts.risk_matrix(m, "t")
    assert fig["data"][0]["x"] == [0.5, 0.6]


@pytest.mark.slow  # every country's matrix (~40 s)
def test_risk_matrix_same_axes_for_every_country(starter_atlas: Path) -> None:
    with Atlas(starter_atlas) as atlas:
        axes = {(p["matrix"]["x_label"], p["matrix"]["y_label"])
                for p in (views.country_page(atlas, c) for c in ("JPN", "IND", "DEU", "BRA"))}
    assert len(axes) == 1, axes


def test_scenario_spec_targets() -> None:
    spec = views.scenario_spec("CHN", "graphite", cut=0.5, targets="JPN, kor", base_year=2023)
    assert spec["shocks"][0]["targets"] == ["JPN", "KOR"]
    assert views.scenario_spec("CHN", "graphite", targets="non-MSP",
                               base_year=2023)["shocks"][0]["targets"] == "non-MSP"


def test_clean_makes_figures_json_safe() -> None:
    fig = charts.figure([{"y": [1.0, float("nan"), float("inf")]}], {})
    assert fig["data"][0]["y"] == [1.0, None, None]


def test_pages_on_the_starter_atlas(starter_atlas: Path) -> None:
    with Atlas(starter_atlas) as atlas:
        hits = views.search(atlas, "cobalt")
        assert {"kind": "mineral", "id": "cobalt", "name": "Cobalt",
                "url": "/minerals/cobalt"} in hits
        page = views.mineral_page(atlas, "cobalt")
        assert page["producers"].country.iloc[0] == "COD"
        # shares are of the USGS world total: the named producers leave out USGS's
        # "Other countries" (about 3 % of cobalt mining in MCS 2026), so they sum below 1
        assert 0.95 < page["producers"].share.sum() < 1.0
        # MCS 2026 gives the latest year's figures as estimates ("e"): marked where shown
        assert page["producers"].estimated.iloc[0]
        assert fmt(True, "est") == "estimate" and fmt(False, "est") == ""
        assert len(page["flows"]) > 5 and (page["flows"].value_kusd > 0).all()
        main = views.main_concentration(atlas)
        assert main.hhi.is_monotonic_decreasing and "cobalt" in set(main.mineral)
        with pytest.raises(CritminError, match="unknown mineral"):
            views.mineral_page(atlas, "unobtainium")
