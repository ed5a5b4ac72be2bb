"""GeoPolRisk: published reference case, compat parity with geopolrisk-py 2.0.1, hand-computed
cases, properties and missing-data behaviour."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critmin.countries import country_codes
from critmin.errors import ChoiceError
from critmin.metrics.concentration import hhi as hhi_of
from critmin.metrics.geopolrisk import (
    COLUMNS,
    COMPAT,
    _reference_units,
    g_from_pv,
    geopolrisk,
    import_risk,
    parse_region,
)
from critmin.schema import table as schema_table
from tests.conftest import shared

DATA = Path(__file__).resolve().parents[1] / "data"


def _backend(tables: dict[str, list[dict]]) -> ibis.BaseBackend:
    """An in-memory DuckDB backend with atlas-schema tables (empty ones for those not given)."""
    con = ibis.duckdb.connect()
    for name in ("countries", "trade_flows", "production", "governance", "material_hs_map",
                 "units", "country_groups"):
        schema = schema_table(name).arrow_schema
        rows = tables.get(name, [])
        if name == "units" and name not in tables:
            rows = [{"unit": u, "canonical": c, "factor": f} for u, c, f in _reference_units()]
        data = pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
        con.create_table(name, data)
    return con


def _countries(iso3s: set[str], codes: dict[str, int] | None = None) -> list[dict]:
    cc = country_codes()
    by_iso = {v: k for k, v in cc.by_baci.items()}
    by_iso.update(codes or {})
    return [{"iso3": i, "name": i, "kind": "country", "baci_code": by_iso.get(i)}
            for i in sorted(iso3s)]


# ---------------------------------------------------------------------------------------------
# the published reference case (USA 2022: nickel, manganese, graphite)


@pytest.fixture(scope="module")
def testcase() -> tuple[ibis.BaseBackend, pd.DataFrame]:
    folder = shared("geopolrisk_testcase")
    cc = country_codes()
    prod, trade, gov, hs = [], [], [], []
    for material, codes in (("Nickel", ["260400"]), ("Manganese", ["260200"]),
                            ("Graphite", ["250410", "250490"])):
        mineral = material.lower()
        hs += [{"commodity": material, "material": material, "mineral": mineral,
                "hs_code": c, "hs_revision": "HS92", "complementary": i > 0,
                "source_id": "testcase"} for i, c in enumerate(codes)]
        with open(folder / f"testing_case_{material}.csv", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if r["Country_ISO"] == "DELETE":
                    continue
                for y in range(2018, 2023):
                    v = r[str(y)].strip()
                    prod.append({"year": y, "country": cc.from_wb(r["Country_ISO"]),
                                 "mineral": mineral, "stage": "mine",
                                 "value": float(v) if v else None, "unit": "t",
                                 "basis": "gross", "estimated": False, "source_id": "wmd-test"})
    seen_g: dict[str, float] = {}
    with open(folder / "testing_case_Trade_Data.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            exporter = cc.by_baci[int(r["Exporting Country"])]
            trade.append({"year": int(r["Year"]), "exporter": exporter,
                          "importer": cc.by_baci[int(r["Importing Country"])],
                          "hs_code": r["Resource HSCODE"].split(";")[0], "hs_revision": "HS92",
                          "value_kusd": float(r["Trade Value (1000 USD)"]),
                          "quantity_t": float(r["Quantity (mTonnes)"]), "source_id": "baci-test"})
            seen_g[exporter] = float(r["WGI"])
    # the test case gives the normalised weights g; the atlas holds PV estimates: PV = 2.5 - 5 g
    gov = [{"year": 2022, "country": c, "indicator": "pv", "estimate": 2.5 - 5 * g,
            "source_id": "wgi-pv-test"} for c, g in seen_g.items()]
    isos = {r["country"] for r in prod} | {r["exporter"] for r in trade} | {"USA"}
    con = _backend({"production": prod, "trade_flows": trade, "governance": gov,
                    "material_hs_map": hs, "countries": _countries(isos)})
    expected = pd.read_csv(folder / "testing_case_GeoPolRisk.csv")
    return con, expected


def test_published_reference_case(testcase) -> None:
    con, expected = testcase
    # the test case's WGI table matches every partner (Taiwan included, with g = 0)
    got = geopolrisk(con, economies=["USA"], years=[2022], compat=COMPAT,
                     pv_unmatched=()).set_index("material")
    assert len(got) == 3
    for _, e in expected.iterrows():
        r = got.loc[e["Raw Material"]]
        for col, ecol in (("hhi", "HHI"), ("import_risk", "Import Risk (WTA)"),
                          ("score", "GeoPolRisk Score"), ("price", "Price"), ("cf", "CF")):
            assert r[col] == pytest.approx(e[ecol], rel=1e-12, abs=0), (e["Raw Material"], col)
    assert got.loc["Nickel", "score"] == pytest.approx(0.00032304331527637555, rel=1e-12)
    assert got.loc["Manganese", "score"] == pytest.approx(0.11095590775245055, rel=1e-12)
    assert got.loc["Graphite", "score"] == pytest.approx(0.27497413262676956, rel=1e-12)


def test_reference_case_default_mode_agrees(testcase) -> None:
    """On complete data the default mode gives the same numbers (up to rounding), with flags."""
    con, _expected = testcase
    got = geopolrisk(con, economies=["USA"], years=[2022]).set_index("material")
    assert got.loc["nickel", "score"] == pytest.approx(0.00032304331527637555, rel=1e-9)
    assert got.loc["graphite", "score"] == pytest.approx(0.27497413262676956, rel=1e-9)
    # manganese: Angola's 2018 figure is missing but 2022 is complete
    assert got.loc["manganese", "score"] == pytest.approx(0.11095590775245055, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# compat parity with the published tool on the real shared data


def _regression() -> pd.DataFrame:
    files = sorted(DATA.glob("geopolrisk_py_2.0.1_*.csv"))
    if not files:
        pytest.skip("no geopolrisk-py regression table")
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


def test_compat_parity_with_geopolrisk_py(full_atlas) -> None:
    """Every value the tool computes (status ok, finite) is reproduced to 1e-12 relative.

    Known input difference, excluded: BACI codes that share an ISO3 in the atlas (58
    Belgium-Luxembourg, 280 West Germany, 736 former Sudan: the tool lists them as economies of
    their own, all zero). Imports from Guyana are included: the PV file lists GUY twice, the
    tool reads the first block, which critmin's WGI loader relabels GUF (French Guiana's values);
    compat mode reads Guyana's PV from that block as the tool does.
    """
    from critmin.atlas import Atlas

    ref = _regression()
    years = sorted(int(y) for y in ref.year.unique())
    with Atlas(full_atlas) as atlas:
        baci = atlas.sql("SELECT iso3 AS economy, baci_code FROM countries "
                         "WHERE baci_code IS NOT NULL")
        if baci.empty:
            pytest.skip("atlas countries table has no BACI codes")
        got = geopolrisk(atlas, years=years, compat=COMPAT)
    ref = ref.merge(baci, on="baci_code", how="left")
    assert ref[ref.economy.isna()].baci_code.nunique() <= 3
    ok = ref[(ref.status == "ok") & ref.score.notna() & ref.economy.notna()]
    merged = ok.merge(got, on=["economy", "material", "year"], suffixes=("_ref", ""))
    assert len(merged) == len(ok) > 0
    assert sorted(merged.year.unique()) == years  # every year of the regression tables
    bad = []
    for col in ("hhi", "import_risk", "score", "price", "cf"):
        a, b = merged[f"{col}_ref"].to_numpy(), merged[col].to_numpy()
        for i in range(len(a)):
            if not (a[i] == b[i] or abs(a[i] - b[i]) <= 1e-12 * max(abs(a[i]), abs(b[i]))):
                bad.append((col, *merged.iloc[i][["economy", "material", "year"]], a[i], b[i]))
    assert not bad, f"{len(bad)} differences of {len(merged)} rows, first: {bad[:5]}"


#: geopolrisk-py 2.0.1's built-in EU region (``databases.regionslist["EU"]`` in its
#: ``assessment/database.py``): 27 member names, as ISO 3166 alpha-3 codes.
TOOL_EU = ("AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC",
           "HUN", "IRL", "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK",
           "SVN", "ESP", "SWE")


def test_compat_eu_region_matches_geopolrisk_py(full_atlas) -> None:
    """``geopolrisk --compat geopolrisk-py --economy EU27`` against the published tool's own EU
    region (``tests/data/geopolrisk_py_eu_2.0.1_2021-2024.csv``, the tool's output for its
    materials, 2021-2024): the same 27 members, and every value to 1e-12 relative."""
    from critmin.atlas import Atlas

    ref = pd.read_csv(DATA / "geopolrisk_py_eu_2.0.1_2021-2024.csv")
    assert set(ref.country) == {"EU"} and ref.baci_code.isna().all()
    ref = ref[ref.status == "ok"]
    years = sorted(int(y) for y in ref.year.unique())
    assert years == [2021, 2022, 2023, 2024]
    with Atlas(full_atlas) as atlas:
        members = atlas.sql('SELECT iso3 FROM country_groups WHERE group_id = \'EU27\' '
                            'AND "left" IS NULL').iso3
        got = geopolrisk(atlas, economies=["EU27"], years=years, compat=COMPAT)
    assert sorted(members) == sorted(TOOL_EU)
    merged = ref.merge(got, on=["material", "year"], suffixes=("_ref", ""))
    assert len(merged) == len(ref) == 4 * ref.material.nunique() > 0
    assert set(merged.economy) == {"EU27"}
    for col in ("hhi", "import_risk", "score", "price", "cf"):
        a, b = merged[f"{col}_ref"].to_numpy(), merged[col].to_numpy()
        bad = [(merged.material.iloc[i], merged.year.iloc[i], a[i], b[i]) for i in range(len(a))
               if not (a[i] == b[i] or abs(a[i] - b[i]) <= 1e-12 * max(abs(a[i]), abs(b[i])))]
        assert not bad, (col, bad[:5])


# ---------------------------------------------------------------------------------------------
# hand-computed small cases


def _small(**over) -> ibis.BaseBackend:
    prod = [
        {"year": 2022, "country": c, "mineral": "cobalt", "stage": "mine", "value": v,
         "unit": "t", "basis": "gross", "estimated": False, "source_id": "wmd-x"}
        for c, v in (("COD", 60.0), ("AUS", 20.0), ("USA", 20.0))
    ]
    trade = [
        {"year": 2022, "exporter": e, "importer": "DEU", "hs_code": "260500",
         "hs_revision": "HS92", "value_kusd": v, "quantity_t": q, "source_id": "baci-x"}
        for e, v, q in (("COD", 300.0, 30.0), ("AUS", 100.0, 10.0))
    ]
    gov = [{"year": 2022, "country": c, "indicator": "pv", "estimate": pv,
            "source_id": "wgi-pv-x"} for c, pv in (("COD", -2.5), ("AUS", 2.5), ("USA", 0.0))]
    hs = [{"commodity": "Cobalt", "material": "Cobalt", "mineral": "cobalt", "hs_code": "260500",
           "hs_revision": "HS92", "complementary": False, "source_id": "m"}]
    tables = {"production": prod, "trade_flows": trade, "governance": gov,
              "material_hs_map": hs,
              "countries": _countries({"COD", "AUS", "USA", "DEU", "FRA"}),
              "units": [{"unit": "t", "canonical": "t", "factor": 1.0}]}
    tables.update(over)
    return _backend(tables)


def test_hand_computed() -> None:
    got = geopolrisk(_small(), economies=["DEU"], materials=["cobalt"]).iloc[0]
    hhi = (60**2 + 20**2 + 20**2) / 100**2  # 0.44
    wta = (1.0 * 30 + 0.0 * 10) / (0 + 40)  # 0.75
    assert got.hhi == pytest.approx(hhi)
    assert got.import_risk == pytest.approx(wta)
    assert got.score == pytest.approx(hhi * wta)
    assert got.price == pytest.approx(400 / 40)
    assert got.cf == pytest.approx(hhi * wta * 10 / 0.409412948)
    assert got["flags"] == ""
    # the same in compat mode
    c = geopolrisk(_small(), economies=["DEU"], materials=["Cobalt"], compat=COMPAT).iloc[0]
    assert (c.hhi, c.import_risk, c.price) == pytest.approx((hhi, wta, 10.0))
    # the codes the imports count come last in the default mode only (compat: the tool's columns)
    assert list(c.index) == COLUMNS and list(got.index) == [*COLUMNS, "hs_codes",
                                                            "hs_codes_missing"]
    assert (got.hs_codes, got.hs_codes_missing) == (["HS92:260500"], [])


def test_region_members_count_as_safe_and_production_adds() -> None:
    # region DEU+COD: imports from COD are internal (g = 0), COD's production is own supply
    got = geopolrisk(_small(), economies=["R"], regions={"R": ["DEU", "COD"]}).iloc[0]
    assert got.import_risk == pytest.approx((0 * 30 + 0 * 10) / (60 + 40))
    r2 = geopolrisk(_small(), economies=["R"], regions={"R": ["DEU", "USA"]}).iloc[0]
    assert r2.import_risk == pytest.approx(30 / (20 + 40))
    rc = geopolrisk(_small(), economies=["R"], regions={"R": ["DEU", "USA"]},
                    compat=COMPAT).iloc[0]
    assert rc.import_risk == pytest.approx(30 / (20 + 40))


def test_groups_by_membership_dates() -> None:
    groups = [{"group_id": "G", "iso3": "DEU", "joined": None, "left": None},
              {"group_id": "G", "iso3": "COD", "joined": pd.Timestamp("2023-01-01").date(),
               "left": None}]
    got = geopolrisk(_small(country_groups=groups), economies=["G"]).iloc[0]
    assert got.import_risk == pytest.approx(0.75)  # COD not yet a member in 2022


def test_compat_accepts_a_group_as_region() -> None:
    """The published tool computes a region for its EU; compat mode does the same for a group id,
    with the group's current members, exactly as the same members given with --region."""
    groups = [{"group_id": "G", "iso3": iso3, "joined": None, "left": None}
              for iso3 in ("DEU", "USA")]
    got = geopolrisk(_small(country_groups=groups), economies=["G"], compat=COMPAT)
    assert len(got) == 1 and got.economy.iloc[0] == "G"
    same = geopolrisk(_small(), economies=["R"], regions={"R": ["DEU", "USA"]}, compat=COMPAT)
    cols = ["hhi", "import_risk", "score", "price", "cf"]
    assert got[cols].to_numpy().tolist() == same[cols].to_numpy().tolist()
    assert got.import_risk.iloc[0] == pytest.approx(30 / (20 + 40))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"economies": ["XYZ"]}, "unknown economy 'XYZ': use an ISO 3166 alpha-3 code"),
    ({"materials": ["unobtainium"]}, "unknown mineral 'unobtainium': use one of"),
    ({"materials": ["Unobtainium"], "compat": COMPAT}, "unknown material 'Unobtainium': use one "
                                                        "of Cobalt"),
    ({"years": [1800]}, "unknown year 1800: the production and trade data covers 2022"),
])
def test_unknown_input_names_the_choices(kwargs: dict, message: str) -> None:
    with pytest.raises(ChoiceError) as exc:
        geopolrisk(_small(), **kwargs)
    assert str(exc.value).startswith(message), str(exc.value)


