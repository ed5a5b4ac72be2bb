"""BACI in any HS revision: HS17 files with their own release's country table, and the
documented precedence that keeps HS92 and HS17 figures of the same year and code apart."""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from pathlib import Path

import ibis
import pandas as pd
import pytest

from critmin.atlas import context
from critmin.errors import InputError
from critmin.metrics.trade import one_hs_revision
from critmin.sources import baci
from tests.conftest import shared


def test_hs17_revision_release_and_country_table(tmp_path: Path) -> None:
    f = shared("baci_hs17", "BACI_HS17_Y2024_V202601.csv")
    assert baci.revision_release(f) == ("HS17", "V202601")
    assert baci.country_file_beside(f).name == "country_codes_V202601.csv"
    # two releases' country tables side by side: each file takes its own
    d = tmp_path / "mixed"
    d.mkdir()
    shutil.copy(shared("baci", "country_codes_V202401b.csv"), d)
    shutil.copy(shared("baci_hs17", "country_codes_V202601.csv"), d)
    assert baci.country_file_beside(d / "BACI_HS17_Y2024_V202601.csv").name == \
        "country_codes_V202601.csv"
    assert baci.country_file_beside(d / "BACI_HS92_Y2020_V202401b.csv").name == \
        "country_codes_V202401b.csv"
    parsed = baci.parse(f, context())
    assert parsed.meta.source_id == "baci-hs17-v202601-y2024"
    assert parsed.meta.release == "V202601"
    t = parsed.tables["trade_flows"]
    assert set(t.column("hs_revision").to_pylist()) == {"HS17"}


def test_unknown_revision_in_name(tmp_path: Path) -> None:
    f = tmp_path / "BACI_HS93_Y2024_V202601.csv"
    f.write_text("t,i,j,k,v,q\n2024,4,68,850511,1.0,0.1\n")
    with pytest.raises(InputError, match="unknown HS revision HS93"):
        baci.parse(f, context())


def _published_totals(path: Path) -> dict[str, tuple[float, float]]:
    """Per HS6 code: (sum of v, sum of q) read straight from the publisher's file."""
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            k = r["k"].strip().zfill(6)
            out[k][0] += float(r["v"])
            if r["q"].strip() not in ("NA", ""):
                out[k][1] += float(r["q"])
    return {k: (v, q) for k, (v, q) in out.items()}


def test_baci_2024_totals_per_code(tmp_path: Path) -> None:
    """Every HS6 code's 2024 world total (value and quantity) in the atlas equals the BACI
    HS17 V202601 file's own total."""
    from critmin import atlas

    f = shared("baci_hs17", "BACI_HS17_Y2024_V202601.csv")
    db = tmp_path / "a.duckdb"
    atlas.build([f, shared("baci_hs17", "country_codes_V202601.csv")], db, fresh=True)
    with atlas.Atlas(db) as a:
        got = a.sql("SELECT hs_code, sum(value_kusd) v, sum(quantity_t) q FROM trade_flows "
                    "GROUP BY 1").set_index("hs_code")
    pub = _published_totals(f)
    assert len(pub) == 30 and set(got.index) == set(pub)
    for k, (v, q) in pub.items():
        assert got.loc[k, "v"] == pytest.approx(v, rel=1e-9), k
        assert got.loc[k, "q"] == pytest.approx(q, rel=1e-9), k
    # spot checks, as the file gives them: lithium carbonate, cobalt oxides, magnets
    assert round(pub["283691"][0], 1) == 3_779_109.5
    assert round(pub["282200"][1], 1) == 70_937.9
    assert round(pub["850511"][0], 1) == 4_962_889.1


def test_precedence_never_adds_revisions() -> None:
    rows = pd.DataFrame({
        "year": [2024, 2024, 2024, 2022, 2022, 2024],
        "hs_code": ["282200", "282200", "282200", "282200", "282200", "260500"],
        "hs_revision": ["HS92", "HS17", "HS17", "HS92", "HS17", "HS92"],
        "value_kusd": [10.0, 7.0, 4.0, 5.0, 6.0, 1.0],
        "quantity_t": [1.0, 2.0, None, 3.0, None, 0.5],
    })
    got = one_hs_revision(ibis.memtable(rows)).to_pandas()
    by = got.groupby(["year", "hs_code"]).agg(rev=("hs_revision", "unique"),
                                               v=("value_kusd", "sum"))
    # 2024: HS17 (later revision, has quantities) serves 282200 alone: 7 + 4, not + 10
    assert list(by.loc[(2024, "282200"), "rev"]) == ["HS17"]
    assert by.loc[(2024, "282200"), "v"] == 11.0
    # 2022: the HS17 rows are value only, so HS92 (with quantities) serves the code
    assert list(by.loc[(2022, "282200"), "rev"]) == ["HS92"]
    # a code only one revision carries keeps its rows
    assert by.loc[(2024, "260500"), "v"] == 1.0


def test_precedence_is_per_product_across_renumbered_codes() -> None:
    """HS92 252890 and HS17 252800 (natural borates, reference/hs_correlation.csv) are one
    product: one revision serves it, as for a code both revisions carry."""
    rows = pd.DataFrame({
        "year": [2024, 2024, 2022, 2022],
        "hs_code": ["252890", "252800", "252890", "252800"],
        "hs_revision": ["HS92", "HS17", "HS92", "HS17"],
        "value_kusd": [10.0, 7.0, 5.0, 6.0],
        "quantity_t": [1.0, 2.0, 3.0, None],
    })
    got = one_hs_revision(ibis.memtable(rows)).to_pandas()
    assert set(got.hs_product) == {"natural_borates"}
    by = got.groupby("year").agg(rev=("hs_revision", "unique"), v=("value_kusd", "sum"))
    assert list(by.loc[2024, "rev"]) == ["HS17"] and by.loc[2024, "v"] == 7.0
    assert list(by.loc[2022, "rev"]) == ["HS92"] and by.loc[2022, "v"] == 5.0
