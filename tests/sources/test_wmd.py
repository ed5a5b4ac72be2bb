"""World Mining Data loader and the GeoPolRisk material-to-HS map loader."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from critmin import reference, schema
from critmin.atlas import context
from critmin.errors import InputError
from critmin.sources import detect, wmd
from tests.conftest import shared

HEADER = "commodity,country,m49,iso3,year,value,unit,data_source\n"


@pytest.fixture(scope="module")
def ctx():
    return context()


def _write(tmp_path: Path, body: str, name: str = "wmd.csv") -> Path:
    p = tmp_path / name
    p.write_text(HEADER + body, encoding="utf-8")
    return p


def test_small_file(tmp_path: Path, ctx) -> None:
    p = _write(tmp_path, (
        "Lithium (Li2O),Chile,152,CHL,2022,20000.0,metr. t,r\n"
        "Lithium (Li2O),Taiwan,490,S19,2022,,metr. t,\n"
        "Nickel,Kosovo,697,R20,2022,300.0,metr. t,e\n"
        "Gold,Guyana,328,GUY,2022,15129.0,kg,p\n"
        "Natural Gas,Norway,579,NOR,2022,122800.0,Mio m3,r\n"
        "Nickel,Total,DELETE,DELETE,2022,3248896,metr. t,\n"
    ))
    assert detect(p) is wmd
    parsed = wmd.parse(p, ctx)
    t = schema.validate("production", parsed.tables["production"], iso3=ctx.codes.iso3,
                        minerals=ctx.minerals)
    rows = {(r["mineral"], r["country"]): r for r in t.to_pylist()}
    assert len(rows) == 6  # the world total is kept as WLD, a row that is not a country
    assert rows[("nickel", "WLD")]["value"] == 3248896.0
    li = rows[("lithium", "CHL")]
    assert (li["stage"], li["basis"], li["unit"], li["value"], li["estimated"]) == (
        "mine", "Li2O", "t", 20000.0, False)
    assert rows[("lithium", "TWN")]["value"] is None
    assert rows[("lithium", "TWN")]["flag"] == "not_available"
    assert rows[("nickel", "XKX")]["estimated"] is True
    gold = rows[("gold", "GUY")]
    assert (gold["unit"], gold["value"], gold["flag"]) == ("kg", 15129.0, "provisional")
    assert rows[("natural_gas", "NOR")]["unit"] == "mio m3"
    assert parsed.meta.family == "wmd"
    assert parsed.meta.source_id == "wmd-2022-2022"


def test_units_kept_exact_and_convertible() -> None:
    """Units with a factor other than 1 stay as published; the factor converts them exactly."""
    units = reference.units()
    for published in ("metr. t", "kg", "Mio m3", "ct"):
        stored = wmd.unit_as_stored(published)
        assert stored in units
    assert units["kg"] == ("t", 0.001)
    assert units["metr. t"] == ("t", 1.0)


def test_real_file(ctx) -> None:
    path = shared("wmd", "world_mining_data_2018_2024_long.csv")
    parsed = wmd.parse(path, ctx)
    t = schema.validate("production", parsed.tables["production"], iso3=ctx.codes.iso3,
                        minerals=ctx.minerals)
    df = t.to_pandas()
    with open(path, encoding="utf-8") as f:
        raw = list(csv.DictReader(f))  # world totals (DELETE) are kept as WLD rows
    assert len(df) == len(raw)
    # every published figure is recovered exactly (no unit conversion lost a digit)
    by_line = dict(zip(df["_line"], df["value"], strict=True))
    with open(path, encoding="utf-8") as f:
        for line, r in enumerate(csv.DictReader(f), start=2):
            if r["iso3"] == "DELETE":
                continue
            got = by_line[line]
            assert (got is None or got != got) if r["value"] == "" else got == float(r["value"])
    assert df.mineral.nunique() == 65
    assert {"TWN", "XKX", "GUF"} <= set(df.country)
    assert not {"S19", "R20", "DELETE"} & set(df.country)
    assert not df.duplicated(["year", "country", "mineral", "stage", "unit", "basis"]).any()
    assert set(df.unit) == {"t", "kg", "ct", "mio m3"}
    al = df[df.mineral == "aluminium"]
    assert set(al.stage) == {"smelter"}
    assert set(df[df.mineral == "rare_earths"].basis) == {"REO"}
    assert any("French Guiana" in n for n in parsed.notes)


def test_unknown_commodity_and_code(tmp_path: Path, ctx) -> None:
    with pytest.raises(InputError, match="unknown World Mining Data commodity"):
        wmd.parse(_write(tmp_path, "Unobtainium,Chile,152,CHL,2022,1,metr. t,r\n"), ctx)
    with pytest.raises(InputError, match="line 2, field 'iso3'"):
        wmd.parse(_write(tmp_path, "Nickel,Nowhere,999,XYZ,2022,1,metr. t,r\n"), ctx)


def test_hs_map(ctx) -> None:
    path = shared("wmd", "wmd_commodity_hs_map.csv")
    assert detect(path) is wmd
    parsed = wmd.parse(path, ctx)
    t = schema.validate("material_hs_map", parsed.tables["material_hs_map"],
                        minerals=ctx.minerals)
    df = t.to_pandas()
    assert df.commodity.nunique() == 53  # the published tool's mapped materials
    assert df.material.nunique() == 53
    assert df.hs_code.str.fullmatch(r"\d{6}").all()
    pt = df[df.commodity == "Platinum"].sort_values("hs_code")
    assert list(pt.hs_code) == ["711011", "711019", "711510"]
    assert list(pt.complementary) == [False, True, True]
    assert len(parsed.notes) == 12  # 'Not Available' commodities
    assert not df.duplicated(["commodity", "hs_code"]).any()
