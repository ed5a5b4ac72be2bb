"""The HS codes a trade figure counts, checked against the raw BACI files (HS92 and HS17).

Expected values are computed here from the CEPII CSVs with DuckDB ``read_csv``: for Japan (BACI
code 392) in 2024, the mapped codes of a mineral with at least one import row (self-trade
excluded) in the file that serves the code (HS17 where the HS17 file carries it with quantities,
else HS92: the documented precedence), and the sum of those rows' values.
"""

from __future__ import annotations

import csv
import functools
import json
import re
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from critmin.atlas import Atlas
from tests.conftest import shared

pytestmark = pytest.mark.slow

HS_MAP = Path(__file__).resolve().parents[2] / "src" / "critmin" / "reference" / "hs_map.csv"
HS_CORRELATION = HS_MAP.with_name("hs_correlation.csv")
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


@functools.cache
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
    (``hs_map.chain_stage``; ``all``: every stage) from the raw files, with the same precedence
    as :func:`expected`."""
    return expected_codes(mineral, lambda row: chain_stage in ("all", row["chain_stage"]),
                          year=year)


@functools.cache
def raw_codes(year: int) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(codes with a quantity, codes with any row) per revision in the raw files of ``year``."""
    rows = raw_rows(year)
    return ({rev: {k for k, *_rest, q in rs if q} for rev, rs in rows.items()},
            {rev: {k for k, *_ in rs} for rev, rs in rows.items()})


def expected_codes(mineral: str, map_keep: Callable[[dict[str, str]], bool] = lambda _r: True,
                   flow_keep: Callable[[int, int], bool] = lambda _i, _j: True,
                   year: int = 2024) -> tuple[set[str], set[str]]:
    """(codes counted, mapped codes without a row) of the flows ``flow_keep(exporter,
    importer)`` (BACI country codes, self-trade excluded) of the codes of ``mineral`` whose
    hs_map rows ``map_keep`` accepts, from the raw files, with the precedence of
    :func:`expected` applied per product (the revision that serves a product is chosen on every
    row of the year)."""
    rows = raw_rows(year)
    codes: dict[str, set[str]] = {}
    with HS_MAP.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["mineral"] == mineral and map_keep(row):
                codes.setdefault(row["hs_revision"], set()).add(row["hs_code"])
    have_q, present = raw_codes(year)
    wanted = set().union(*codes.values()) if codes else set()
    kept = {rev: {k for k, i, j, *_ in rs if k in wanted and i != j and flow_keep(i, j)}
            for rev, rs in rows.items()}
    # the unit of precedence is the product: codes of two revisions covering the same goods
    # (critmin's input table reference/hs_correlation.csv) are served by one revision
    with HS_CORRELATION.open(encoding="utf-8") as f:
        corr = {(r["hs_revision"], r["hs_code"]): r["product"] for r in csv.DictReader(f)}
    products: dict[str, set[tuple[str, str]]] = {}
    for rev, cs in codes.items():
        for code in cs:
            products.setdefault(corr.get((rev, code), code), set()).add((rev, code))
    counted, missing = set(), set()
    for members in products.values():
        revs = [r for r in ("HS17", "HS92") if any(rv == r for rv, _c in members)]
        served = next((r for r in revs if any(rv == r and c in have_q[r] for rv, c in members)),
                      None) or next((r for r in revs if any(rv == r and c in present[r]
                                                            for rv, c in members)), None)
        for rv, c in members:
            if served is None or (rv == served and c not in kept[rv]):
                missing.add(f"{rv}:{c}")
            elif rv == served:
                counted.add(f"{rv}:{c}")
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
    from typer.testing import CliRunner

    from critmin.cli import app

    counted, missing = expected_world("nickel", "mine")
    res = CliRunner().invoke(app, ["scenario", "n-minus-1", "--mineral", "nickel", "--stage",
                                   "mine", "--year", "2024", "--db", str(chain_atlas)])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.strip().startswith("nickel mine"))
    assert line.strip().startswith("nickel mine (trade 2024): " + ", ".join(sorted(counted)))
    assert all(c in line for c in missing) and ("no data" in line) == bool(missing)

    assert_api_codes(chain_atlas, tmp_path, "/api/v1/n-minus-1?mineral=nickel&stage=mine&year=2024",
                     counted, missing)


