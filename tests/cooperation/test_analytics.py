"""Bloc shares, what-if and coverage checked against hand computations on the raw USGS file and
direct SQL on the atlas (independent paths), plus the CLI on the bundled starter atlas."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from critmin.atlas import Atlas
from critmin.cooperation import analytics
from critmin.cooperation.registry import Registry
from critmin.errors import SpecError

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
MCS2026 = SHARED / "usgs" / "MCS2026_Commodities_Data.csv"
DATA = REPO / "src" / "critmin" / "data"

pytestmark = pytest.mark.skipif(not MCS2026.exists(), reason=f"shared USGS data absent ({MCS2026})")

#: the cobalt producers of MCS2026 as the file names them, by hand
COBALT_NAMES = {"United States": "USA", "Australia": "AUS", "Canada": "CAN", "China": "CHN",
                "Congo (Kinshasa)": "COD", "Cuba": "CUB", "Indonesia": "IDN", "Madagascar": "MDG",
                "Papua New Guinea": "PNG", "Philippines": "PHL", "Russia": "RUS", "Turkey": "TUR"}


def raw_mine_production(commodity: str, year: int) -> dict[str, float]:
    """Country mine production straight from the USGS CSV (no World total / Other countries)."""
    out: dict[str, float] = {}
    with MCS2026.open(encoding="latin-1", newline="") as fh:
        for r in csv.DictReader(fh):
            if (r["Commodity"] == commodity and r["Section"] == "World Mine Production and Reserves"
                    and r["Statistics_detail"] == "Mine production" and r["Year"] == str(year)
                    and r["Country"] not in ("World total", "Other countries")):
                try:
                    out[r["Country"]] = float(r["Value"].replace(",", ""))
                except ValueError:
                    continue  # withheld / not available
    return out


def rest_of_world(commodity: str, year: int) -> float:
    """USGS's "Other countries" mine production (the rest of the world total)."""
    with MCS2026.open(encoding="latin-1", newline="") as fh:
        for r in csv.DictReader(fh):
            if (r["Commodity"] == commodity and r["Country"] == "Other countries"
                    and r["Statistics_detail"] == "Mine production" and r["Year"] == str(year)):
                try:
                    return float(r["Value"].replace(",", ""))
                except ValueError:  # "—": none
                    return 0.0
    return 0.0


def members(group: str, year: int) -> set[str]:
    with (DATA / "country_groups.csv").open(encoding="utf-8") as fh:
        return {r["iso3"] for r in csv.DictReader(fh) if r["group_id"] == group and r["iso3"]
                and r["joined"][:4] <= str(year) and (not r["left"] or r["left"][:4] >= str(year))}


@pytest.fixture(scope="module")
def atlas(starter_atlas: Path) -> Atlas:
    """The bundled starter atlas (USGS MCS2026 production, BACI 2020-2024), the session's copy:
    these checks are of the product's first-run numbers, so the starter, not the fixture atlas."""
    a = Atlas(starter_atlas)
    yield a
    a.close()


@pytest.fixture(scope="module")
def cobalt() -> dict[str, float]:
    raw = raw_mine_production("Cobalt", 2024)
    assert set(raw) == set(COBALT_NAMES)
    return {COBALT_NAMES[k]: v for k, v in raw.items()}


def test_blocs_cobalt_2024_matches_hand(atlas: Atlas, cobalt: dict[str, float]) -> None:
    df = analytics.blocs("cobalt", stage="mine", year=2024, atlas=atlas).set_index("group_id")
    world = sum(cobalt.values()) + rest_of_world("Cobalt", 2024)  # the USGS world total
    assert world == 301_590
    for g in ("MSP", "QUAD", "IPEF", "G7"):
        m = members(g, 2024)
        expected = sum(v for c, v in cobalt.items() if c in m) / world
        assert df.loc[g, "production_share"] == pytest.approx(expected), g
    # MSP producers: USA 200 + AUS 4,780 + CAN 3,350 = 8,330 t
    assert df.loc["MSP", "group_production"] == 8_330
    assert df.loc["EU27", "production_share"] == 0
    # export share by direct SQL on the atlas (independent of the Ibis path)
    msp = sorted(members("MSP", 2024))
    con = duckdb.connect(str(atlas.path), read_only=True)
    try:
        (world_x, msp_x), = con.execute(
            "SELECT sum(value_kusd), sum(value_kusd) FILTER (WHERE exporter IN "
            f"({','.join('?' * len(msp))})) FROM trade_flows t JOIN hs_map h USING (hs_code, "
            "hs_revision) WHERE h.mineral = 'cobalt' AND t.year = 2024 "
            "AND t.exporter <> t.importer", msp).fetchall()
    finally:
        con.close()
    assert df.loc["MSP", "export_share"] == pytest.approx(msp_x / world_x)


