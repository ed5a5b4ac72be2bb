"""Shares of world production against the figures USGS publishes, and one release per source
family (issue: numbers an analyst can cite, items 1 and 2).

Published figures (USGS Mineral Commodity Summaries 2026, mine production 2024):
cobalt DR Congo 226,000 t of a world 301,590 t (named countries plus "Other countries";
302,000 t rounded) = 74.9 %; nickel Indonesia 2,310,000 t of 3,705,990 t (3,710,000 rounded)
= 62.3 %.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from critmin import atlas as atlas_mod
from critmin.atlas import Atlas
from critmin.errors import CritminError
from critmin.metrics import production_concentration
from tests.conftest import shared

PUBLISHED = {"cobalt": ("COD", 226_000, 301_590, 74.9), "nickel": ("IDN", 2_310_000, 3_705_990, 62.3)}


@pytest.mark.parametrize("mineral", sorted(PUBLISHED))
def test_concentration_shares_of_the_usgs_world_total(full_atlas: Path, mineral: str) -> None:
    top, amount, world, pct = PUBLISHED[mineral]
    with Atlas(full_atlas) as a:
        df = production_concentration(a.table("production"), mineral=mineral, stage="mine",
                                      year=2024).to_pandas()
    assert len(df) == 1  # one release, one publisher: no second row from World Mining Data
    r = df.iloc[0]
    assert (r.top_supplier, r.total) == (top, world)
    assert round(r.top1_share * 100, 1) == pct
    assert r.top1_share == pytest.approx(amount / world)


def test_readme_example_gives_the_usgs_world_total(full_atlas: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``production_concentration(Atlas.open().table("production"), mineral="cobalt")``: one
    row per year with the USGS world total (2022: 196,940 t from MCS 2024, about 195,000 t as
    the issue reports; never the 907,310 t of every release and World Mining Data added up)."""
    monkeypatch.setenv("CRITMIN_ATLAS", str(full_atlas))
    df = production_concentration(Atlas.open().table("production"), mineral="cobalt").to_pandas()
    mine = df[(df.stage == "mine") & (df.unit == "t")].set_index("year")
    assert not mine.index.duplicated().any()
    assert mine.loc[2024, "total"] == 301_590
    assert mine.loc[2022, "total"] == pytest.approx(196_940)
    raw = _mcs2024_cobalt_2022()
    assert mine.loc[2022, "total"] == raw


