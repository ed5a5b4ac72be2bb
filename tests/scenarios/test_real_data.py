"""Scenarios on real data: the fixture atlas (BACI, USGS MCS, WGI and WMD; :mod:`tests.fixtures`)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from critmin.atlas import Atlas
from critmin.scenarios import load_spec, run
from critmin.scenarios.montecarlo import montecarlo
from critmin.scenarios.nminus1 import n_minus_1
from tests.scenarios.conftest import BACI, needs_data

pytestmark = needs_data
EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def atlas(fixture_atlas: Path) -> Atlas:
    a = Atlas.open(fixture_atlas)
    yield a
    a.close()


def baci_imports_from_china(importer_code: int) -> float:
    """2023 BACI imports (t) of HS 250410 + 250490 from China (156), straight from the CSV."""
    f = BACI / "BACI_HS92_Y2023_V202401b.csv"
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT sum(try_cast(nullif(trim(q), 'NA') AS DOUBLE)) FROM read_csv(?, "
            "types={'q': 'VARCHAR', 'k': 'VARCHAR'}) "
            "WHERE i = 156 AND j = ? AND k IN ('250410', '250490')",
            [str(f), importer_code]).fetchall()
    finally:
        con.close()
    return float(rows[0][0])


def test_china_graphite_ban_loss_equals_baci_imports(atlas: Atlas) -> None:
    spec = {"base_year": 2023, "shocks": [
        {"exporter": "CHN", "mineral": "graphite", "stage": "mine", "cut": 1.0,
         "targets": ["JPN", "IND"]}],
        "reallocation": {"method": "none"}}
    res = run(spec, atlas)
    loss = res.exposure.set_index("importer").loss_t
    for iso3, code in (("JPN", 392), ("IND", 699)):
        assert loss[iso3] == pytest.approx(baci_imports_from_china(code), rel=1e-9)
    others = loss.drop(["JPN", "IND"])
    assert (others == 0).all()
    # no re-routing: the shortfall is the loss
    imp = res.importers.set_index("importer")
    assert np.allclose(imp.shortfall_t, imp.loss_t)


def test_graphite_ban_with_rerouting_and_stockpile(atlas: Atlas) -> None:
    spec = {"base_year": 2023,
            "shocks": [{"exporter": "CHN", "mineral": "graphite", "stage": "mine", "cut": 1.0}],
            "reallocation": {"theta": 0.5, "spare_capacity": 0.2},
            "stockpiles": [{"country": "JPN", "mineral": "graphite", "days_of_imports": 60}]}
    res = run(spec, atlas)
    s = res.summary.iloc[0]
    exports = res.shocks.exports_t.iloc[0]
    assert s.loss_t == pytest.approx(exports)
    assert s.shortfall_t >= s.loss_t - s.theta * s.spare_capacity_t - 1e-6 * s.loss_t
    assert s.rerouted_t + s.shortfall_t == pytest.approx(s.loss_t)
    jpn = res.importers.set_index("importer").loc["JPN"]
    imports = res.exposure.set_index("importer").loc["JPN", "imports_t"]
    assert jpn.stockpile_t == pytest.approx(60 / 365 * imports)
    assert jpn.days_covered == pytest.approx(365 * jpn.stockpile_t / jpn.shortfall_t)
    mix = res.supply_mix[res.supply_mix.importer == "JPN"]
    assert mix.after_t.sum() == pytest.approx(
        mix.base_t.sum() - jpn.loss_t + jpn.rerouted_t)
    assert (mix.after_t >= -1e-9).all()


def test_n_minus_1_cobalt_2024(atlas: Atlas) -> None:
    t = n_minus_1(atlas, mineral="cobalt", stage="mine", year=2024)
    r = t.iloc[0]
    assert r.top_producer == "COD"
    assert r.top_share == pytest.approx(226_000 / r.world_production_t)
    assert 0.7 < r.top_share < 0.8


def test_n_minus_1_covers_every_mineral_with_a_country_table(atlas: Atlas) -> None:
    t = n_minus_1(atlas)
    p = atlas.sql("SELECT DISTINCT mineral, stage FROM production p JOIN sources s "
                  "USING (source_id) WHERE s.family = 'usgs-mcs' AND unit = 't' "
                  "AND stage IN ('mine', 'refinery') AND value > 0 "
                  "AND country NOT IN ('WLD', 'XRW')")
    want = set(zip(p.mineral, p.stage, strict=True))
    assert set(zip(t.mineral, t.stage, strict=True)) == want
    assert t.top_producer.notna().all()
    assert ((t.top_share > 0) & (t.top_share <= 1)).all()
    g = t[(t.mineral == "graphite") & (t.stage == "mine")].iloc[0]
    assert g.top_producer == "CHN" and g.coverage is not None and 0 < g.coverage < 1


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_run(atlas: Atlas, path: Path) -> None:
    res = run(load_spec(path), atlas)
    assert len(res.importers) > 0
    assert (res.summary.loss_t > 0).all()
    assert (res.importers.shortfall_t >= -1e-9).all()


def test_examples_cover_the_brief() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"china-graphite-ban", "indonesia-nickel-ore-ban", "china-rare-earths-non-msp",
            "largest-cobalt-producer-halves"} <= names


def test_non_msp_targets_spare_members(atlas: Atlas) -> None:
    res = run(load_spec(next(p for p in EXAMPLES if "non-msp" in p.stem)), atlas)
    lost = set(res.exposure[res.exposure.loss_t > 0].importer)
    assert lost and not lost & {"JPN", "USA", "KOR", "DEU", "AUS", "IND"}


def test_unknown_base_year_fails_clearly(atlas: Atlas) -> None:
    from critmin.errors import SpecError

    with pytest.raises(SpecError, match=r"^base_year: no BACI trade for 1990 in the atlas"):
        run({"base_year": 1990, "shocks": [{"exporter": "CHN", "mineral": "graphite",
                                           "cut": 1}]}, atlas)


def test_montecarlo_seeded_and_consistent(atlas: Atlas) -> None:
    a = montecarlo(atlas, year=2023, runs=400, seed=7, minerals=["graphite", "cobalt"])
    b = montecarlo(atlas, year=2023, runs=400, seed=7, minerals=["graphite", "cobalt"])
    pd.testing.assert_frame_equal(a, b)
    assert ((a.prob_shortfall_gt_10pct >= 0) & (a.prob_shortfall_gt_10pct <= 1)).all()
    assert (a.p95_shortfall_share >= 0).all()
    assert (a.mean_shortfall_t <= a.mean_loss_t + 1e-9).all()
    jpn = montecarlo(atlas, year=2023, runs=400, seed=7, importer="JPN",
                     minerals=["graphite", "cobalt"])
    assert set(jpn.importer) == {"JPN"} and set(jpn.mineral) == {"graphite", "cobalt"}


# --------------------------------------------------------------------------- CLI

def cli(*args: str) -> tuple[int, str, str]:
    from critmin.cli import app

    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_cli_n_minus_1_json(atlas: Atlas) -> None:
    code, out, _ = cli("scenario", "n-minus-1", "--mineral", "cobalt", "--stage", "mine",
                       "--year", "2024", "--format", "json", "--db", str(atlas.path))
    assert code == 0
    rows = json.loads(out)
    assert rows[0]["top_producer"] == "COD"


def test_cli_run_json(atlas: Atlas) -> None:
    path = next(p for p in EXAMPLES if "graphite" in p.stem)
    code, out, _ = cli("scenario", "run", str(path), "--format", "json", "--db", str(atlas.path))
    assert code == 0
    doc = json.loads(out)
    assert doc["summary"][0]["mineral"] == "graphite"
    assert {r["importer"] for r in doc["importers"]} >= {"JPN", "KOR"}


def test_cli_montecarlo_and_restrictions(atlas: Atlas) -> None:
    code, out, _ = cli("scenario", "montecarlo", "--importer", "JPN", "--runs", "200",
                       "--seed", "1", "--mineral", "graphite", "--format", "json",
                       "--db", str(atlas.path))
    assert code == 0 and json.loads(out)[0]["importer"] == "JPN"
    code, out, _ = cli("scenario", "restrictions", "--format", "json")
    assert code == 0 and any(r["id"] == "IDN-2020-NI-ORE-BAN" for r in json.loads(out))
