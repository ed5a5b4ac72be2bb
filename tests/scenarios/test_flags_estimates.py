"""Ratios above 100 % carry a flag, and publishers' estimates are marked, on the real data.

The estimate marks are checked against the USGS MCS 2026 CSV itself (a country row's note
"Estimated."), never against critmin's own output.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from critmin.atlas import Atlas
from tests.conftest import shared

pytestmark = pytest.mark.slow


def usgs_mine_2024(commodity: str) -> dict[str, tuple[float, bool]]:
    """Country -> (mine production 2024, marked "Estimated.") from the MCS 2026 CSV (the world
    total row left out; "Other countries" kept)."""
    path = shared("usgs", "MCS2026_Commodities_Data.csv")
    out = {}
    with path.open(encoding="cp1252", newline="") as f:
        for r in csv.DictReader(f):
            if (r["Commodity"] == commodity and r["Section"].startswith("World Mine Production")
                    and r["Statistics"] == "Production" and r["Year"] == "2024"
                    and r["Statistics_detail"] == "Mine production"):
                out[r["Country"]] = (float(r["Value"].replace(",", "")),
                                     r["Notes"].startswith("Estimated"))
    return out


def published(commodity: str, top: str) -> tuple[bool, float]:
    """(the top producer's figure is an estimate, share of the world total from estimates)."""
    rows = usgs_mine_2024(commodity)
    world = sum(v for v, _e in rows.values())
    return rows[top][1], sum(v for v, e in rows.values() if e) / world


@pytest.fixture(scope="module")
def atlas(chain_atlas: Path) -> Atlas:
    return Atlas.open(chain_atlas)


@pytest.mark.parametrize(("mineral", "commodity", "top"), [
    ("cobalt", "Cobalt", "Congo (Kinshasa)"), ("nickel", "Nickel", "Indonesia")])
def test_estimates_marked_in_concentration_n_minus_1_and_assess(
        atlas: Atlas, mineral: str, commodity: str, top: str) -> None:
    from critmin import assess
    from critmin.reports import views
    from critmin.scenarios.nminus1 import n_minus_1

    top_est, share = published(commodity, top)
    conc = views.concentration_view(views.concentration(atlas, mineral), mineral, "mine", 2024)
    assert bool(conc.top_estimated.iloc[0]) is top_est
    assert conc.estimated_share.iloc[0] == pytest.approx(share, rel=1e-9)
    n1 = n_minus_1(atlas, mineral=mineral, stage="mine", year=2024).iloc[0]
    assert bool(n1.top_estimated) is top_est
    assert n1.estimated_share == pytest.approx(share, rel=1e-9)
    row = assess("JPN", year=2024, minerals=[mineral], atlas=atlas).iloc[0]
    assert row.production_year == 2024
    assert bool(row.top_producer_estimated_mine) is top_est
    assert row.estimated_share_mine == pytest.approx(share, rel=1e-9)


def test_cli_marks_estimates_with_a_footnote(atlas: Atlas, cli: Callable[..., str]) -> None:
    db = ("--db", str(atlas.path))
    text = cli("concentration", "--mineral", "cobalt", "--stage", "mine", "--year", "2024", *db)
    assert "COD (e)" in text and "(e) estimate: the publisher marks" in text
    text = cli("scenario", "n-minus-1", "--mineral", "cobalt", "--stage", "mine", "--year",
               "2024", *db)
    assert "COD (e)" in text and "(e) estimate" in text
    text = cli("assess", "JPN", "--year", "2024", "--mineral", "cobalt", *db)
    assert "(e)" in text and "top_producer_estimated_mine" in text
    rows = json.loads(cli("concentration", "--mineral", "nickel", "--stage", "mine", "--year",
                          "2024", "--format", "json", *db))
    assert rows[0]["top_estimated"] is False  # Indonesia's 2024 figure is not an estimate


def test_n_minus_1_coverage_above_one_is_flagged(atlas: Atlas, cli: Callable[..., str]) -> None:
    from critmin.scenarios.nminus1 import n_minus_1

    df = n_minus_1(atlas)
    known = df[df.coverage.notna()]
    assert ((known.coverage > 1) == (known.coverage_flag == "surplus")).all()
    assert df[df.coverage.isna()].coverage_flag.isna().all()
    surplus = known[known.coverage > 1]
    assert len(surplus)  # lead, zinc, tin and others: the rest of the world has a surplus
    m = surplus.iloc[0]
    text = cli("scenario", "n-minus-1", "--mineral", m.mineral, "--stage", m.stage, "--db",
               str(atlas.path))
    assert "(surplus)" in text
    assert "coverage above 100 %: surplus: without the largest producer" in text


def test_partner_coverage_is_capped_with_its_reason(atlas: Atlas) -> None:
    from critmin.cooperation.analytics import coverage

    df = coverage("JPN", "QUAD", year=2024, atlas=atlas)
    assert (df.coverage.dropna() <= 1).all() and (df.coverage_value.dropna() <= 1).all()
    over = df.coverage_value_ratio > 1
    assert over.any()  # gold and others: partners export far more than Japan imports
    assert (df.coverage_value_flag[over] == "partners_exceed_imports").all()
    assert df.coverage_value_flag[~over].isna().all()
    assert (df.coverage_value[over] == 1.0).all()
    ok = df.coverage_value_ratio.notna() & ~over
    assert (df.coverage_value[ok] == df.coverage_value_ratio[ok]).all()
    t_over = df.coverage_ratio > 1
    assert (df.flag[t_over] == "partners_exceed_imports").all()
