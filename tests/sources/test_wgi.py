"""World Bank WGI loader: both layouts, missing values and non-ISO codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from critmin import schema
from critmin.atlas import context
from critmin.errors import InputError
from critmin.sources import detect, wgi
from tests.conftest import shared


@pytest.fixture(scope="module")
def ctx():
    return context()


@pytest.fixture(scope="module")
def long(ctx):
    return wgi.parse(shared("wgi", "wgidataset.csv"), ctx)


def test_long_layout(long, ctx) -> None:
    t = long.tables["governance"]
    schema.validate("governance", t, iso3=ctx.codes.iso3)
    df = t.to_pandas()
    assert set(df.indicator) == {"va", "pv", "ge", "rq", "rl", "cc"}
    # no data for 1997, 1999, 2001
    assert {1997, 1999, 2001}.isdisjoint(df.year)
    assert {1996, 1998, 2000, 2002, 2023} <= set(df.year)
    # non-ISO World Bank codes are translated
    countries = set(df.country)
    assert {"ROU", "COD", "AND", "TLS", "PSE", "XKX"} <= countries
    assert not {"ROM", "ZAR", "ADO", "TMP", "WBG", "KSV"} & countries
    # '..' is missing, not zero: one row per (country, indicator, year) at most
    assert not df.duplicated(["country", "indicator", "year"]).any()


def test_known_value(long) -> None:
    """Japan's 2022 political stability estimate as published (2 decimals)."""
    df = long.tables["governance"].to_pandas()
    raw = [line.split(",") for line in shared("wgi", "wgidataset.csv").read_text("utf-8-sig").splitlines()]
    row = next(r for r in raw if r[1] == "JPN" and r[3] == "2022" and r[4] == "pv")
    got = df[(df.country == "JPN") & (df.year == 2022) & (df.indicator == "pv")].estimate.iloc[0]
    assert got == pytest.approx(float(row[5]))


def test_full_precision_pv(ctx) -> None:
    f = shared("wgi", "wgi_pv_estimate_full_precision_1996_2024.csv")
    assert detect(f) is wgi
    p = wgi.parse(f, ctx)
    assert p.meta.source_id == "wgi-pv-2025"
    df = p.tables["governance"].to_pandas()
    assert set(df.indicator) == {"pv"}
    assert df.year.max() == 2024
    # full precision: more than two decimals
    assert (df.estimate.round(2) != df.estimate).mean() > 0.9
    assert not df.duplicated(["country", "year"]).any()
    # erratum: the file lists GUY twice; the first block is French Guiana (GUF)
    assert any("French Guiana" in n for n in p.notes)
    by = df.set_index(["country", "year"]).estimate
    long = wgi.parse(shared("wgi", "wgidataset.csv"), ctx).tables["governance"].to_pandas()
    pub = long[long.indicator == "pv"].set_index(["country", "year"]).estimate
    for year in (1996, 1998, 2000, 2022):
        # each block is (much) closer to its own economy's published 2-decimal estimate
        for code, other in (("GUF", "GUY"), ("GUY", "GUF")):
            mine = abs(by[(code, year)] - pub[(code, year)])
            assert mine < 0.02 and mine < abs(by[(code, year)] - pub[(other, year)]), (code, year)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("code,year,indicator,estimate\nXYZ,2020,pv,0.5\n", "line 2, field 'code': unknown country code 'XYZ'"),
        ("code,year,indicator,estimate\nJPN,2020,zz,0.5\n", "line 2, field 'indicator': unknown WGI indicator 'zz'"),
        ("code,year,indicator,estimate\nJPN,20x0,pv,0.5\n", "line 2, field 'year': not a year: '20x0'"),
        ("code,year,indicator,estimate\nJPN,2020,pv,high\n", "line 2, field 'estimate': not a number: 'high'"),
        ("code,year,indicator\nJPN,2020,pv\n", "line 1: unexpected header: missing column(s) estimate; found code, year, indicator"),
    ],
)
def test_malformed(tmp_path: Path, ctx, body: str, message: str) -> None:
    f = tmp_path / "wgidataset.csv"
    f.write_text(body)
    with pytest.raises(InputError) as exc:
        wgi.parse(f, ctx)
    assert str(exc.value) == f"{f} {message}"
