"""The dependency scan reads one HS revision per product and year (issue 12 item 1): with BACI
HS92 and HS17 both loaded for 2024, goods both nomenclatures carry appear once, from the revision
the documented precedence picks (HS17 V202601 has quantities in 2024, so it serves). Checked
against the raw BACI 2024 files."""

from __future__ import annotations

from pathlib import Path

import pytest

from critmin.atlas import Atlas
from critmin.metrics.scan import dependency_scan
from tests.metrics.test_hs_coverage import JAPAN, raw_rows

pytestmark = pytest.mark.slow


def test_scan_never_lists_a_product_twice(chain_atlas: Path) -> None:
    with Atlas(chain_atlas) as a:
        df = dependency_scan("JPN", year=2024, atlas=a)
    both = df.groupby("hs_code").hs_revision.nunique()
    assert (both == 1).all(), sorted(both[both > 1].index)
    rows = raw_rows(2024)
    hs17 = {k for k, *_ in rows["HS17"]}
    # cobalt oxides: in both raw files, served by HS17 (quantities present)
    assert "282200" in hs17 and "282200" in {k for k, *_ in rows["HS92"]}
    r = df[df.hs_code == "282200"]
    assert list(r.hs_revision) == ["HS17"]
    extra = sum(v for k, i, j, v, _q in rows["HS17"] if k == "282200" and j == JAPAN and i != j)
    assert float(r.extra_imports_kusd.iloc[0]) == pytest.approx(extra, rel=1e-9)