# ------------------------------------------------------------- trace, coop coverage, suppliers

#: hs_map forms that feed a refiner (critmin.valuechain.FEED_FORMS: ores and intermediates)
FEED = ("ore", "intermediate")
#: BACI country codes of the Quad's members (Australia, India, Japan, United States) in both
#: releases' country tables
QUAD = {36, 699, 392, 842}


def test_trace_lists_the_codes_of_both_trade_figures(atlas: Atlas, cli: Callable[..., str],
                                                      tmp_path: Path) -> None:
    """The importer's imports (every mapped code) and the refiners' feed imports (world trade of
    ores and intermediates): library, CLI footnote and JSON, API fields."""
    from fastapi.testclient import TestClient

    from critmin.api import create_app
    from critmin.valuechain import trace_country

    for m in ("nickel", "cobalt"):
        counted, missing, _value = expected(m)
        feed, feed_missing = expected_codes(m, lambda row: row["stage"] in FEED)
        r = trace_country(atlas, "JPN", m, 2024).metrics.iloc[0]
        assert (set(r.hs_codes), set(r.hs_codes_missing)) == (counted, missing), m
        assert (set(r.feed_hs_codes), set(r.feed_hs_codes_missing)) == (feed, feed_missing), m
        assert list(r.hs_codes) == sorted(r.hs_codes) and counted
    counted, missing, _value = expected("nickel")
    text = cli("trace", "JPN", "--mineral", "nickel", "--year", "2024", "--db", str(atlas.path))
    line = next(x for x in text.splitlines() if x.strip().startswith("imports of nickel by JPN:"))
    assert line.strip() == ("imports of nickel by JPN: " + ", ".join(sorted(counted))
                            + (f"; no data: {', '.join(sorted(missing))}" if missing else ""))
    feed, feed_missing = expected_codes("nickel", lambda row: row["stage"] in FEED)
    line = next(x for x in text.splitlines() if x.strip().startswith("refiners' feed imports"))
    assert all(c in line for c in feed | feed_missing)
    rows = json.loads(cli("trace", "JPN", "--mineral", "nickel", "--year", "2024", "--format",
                          "json", "--db", str(atlas.path)))
    assert all(set(r["hs_codes"]) == counted and set(r["feed_hs_codes"]) == feed for r in rows)
    api = create_app(atlas.path, f"sqlite:///{tmp_path / 'ops.db'}", web=False, warm_years=0)
    with TestClient(api) as client:
        body = client.get("/api/v1/trace/JPN?mineral=nickel&year=2024").json()
    assert body["rows"] and all(set(r["hs_codes"]) == counted
                                and set(r["hs_codes_missing"]) == missing
                                and set(r["feed_hs_codes_missing"]) == feed_missing
                                for r in body["rows"])