def test_parse_region() -> None:
    assert parse_region("X=usa,CAN") == ("X", ["USA", "CAN"])
    with pytest.raises(Exception, match="NAME=ISO3"):
        parse_region("nonsense")


# ---------------------------------------------------------------------------------------------
# missing data in default mode: NA and a flag, never 0


def test_missing_pv_is_na_with_flag() -> None:
    gov = [{"year": 2022, "country": "AUS", "indicator": "pv", "estimate": 2.5,
            "source_id": "wgi-pv-x"}]
    got = geopolrisk(_small(governance=gov), economies=["DEU"]).iloc[0]
    assert math.isnan(got.import_risk) and math.isnan(got.score)
    assert "pv_missing" in got["flags"]
    # the published tool would have used g = 0.5 for the unmatched partner
    c = geopolrisk(_small(governance=gov), economies=["DEU"], compat=COMPAT).iloc[0]
    assert c.import_risk == pytest.approx(0.5 * 30 / 40)


def test_no_supply_and_no_production() -> None:
    got = geopolrisk(_small(), economies=["FRA"]).iloc[0]
    assert math.isnan(got.score) and "no_supply" in got["flags"]
    assert (got.hs_codes, got.hs_codes_missing) == ([], ["HS92:260500"])  # no import row
    c = geopolrisk(_small(), economies=["FRA"], compat=COMPAT).iloc[0]
    assert c.score == 0.0  # the tool's silent zero
    got = geopolrisk(_small(production=[]), economies=["DEU"])
    assert got.empty or got.hhi.isna().all()


