"""The HS codes a trade figure counts, checked against the raw BACI files (HS92 and HS17).

Expected values are computed here from the CEPII CSVs with DuckDB ``read_csv``: for Japan (BACI
code 392) in 2024, the mapped codes of a mineral with at least one import row (self-trade
excluded) in the file that serves the code (HS17 where the HS17 file carries it with quantities,
else HS92: the documented precedence), and the sum of those rows' values.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from critmin.atlas import Atlas
from tests.conftest import shared

pytestmark = pytest.mark.slow

HS_MAP = Path(__file__).resolve().parents[2] / "src" / "critmin" / "reference" / "hs_map.csv"
JAPAN = 392  # BACI's code for Japan in both releases
MINERALS = ("nickel", "cobalt", "lithium", "copper", "rare_earths", "graphite")


def mapped(mineral: str) -> dict[str, set[str]]:
    """HS revision -> the HS6 codes mapped to ``mineral`` (the mapping is critmin's input)."""
    out: dict[str, set[str]] = {}
    with HS_MAP.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["mineral"] == mineral:
                out.setdefault(row["hs_revision"], set()).add(row["hs_code"])
    return out


def raw_rows(year: int) -> dict[str, list[tuple[str, int, int, float, bool]]]:
    """Rows of the raw BACI files of ``year``: revision -> [(code, exporter, importer, value,
    has quantity)]."""
    files = {"HS92": shared("baci", f"BACI_HS92_Y{year}_V202401b.csv"),
             "HS17": shared("baci_hs17", f"BACI_HS17_Y{year}_V202601.csv")}
    con = duckdb.connect()
    try:
        return {rev: con.execute(
            "SELECT lpad(trim(CAST(k AS VARCHAR)), 6, '0'), i, j, v, q IS NOT NULL FROM read_csv("
            "?, header = true, nullstr = 'NA', types = {'k': 'VARCHAR', 'q': 'VARCHAR'})",
            [str(path)]).fetchall() for rev, path in files.items()}
    finally:
        con.close()


def expected(mineral: str, year: int = 2024, importer: int = JAPAN
             ) -> tuple[set[str], set[str], float]:
    """(codes counted, mapped codes without an import row, import value) from the raw files."""
    rows = raw_rows(year)
    codes = mapped(mineral)
    have_q = {rev: {k for k, *_rest, q in rs if q} for rev, rs in rows.items()}
    present = {rev: {k for k, *_ in rs} for rev, rs in rows.items()}
    counted, missing, value = set(), set(), 0.0
    for code in set().union(*codes.values()):
        revs = [r for r in ("HS17", "HS92") if code in codes.get(r, ())]
        served = next((r for r in revs if code in have_q[r]), None) or next(
            (r for r in revs if code in present[r]), None)
        if served is None:  # no row at all in the year: every mapped revision is missing
            missing |= {f"{r}:{code}" for r in revs}
            continue
        mine = [v for k, i, j, v, _q in rows[served] if k == code and j == importer and i != j]
        if mine:
            counted.add(f"{served}:{code}")
            value += sum(mine)
        else:
            missing.add(f"{served}:{code}")
    return counted, missing, value


@pytest.fixture(scope="module")
def atlas(chain_atlas: Path) -> Atlas:
    return Atlas.open(chain_atlas)


def test_assess_counts_the_codes_with_data_for_the_country(atlas: Atlas) -> None:
    from critmin import assess

    df = assess("JPN", year=2024, minerals=list(MINERALS), atlas=atlas).set_index("mineral")
    for m in MINERALS:
        counted, missing, value = expected(m)
        assert set(df.loc[m, "hs_codes"]) == counted, m
        assert set(df.loc[m, "hs_codes_missing"]) == missing, m
        assert df.loc[m, "imports_kusd"] == pytest.approx(value, rel=1e-9), m
    # Japan's nickel: unwrought nickel (HS17 750210) is counted, the HS92 code is not listed
    assert "HS17:750210" in df.loc["nickel", "hs_codes"]
    assert not {"HS92:750210", "HS92:740311"} & set(df.loc["nickel", "hs_codes_missing"])


def test_codes_are_per_country(atlas: Atlas) -> None:
    """India imports other codes than Japan: its lists come from its own rows."""
    from critmin import assess

    df = assess("IND", year=2024, minerals=["cobalt", "rare_earths"], atlas=atlas)
    for r in df.itertuples():
        counted, missing, value = expected(r.mineral, importer=699)
        assert set(r.hs_codes) == counted
        assert set(r.hs_codes_missing) == missing
        assert r.imports_kusd == pytest.approx(value, rel=1e-9)


def test_imports_by_stage_list_the_codes_counted(atlas: Atlas) -> None:
    from critmin.reports import views

    df = views.imports_by_stage(atlas, "JPN", 2024)
    for m in ("nickel", "cobalt", "rare_earths"):
        counted, missing, value = expected(m)
        rows = df[df.mineral == m]
        assert set().union(*map(set, rows.hs_codes)) == counted
        assert set().union(*map(set, rows.hs_codes_missing)) == missing
        assert rows.imports_kusd.sum() == pytest.approx(value, rel=1e-9)
    # permanent magnets are the component stage, counted under HS17
    mag = df[(df.mineral == "rare_earths") & (df.stage == "component")]
    assert list(mag.hs_codes.iloc[0]) == ["HS17:850511"]


def test_world_trade_codes_of_the_mineral_page(atlas: Atlas) -> None:
    from critmin.reports import views

    tc = views.trade_codes(atlas, "nickel")
    rows = raw_rows(2024)
    codes = mapped("nickel")
    with_rows = {f"{r}:{k}" for r in codes for k in codes[r]
                 if any(kk == k for kk, *_ in rows[r])}
    # a code both files carry is served by HS17 (it has quantities) and listed once
    assert set(tc["hs_codes"]) == {c for c in with_rows
                                   if not (c.startswith("HS92:")
                                           and f"HS17:{c[5:]}" in with_rows)}
    assert tc["year"] == 2024 and "HS17:750210" in tc["note"]


def test_cli_assess_footnote_and_json_fields(atlas: Atlas, cli: Callable[..., str]) -> None:
    import json

    counted, missing, _value = expected("nickel")
    text = cli("assess", "JPN", "--year", "2024", "--mineral", "nickel", "--db",
               str(atlas.path))
    line = next(x for x in text.splitlines() if x.strip().startswith("nickel:"))
    assert all(c in line for c in counted | missing)
    assert line.index("no data:") > max(line.index(c) for c in counted)
    rows = json.loads(cli("assess", "JPN", "--year", "2024", "--mineral", "nickel", "--format",
                          "json", "--db", str(atlas.path)))
    assert set(rows[0]["hs_codes"]) == counted and set(rows[0]["hs_codes_missing"]) == missing


def expected_world(mineral: str, chain_stage: str, year: int = 2024) -> tuple[set[str], set[str]]:
    """(codes with any world trade row, mapped codes without) of ``mineral`` at ``chain_stage``
    (``hs_map.chain_stage``) from the raw files, with the same precedence as :func:`expected`."""
    rows = raw_rows(year)
    codes: dict[str, set[str]] = {}
    with HS_MAP.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["mineral"] == mineral and row["chain_stage"] == chain_stage:
                codes.setdefault(row["hs_revision"], set()).add(row["hs_code"])
    have_q = {rev: {k for k, *_rest, q in rs if q} for rev, rs in rows.items()}
    traded = {rev: {k for k, i, j, *_ in rs if i != j} for rev, rs in rows.items()}
    present = {rev: {k for k, *_ in rs} for rev, rs in rows.items()}
    counted, missing = set(), set()
    for code in set().union(*codes.values()):
        revs = [r for r in ("HS17", "HS92") if code in codes.get(r, ())]
        served = next((r for r in revs if code in have_q[r]), None) or next(
            (r for r in revs if code in present[r]), None)
        if served is None:
            missing |= {f"{r}:{code}" for r in revs}
        elif code in traded[served]:
            counted.add(f"{served}:{code}")
        else:
            missing.add(f"{served}:{code}")
    return counted, missing


def test_n_minus_1_lists_the_world_trade_codes(atlas: Atlas) -> None:
    """N-1 sums world trade of the mineral at the stage: its lists are per mineral and stage."""
    from critmin.scenarios.nminus1 import CHAIN_STAGE, n_minus_1

    df = n_minus_1(atlas, year=2024)
    df = df[df.mineral.isin(["nickel", "cobalt", "lithium", "graphite"])]
    assert len(df) >= 6
    for r in df.itertuples():
        assert r.trade_year == 2024
        counted, missing = expected_world(r.mineral, CHAIN_STAGE[r.stage])
        assert set(r.hs_codes) == counted, (r.mineral, r.stage)
        assert set(r.hs_codes_missing) == missing, (r.mineral, r.stage)
        assert list(r.hs_codes) == sorted(r.hs_codes)
    # nickel ores (HS92 260400) have rows in the 2024 file, cobalt ores (HS92 260500) none
    rows = df.set_index(["mineral", "stage"])
    assert "HS92:260400" in rows.loc[("nickel", "mine"), "hs_codes"]
    assert "HS92:260500" in rows.loc[("cobalt", "mine"), "hs_codes_missing"]


def test_n_minus_1_cli_and_api_show_the_codes(chain_atlas: Path, tmp_path: Path) -> None:
    """The table's footnote and the API's fields name the codes counted and missing."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from critmin.api import create_app
    from critmin.cli import app

    counted, missing = expected_world("nickel", "mine")
    res = CliRunner().invoke(app, ["scenario", "n-minus-1", "--mineral", "nickel", "--stage",
                                   "mine", "--year", "2024", "--db", str(chain_atlas)])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.strip().startswith("nickel mine"))
    assert line.strip().startswith("nickel mine (trade 2024): " + ", ".join(sorted(counted)))
    assert all(c in line for c in missing) and ("no data" in line) == bool(missing)

    api = create_app(chain_atlas, f"sqlite:///{tmp_path / 'ops.db'}", web=False, warm_years=0)
    with TestClient(api) as client:
        body = client.get("/api/v1/n-minus-1?mineral=nickel&stage=mine&year=2024").json()
    row = body["rows"][0]
    assert set(row["hs_codes"]) == counted and set(row["hs_codes_missing"]) == missing
    assert list(row)[-2:] == ["hs_codes", "hs_codes_missing"]
