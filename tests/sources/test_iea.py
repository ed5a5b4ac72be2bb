"""IEA Critical Minerals Data Explorer loader: the real 2025 files and malformed copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from critmin.atlas import context
from critmin.errors import InputError
from critmin.sources import detect, iea
from tests.conftest import shared


@pytest.fixture(scope="module")
def ctx():
    return context()


def _rows(parsed):
    (table,) = parsed.tables.values()
    return table.to_pylist()


def test_supply_published_figures(ctx) -> None:
    """IEA (2025): lithium refining 2024, China 169.7 of 241.6 kt (kt Li content)."""
    f = shared("iea", "iea_cm_supply_2025.csv")
    assert detect(f) is iea
    parsed = iea.parse(f, ctx)
    assert parsed.meta.family == "iea" and parsed.meta.release == "2025"
    assert "CC BY 4.0" in parsed.meta.licence
    assert set(parsed.tables) == {"production", "supply_outlook"}
    rows = parsed.tables["production"].to_pylist()
    li = [r for r in rows if r["mineral"] == "lithium" and r["stage"] == "refinery"]
    total = sum(r["value"] for r in li)
    china = sum(r["value"] for r in li if r["country"] == "CHN")
    assert round(total / 1000, 1) == 241.6
    assert round(china / 1000, 1) == 169.7
    assert {r["basis"] for r in li} == {"Li content"} and {r["unit"] for r in li} == {"t"}
    # Rest of world is kept as a residual, never dropped; the DRC is named by the IEA
    assert "XRW" in {r["country"] for r in li}
    cobalt = {r["country"] for r in rows if r["mineral"] == "cobalt"}
    assert "COD" in cobalt
    assert {r["year"] for r in rows} == {2024}
    proj = parsed.tables["supply_outlook"].to_pylist()
    assert {r["case"] for r in proj} == {"base"}
    assert {r["year"] for r in proj} == {2030, 2035, 2040}
    assert len(rows) + len(proj) == 292
    # IEA base case: lithium refining China 2030 277.1 kt
    assert sum(r["value"] for r in proj if r["mineral"] == "lithium" and r["stage"] == "refinery"
               and r["country"] == "CHN" and r["year"] == 2030) == pytest.approx(277_074.4, abs=1)


def test_demand_published_figures(ctx) -> None:
    """IEA (2025): lithium total demand 205 kt in 2024; STEPS 2030 455.5 kt."""
    parsed = iea.parse(shared("iea", "iea_cm_demand_2025.csv"), ctx)
    rows = _rows(parsed)
    tot = {(r["scenario"], r["year"]): r["value"] for r in rows
           if r["mineral"] == "lithium" and r["sector"] == "Total demand"}
    assert tot[("historical", 2024)] == pytest.approx(205_000.0)
    assert tot[("STEPS", 2030)] == pytest.approx(455_487.2, abs=1)
    assert {r["scenario"] for r in rows} == {"historical", "STEPS", "APS", "NZE"}
    # graphite: two items kept apart (sectors of 'Graphite' and the clean-tech 'Battery-grade')
    items = {r["item"] for r in rows if r["mineral"] == "graphite"}
    assert items == {"Graphite", "Battery-grade graphite"}


HEADER = "mineral,stage,country,case,year,value,unit\n"


@pytest.mark.parametrize(("body", "message"), [
    ("Lithium,refining,Atlantis,historical,2024,1.0,kt\n",
     "line 2, field 'country': unknown country name 'Atlantis'"),
    ("Lithium,refining,China,historical,2024,lots,kt\n",
     "line 2, field 'value': not a number: 'lots'"),
    ("Lithium,refining,China,historical,2024,-1,kt\n",
     "line 2, field 'value': negative or missing amount '-1'"),
    ("Lithium,smelting,China,historical,2024,1,kt\n",
     "line 2, field 'stage': unknown stage 'smelting'"),
    ("Lithium,refining,China,optimistic,2024,1,kt\n",
     "line 2, field 'case': unknown case 'optimistic'"),
    ("Unobtainium,refining,China,historical,2024,1,kt\n",
     "line 2, field 'mineral': unknown mineral 'Unobtainium'"),
    ("Lithium,refining,China,historical,2024,1\n", "line 2: expected 7 fields, found 6"),
    ("Lithium,refining,China,historical,2024,1,barrels\n", "field 'unit': unknown unit"),
])
def test_malformed_supply(tmp_path: Path, ctx, body: str, message: str) -> None:
    f = tmp_path / "iea_cm_supply_2025.csv"
    f.write_text(HEADER + body)
    with pytest.raises(InputError) as exc:
        iea.parse(f, ctx)
    assert message in str(exc.value) and "\n" not in str(exc.value)
    assert str(exc.value).startswith(str(f))


def test_malformed_demand(tmp_path: Path, ctx) -> None:
    f = tmp_path / "iea_cm_demand_2025.csv"
    f.write_text("mineral,sector,scenario,year,value,unit\nLithium,EV,SDS,2030,1,kt\n")
    with pytest.raises(InputError, match=r"line 2, field 'scenario': unknown scenario 'SDS'"):
        iea.parse(f, ctx)
    f.write_text("mineral,sector,year,value,unit\nLithium,EV,2030,1,kt\n")
    with pytest.raises(InputError, match=r"line 1: unexpected header: missing column\(s\) scenario"):
        iea.parse(f, ctx)


def test_duplicate_row_refused_by_the_build(tmp_path: Path) -> None:
    """A repeated country, stage, case and year is an error naming the line; nothing loads."""
    from critmin import atlas

    f = tmp_path / "iea_cm_supply_2025.csv"
    f.write_text(HEADER + "Lithium,refining,China,historical,2024,1,kt\n"
                 "Lithium,refining,China,historical,2024,2,kt\n")
    db = tmp_path / "a.duckdb"
    with pytest.raises(InputError, match=r"line 3, field 'year': duplicate key"):
        atlas.build([f], db, fresh=True)
    assert not db.exists()