def test_units_and_basis_checked() -> None:
    prod = [{"year": 2022, "country": "COD", "mineral": "cobalt", "stage": "mine",
             "value": 60000.0, "unit": "kg", "basis": "Co content", "estimated": False,
             "source_id": "wmd-x"}]
    units = [{"unit": "kg", "canonical": "t", "factor": 0.001}]
    got = geopolrisk(_small(production=prod, units=units), economies=["COD"]).iloc[0]
    assert "basis_mismatch" in got["flags"]
    assert got.hhi == 1.0
    units = [{"unit": "kg", "canonical": "m3", "factor": 1.0}]
    got = geopolrisk(_small(production=prod, units=units), economies=["DEU"]).iloc[0]
    assert "production_not_mass" in got["flags"] and math.isnan(got.import_risk)


# ---------------------------------------------------------------------------------------------
# properties

amounts = st.lists(st.floats(min_value=0.001, max_value=1e9), min_size=1, max_size=30)


@given(amounts)
def test_hhi_bounds(xs: list[float]) -> None:
    h = hhi_of(xs)
    assert 1 / len(xs) - 1e-12 <= h <= 1 + 1e-12


@given(amounts, st.floats(min_value=1e-3, max_value=1e3))
def test_hhi_scale_invariant(xs: list[float], k: float) -> None:
    assert hhi_of([k * x for x in xs]) == pytest.approx(hhi_of(xs), rel=1e-9)