def test_whatif_cobalt_jervois_matches_hand(atlas: Atlas, cobalt: dict[str, float]) -> None:
    df = analytics.whatif(["JERVOIS-ICO"], 2024, atlas=atlas).set_index("metric")
    before = dict(cobalt)
    after = dict(cobalt)
    after["USA"] += 1_915  # Jervois Idaho: 1,915 t/y contained Co (factor 1 to "Co content")
    rest = rest_of_world("Cobalt", 2024)  # 7,780 t: in the world total, not a producer
    s0, s1 = sum(before.values()) + rest, sum(after.values()) + rest
    assert df.loc["world_production", "after"] == s1 == 303_505

    def hhi(x: dict[str, float]) -> float:
        t = sum(x.values()) + rest
        return sum((v / t) ** 2 for v in x.values())

    assert df.loc["hhi", "before"] == pytest.approx(hhi(before))
    assert df.loc["hhi", "after"] == pytest.approx(hhi(after))
    assert df.loc["top1_share", "before"] == pytest.approx(226_000 / s0)
    assert df.loc["top1_share", "after"] == pytest.approx(226_000 / s1)
    msp = members("MSP", 2024)
    assert df.loc["share_msp", "before"] == pytest.approx(8_330 / s0)
    assert df.loc["share_msp", "after"] == pytest.approx((8_330 + 1_915) / s1)
    # N-1 with the DRC's apparent consumption as computed (never clipped, never assumed 0):
    # demand held at the before level, (S - P_COD) / (S0 - D_COD)
    d = analytics._apparent_consumption(atlas, "cobalt", 2024).get("COD")
    if d is None:  # its content is unknown: unknown coverage, said in the note
        assert df.loc["n1_coverage", "before"] != df.loc["n1_coverage", "before"]
        assert "unknown" in df.loc["n1_coverage", "note"]
    else:
        assert df.loc["n1_coverage", "before"] == pytest.approx((s0 - 226_000) / (s0 - d))
        assert df.loc["n1_coverage", "after"] == pytest.approx((s1 - 226_000) / (s0 - d))
    assert {"USA", "AUS", "CAN"} <= msp


def test_whatif_lithium_lce_conversion(atlas: Atlas) -> None:
    raw = raw_mine_production("Lithium", 2024)
    arg = raw["Argentina"]
    world = sum(raw.values()) + rest_of_world("Lithium", 2024)  # the USGS world total
    df = analytics.whatif(["OLAROZ"], 2024, atlas=atlas).set_index("metric")
    added = 42_500 * 0.1879  # LCE -> Li content
    assert df.loc["added_capacity", "after"] == pytest.approx(added)
    assert df.loc["world_production", "before"] == pytest.approx(world)
    top = max(raw.values())
    assert df.loc["top1_share", "after"] == pytest.approx(top / (world + added))
    assert arg + added < top


def test_whatif_refuses_unknown_bases(atlas: Atlas) -> None:
    # the atlas holds no IEA refining figures, and USGS publishes no rare-earth refining
    with pytest.raises(SpecError, match=r"no production data \(USGS MCS, IEA or World Mining "
                       r"Data\) for rare_earths at stage refinery"):
        analytics.whatif(["TTC-TREI-AP-REE"], atlas=atlas)
    with pytest.raises(SpecError, match="downstream manufacturing capacity"):
        analytics.whatif(["IREL-REPM-VIZAG"], atlas=atlas)
    reg = Registry.from_package()
    reg.add("projects", {"id": "SPOD", "name": "Spodumene mine", "country": "AUS",
                         "mineral": "lithium", "stage": "mine", "capacity": 500_000, "unit": "t/y",
                         "basis": "spodumene concentrate (SC6)", "status": "construction",
                         "source_url": "https://example.org/spod"})
    with pytest.raises(SpecError, match=r"project 'SPOD': capacity basis 'spodumene concentrate "
                       r"\(SC6\)' differs from the production basis 'Li content'.*no conversion"):
        analytics.whatif(["SPOD"], 2024, atlas=atlas, registry=reg)
    with pytest.raises(SpecError, match="projects has no record 'NOPE'"):
        analytics.whatif(["NOPE"], atlas=atlas)