def test_coop_coverage_lists_the_codes_of_both_trade_figures(
        atlas: Atlas, cli: Callable[..., str], tmp_path: Path) -> None:
    """Japan in the Quad, 2024: its imports from outside the group and the partners' exports
    outside it, each with its own codes (library, CLI footnote and JSON, API)."""
    from fastapi.testclient import TestClient

    from critmin.api import create_app
    from critmin.cooperation.analytics import coverage

    def want(m: str) -> tuple[set[str], set[str], set[str], set[str]]:
        imp = expected_codes(m, flow_keep=lambda i, j: j == JAPAN and i not in QUAD)
        exp = expected_codes(m, flow_keep=lambda i, j: i in QUAD - {JAPAN} and j not in QUAD)
        return (*imp, *exp)

    df = coverage("JPN", "QUAD", year=2024, atlas=atlas).set_index("mineral")
    checked = [m for m in MINERALS if m in df.index]
    assert len(checked) >= 5
    for m in checked:
        got = tuple(set(df.loc[m, c]) for c in ("hs_codes", "hs_codes_missing",
                                                "partner_hs_codes", "partner_hs_codes_missing"))
        assert got == want(m), m
    # the two figures can count different codes: the United States imports beryllium from
    # outside the Quad, its partners export none outside it (no code counted, every mapped
    # code of the year without data)
    usa = 842
    be = coverage("USA", "QUAD", "beryllium", year=2024, atlas=atlas).iloc[0]
    assert (set(be.hs_codes), set(be.hs_codes_missing)) == expected_codes(
        "beryllium", flow_keep=lambda i, j: j == usa and i not in QUAD)
    partner = expected_codes("beryllium", flow_keep=lambda i, j: i in QUAD - {usa}
                             and j not in QUAD)
    assert (set(be.partner_hs_codes), set(be.partner_hs_codes_missing)) == partner
    assert be.hs_codes and not be.partner_hs_codes
    imp, imp_missing, exp, exp_missing = want("nickel")
    text = cli("coop", "coverage", "JPN", "--group", "QUAD", "--mineral", "nickel", "--year",
               "2024", "--db", str(atlas.path))
    lines = [x.strip() for x in text.splitlines()]
    line = next(x for x in lines if x.startswith("nickel, imports from outside QUAD:"))
    assert all(c in line for c in imp | imp_missing) and ("no data" in line) == bool(imp_missing)
    line = next(x for x in lines if x.startswith("nickel, partners' exports outside QUAD:"))
    assert all(c in line for c in exp | exp_missing)
    row, = json.loads(cli("coop", "coverage", "JPN", "--group", "QUAD", "--mineral", "nickel",
                          "--year", "2024", "--format", "json", "--db", str(atlas.path)))
    assert (set(row["hs_codes"]), set(row["partner_hs_codes_missing"])) == (imp, exp_missing)
    api = create_app(atlas.path, f"sqlite:///{tmp_path / 'ops.db'}", web=False, warm_years=0)
    with TestClient(api) as client:
        body = client.get("/api/v1/coop/coverage/JPN?group=QUAD&mineral=nickel&year=2024").json()
    row, = body["rows"]
    assert (set(row["hs_codes_missing"]), set(row["partner_hs_codes"])) == (imp_missing, exp)


def baci_code(iso3: str) -> int:
    """BACI's numeric code of ``iso3`` (HS92 V202401b country table)."""
    with shared("baci", "country_codes_V202401b.csv").open(encoding="utf-8") as f:
        return next(int(r["country_code"]) for r in csv.DictReader(f)
                    if r["country_iso3"] == iso3)


def expected_supplier(exporter: str) -> tuple[set[str], set[str]]:
    """(codes with a 2024 import row of Japan from ``exporter``, mapped codes of the minerals
    it supplies without any import row of Japan), over every mapped mineral, from the raw
    files."""
    code = baci_code(exporter)
    with HS_MAP.open(encoding="utf-8") as f:
        minerals = sorted({r["mineral"] for r in csv.DictReader(f)})
    counted: set[str] = set()
    missing: set[str] = set()
    for m in minerals:
        have, _x = expected_codes(m, flow_keep=lambda i, j: i == code and j == JAPAN)
        if have:
            counted |= have
            missing |= expected_codes(m, flow_keep=lambda _i, j: j == JAPAN)[1]
    return counted, missing


def test_suppliers_list_the_codes_each_value_counts(atlas: Atlas) -> None:
    from critmin.reports import views

    df, codes = views.supplier_table(atlas, "JPN", 2024)
    assert len(df) == 10
    for r in df.head(3).itertuples():
        counted, missing = expected_supplier(r.exporter)
        assert (set(r.hs_codes), set(r.hs_codes_missing)) == (counted, missing), r.exporter
        assert r.codes_note.startswith("HS codes counted: " + ", ".join(sorted(counted)))
    # the total (the shares' denominator): every code with an import row of Japan
    assert set(codes["hs_codes"]) == set().union(
        *(expected_codes(m, flow_keep=lambda _i, j: j == JAPAN)[0] for m in codes["by_mineral"]))


def expected_geopolrisk(mineral: str, importers: set[int], year: int = 2024
                        ) -> tuple[set[str], set[str]]:
    """(codes counted, mapped codes without a row) of GeoPolRisk's default mode on an atlas
    without the published map: critmin's HS92 codes of ``mineral`` (every stage) with at least
    one import row of one of ``importers`` in the raw HS92 file of ``year``."""
    hs92 = mapped(mineral).get("HS92", set())
    present = {k for k, _i, j, *_ in raw_rows(year)["HS92"] if j in importers}
    return ({f"HS92:{k}" for k in hs92 & present}, {f"HS92:{k}" for k in hs92 - present})


