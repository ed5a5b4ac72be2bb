"""USGS MCS loader: the real data releases in ../shared/data/usgs and malformed files."""

from __future__ import annotations

import csv
from collections import defaultdict
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pytest

from critmin.countries import country_codes
from critmin.errors import InputError
from critmin.schema import validate
from critmin.sources import usgs
from critmin.sources.base import Context, first_line

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "usgs"
MCS2026 = DATA / "MCS2026_Commodities_Data.csv"
WIDE24 = DATA / "mcs2024_world_production_reserves_all_commodities.csv"
LONG24 = DATA / "mcs2024_world_production_reserves_long.csv"
WIDE23 = DATA / "mcs2023_world_production_reserves_all_commodities.csv"
LONG23 = DATA / "mcs2023_world_production_reserves_long.csv"
LONG22 = DATA / "mcs2022_world_production_12_commodities_long.csv"

needs_data = pytest.mark.skipif(not MCS2026.exists(),
                                reason=f"shared USGS data not found at {DATA}")


@pytest.fixture(scope="module")
def ctx() -> Context:
    text = resources.files("critmin.reference").joinpath("minerals.csv").read_text("utf-8")
    minerals = frozenset(r["mineral"] for r in csv.DictReader(text.splitlines()))
    return Context(codes=country_codes(), minerals=minerals)


_cache: dict[Path, object] = {}


def parsed(path: Path, ctx: Context) -> usgs.Parsed:
    if path not in _cache:
        _cache[path] = usgs.parse(path, ctx)
    return _cache[path]


def rows(path: Path, ctx: Context, table: str) -> list[dict[str, object]]:
    return parsed(path, ctx).tables[table].to_pylist()


# ----------------------------------------------------------------------------- real files

@needs_data
@pytest.mark.parametrize("name", [
    "MCS2026_Commodities_Data.csv", "mcs2024_world_production_reserves_all_commodities.csv",
    "mcs2024_world_production_reserves_long.csv",
    "mcs2023_world_production_reserves_all_commodities.csv",
    "mcs2023_world_production_reserves_long.csv",
    "mcs2022_world_production_12_commodities_long.csv",
])
def test_real_files_validate(name: str, ctx: Context) -> None:
    path = DATA / name
    assert usgs.detect(path, first_line(path))
    p = parsed(path, ctx)
    assert p.meta.publisher == "U.S. Geological Survey"
    assert p.meta.family == "usgs-mcs"
    assert p.meta.licence == "Public domain (U.S. Government work)"
    for table, data in p.tables.items():
        validate(table, data, file=str(path), iso3=ctx.codes.iso3, minerals=ctx.minerals)
        keys = [c for c in data.column_names if c not in
                {"value", "estimated", "flag", "_line"}]
        tuples = list(zip(*(data.column(c).to_pylist() for c in keys), strict=True))
        assert len(tuples) == len(set(tuples)), f"duplicate canonical keys in {table}"
    assert p.tables["production"].num_rows > 300


@needs_data
def test_source_ids(ctx: Context) -> None:
    assert parsed(MCS2026, ctx).meta.source_id == "usgs-mcs2026"
    assert parsed(MCS2026, ctx).meta.release == "MCS2026"
    assert parsed(MCS2026, ctx).meta.url == "https://doi.org/10.5066/P1WKQ63T"
    assert parsed(LONG24, ctx).meta.source_id == "usgs-mcs2024-world-long"
    assert parsed(WIDE24, ctx).meta.source_id == "usgs-mcs2024-world-wide"
    assert parsed(LONG22, ctx).meta.source_id == "usgs-mcs2022-world-long"


@needs_data
def test_detect_refuses_salient_and_trend_tables() -> None:
    others = [DATA / "mcs2024_us_salient_statistics_long.csv",
              DATA / "mcs2023_us_salient_statistics_long.csv",
              *sorted((DATA / "mcs_trends_tables").glob("*.csv"))]
    assert len(others) > 5
    for p in others:
        assert not usgs.detect(p, first_line(p)), p.name