def test_coverage_value_basis_matches_sql(atlas: Atlas) -> None:
    df = analytics.coverage("IND", "QUAD", mineral="cobalt", year=2024, atlas=atlas)
    assert len(df) == 1
    quad = sorted(members("QUAD", 2024))
    partners = [c for c in quad if c != "IND"]
    con = duckdb.connect(str(atlas.path), read_only=True)
    q = ("SELECT sum(value_kusd) FROM trade_flows t JOIN hs_map h USING (hs_code, hs_revision) "
         "WHERE h.mineral = 'cobalt' AND t.year = 2024 AND t.exporter <> t.importer AND ")
    try:
        (imp,), = con.execute(q + f"t.importer = 'IND' AND t.exporter NOT IN ({','.join('?' * 4)})",
                              quad).fetchall()
        (exp,), = con.execute(q + f"t.exporter IN ({','.join('?' * 3)}) AND t.importer NOT IN "
                              f"({','.join('?' * 4)})", [*partners, *quad]).fetchall()
    finally:
        con.close()
    row = df.iloc[0]
    assert row.imports_outside_kusd == pytest.approx(imp)
    assert row.coverage_value == pytest.approx(exp / imp)
    raw = raw_mine_production("Cobalt", 2024)
    assert row.partner_production_t == pytest.approx(raw["Australia"] + raw["United States"])
    assert row.spare_t == pytest.approx(0.1 * row.partner_production_t)


@pytest.mark.slow  # installs the starter atlas through the CLI
def test_cli_on_starter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str], cli: Callable[..., str]) -> None:
    from critmin.cli import main

    db = tmp_path / "atlas.duckdb"
    monkeypatch.setenv("CRITMIN_ATLAS", str(db))
    run = cli

    rows = json.loads(run("coop", "list", "projects", "--country", "IND", "--format", "json"))
    assert db.exists() and "TTC-TREI-AP-REE" in {r["id"] for r in rows}
    rows = json.loads(run("coop", "blocs", "--mineral", "cobalt", "--year", "2024",
                          "--format", "json"))
    assert {r["group_id"] for r in rows} >= {"MSP", "IPEF", "QUAD"}
    rows = json.loads(run("coop", "whatif", "--project", "JERVOIS-ICO", "--year", "2024",
                          "--format", "json"))
    assert {r["metric"] for r in rows} >= {"hhi", "top1_share", "n1_coverage", "share_msp"}
    out = run("coop", "coverage", "JPN", "--group", "MSP", "--mineral", "lithium",
              "--format", "csv")
    assert out.startswith("country,group_id,mineral")
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"id": "NEW-CO", "name": "New cobalt mine", "country": "AUS",
                             "mineral": "cobalt", "stage": "mine", "capacity": 2000, "unit": "t/y",
                             "basis": "contained Co", "status": "feasibility",
                             "source_url": "https://example.org/new-co"}), encoding="utf-8")
    assert "added 1 projects" in run("coop", "add", "projects", str(f))
    rows = json.loads(run("coop", "list", "projects", "--mineral", "cobalt", "--format", "json"))
    assert "NEW-CO" in {r["id"] for r in rows}
    assert "removed" in run("coop", "remove", "projects", "NEW-CO")
    rows = json.loads(run("coop", "list", "projects", "--mineral", "cobalt", "--format", "json"))
    assert "NEW-CO" not in {r["id"] for r in rows}
    f.write_text(json.dumps({"id": "BAD", "name": "b", "country": "ZZZ", "mineral": "cobalt",
                             "stage": "mine", "status": "feasibility",
                             "source_url": "https://example.org"}), encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        main(["coop", "add", "projects", str(f)])
    assert exit_.value.code == 1
    assert "projects record 'BAD', field 'country': unknown country code 'ZZZ'" in capsys.readouterr().err