@given(st.floats(min_value=-10, max_value=10, allow_nan=False))
def test_g_in_unit_interval(pv: float) -> None:
    assert 0.0 <= g_from_pv(pv) <= 1.0


@given(st.lists(st.tuples(st.floats(min_value=0, max_value=1),
                          st.floats(min_value=0.001, max_value=1e6)), min_size=1, max_size=20),
       st.floats(min_value=0, max_value=1e6), st.floats(min_value=1e-3, max_value=1e3))
def test_wta_bounds_and_scale(pairs, p: float, k: float) -> None:
    g = [a for a, _ in pairs]
    f = [b for _, b in pairs]
    w = import_risk(g, f, p)
    assert -1e-12 <= w <= 1 + 1e-12
    assert import_risk(g, [k * x for x in f], k * p) == pytest.approx(w, rel=1e-9, abs=1e-15)


@pytest.mark.slow  # property test, one query per example
@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(min_value=1, max_value=1e6), min_size=3, max_size=3),
       st.floats(min_value=0.01, max_value=100))
def test_metric_scale_invariance(prod: list[float], k: float) -> None:
    """Scaling all production and all trade quantities leaves HHI and WTA unchanged."""
    def rows(scale: float) -> ibis.BaseBackend:
        p = [{"year": 2022, "country": c, "mineral": "cobalt", "stage": "mine", "value": v * scale,
              "unit": "t", "basis": "gross", "estimated": False, "source_id": "wmd-x"}
             for c, v in zip(("COD", "AUS", "DEU"), prod, strict=True)]
        t = [{"year": 2022, "exporter": e, "importer": "DEU", "hs_code": "260500",
              "hs_revision": "HS92", "value_kusd": 1.0, "quantity_t": q * scale,
              "source_id": "baci-x"} for e, q in (("COD", 30.0), ("AUS", 10.0))]
        return _small(production=p, trade_flows=t)

    a = geopolrisk(rows(1.0), economies=["DEU"]).iloc[0]
    b = geopolrisk(rows(k), economies=["DEU"]).iloc[0]
    assert b.hhi == pytest.approx(a.hhi, rel=1e-9)
    assert b.import_risk == pytest.approx(a.import_risk, rel=1e-9)
    assert 0 <= a.import_risk <= 1
