"""Production is never added up across bases, and trade never across HS revisions.

Checked against the published files: USGS MCS 2026 (iron ore as usable ore and as Fe content;
magnesite) and the BACI HS92 and HS17 CSV files (natural borates: HS92 252890 and HS17
252800 are overlapping goods).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from critmin.atlas import Atlas
from critmin.metrics import trade
from critmin.metrics.concentration import production_concentration
from tests.conftest import shared

MCS2026 = ("usgs", "MCS2026_Commodities_Data.csv")


def _mcs2026_rows(commodity: str, detail: str, year: int) -> dict[str, str]:
    """Country -> value text of one world-production statistic of the MCS 2026 file."""
    with shared(*MCS2026).open(encoding="cp1252", newline="") as f:
        return {r["Country"]: r["Value"] for r in csv.DictReader(f)
                if r["Commodity"] == commodity and r["Year"] == str(year)
                and r["Statistics_detail"].startswith(detail)}


def _kt(text: str) -> float:
    return float(text.replace(",", "")) * 1000.0


def _world_sum(rows: dict[str, str]) -> float:
    """Named countries plus 'Other countries', in tonnes (W rows left out)."""
    return sum(_kt(v) for c, v in rows.items() if c != "World total" and v not in ("W", ""))


def test_iron_ore_and_magnesite_one_basis(full_atlas: Path) -> None:
    a = Atlas.open(full_atlas)
    prod, src = a.table("production"), a.table("sources")
    fe = _mcs2026_rows("Iron Ore", "Mine production: Iron content", 2024)
    ore = _mcs2026_rows("Iron Ore", "Mine production: Usable ore", 2024)
    mg = _mcs2026_rows("Magnesium Compounds", "Mine production", 2024)
    assert _kt(fe["United States"]) == 28_600_000 and _kt(ore["United States"]) == 45_100_000

    status, _lists = trade.production_status(prod, stage="mine", sources=src)
    s = status.filter(status.year == 2024).to_pandas().set_index(["mineral", "country"])
    us = s.loc[("iron_ore", "USA")]
    # the trade content factor of iron ore is its Fe content: that basis, never 45.1 + 28.6 Mt
    assert us.production_basis == "Fe content"
    assert us.production_t == pytest.approx(_kt(fe["United States"]))
    assert s.loc[("iron_ore", "AUS")].production_t == pytest.approx(_kt(fe["Australia"]))
    assert mg["United States"] == "W"
    assert s.loc[("magnesite", "USA")].production_flag == "production_withheld"
    assert s.loc[("magnesite", "USA")].production_basis == "gross"
    assert s.loc[("magnesite", "CHN")].production_t == pytest.approx(_kt(mg["China"]))
    assert not s.index.duplicated().any()  # one figure per country

    # the world totals and shares are per basis: one row each, each with its own total
    c = production_concentration(prod, stage="mine", year=2024).filter(
        lambda t: t.mineral.isin(["iron_ore", "magnesite"])).to_pandas()
    got = {(r.mineral, r.basis): r for r in c.itertuples()}
    assert set(got) == {("iron_ore", "Fe content"), ("iron_ore", "gross"),
                        ("magnesite", "gross")}
    assert got["iron_ore", "Fe content"].total == pytest.approx(_world_sum(fe))
    assert got["iron_ore", "gross"].total == pytest.approx(_world_sum(ore))
    assert got["magnesite", "gross"].total == pytest.approx(_world_sum(mg))
    assert got["iron_ore", "Fe content"].published_total == _kt(fe["World total"])
    assert got["iron_ore", "Fe content"].top1_share == pytest.approx(
        _kt(fe["Australia"]) / _world_sum(fe))

    # the reliance names the production basis it used
    f = trade.mineral_trade(a.table("trade_flows"), a.table("hs_map"), sources=src)
    r = trade.import_reliance(f.filter(f.year == 2024), prod, stage="mine", sources=src,
                              family=None)
    r = r.filter((r.country == "USA") & (r.mineral == "iron_ore")).to_pandas().iloc[0]
    assert r.production_basis == "Fe content"
    assert r.production_t == pytest.approx(_kt(fe["United States"]))


def _nomenclature(revision: str) -> set[str]:
    if revision == "HS92":
        t = pd.read_csv(shared("baci", "product_codes_HS92_V202401b.csv"), dtype=str)
        return set(t.code)
    t = pd.read_csv(shared("reference", "hs2017_nomenclature.csv"), dtype=str,
                    encoding="utf-8-sig")
    return set(t.hscode)


def _reference(name: str) -> pd.DataFrame:
    from importlib import resources

    return pd.read_csv(resources.files("critmin.reference").joinpath(f"{name}.csv"), dtype=str)


def test_hs_correlation_covers_every_renumbered_code() -> None:
    """Against the published nomenclatures: a mapped code that the other revision does not
    have, for a mineral and traded form mapped in both revisions, is declared in
    hs_correlation.csv with the goods it shares; every declared code exists and every declared
    product spans two revisions."""
    noms = {"HS92": _nomenclature("HS92"), "HS17": _nomenclature("HS17")}
    corr = _reference("hs_correlation")
    for r in corr.itertuples():
        assert r.hs_code in noms[r.hs_revision], f"{r.hs_revision}:{r.hs_code} does not exist"
    spans = corr.groupby("product").hs_revision.nunique()
    assert (spans >= 2).all(), spans[spans < 2]
    declared = set(zip(corr.hs_revision, corr.hs_code, strict=True))
    hs = _reference("hs_map")
    hs = hs[hs.hs_revision.isin(list(noms))]
    both = hs.groupby(["mineral", "stage"]).hs_revision.nunique()
    undeclared = []
    for (mineral, form), n in both.items():
        if n < 2:
            continue
        for r in hs[(hs.mineral == mineral) & (hs.stage == form)].itertuples():
            other = "HS17" if r.hs_revision == "HS92" else "HS92"
            if (r.hs_code in noms[r.hs_revision] and r.hs_code not in noms[other]
                    and (r.hs_revision, r.hs_code) not in declared):
                undeclared.append(f"{mineral} {form} {r.hs_revision}:{r.hs_code}")
    assert undeclared == []


def _baci(year: int) -> pd.DataFrame:
    """The BACI rows of ``year`` of both revisions, self-trade dropped, with revision."""
    frames = []
    for rev, folder, name in (("HS92", "baci", f"BACI_HS92_Y{year}_V202401b.csv"),
                              ("HS17", "baci_hs17", f"BACI_HS17_Y{year}_V202601.csv")):
        d = pd.read_csv(shared(folder, name), dtype={"k": str}, na_values=["NA"])
        d = d[d.i != d.j].assign(hs_revision=rev, hs_code=lambda x: x.k.str.strip().str.zfill(6))
        frames.append(d)
    return pd.concat(frames)


def test_trade_one_revision_per_product(chain_atlas: Path) -> None:
    """For every mineral x year x product present in both HS92 and HS17, the trade figure
    takes that product from one revision only (quantities first, then the later revision),
    computed from the BACI CSV files; natural borates are checked by value."""
    a = Atlas.open(chain_atlas)
    f = trade.mineral_trade(a.table("trade_flows"), a.table("hs_map"), sources=a.table("sources"))
    got = f.group_by(["mineral", "year"]).aggregate(v=f.value_kusd.sum()).to_pandas()
    got = got.set_index(["mineral", "year"]).v
    hs = _reference("hs_map")[["hs_code", "hs_revision", "mineral"]]
    corr = _reference("hs_correlation")
    product = {(r.hs_revision, r.hs_code): r.product for r in corr.itertuples()}
    checked = 0
    for year in (2022, 2024):
        b = _baci(year).merge(hs, on=["hs_code", "hs_revision"])
        b["product"] = [product.get((r, c), c) for r, c in zip(b.hs_revision, b.hs_code,
                                                                strict=True)]
        per = b.groupby(["mineral", "product", "hs_revision"]).agg(
            v=("v", "sum"), has_q=("q", lambda q: q.notna().any())).reset_index()
        per["rank"] = per.has_q.astype(int) * 100 + per.hs_revision.map({"HS92": 0, "HS17": 1})
        keep = per[per["rank"] == per.groupby(["mineral", "product"])["rank"].transform("max")]
        expected = keep.groupby("mineral").v.sum()
        twice = per.groupby(["mineral", "product"]).hs_revision.nunique()
        for mineral in {m for (m, _p), n in twice.items() if n > 1}:
            both = per[per.mineral == mineral].v.sum()
            assert got[mineral, year] == pytest.approx(expected[mineral], rel=1e-9), mineral
            assert got[mineral, year] < both  # never the sum of both revisions
            checked += 1
        if year == 2024:  # HS17 2024 has quantities: natural borates from HS17 252800
            bor = b[(b.mineral == "boron")]
            want = (bor[(bor.hs_revision == "HS17") & (bor.hs_code == "252800")].v.sum()
                    + bor[(bor.hs_revision == "HS92") & (bor.hs_code == "280450")].v.sum())
        else:  # HS17 2022 is value only: HS92 252890 serves
            want = b[(b.mineral == "boron") & (b.hs_revision == "HS92")].v.sum()
        assert got["boron", year] == pytest.approx(want, rel=1e-9)
    assert checked >= 30

    cov = trade.hs_coverage(a.table("trade_flows"), a.table("hs_map"), year=2024,
                            by_importer=False).to_pandas()
    boron = cov.set_index("mineral").loc["boron"]
    assert sorted(boron.hs_codes) == ["HS17:252800", "HS92:280450"]
