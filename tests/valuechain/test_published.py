"""Refining everywhere mining is, checked against published figures: the IEA Critical Minerals
Data Explorer 2025 (2024 supply by country, read straight from the publisher's file) and the
refinery projects of the registry."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from critmin.atlas import Atlas
from critmin.metrics.concentration import production_concentration
from critmin.metrics.supply import preferred_family
from tests.conftest import shared

MINERALS = {"Copper": "copper", "Cobalt": "cobalt", "Lithium": "lithium", "Nickel": "nickel",
            "Graphite": "graphite", "Rare Earth Elements": "rare_earths"}
STAGES = {"mining": "mine", "refining": "refinery"}


def _published() -> dict[tuple[str, str], dict[str, float]]:
    """(mineral, stage) -> {country name: kt} for 2024, as the IEA file gives them."""
    out: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    with open(shared("iea", "iea_cm_supply_2025.csv"), newline="") as fh:
        for r in csv.DictReader(fh):
            if r["case"] == "historical":
                out[(MINERALS[r["mineral"]], STAGES[r["stage"]])][r["country"]] = float(r["value"])
    return out


def _top3(by_country: dict[str, float]) -> tuple[float, float, list[str]]:
    total = sum(by_country.values())
    named = sorted(((v, c) for c, v in by_country.items() if c != "Rest of world"),
                   reverse=True)
    return total, sum(v for v, _c in named[:3]) / total, [c for _v, c in named[:3]]


def test_iea_2024_totals_and_top3_shares(chain_atlas: Path) -> None:
    """Every IEA 2024 world total and top-3 share (named countries over the world total incl.
    rest of world), e.g. lithium refining: China 169.7 of 241.6 kt."""
    pub = _published()
    with Atlas(chain_atlas) as atlas:
        c = production_concentration(atlas.table("production"), year=2024, family="iea",
                                     sources=atlas.table("sources")).to_pandas()
    c = c.set_index(["mineral", "stage"])
    assert len(pub) == 12
    for (mineral, stage), by_country in pub.items():
        total, top3, _names = _top3(by_country)
        row = c.loc[(mineral, stage)]
        assert row.total / 1000 == pytest.approx(total, rel=1e-9), (mineral, stage)
        assert row.top3_share == pytest.approx(top3, rel=1e-9), (mineral, stage)
    li = c.loc[("lithium", "refinery")]
    assert round(li.total / 1000, 1) == 241.6
    assert round(li.top1_share * li.total / 1000, 1) == 169.7 and li.top_supplier == "CHN"


def test_refinery_stage_served_for_the_battery_minerals(chain_atlas: Path, cli) -> None:
    """`concentration --stage refinery` is no longer empty for rare earths and graphite; the
    IEA serves the stage where USGS MCS publishes no refining."""
    with Atlas(chain_atlas) as atlas:
        p = preferred_family(atlas.table("production").filter(
            lambda t: t.stage == "refinery"), atlas.table("sources"))
        fam = dict(p.select("mineral", "family").distinct().to_pandas().itertuples(index=False))
    for m in ("rare_earths", "graphite", "lithium", "nickel"):
        assert fam[m] == "iea", m
    assert fam["copper"] == "usgs-mcs"
    out = cli("concentration", "--mineral", "rare_earths", "--stage", "refinery",
              "--format", "csv", "--db", str(chain_atlas))
    assert "magnet rare-earth oxides" in out and "CHN" in out


def test_whatif_every_refinery_project(chain_atlas: Path) -> None:
    """Every refinery project of the registry gives world refining concentration before and
    after; TTC-TREI-AP-REE lowers the rare-earth refining HHI."""
    from critmin.cooperation import analytics
    from critmin.cooperation.registry import Registry

    with Atlas(chain_atlas) as atlas:
        reg = Registry.from_atlas(atlas)
        refinery = [p for p in reg.projects if p.stage == "refinery"]
        assert len(refinery) >= 20
        for pr in refinery:
            df = analytics.whatif([pr.id], atlas=atlas, registry=reg)
            hhi = df[df.metric == "hhi"].iloc[0]
            top = df[df.metric == "top1_share"].iloc[0].note  # "top producer CHN -> CHN"
            if pr.country not in top:  # capacity outside the leader dilutes concentration
                assert hhi.after < hhi.before, pr.id
            else:  # e.g. VALE-HUAYOU-POMALAA adds to Indonesia, the top nickel refiner
                assert hhi.after != hhi.before, pr.id
            added = df[df.metric == "added_capacity"].iloc[0]
            assert added.after > 0, pr.id
        ttc = analytics.whatif(["TTC-TREI-AP-REE"], atlas=atlas, registry=reg)
    row = ttc[ttc.metric == "world_production"].iloc[0]
    assert row.basis == "magnet rare-earth oxides" and row.stage == "refinery"
    # 4,000 t/y REO x 0.19 (world-average magnet share of REO) = 760 t
    assert row.after - row.before == pytest.approx(760.0)