def test_geopolrisk_lists_the_codes_its_imports_count(atlas: Atlas, chain_atlas: Path,
                                                      tmp_path: Path,
                                                      cli: Callable[..., str]) -> None:
    """GeoPolRisk sums HS92 import quantities of the economy (or its members): library, CLI
    footnote and JSON, API (compat mode, tested in test_geopolrisk, keeps the tool's columns)."""

    from critmin.metrics.geopolrisk import COLUMNS, geopolrisk

    minerals = ["nickel", "cobalt", "lithium", "graphite"]
    df = geopolrisk(atlas, economies=["JPN", "IND", "R"], materials=minerals, years=[2024],
                    regions={"R": ["JPN", "IND"]})
    assert len(df) == 12
    who = {"JPN": {JAPAN}, "IND": {699}, "R": {JAPAN, 699}}
    for r in df.itertuples():
        counted, missing = expected_geopolrisk(r.material, who[r.economy])
        assert set(r.hs_codes) == counted, (r.economy, r.material)
        assert set(r.hs_codes_missing) == missing, (r.economy, r.material)
        assert list(r.hs_codes) == sorted(r.hs_codes) and counted | missing
    assert list(df.columns) == [*COLUMNS, "hs_codes", "hs_codes_missing"]

    counted, missing = expected_geopolrisk("cobalt", {JAPAN})
    out = cli("geopolrisk", "--economy", "JPN", "--material", "cobalt", "--year", "2024",
              "--format", "table", "--db", str(chain_atlas))
    line = next(x for x in out.splitlines() if x.strip().startswith("JPN cobalt 2024:"))
    assert line.strip().startswith("JPN cobalt 2024: " + (", ".join(sorted(counted)) or "none"))
    assert all(c in line for c in missing) and ("no data" in line) == bool(missing)
    rows = json.loads(cli("geopolrisk", "--economy", "JPN", "--material", "cobalt", "--year",
                          "2024", "--format", "json", "--db", str(chain_atlas)))
    assert set(rows[0]["hs_codes"]) == counted and set(rows[0]["hs_codes_missing"]) == missing

    assert_api_codes(chain_atlas, tmp_path,
                     "/api/v1/geopolrisk?economy=JPN&material=cobalt&year=2024", counted, missing)


def assert_api_codes(chain_atlas: Path, tmp_path: Path, url: str, counted: set[str],
                     missing: set[str]) -> None:
    """The first row the API gives for ``url`` lists ``counted`` and ``missing``, as its last
    two fields."""
    from fastapi.testclient import TestClient

    from critmin.api import create_app

    api = create_app(chain_atlas, f"sqlite:///{tmp_path / 'ops.db'}", web=False, warm_years=0)
    with TestClient(api) as client:
        row = client.get(url).json()["rows"][0]
    assert set(row["hs_codes"]) == counted and set(row["hs_codes_missing"]) == missing
    assert list(row)[-2:] == ["hs_codes", "hs_codes_missing"]


def expected_scenario(mineral: str, chain_stage: str, year: int = 2024
                      ) -> tuple[set[str], set[str]]:
    """(codes a scenario's flows sum, mapped codes without) from the raw files: the mapped codes
    of ``mineral`` at ``chain_stage`` (``all``: every stage) whose serving file has a flow with
    a quantity between two countries (flows without a quantity are imputed from those with one;
    a code with none is dropped, so it is missing), with the precedence of :func:`expected`."""
    rows = raw_rows(year)
    codes: dict[str, set[str]] = {}
    with HS_MAP.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["mineral"] == mineral and chain_stage in ("all", row["chain_stage"]):
                codes.setdefault(row["hs_revision"], set()).add(row["hs_code"])
    have_q = {rev: {k for k, *_rest, q in rs if q} for rev, rs in rows.items()}
    present = {rev: {k for k, *_ in rs} for rev, rs in rows.items()}
    traded_q = {rev: {k for k, i, j, _v, q in rs if i != j and q} for rev, rs in rows.items()}
    counted, missing = set(), set()
    for code in set().union(*codes.values()):
        revs = [r for r in ("HS17", "HS92") if code in codes.get(r, ())]
        served = next((r for r in revs if code in have_q[r]), None) or next(
            (r for r in revs if code in present[r]), None)
        if served is None:
            missing |= {f"{r}:{code}" for r in revs}
        elif code in traded_q[served]:
            counted.add(f"{served}:{code}")
        else:
            missing.add(f"{served}:{code}")
    return counted, missing


