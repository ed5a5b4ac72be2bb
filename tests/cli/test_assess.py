"""``critmin assess`` and ``concentration`` on the bundled starter atlas (the README's main job)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from critmin.assessment import COLUMNS
from critmin.cli import app
from tests.conftest import shared


def _run(*args: str, atlas: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "critmin.cli.__main__", *args],
                          capture_output=True, text=True, env={"CRITMIN_ATLAS": str(atlas),
                                                               "PATH": "/usr/bin:/bin"})


def test_assess_json_contract(starter_atlas: Path) -> None:
    res = CliRunner().invoke(app, ["assess", "JPN", "--format", "json", "--db", str(starter_atlas)])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert rows and list(rows[0]) == COLUMNS
    by = {r["mineral"]: r for r in rows}
    assert {"lithium", "cobalt", "graphite", "rare_earths", "nickel"} <= set(by)
    assert all(r["country"] == "JPN" and r["year"] == 2024 for r in rows)
    g = by["graphite"]
    assert g["top_supplier"] == "CHN" and 0 < g["top_supplier_share"] <= 1
    assert 0 < g["import_hhi"] <= 1 and 0 < g["production_hhi_mine"] <= 1
    assert g["geopolrisk"] is not None and 0 < g["geopolrisk"] < 1
    assert "JPN" in g["lists"] and "IND-2023" in g["lists"]
    for r in rows:
        for k in ("share_msp", "share_ipef", "share_quad", "top_supplier_share"):
            assert r[k] is None or 0 <= r[k] <= 1 + 1e-9


def test_assess_graphite_share_matches_baci(starter_atlas: Path) -> None:
    """China's share of Japan's 2023 natural-graphite imports, straight from the BACI file."""
    f = shared("baci", "BACI_HS92_Y2023_V202401b.csv")
    con = duckdb.connect()
    total, chn = con.execute(
        f"SELECT sum(v), sum(v) FILTER (WHERE i = 156) FROM read_csv('{f}', types={{'k': 'VARCHAR'}}) "
        "WHERE j = 392 AND i <> 392 AND lpad(k, 6, '0') IN ('250410', '250490', '380110')").fetchall()[0]
    res = CliRunner().invoke(app, ["assess", "JPN", "--year", "2023", "--mineral", "graphite",
                                   "--format", "json", "--db", str(starter_atlas)])
    row = json.loads(res.output)[0]
    assert row["imports_kusd"] == pytest.approx(total)
    assert row["top_supplier"] == "CHN" and row["top_supplier_share"] == pytest.approx(chn / total)


@pytest.mark.slow  # every format of a full assess
def test_assess_table_and_csv(starter_atlas: Path) -> None:
    res = CliRunner().invoke(app, ["assess", "India", "--mineral", "lithium", "--db", str(starter_atlas)])
    assert res.exit_code == 0 and "IND" in res.output and "lithium" in res.output
    res = CliRunner().invoke(app, ["assess", "IN", "--format", "csv", "--db", str(starter_atlas)])
    assert res.output.splitlines()[0].split(",") == COLUMNS


@pytest.mark.slow  # one CLI run per bad input
def test_bad_input_one_line(starter_atlas: Path) -> None:
    for args, msg in [(["assess", "XXX"], "error: unknown country 'XXX': use an ISO 3166 alpha-3 code such as JPN"),
                      (["assess", "JPN", "--mineral", "unobtainium"], "error: unknown mineral 'unobtainium'"),
                      (["concentration", "--mineral", "unobtainium"], "error: unknown mineral 'unobtainium'")]:
        p = _run(*args, "--db", str(starter_atlas), atlas=starter_atlas)
        assert p.returncode == 1
        assert p.stderr.startswith(msg) and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


def test_concentration_cobalt(starter_atlas: Path) -> None:
    res = CliRunner().invoke(app, ["concentration", "--mineral", "cobalt", "--stage", "mine",
                                   "--year", "2024", "--format", "json", "--db", str(starter_atlas)])
    row = json.loads(res.output)[0]
    assert row["top_producer"] == "COD" and row["n_suppliers"] >= 10
    assert row["hhi_points"] == pytest.approx(row["hhi"] * 10_000)