@needs_data
@pytest.mark.parametrize(("wide", "long"), [(WIDE24, LONG24), (WIDE23, LONG23)])
def test_wide_and_long_give_identical_rows(wide: Path, long: Path, ctx: Context) -> None:
    for table in ("production", "reserves"):
        a = parsed(wide, ctx).tables[table].drop_columns(["_line", "source_id"])
        b = parsed(long, ctx).tables[table].drop_columns(["_line", "source_id"])
        key = [(c, "ascending") for c in ("year", "country", "mineral", "unit", "basis")
               + (("stage",) if table == "production" else ())]
        assert a.sort_by(key).equals(b.sort_by(key)), table


@needs_data
def test_cobalt_2024_congo_is_largest(ctx: Context) -> None:
    cobalt = [r for r in rows(MCS2026, ctx, "production")
              if r["mineral"] == "cobalt" and r["stage"] == "mine" and r["year"] == 2024]
    top = max((r for r in cobalt if r["country"] not in {"WLD", "XRW"}),
              key=lambda r: r["value"] or 0)
    assert (top["country"], top["value"], top["unit"], top["basis"]) == (
        "COD", 226_000.0, "t", "Co content")
    assert top["estimated"] is True  # "Estimated." note
    agg = {r["country"]: (r["value"], r["flag"]) for r in cobalt if r["country"] in {"WLD", "XRW"}}
    assert agg == {"WLD": (302_000.0, "rounded_total"), "XRW": (7_780.0, None)}


@needs_data
def test_main_minerals_and_stages_present(ctx: Context) -> None:
    prod = rows(MCS2026, ctx, "production")
    have = {(r["mineral"], r["stage"]) for r in prod}
    for pair in [("lithium", "mine"), ("rare_earths", "mine"), ("graphite", "mine"),
                 ("nickel", "mine"), ("copper", "refinery"), ("aluminium", "smelter"),
                 ("aluminium", "capacity"), ("gallium", "refinery"), ("titanium", "refinery")]:
        assert pair in have, pair
    # nickel refinery production is published in MCS2026 only as text, not in the tables
    lithium = [r for r in prod if r["mineral"] == "lithium"]
    assert {r["basis"] for r in lithium} == {"Li content"}
    assert {r["basis"] for r in prod if r["mineral"] == "rare_earths"} == {"REO"}
    assert {r["basis"] for r in prod if r["mineral"] == "manganese"} == {"Mn content"}
    assert {r["basis"] for r in prod if r["mineral"] == "chromium"} == {"gross"}
    res = rows(MCS2026, ctx, "reserves")
    assert {r["basis"] for r in res if r["mineral"] == "chromium"} == {"Cr2O3", "gross"}
    assert {r["basis"] for r in res if r["mineral"] == "potash"} == {"K2O", "gross"}
    # PGM reserves are published for the group only
    assert {r["mineral"] for r in res} >= {"pgm", "lithium", "cobalt", "rare_earths"}


@needs_data
def test_aggregates_never_become_country_rows(ctx: Context) -> None:
    for path in (MCS2026, WIDE24, LONG22):
        for table in ("production", "reserves"):
            countries = {r["country"] for r in rows(path, ctx, table)}
            assert countries <= ctx.codes.iso3
    agg = usgs.aggregates(MCS2026).to_pylist()
    names = {r["aggregate"] for r in agg}
    assert names == {"World total", "Other countries"}


@needs_data
@pytest.mark.parametrize("path", [MCS2026, WIDE24, LONG23])
def test_country_rows_add_up_to_world_totals(path: Path, ctx: Context) -> None:
    """Per mineral/stage/year: countries + 'Other countries' within 5 % of the rounded total."""
    main = {"cobalt", "lithium", "nickel", "rare_earths", "graphite", "copper", "manganese",
            "tungsten", "platinum", "palladium", "gallium", "antimony", "tin", "zinc"}
    sums: dict[tuple[object, ...], float] = defaultdict(float)
    for r in rows(path, ctx, "production"):
        if r["mineral"] in main and r["value"] is not None and r["country"] not in {"WLD", "XRW"}:
            sums[(r["year"], r["mineral"], r["stage"], r["unit"], r["basis"])] += r["value"]
    totals = {}
    for r in usgs.aggregates(path).to_pylist():
        k = (r["year"], r["mineral"], r["stage"], r["unit"], r["basis"])
        if r["mineral"] not in main or r["value"] is None or r["stage"] == "reserves":
            continue
        if r["aggregate"].lower().startswith("other"):
            sums[k] += r["value"]
        else:
            totals[k] = r["value"]
    checked = 0
    for k, total in totals.items():
        if k[1] == "titanium" or total == 0:
            continue
        assert sums[k] == pytest.approx(total, rel=0.05), k
        checked += 1
    assert checked >= 10