def _mcs2024_cobalt_2022() -> float:
    """Cobalt mine production 2022 in MCS 2024 (the latest release covering 2022): the named
    countries plus "Other countries", read from the raw long file."""
    total = 0.0
    with open(shared("usgs", "mcs2024_world_production_reserves_long.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if ("cobal" in r["source_file"] and r["year"] == "2022" and r["measure"] == "production"
                    and not r["country"].startswith("World")):
                total += float(r["value_raw"].replace(",", ""))
    return total


@pytest.mark.parametrize("mineral", sorted(PUBLISHED))
def test_n_minus_1_cli_shares(full_atlas: Path, cli: Callable[..., str], mineral: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRITMIN_ATLAS", str(full_atlas))
    top, _amount, world, pct = PUBLISHED[mineral]
    rows = json.loads(cli("scenario", "n-minus-1", "--year", "2024", "--mineral", mineral,
                          "--stage", "mine", "--format", "json"))
    (r,) = rows
    assert (r["top_producer"], r["world_production_t"]) == (top, world)
    assert round(r["top_share"] * 100, 1) == pct


@pytest.mark.parametrize("mineral", sorted(PUBLISHED))
def test_concentration_cli_shares(full_atlas: Path, cli: Callable[..., str], mineral: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRITMIN_ATLAS", str(full_atlas))
    top, _amount, world, pct = PUBLISHED[mineral]
    rows = json.loads(cli("concentration", "--mineral", mineral, "--format", "json"))
    r = next(x for x in rows if x["year"] == 2024 and x["stage"] == "mine" and x["unit"] == "t")
    assert (r["top_producer"], r["total"], r["total_flag"]) == (top, world, None)
    assert round(r["top1_share"] * 100, 1) == pct


def test_assess_top_producer_share(full_atlas: Path, cli: Callable[..., str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRITMIN_ATLAS", str(full_atlas))
    rows = {r["mineral"]: r for r in json.loads(cli("assess", "JPN", "--year", "2024",
                                                    "--format", "json"))}
    for mineral, (top, _amount, _world, pct) in PUBLISHED.items():
        r = rows[mineral]
        assert r["top_producer_mine"] == top
        assert round(r["top_producer_share_mine"] * 100, 1) == pct


def test_one_release_per_family_and_pinning(full_atlas: Path) -> None:
    """MCS 2023 and MCS 2024 both publish 2022; the later release replaces the earlier one, and
    the wide and long CSVs of one edition (the same facts) never add up."""
    with Atlas(full_atlas) as a:
        p = a.table("production")
        n = p.filter((p.mineral == "cobalt") & (p.year == 2022) & (p.country == "COD")
                     & p.source_id.startswith("usgs"))
        got = n.select("source_id", "value").to_pandas()
        assert len(got) == 1 and got.source_id.iloc[0].startswith("usgs-mcs2024")
        allp = a.table("production", all_releases=True)
        every = allp.filter((allp.mineral == "cobalt") & (allp.year == 2022)
                            & (allp.country == "COD") & allp.source_id.startswith("usgs"))
        assert every.count().to_pandas() == 4  # MCS 2023 and 2024, wide and long each
    with Atlas(full_atlas, release="MCS2023") as a:
        p = a.table("production")
        got = p.filter((p.mineral == "cobalt") & (p.year == 2022) & (p.country == "COD")
                       & p.source_id.startswith("usgs")).select("source_id").to_pandas()
        assert len(got) == 1 and got.source_id.iloc[0].startswith("usgs-mcs2023")
        assert p.filter(p.year == 2024).filter(p.source_id.startswith("usgs")).count(
        ).to_pandas() == 0  # pinned: MCS 2026 does not count
    with pytest.raises(CritminError, match=r"unknown release 'MCS1999': the atlas holds .*MCS2023"):
        Atlas(full_atlas, release="MCS1999").table("production")


def test_second_wmd_file_replaces_the_first_for_its_years(tmp_path: Path) -> None:
    """Two World Mining Data files with different year spans: the later edition counts for the
    years both cover, and the build report says so."""
    src = shared("wmd", "world_mining_data_2018_2024_long.csv")
    older = tmp_path / "older" / "world_mining_data_2017_2022_long.csv"
    older.parent.mkdir()
    with open(src, encoding="utf-8") as f, open(older, "w", encoding="utf-8", newline="") as g:
        lines = f.read().splitlines()
        g.write("\n".join([lines[0], *[ln for ln in lines[1:] if ",2023," not in ln
                                        and ",2024," not in ln]]) + "\n")
    db = tmp_path / "atlas.duckdb"
    rep = atlas_mod.build([src.parent, older.parent], db, fresh=True)
    assert any("wmd release 2026 replaces 2024 for 2018-2022" in n for n in rep.notes), rep.notes
    with Atlas(db) as a:
        p = a.table("production")
        ni = p.filter((p.mineral == "nickel") & (p.year == 2020) & (p.country == "IDN"))
        assert ni.count().to_pandas() == 1
        assert ni.source_id.to_pandas().iloc[0] == "wmd-2018-2024"


def test_japan_relies_fully_on_imports(full_atlas: Path, cli: Callable[..., str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Japan mines no lithium, cobalt, nickel, graphite or rare earths: it is absent from World
    Mining Data's complete producer lists, so its production is 0 and its reliance 100 %."""
    monkeypatch.setenv("CRITMIN_ATLAS", str(full_atlas))
    rows = {r["mineral"]: r for r in json.loads(cli("assess", "JPN", "--year", "2024",
                                                    "--format", "json"))}
    for m in ("lithium", "cobalt", "nickel", "graphite", "rare_earths"):
        assert rows[m]["import_reliance"] == 1.0, (m, rows[m]["import_reliance_flag"])
        assert rows[m]["import_reliance_basis"] in ("content", "value")
    blank = [r for r in rows.values() if r["import_reliance"] is None]
    assert all(r["import_reliance_flag"] for r in blank)  # every blank says why
    table = cli("assess", "JPN", "--year", "2024")
    assert "Reliance notes:" in table


def test_usgs_net_import_reliance_is_loaded_as_reported(full_atlas: Path) -> None:
    """MCS 2026 salient statistics: US net import reliance 2024, cobalt 74, lithium >50,
    rare-earth concentrates E (net exporter)."""
    with Atlas(full_atlas) as a:
        r = a.table("reported_reliance").filter(lambda t: t.year == 2024).to_pandas()
    by = {(m, d.split(": ", 1)[1]): (v, f if isinstance(f, str) else None) for m, d, v, f in
          zip(r.mineral, r.detail, r.value, r.flag, strict=True)}
    key = "Net import reliance as a percentage of apparent consumption"
    assert by[("cobalt", key)] == (74.0, None)
    assert by[("lithium", key)] == (50.0, "lower_bound")
    v, f = by[("rare_earths", key + ": Mineral concentrates")]
    assert f == "net_exporter" and v != v
    assert set(r.country) == {"USA"}


def test_content_factors_are_cited_and_used(full_atlas: Path) -> None:
    """One table of content factors, each with its source; the atlas's hs_map takes them."""
    from importlib import resources

    text = resources.files("critmin.reference").joinpath("content_factors.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert rows and all(r["source"].strip() for r in rows)
    assert all(0 < float(r["content_factor"]) <= 1 for r in rows)
    cited = {(r["hs_code"], r["hs_revision"], r["mineral"]): float(r["content_factor"])
             for r in rows}
    assert cited[("283691", "HS92", "lithium")] == pytest.approx(2 * 6.94 / 73.89, abs=5e-4)
    with Atlas(full_atlas) as a:
        hs = a.table("hs_map").to_pandas()
    got = {(c, r, m): f for c, r, m, f in zip(hs.hs_code, hs.hs_revision, hs.mineral,
                                              hs.content_factor, strict=True)}
    for key, f in cited.items():
        if key in got:
            assert got[key] == pytest.approx(f), key


def test_cli_release_pin(full_atlas: Path, cli: Callable[..., str],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``critmin --release MCS2024``: cobalt 2022-2023 from MCS 2024 only (no 2024-2025)."""
    monkeypatch.setenv("CRITMIN_ATLAS", str(full_atlas))
    monkeypatch.setenv("CRITMIN_RELEASE", "")  # restored after the test (the option sets it)
    rows = json.loads(cli("--release", "MCS2024", "concentration", "--mineral", "cobalt",
                          "--stage", "mine", "--format", "json"))
    assert sorted(r["year"] for r in rows) == [2022, 2023]
    assert next(r for r in rows if r["year"] == 2022)["total"] == pytest.approx(196_940)
