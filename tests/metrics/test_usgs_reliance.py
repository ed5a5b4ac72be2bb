"""US net import reliance on the basis USGS states, against USGS MCS 2026 (issue #12, item 4).

The published figures are read here straight from the MCS 2026 data release (Windows-1252 CSV),
independently of critmin's loader; critmin's figures come from BACI trade (HS92 and HS17) and
USGS / World Mining Data production through :func:`critmin.metrics.trade.reliance_on_basis`.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from critmin.atlas import Atlas
from critmin.metrics import trade
from tests.conftest import ROOT, shared

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def us_atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BACI 2024 (HS92 and HS17 V202601), USGS and World Mining Data."""
    from critmin import atlas

    dirs = [shared("baci", "BACI_HS92_Y2024_V202401b.csv"),
            shared("baci", "country_codes_V202401b.csv"), shared("baci_hs17"), shared("usgs"),
            shared("wmd")]
    db = tmp_path_factory.mktemp("us") / "atlas.duckdb"
    atlas.build(dirs, db, fresh=True)
    return db


def published() -> dict[tuple[str, str], str]:
    """USGS's 2024 US net import reliance, (commodity, statistic) -> the printed text."""
    out = {}
    with open(shared("usgs", "MCS2026_Commodities_Data.csv"), encoding="cp1252") as f:
        for r in csv.DictReader(f):
            if (r["Statistics"] == "Net import reliance" and r["Year"] == "2024"
                    and r["Country"].strip() == "United States"):
                out[r["Commodity"], r["Statistics_detail"]] = r["Value"].strip()
    return out


def usa(atlas: Atlas, mineral: str, *, stage: str, forms: list[str] | None) -> pd.Series:
    r = trade.reliance_on_basis(atlas.table("trade_flows"), atlas.table("hs_map"),
                                atlas.table("production"), stage=stage, forms=forms,
                                sources=atlas.table("sources"))
    r = r.filter((r.country == "USA") & (r.year == 2024) & (r.mineral == mineral)).to_pandas()
    assert len(r) == 1, mineral
    return r.iloc[0]


def test_copper_on_the_refined_basis_usgs_states(us_atlas: Path) -> None:
    """USGS: 45 %, 'Defined as refined imports – refined exports'. Refined copper (HS17 740311)
    against US refinery production gives it within a point; every traded form against mine
    production (copper concentrate exports) does not."""
    pub = published()[("Copper", "Net import reliance as a percentage of apparent consumption")]
    assert pub == "45"
    with Atlas(us_atlas) as a:
        refined = usa(a, "copper", stage="refinery", forms=["metal"])
        everything = usa(a, "copper", stage="mine", forms=None)
    assert refined.import_reliance * 100 == pytest.approx(float(pub), abs=1.0)
    assert refined.reliance_low == refined.reliance_high == refined.import_reliance
    assert abs(everything.import_reliance * 100 - float(pub)) > 10


def test_zinc_ores_net_exporter_and_gallium_from_hs17(us_atlas: Path) -> None:
    """Zinc ores and concentrates: USGS 'E' (net exporter); gallium: USGS 100, only traded under
    the HS17 code 8112.92 (no HS92 code), with no US refinery production (value basis)."""
    pub = published()
    assert pub[("Zinc", "Net import reliance as a percentage of apparent consumption: "
                        "Ores and concentrates")] == "E"
    assert pub[("Gallium", "Net import reliance as a percentage of reported consumption")] == "100"
    with Atlas(us_atlas) as a:
        zinc = usa(a, "zinc", stage="mine", forms=["ore"])
        gallium = usa(a, "gallium", stage="refinery", forms=["metal", "chemical"])
    assert zinc.import_reliance < 0
    assert gallium.import_reliance == 1.0 and gallium.reliance_basis == "value"


def test_withheld_production_gives_a_bound(us_atlas: Path) -> None:
    """Lithium: US production withheld (W), USGS '>50'. With net imports positive and the
    production unknown, critmin gives the interval (0, 1], never a point figure."""
    assert published()[("Lithium", "Net import reliance as a percentage of apparent "
                                    "consumption")] == ">50"
    with Atlas(us_atlas) as a:
        li = usa(a, "lithium", stage="mine", forms=None)
    assert li.production_flag == "production_withheld" and pd.isna(li.import_reliance)
    assert li.imports_content_t > li.exports_content_t
    assert (li.reliance_low, li.reliance_high) == (0.0, 1.0)


def test_most_published_figures_agree_and_every_gap_has_a_cause(us_atlas: Path) -> None:
    """The comparison of ``docs/validation.md``: most figures that both sides give agree within
    10 points; every other row names its cause; USGS's figures are the published ones."""
    spec = importlib.util.spec_from_file_location("validate", ROOT / "scripts" / "validate.py")
    assert spec and spec.loader
    validate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(validate)
    with Atlas(us_atlas) as a:
        rel = validate.us_reliance(a)
    pub = published()
    texts = {v.replace(",", "") for v in pub.values()}
    for r in rel.itertuples():
        shown = r.reported.replace(" (net exporter)", "")
        assert shown in texts or shown in {"not_available", "NA"}, r.reported
    both = rel[rel.gap_pp.notna()]
    agree = int(both.agrees.sum())
    assert len(both) >= 25 and agree / len(both) > 0.5, (agree, len(both))
    for r in rel[~rel.agrees].itertuples():
        assert r.cause.strip(), r.mineral
    by = {(r.mineral, r.stage): r for r in rel.itertuples()}
    assert by[("copper", "refinery")].agrees
