"""A watch reading that is a trade figure states the HS codes it counts and the mapped codes
without data (issue 12 item 6), as the assess table does: checked against the raw BACI 2024
files (HS92 and HS17), never against critmin's output."""

from __future__ import annotations

from pathlib import Path

import pytest

from critmin.atlas import Atlas
from critmin.watch import indicators
from critmin.watch.rules import RuleSpec
from tests.metrics.test_hs_coverage import JAPAN, QUAD, expected, expected_codes

pytestmark = pytest.mark.slow


def test_trade_readings_list_the_codes_they_count(chain_atlas: Path) -> None:
    specs = [RuleSpec("JPN", m, ind, "threshold", supplier="CHN" if ind == "import_share"
                      else None, op=">", value=0.5)
             for m in ("nickel", "cobalt", "graphite")
             for ind in ("import_share", "import_hhi", "top_supplier_share")]
    with Atlas(chain_atlas) as a:
        got = indicators.compute(a, specs)
    for s in specs:
        r = got[indicators.key(s)]
        assert r.year == 2024
        counted, missing, value = expected(s.mineral, importer=JAPAN)
        assert set(r.detail["hs_codes"]) == counted, s
        assert set(r.detail["hs_codes_missing"]) == missing, s
        assert r.detail["imports_kusd"] == pytest.approx(value, rel=1e-9), s
        assert r.detail["hs_codes"] == sorted(r.detail["hs_codes"])
    assert got[indicators.key(specs[0])].detail["hs_codes"]  # Japan imports nickel


def test_import_reliance_reading_lists_the_codes(chain_atlas: Path) -> None:
    spec = RuleSpec("JPN", "cobalt", "import_reliance", "threshold", stage="all", op=">",
                    value=0.5)
    with Atlas(chain_atlas) as a:
        r = indicators.compute(a, [spec])[indicators.key(spec)]
    counted, missing, _value = expected("cobalt", importer=JAPAN)
    assert set(r.detail["hs_codes"]) == counted
    assert set(r.detail["hs_codes_missing"]) == missing
    assert "reliance_flag" in r.detail


def test_geopolrisk_reading_lists_the_codes(full_atlas: Path) -> None:
    """GeoPolRisk counts the material's HS92 codes (the published method's mapping, loaded with
    World Mining Data): the codes with an import row of Japan in 2024, from the raw HS92 file."""
    from tests.metrics.test_hs_coverage import raw_rows

    spec = RuleSpec("JPN", "cobalt", "geopolrisk", "threshold", op=">", value=0.5)
    with Atlas(full_atlas) as a:
        r = indicators.compute(a, [spec])[indicators.key(spec)]
        mat = a.table("material_hs_map").to_pandas()
    codes = {str(c) for c in mat[mat.mineral == "cobalt"].hs_code}
    assert codes == {"282200", "810510"}  # the published map: oxides (main), unwrought
    rows = raw_rows(2024)["HS92"]
    have = {k for k, i, j, _v, _q in rows if j == JAPAN and i != j and k in codes}
    assert r.value is not None
    assert set(r.detail["hs_codes"]) == {f"HS92:{c}" for c in have}
    assert set(r.detail["hs_codes_missing"]) == {f"HS92:{c}" for c in codes - have}


def test_group_reading_lists_the_codes_of_its_extra_group_imports(chain_atlas: Path) -> None:
    """A group's value sums its members' imports from outside the group: its codes are those of
    these flows, not of trade between members (raw BACI 2024 files, Quad members)."""
    specs = [RuleSpec("QUAD", m, "import_share", "threshold", supplier="CHN", op=">",
                      value=0.5) for m in ("cobalt", "graphite", "nickel")]
    with Atlas(chain_atlas) as a:
        got = indicators.compute(a, specs)
    for s in specs:
        r = got[indicators.key(s)]
        counted, missing = expected_codes(s.mineral,
                                          flow_keep=lambda i, j: j in QUAD and i not in QUAD)
        assert set(r.detail["hs_codes"]) == counted, s
        assert set(r.detail["hs_codes_missing"]) == missing, s
