"""Comtrade / USITC DataWeb loader: the real files in ../shared/data/comtrade and malformed files."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pytest

from critmin.countries import country_codes
from critmin.errors import InputError
from critmin.schema import validate
from critmin.sources import comtrade
from critmin.sources.base import Context, Parsed, first_line

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "comtrade"
CHINA = DATA / "comtrade_china_imports_hs2846_by_origin_1993_2024.csv"
GOLD = DATA / "comtrade_cmm_gold_qa_extract.csv"
DATAWEB = DATA / "us_dataweb_hts4_by_partner_1993_2026.csv"

needs_data = pytest.mark.skipif(not CHINA.exists(),
                                reason=f"shared Comtrade data not found at {DATA}")


@pytest.fixture(scope="module")
def ctx() -> Context:
    text = resources.files("critmin.reference").joinpath("minerals.csv").read_text("utf-8")
    minerals = frozenset(r["mineral"] for r in csv.DictReader(text.splitlines()))
    return Context(codes=country_codes(), minerals=minerals)


_cache: dict[Path, Parsed] = {}


def parsed(path: Path, ctx: Context) -> Parsed:
    if path not in _cache:
        _cache[path] = comtrade.parse(path, ctx)
    return _cache[path]


@needs_data
@pytest.mark.parametrize(("path", "source_id", "family"), [
    (CHINA, "comtrade-china-imports-hs2846-by-origin-1993-2024", "comtrade"),
    (GOLD, "comtrade-cmm-gold-qa-extract", "comtrade"),
    (DATAWEB, "usitc-dataweb-hts4-by-partner-1993-2026", "usitc-dataweb"),
])
def test_real_files_validate(path: Path, source_id: str, family: str, ctx: Context) -> None:
    assert comtrade.detect(path, first_line(path))
    p = parsed(path, ctx)
    assert (p.meta.source_id, p.meta.family) == (source_id, family)
    t = p.tables["trade_flows"]
    validate("trade_flows", t, file=str(path), iso3=ctx.codes.iso3, minerals=ctx.minerals)
    keys = list(zip(*(t.column(c).to_pylist() for c in
                      ("year", "exporter", "importer", "hs_code", "hs_revision")), strict=True))
    assert len(keys) == len(set(keys))
    assert t.num_rows > 100


@needs_data
def test_china_imports(ctx: Context) -> None:
    p = parsed(CHINA, ctx)
    rows = p.tables["trade_flows"].to_pylist()
    assert {r["importer"] for r in rows} == {"CHN"}
    assert "CHN" not in {r["exporter"] for r in rows}
    assert {r["hs_code"] for r in rows} == {"2846"}
    assert {r["hs_revision"] for r in rows} == {"HS92", "HS96", "HS02", "HS07", "HS12",
                                                 "HS17", "HS22"}
    fra93 = next(r for r in rows if r["year"] == 1993 and r["exporter"] == "FRA")
    assert fra93["value_kusd"] == pytest.approx(3.103)  # primaryValue 3103 USD
    assert fra93["quantity_t"] is None  # no netWgt
    assert "TWN" in {r["exporter"] for r in rows}  # 490 "Other Asia, nes"
    assert any("World and other aggregate partners" in n for n in p.notes)
    assert any("partner = reporter" in n for n in p.notes)


@needs_data
def test_gold_extract_flows_and_duplicates(ctx: Context) -> None:
    p = parsed(GOLD, ctx)
    rows = p.tables["trade_flows"].to_pylist()
    cod = next(r for r in rows if r["year"] == 2021 and r["exporter"] == "COD")
    assert (cod["importer"], cod["hs_code"], cod["hs_revision"]) == ("CHN", "8105", "HS12")
    assert cod["value_kusd"] == pytest.approx(3083.513084)
    assert cod["quantity_t"] == pytest.approx(656.225)
    notes = "\n".join(p.notes)
    assert "identical duplicate records" in notes
    assert "importer's report is kept" in notes
    assert "breakdown rows" in notes


@needs_data
def test_dataweb_excludes_year_to_date(ctx: Context) -> None:
    p = parsed(DATAWEB, ctx)
    rows = p.tables["trade_flows"].to_pylist()
    aus93 = [r for r in rows if r["year"] == 1993 and r["importer"] == "AUS"
             and r["hs_code"] == "2504"]
    assert len(aus93) == 1 and aus93[0]["value_kusd"] == pytest.approx(75.046)  # not the YTD row
    assert aus93[0]["exporter"] == "USA" and aus93[0]["quantity_t"] == pytest.approx(115.016)
    assert {r["hs_revision"] for r in rows} == {"HTS"}
    assert any("ytd_flag True" in n for n in p.notes)
    assert {r["exporter"] for r in rows if r["importer"] == "USA"} >= {"CHN", "COD", "MMR"}


@pytest.mark.parametrize(("code", "padded"), [("2846", "2846"), ("28461", "028461"),
                                              ("80110", "080110"), ("250410", "250410")])
def test_hs_code_padding(code: str, padded: str) -> None:
    assert comtrade.hs_code(code) == padded


# ----------------------------------------------------------------------------- malformed input

HEADER = ("refYear,reporterCode,reporterISO,reporterDesc,flowCode,partnerCode,partnerISO,"
          "partnerDesc,classificationCode,cmdCode,qtyUnitAbbr,qty,isQtyEstimated,netWgt,"
          "cifvalue,fobvalue,primaryValue,isReported,isAggregate\n")


def _rec(partner: str = "276,DEU,Germany", value: str = "5000.0", flow: str = "M",
         cmd: str = "28461", wgt: str = "2000.0", cls: str = "H5") -> str:
    return (f"2020,156,CHN,China,{flow},{partner},{cls},{cmd},kg,{wgt},False,{wgt},{value},,"
            f"{value},True,False\n")


def _file(tmp_path: Path, *lines: str, raw: bytes | None = None) -> Path:
    p = tmp_path / "comtrade_sample.csv"
    p.write_bytes(raw if raw is not None else (HEADER + "".join(lines)).encode("utf-8"))
    return p


def test_small_file(tmp_path: Path, ctx: Context) -> None:
    p = _file(tmp_path, _rec(), _rec("0,W00,World"), _rec(flow="X", wgt="0.0"),
              _rec("899,_X ,\"Areas, nes\""))
    rows = comtrade.parse(p, ctx).tables["trade_flows"].to_pylist()
    assert [(r["exporter"], r["importer"], r["hs_code"], r["hs_revision"], r["value_kusd"],
             r["quantity_t"], r["_line"]) for r in rows] == [
        ("DEU", "CHN", "028461", "HS17", 5.0, 2.0, 2),
        ("CHN", "DEU", "028461", "HS17", 5.0, None, 4)]


def test_wrong_encoding(tmp_path: Path, ctx: Context) -> None:
    p = _file(tmp_path, raw=(HEADER + _rec()).encode() + _rec("276,DEU,Côte").encode("cp1252"))
    with pytest.raises(InputError) as exc:
        comtrade.parse(p, ctx)
    offset = len((HEADER + _rec()).encode()) + _rec("276,DEU,Côte").encode("cp1252").index(b"\xf4")
    assert str(exc.value) == (f"{p} line 3: not valid utf-8 text (byte 0xf4 at offset "
                              f"{offset})")


def test_unexpected_header(tmp_path: Path, ctx: Context) -> None:
    p = tmp_path / "comtrade_bad.csv"
    p.write_text("year,reporter,partner,value\n2020,156,276,5\n", encoding="utf-8")
    assert not comtrade.detect(p, first_line(p))
    with pytest.raises(InputError) as exc:
        comtrade.parse(p, ctx)
    assert str(exc.value) == (f"{p} line 1: unexpected header: not a UN Comtrade or USITC "
                              "DataWeb file (found 'year,reporter,partner,value')")


def test_unknown_country(tmp_path: Path, ctx: Context) -> None:
    p = _file(tmp_path, _rec(), _rec("999,ZZZ,Atlantis"))
    with pytest.raises(InputError) as exc:
        comtrade.parse(p, ctx)
    assert str(exc.value) == (f"{p} line 3, field 'partnerCode': unknown partner code '999' "
                              "(ZZZ)")


def test_negative_value(tmp_path: Path, ctx: Context) -> None:
    p = _file(tmp_path, _rec(value="-12.0"))
    with pytest.raises(InputError) as exc:
        comtrade.parse(p, ctx)
    assert str(exc.value) == f"{p} line 2, field 'primaryValue': negative amount -12.0"


def test_non_numeric_value(tmp_path: Path, ctx: Context) -> None:
    p = _file(tmp_path, _rec(wgt="12kg"))
    with pytest.raises(InputError) as exc:
        comtrade.parse(p, ctx)
    assert str(exc.value) == f"{p} line 2, field 'netWgt': not a number: '12kg'"


def test_unknown_classification(tmp_path: Path, ctx: Context) -> None:
    p = _file(tmp_path, _rec(cls="S4"))
    with pytest.raises(InputError) as exc:
        comtrade.parse(p, ctx)
    assert str(exc.value) == (f"{p} line 2, field 'classificationCode': unknown "
                              "classificationCode 'S4'; expected H0 to H6")


def test_empty_file(tmp_path: Path, ctx: Context) -> None:
    p = _file(tmp_path, raw=b"")
    assert not comtrade.detect(p, first_line(p))
    with pytest.raises(InputError) as exc:
        comtrade.parse(p, ctx)
    assert str(exc.value) == f"{p} line 1: empty file: expected a header"


DW = ("hts4,label,mineral,processing_stage,flow,partner,partner_iso,year,ytd_flag,value_usd,"
      "reported_mass_kg,unit_value_usd_per_reported_kg,measurement_status,"
      "unit_value_matched_mass_kg\n")


def test_dataweb_small_and_errors(tmp_path: Path, ctx: Context) -> None:
    p = tmp_path / "us_dataweb_sample.csv"
    p.write_text(DW
                 + "2504,G,g,ore,imports_for_consumption,China,CHN,2020,False,3000.0,0.0,,reported,\n"
                 + "2504,G,g,ore,imports_for_consumption,China,CHN,2020,True,1000.0,5.0,,reported,\n"
                 + "2504,G,g,ore,domestic_exports,China,CHN,2020,False,0.0,0.0,,reported,\n",
                 encoding="utf-8")
    rows = comtrade.parse(p, ctx).tables["trade_flows"].to_pylist()
    assert [(r["exporter"], r["importer"], r["value_kusd"], r["quantity_t"]) for r in rows] == [
        ("CHN", "USA", 3.0, None)]
    p.write_text(DW + "2504,G,g,ore,imports_for_consumption,China,CHN,2020,maybe,1,1,,r,\n",
                 encoding="utf-8")
    with pytest.raises(InputError) as exc:
        comtrade.parse(p, ctx)
    assert str(exc.value) == f"{p} line 2, field 'ytd_flag': ytd_flag must be True or False, not 'maybe'"