@needs_data
def test_titanium_ilmenite_and_rutile_are_summed(ctx: Context) -> None:
    ti = {(r["country"], r["year"]): r for r in rows(MCS2026, ctx, "production")
          if r["mineral"] == "titanium" and r["stage"] == "mine"}
    aus = ti[("AUS", 2024)]
    raw = {}
    with open(MCS2026, encoding="cp1252", newline="") as f:
        for r in csv.DictReader(f):
            if (r["Commodity"] == "Titanium Mineral Concentrates" and r["Country"] == "Australia"
                    and r["Year"] == "2024" and r["Statistics"] == "Production"):
                raw[r["Statistics_detail"]] = float(r["Value"].replace(",", ""))
    assert aus["value"] == (raw["Mine production: Ilmenite"]
                            + raw["Mine production: Rutile"]) * 1000
    assert aus["basis"] == "TiO2 content"
    sponge = [r for r in rows(MCS2026, ctx, "production")
              if r["mineral"] == "titanium" and r["stage"] == "refinery"]
    assert sponge and {r["basis"] for r in sponge} == {"Ti content"}


@needs_data
def test_value_quirks_on_real_rows(ctx: Context) -> None:
    res = rows(MCS2026, ctx, "reserves")
    prod = rows(MCS2026, ctx, "production")
    flags = {r["flag"] for r in res + prod}
    assert {"withheld", "not_available", "qualitative", "upper_bound"} <= flags
    older = rows(LONG23, ctx, "reserves") + rows(LONG23, ctx, "production")
    assert "upper_bound" in {r["flag"] for r in older}  # "<100"
    assert "lower_bound" in {r["flag"] for r in usgs.aggregates(MCS2026).to_pylist()}
    # W withheld -> null value
    assert all(r["value"] is None for r in res + prod if r["flag"] == "withheld")
    # ">" bound: nickel reserves "Other countries" is an aggregate; Israel potash is "Large"
    isr = [r for r in res if r["country"] == "ISR" and r["mineral"] == "potash"
           and r["basis"] == "K2O"]
    assert isr and all(r["flag"] == "qualitative" and r["value"] is None for r in isr)
    # kilograms -> t (gallium), thousand metric tons -> t (copper)
    ga = [r for r in prod if r["mineral"] == "gallium" and r["country"] == "CHN"
          and r["stage"] == "refinery" and r["year"] == 2024]
    assert ga and ga[0]["unit"] == "t" and ga[0]["value"] < 2000
    cu = [r for r in prod if r["mineral"] == "copper" and r["country"] == "CHL"
          and r["stage"] == "mine" and r["year"] == 2024]
    assert cu and cu[0]["value"] > 1e6
    # footnote marks glued to names in the wide file
    nc = [r for r in rows(WIDE24, ctx, "production") if r["country"] == "NCL"]
    assert {r["mineral"] for r in nc} >= {"cobalt", "nickel"}
    # estimates from the "est" column names and the "e" prefix
    w = rows(WIDE24, ctx, "production")
    assert {r["estimated"] for r in w if r["year"] == 2023 and r["stage"] == "mine"} == {True}
    # multi-statistic country rows: copper mine + refinery + reserves for Chile
    chl = {(r["mineral"], r["stage"]) for r in prod if r["country"] == "CHL"}
    assert {("copper", "mine"), ("copper", "refinery")} <= chl
    assert any(r["country"] == "CHL" and r["mineral"] == "copper" for r in res)


