"""BACI loader on the real release files and on malformed copies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.compute as pc
import pytest

from critmin import schema
from critmin.atlas import context
from critmin.errors import InputError
from critmin.sources import baci, detect
from tests.conftest import shared


@pytest.fixture(scope="module")
def ctx():
    return context()


def test_parse_real_year(ctx) -> None:
    f = shared("baci", "BACI_HS92_Y2022_V202401b.csv")
    parsed = baci.parse(f, ctx)
    t = parsed.tables["trade_flows"]
    with open(f) as fh:
        n_lines = sum(1 for _ in fh) - 1
    assert t.num_rows == n_lines
    assert parsed.meta.source_id == "baci-hs92-v202401b-y2022"
    assert parsed.years() == [2022]
    # country codes are ISO3: BACI 842 -> USA, 699 -> IND, 251 -> FRA, 490 (Other Asia nes) -> TWN
    exporters = set(t.column("exporter").to_pylist())
    assert {"USA", "IND", "FRA", "TWN", "CHN", "JPN"} <= exporters
    assert not any(e.isdigit() for e in exporters)
    # HS codes keep six characters (leading zeros are not lost)
    assert set(pc.utf8_length(t.column("hs_code")).to_pylist()) == {6}
    # NA quantities are nulls, not zeros; about 5 % of rows have none
    nulls = t.column("quantity_t").null_count / t.num_rows
    assert 0.01 < nulls < 0.15
    schema.validate("trade_flows", t, file=str(f), iso3=ctx.codes.iso3)


def test_known_flow_value(ctx) -> None:
    """A flow read straight from the file: 2022, BACI 156 (China) -> 392 (Japan), HS 250410."""
    f = shared("baci", "BACI_HS92_Y2022_V202401b.csv")
    raw = [line.split(",") for line in f.read_text().splitlines()][1:]
    expect = [r for r in raw if r[1] == "156" and r[2] == "392" and r[3] == "250410"]
    assert len(expect) == 1
    t = baci.parse(f, ctx).tables["trade_flows"].to_pandas()
    got = t[(t.exporter == "CHN") & (t.importer == "JPN") & (t.hs_code == "250410")]
    assert len(got) == 1
    assert got.value_kusd.iloc[0] == pytest.approx(float(expect[0][4]))
    assert got.quantity_t.iloc[0] == pytest.approx(float(expect[0][5]))


def test_detects_by_name_and_header(tmp_path: Path) -> None:
    f = shared("baci", "BACI_HS92_Y2020_V202401b.csv")
    assert detect(f) is baci
    renamed = tmp_path / "trade.csv"
    renamed.write_text("t,i,j,k,v,q\n2020,4,124,710812,1.6,NA\n")
    assert detect(renamed) is baci
    assert detect(shared("baci", "country_codes_V202401b.csv")) is None


def _copy_with(tmp_path: Path, body: str, name: str = "BACI_HS92_Y2020_V202401b.csv") -> Path:
    cc = shared("baci", "country_codes_V202401b.csv")
    shutil.copy(cc, tmp_path / cc.name)
    f = tmp_path / name
    f.write_text(body)
    return f


def test_quirks_leading_zeros_and_padding(tmp_path: Path, ctx) -> None:
    """Full releases pad numbers with spaces; codes read as integers lost their leading zeros."""
    f = _copy_with(tmp_path, "t,i,j,k,v,q\n2020,  4, 124, 10111,  1.618,   NA\n"
                             "2020,842,699,260300,12.5, 3.25\n")
    t = sorted(baci.parse(f, ctx).tables["trade_flows"].to_pylist(), key=lambda r: r["hs_code"])
    assert t[0]["hs_code"] == "010111" and t[0]["exporter"] == "AFG" and t[0]["importer"] == "CAN"
    assert t[0]["quantity_t"] is None and t[0]["value_kusd"] == pytest.approx(1.618)
    assert t[1]["exporter"] == "USA" and t[1]["importer"] == "IND"
    assert t[1]["quantity_t"] == pytest.approx(3.25)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("t,i,j,k,v,q\n2020,4,124,260300,1.0,2.0\n2020,4,999,260300,1.0,2.0\n",
         "line 3, field 'j': unknown BACI country code 999"),
        ("t,i,j,k,v,q\n2020,4,124,260300,1.0,-2.0\n",
         "line 2, field 'q': negative quantity -2"),
        ("t,i,j,k,v,q\n2020,4,124,260300,-1.0,2.0\n",
         "line 2, field 'v': negative value -1"),
        ("t,i,j,k,v,q\n2020,4,124,260300,abc,2.0\n",
         "line 2, field 'v': not a number: 'abc'"),
        ("t,i,j,k,v,q\n2020,4,124,26030X,1.0,2.0\n",
         "line 2, field 'k': not an HS6 code: '26030X'"),
        ("t,i,j,k,v,q\n2020,4,124,260300,1.0\n",
         "line 2: expected 6 fields, found 5"),
        ("year,exporter,importer,k,v,q\n2020,4,124,260300,1.0,2.0\n",
         "line 1: unexpected header: missing column(s) t, i, j"),
        ("", "line 1: empty file: expected header t,i,j,k,v,q"),
    ],
)
def test_malformed(tmp_path: Path, ctx, body: str, message: str) -> None:
    f = _copy_with(tmp_path, body)
    with pytest.raises(InputError) as exc:
        baci.parse(f, ctx)
    assert str(exc.value) == f"{f} {message}" or str(exc.value) == f"{f}: {message.removeprefix('line 1: ')}" \
        or message in str(exc.value)
    assert str(exc.value).startswith(str(f))
    assert "\n" not in str(exc.value)


def test_wrong_encoding(tmp_path: Path, ctx) -> None:
    f = _copy_with(tmp_path, "")
    f.write_bytes(b"t,i,j,k,v,q\n2020,4,124,260300,1.0,2.0\n2020,4,124,260300,1.0,\xff\n")
    with pytest.raises(InputError, match=r"line 3: not valid utf-8 text"):
        baci.parse(f, ctx)