def test_scenario_run_lists_the_codes_its_flows_sum(atlas: Atlas, chain_atlas: Path) -> None:
    """``scenario run``: the summary's lists per mineral and stage (library, CLI table footnote,
    JSON)."""
    from typer.testing import CliRunner

    from critmin.cli import app
    from critmin.reports import charts
    from critmin.scenarios import run
    from critmin.web.pages import templates

    shocks = [{"exporter": "CHN", "mineral": "graphite", "stage": "mine", "cut": 1.0},
              {"exporter": "COD", "mineral": "cobalt", "stage": "all", "cut": 0.5},
              {"exporter": "IDN", "mineral": "nickel", "stage": "refined", "cut": 0.5}]
    spec = {"name": "codes", "base_year": 2024, "shocks": shocks}
    res = run(spec, atlas)
    assert len(res.summary) == 3
    for r in res.summary.itertuples():
        counted, missing = expected_scenario(r.mineral, r.stage)
        assert set(r.hs_codes) == counted, (r.mineral, r.stage)
        assert set(r.hs_codes_missing) == missing, (r.mineral, r.stage)
        assert r.hs_codes == sorted(r.hs_codes) and counted
    assert list(res.summary.columns)[-2:] == ["hs_codes", "hs_codes_missing"]
    # the /scenarios page's result states them under the summary table
    html = templates().env.get_template("_scenario_result.html").render(
        spec=res.spec, res=res, fig=charts.scenario_bars(res.importers))
    note = re.search(r'<p class="muted" id="scenario-codes">([^<]*)</p>', html)
    assert note and "world flows (with quantities) in 2024" in note.group(1)
    counted, missing = expected_scenario("cobalt", "all")
    part = ", ".join(sorted(counted)) + (f" (mapped codes without data: "
                                         f"{', '.join(sorted(missing))})" if missing else "")
    assert f"cobalt all: {part}" in note.group(1)

    path = chain_atlas.parent / "codes.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    out = CliRunner().invoke(app, ["scenario", "run", str(path), "--db", str(chain_atlas)])
    assert out.exit_code == 0, out.output
    counted, missing = expected_scenario("graphite", "mine")
    line = next(x for x in out.output.splitlines() if x.strip().startswith("graphite mine:"))
    assert line.strip().startswith("graphite mine: " + ", ".join(sorted(counted)))
    assert all(c in line for c in missing) and ("no data" in line) == bool(missing)
    out = CliRunner().invoke(app, ["scenario", "run", str(path), "--db", str(chain_atlas),
                                   "--format", "json"])
    row = next(r for r in json.loads(out.output)["summary"] if r["mineral"] == "graphite")
    assert set(row["hs_codes"]) == counted and set(row["hs_codes_missing"]) == missing


def test_coop_blocs_lists_the_world_trade_codes(atlas: Atlas, cli: Callable[..., str],
                                               chain_atlas: Path) -> None:
    """``coop blocs``: export_share and import_reliance sum world trade of every form of the
    mineral in trade_year (library, JSON, CLI footnote)."""
    from critmin.cooperation.analytics import blocs

    df = blocs("cobalt", stage="mine", year=2024, atlas=atlas, groups=["QUAD", "MSP"])
    counted, missing = expected_world("cobalt", "all")
    assert len(df) == 2 and counted
    for r in df.itertuples():
        assert (set(r.hs_codes), set(r.hs_codes_missing)) == (counted, missing)
    assert list(df.columns)[-2:] == ["hs_codes", "hs_codes_missing"]
    rows = json.loads(cli("coop", "blocs", "--mineral", "cobalt", "--stage", "mine", "--year",
                          "2024", "--format", "json", "--db", str(chain_atlas)))
    assert set(rows[0]["hs_codes"]) == counted and set(rows[0]["hs_codes_missing"]) == missing
    out = cli("coop", "blocs", "--mineral", "cobalt", "--stage", "mine", "--year", "2024",
              "--db", str(chain_atlas))
    line = next(x for x in out.splitlines() if x.strip().startswith("cobalt (trade 2024):"))
    assert all(c in line for c in counted | missing) and ("no data" in line) == bool(missing)