@needs_data
def test_skipped_commodities_are_noted(ctx: Context) -> None:
    notes = "\n".join(parsed(MCS2026, ctx).notes)
    assert "'Cement' maps to no critmin mineral" in notes
    assert "'World total'/'Other countries'" in notes


# ----------------------------------------------------------------------------- value parser

@pytest.mark.parametrize(("raw", "expected"), [
    ("1,234", (1234.0, None, False)),
    ("W", (None, "withheld", False)),
    ("NA", (None, "not_available", False)),
    ("XX", (None, "not_available", False)),
    ("", (None, "not_available", False)),
    ("—", (0.0, None, False)),
    (">5,000", (5000.0, "lower_bound", False)),
    ("<100", (100.0, "upper_bound", False)),
    ("Large", (None, "qualitative", False)),
    ("Moderate to large", (None, "qualitative", False)),
    ("e3,900", (3900.0, None, True)),
    ("3,900E", (3900.0, None, True)),
    ("s", (0.5, "upper_bound", False)),
    ("10,000 - 15,000", (10000.0, "lower_bound", False)),
    ("Included in World total.", (None, "not_available", False)),
])
def test_parse_value(raw: str, expected: tuple[object, ...]) -> None:
    assert usgs.parse_value(raw) == expected


# ----------------------------------------------------------------------------- malformed input

COMBINED = ("MCS chapter,Section,Commodity,Country,Statistics,Statistics_detail,Unit,Year,Value,"
            "Notes,Is critical mineral 2025,Other notes\r\n")


def _combined(tmp_path: Path, *lines: str, raw: bytes | None = None) -> Path:
    p = tmp_path / "MCS2026_Commodities_Data.csv"
    p.write_bytes(raw if raw is not None else (COMBINED + "".join(lines)).encode("cp1252"))
    return p


def _row(country: str = "Chile", value: str = "100", year: str = "2024") -> str:
    return (f"LITHIUM,World Mine Production and Reserves,Lithium,{country},Production,"
            f"Mine production,metric tons,{year},\"{value}\",Estimated.,Yes,"
            "\"(Data in metric tons, lithium content, unless otherwise specified)\"\r\n")


def test_small_combined_file(tmp_path: Path, ctx: Context) -> None:
    p = _combined(tmp_path, _row("Chile", "49,000"), _row("Côte d’Ivoire", "W"),
                  _row("World total", "50,000"), _row("Other countries", ">1,000"))
    out = usgs.parse(p, ctx)
    got = out.tables["production"].to_pylist()
    # the world total and "Other countries" are kept, as rows that are not countries
    assert [(r["country"], r["value"], r["flag"], r["estimated"], r["basis"], r["_line"])
            for r in got] == [("CHL", 49000.0, None, True, "Li content", 2),
                              ("CIV", None, "withheld", True, "Li content", 3),
                              ("WLD", 50000.0, None, True, "Li content", 4),
                              ("XRW", 1000.0, "lower_bound", True, "Li content", 5)]
    validate("production", out.tables["production"], file=str(p), iso3=ctx.codes.iso3,
             minerals=ctx.minerals)


def test_wrong_encoding(tmp_path: Path, ctx: Context) -> None:
    p = _combined(tmp_path, raw=(COMBINED + _row()).encode("cp1252") + b"\x81\r\n")
    with pytest.raises(InputError) as exc:
        usgs.parse(p, ctx)
    assert str(exc.value) == (f"{p} line 3: not valid cp1252 text (byte 0x81 at offset "
                              f"{len((COMBINED + _row()).encode('cp1252'))})")


def test_unexpected_header(tmp_path: Path, ctx: Context) -> None:
    p = tmp_path / "mcs2024_world_production_reserves_long.csv"
    p.write_text("edition,source_file,country,kind\nMCS2024,x,Chile,y\n", encoding="utf-8")
    assert not usgs.detect(p, first_line(p))
    with pytest.raises(InputError) as exc:
        usgs.parse(p, ctx)
    assert str(exc.value) == (
        f"{p} line 1: unexpected header: not a USGS MCS world production layout "
        "(found 'edition,source_file,country,kind')")


