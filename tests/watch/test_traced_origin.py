"""The traced-origin share a watch rule reads is the one ``critmin trace`` reports (one step
upstream, proportional sourcing; :mod:`critmin.valuechain`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from critmin.watch import indicators
from critmin.watch.rules import RuleSpec
from tests import fixtures


def test_traced_origin_share_is_what_trace_reports(fixture_atlas: Path) -> None:
    from critmin import atlas as atlas_mod
    from critmin.valuechain import trace_country

    with atlas_mod.Atlas(fixture_atlas) as a:
        specs = [RuleSpec("JPN", "graphite", "traced_origin_share", "threshold", supplier=sup,
                          op=">", value=0.5) for sup in ("CHN", "MSP")]
        got = indicators.compute(a, specs)
        year = max(fixtures.BACI_YEARS)  # a rule reads the latest traded year
        t = trace_country(a, "JPN", "graphite", year)
        members = indicators.Context(a).expand("MSP", year)
        from critmin.valuechain import world_hhi

        prod = [RuleSpec("JPN", "graphite", "production_hhi", "threshold", stage=st, op=">",
                         value=0.5) for st in ("mine", "refinery")]
        readings = indicators.compute(a, prod)
        hhi = world_hhi(a, 9999)
    views = t.views.set_index("country").traced_share
    chn = got[indicators.key(specs[0])]
    assert chn.year == year
    assert chn.value == pytest.approx(float(views.get("CHN", 0.0)), rel=1e-12)
    msp = got[indicators.key(specs[1])]
    assert msp.value == pytest.approx(float(views[views.index.isin(members)].sum()), rel=1e-12)
    # production HHI: the same source family per mineral and stage as the value-chain views
    for spec in prod:
        r = readings[indicators.key(spec)]
        if ("graphite", spec.stage) in hhi:
            assert r.value == pytest.approx(hhi[("graphite", spec.stage)], rel=1e-12)
            assert r.sources and {x["family"] for x in r.sources} == {r.family}
        else:
            assert r.value is None