def test_coop_whatif_lists_the_world_trade_codes(atlas: Atlas, cli: Callable[..., str],
                                                chain_atlas: Path, tmp_path: Path) -> None:
    """``coop whatif``: the top producer's apparent consumption (d_top of n1_coverage) is drawn
    from world trade of every form of the mineral in the year (library, JSON, CLI footnote,
    API)."""
    from critmin.cooperation.analytics import whatif

    df = whatif(["JERVOIS-ICO"], 2024, atlas=atlas)
    counted, missing = expected_world("cobalt", "all")
    assert counted and "n1_coverage" in set(df.metric)
    for r in df.itertuples():
        assert (set(r.hs_codes), set(r.hs_codes_missing)) == (counted, missing)
    assert list(df.columns)[-2:] == ["hs_codes", "hs_codes_missing"]
    rows = json.loads(cli("coop", "whatif", "--project", "JERVOIS-ICO", "--year", "2024",
                          "--format", "json", "--db", str(chain_atlas)))
    assert set(rows[0]["hs_codes"]) == counted and set(rows[0]["hs_codes_missing"]) == missing
    out = cli("coop", "whatif", "--project", "JERVOIS-ICO", "--year", "2024",
              "--db", str(chain_atlas))
    line = next(x for x in out.splitlines() if x.strip().startswith("cobalt mine (trade 2024"))
    assert all(c in line for c in counted | missing) and ("no data" in line) == bool(missing)
    assert_api_codes(chain_atlas, tmp_path, "/api/v1/coop/whatif?project=JERVOIS-ICO&year=2024",
                     counted, missing)


def test_scan_lists_each_rows_code_and_the_mapped_codes_without_imports(
        atlas: Atlas, cli: Callable[..., str], chain_atlas: Path) -> None:
    """``scan JPN``: each row's extra_imports_kusd counts its one code; hs_codes_missing are the
    mapped codes of its minerals (HS92 and HS17, both loaded for 2024) with no import row of
    Japan from another country in the raw files (library, JSON, CLI footnote)."""
    from critmin.metrics.scan import dependency_scan

    rows = raw_rows(2024)
    with_rows = {f"{rev}:{k}" for rev, rs in rows.items() for k, i, j, v, _q in rs
                 if j == JAPAN and i != JAPAN and v > 0}
    # one revision per product (issue 12 item 1): a code both files carry is served by the one
    # with quantities, HS17 first; the other revision's code is neither counted nor missing
    have_q = {rev: {k for k, *_r, q in rs if q} for rev, rs in rows.items()}
    present = {rev: {k for k, *_r in rs} for rev, rs in rows.items()}
    by_rev = mapped("cobalt")
    codes = set()
    for c in set().union(*by_rev.values()):
        revs = [r for r in ("HS17", "HS92") if c in by_rev.get(r, ())]
        served = next((r for r in revs if c in have_q[r]), None) or next(
            (r for r in revs if c in present[r]), None)
        codes |= {f"{served}:{c}"} if served else {f"{r}:{c}" for r in revs}
    assert "HS17:282200" in codes and "HS92:282200" not in codes
    missing = codes - with_rows
    assert codes & with_rows
    df = dependency_scan("JPN", year=2024, atlas=atlas)
    assert list(df.columns)[-2:] == ["hs_codes", "hs_codes_missing"]
    co = df[df.minerals == "cobalt"]
    assert {c for h in co.hs_codes for c in h} == codes & with_rows
    for r in co.itertuples():
        assert r.hs_codes == [f"{r.hs_revision}:{r.hs_code}"] and set(r.hs_codes_missing) == missing
    out = json.loads(cli("scan", "JPN", "--year", "2024", "--all", "--format", "json", "--db",
                         str(chain_atlas)))
    row = next(r for r in out["rows"] if r["minerals"] == "cobalt") if isinstance(out, dict) \
        else next(r for r in out if r["minerals"] == "cobalt")
    assert set(row["hs_codes_missing"]) == missing and len(row["hs_codes"]) == 1
    table = cli("scan", "JPN", "--year", "2024", "--all", "--db", str(chain_atlas))
    line = next(x for x in table.splitlines() if x.strip().startswith("cobalt (trade 2024):"))
    assert all(c in line for c in codes & with_rows | missing)
    assert ("no data" in line) == bool(missing)