def test_combined_header_missing_column(tmp_path: Path, ctx: Context) -> None:
    p = tmp_path / "MCS2026_sample.csv"
    p.write_bytes(COMBINED.replace(",Notes", ",Remarks").encode("cp1252") + _row().encode())
    out = usgs.parse(p, ctx)  # Notes is optional: no estimate flag then
    assert out.tables["production"].column("estimated").to_pylist() == [False]


def test_unknown_country(tmp_path: Path, ctx: Context) -> None:
    p = _combined(tmp_path, _row(), _row("Atlantis", "5"))
    with pytest.raises(InputError) as exc:
        usgs.parse(p, ctx)
    assert str(exc.value) == f"{p} line 3, field 'Country': unknown country name 'Atlantis'"


def test_negative_value(tmp_path: Path, ctx: Context) -> None:
    p = _combined(tmp_path, _row(), _row("Peru", "-40"))
    with pytest.raises(InputError) as exc:
        usgs.parse(p, ctx)
    assert str(exc.value) == f"{p} line 3, field 'Value': negative value '-40'"


def test_non_numeric_value(tmp_path: Path, ctx: Context) -> None:
    p = _combined(tmp_path, _row("Peru", "12x4"))
    with pytest.raises(InputError) as exc:
        usgs.parse(p, ctx)
    assert str(exc.value) == f"{p} line 2, field 'Value': not a number: '12x4'"


def test_bad_year(tmp_path: Path, ctx: Context) -> None:
    p = _combined(tmp_path, _row(year="20x4"))
    with pytest.raises(InputError) as exc:
        usgs.parse(p, ctx)
    assert str(exc.value) == f"{p} line 2, field 'Year': not a year: '20x4'"


def test_empty_file(tmp_path: Path, ctx: Context) -> None:
    p = tmp_path / "mcs2024_world_production_reserves_long.csv"
    p.write_bytes(b"")
    assert not usgs.detect(p, first_line(p))
    with pytest.raises(InputError) as exc:
        usgs.parse(p, ctx)
    assert str(exc.value) == f"{p} line 1: empty file: expected a USGS MCS header"


LONG = "edition,source_file,country,type,measure,qualifier,unit_code,estimated,year,value_raw,notes\n"


def test_long_form_errors(tmp_path: Path, ctx: Context) -> None:
    p = tmp_path / "mcs2024_world_production_reserves_long.csv"
    good = "MCS2024,mcs2024-lithi_world.csv,Chile,\"Mine production, lithium content\","
    p.write_text(LONG + good + "production,,t,True,2023,e44,000,\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        usgs.parse(p, ctx)
    assert str(exc.value) == f"{p} line 2: expected 11 fields, found 12"
    p.write_text(LONG + good + "production,,lb,True,2023,44,\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        usgs.parse(p, ctx)
    assert str(exc.value) == f"{p} line 2, field 'unit_code': unknown unit code 'lb'"
    p.write_text(LONG + good + "production,,kt,True,2023,\"e44,000\",\n", encoding="utf-8")
    t = usgs.parse(p, ctx).tables["production"].to_pylist()
    assert (t[0]["value"], t[0]["estimated"], t[0]["stage"]) == (44_000_000.0, True, "mine")


def test_wide_form_units_and_years(tmp_path: Path, ctx: Context) -> None:
    p = tmp_path / "mcs2024_world_production_reserves_all_commodities.csv"
    p.write_text(
        "source_file,Source,Country,Type,Prod_kt_2022,Prod_kt_est_2023,Reserves_kt\n"
        "mcs2024-coppe_world.csv,MCS2024,Chile11,\"Refinery production, copper\",2,e3,>5\n",
        encoding="utf-8")
    out = usgs.parse(p, ctx)
    prod = out.tables["production"].to_pylist()
    assert [(r["year"], r["country"], r["stage"], r["value"], r["estimated"]) for r in prod] == [
        (2022, "CHL", "refinery", 2000.0, False), (2023, "CHL", "refinery", 3000.0, True)]
    res = out.tables["reserves"].to_pylist()
    assert [(r["year"], r["value"], r["flag"]) for r in res] == [(2023, 5000.0, "lower_bound")]
    assert isinstance(out.tables["reserves"], pa.Table)
