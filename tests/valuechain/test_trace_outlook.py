"""`critmin trace` and `critmin outlook` on real data: shapes, conservation, the IEA's published
outlook figures, and one-line errors for unknown input."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from critmin.atlas import Atlas
from critmin.valuechain import outlook, trace_all, trace_country
from tests.conftest import shared


@pytest.fixture(scope="module")
def atlas(chain_atlas: Path) -> Iterator[Atlas]:
    with Atlas(chain_atlas) as a:
        yield a


def test_trace_japan_cobalt(atlas: Atlas) -> None:
    t = trace_country(atlas, "Japan", "cobalt", 2024)
    m = t.metrics.iloc[0]
    assert m.importer == "JPN" and t.year == 2024
    # both views share one total; the traced view reaches mine origins Japan does not buy from
    assert t.views.direct_t.sum() == pytest.approx(t.views.traced_t.sum())
    assert t.views.traced_share.sum() == pytest.approx(1.0)
    direct = set(t.views[t.views.direct_t > 0].country)
    assert {"FIN", "CHN"} <= direct
    traced_only = set(t.views[(t.views.direct_t == 0) & (t.views.traced_t > 0)].country)
    assert "COD" in traced_only
    assert 0 < m.hhi_direct <= 1 and 0 < m.hhi_traced <= 1
    assert 0 <= m.wta_traced <= 1 and m.pv_coverage > 0.9
    assert any("proportional sourcing" in n for n in t.notes)


def test_trace_all_pairs_conserves_each_importer(atlas: Atlas) -> None:
    t = trace_all(atlas, 2024, ["lithium", "cobalt"])
    per = t.flows.groupby(["mineral", "importer"]).amount_t.sum()
    tot = t.metrics.set_index(["mineral", "importer"]).total_t
    assert (per.reindex(tot.index) - tot).abs().max() < 1e-6
    assert t.metrics.importer.nunique() > 100


@pytest.mark.parametrize(("args", "message"), [
    (["trace", "XYZ", "--mineral", "cobalt"], "unknown country 'XYZ'"),
    (["trace", "JPN", "--mineral", "kryptonite"], "unknown mineral 'kryptonite'"),
    (["trace", "JPN", "--mineral", "cobalt", "--year", "1990"], "unknown year 1990"),
    (["outlook", "--mineral", "tin"], "no outlook for 'tin'"),
    (["outlook", "--mineral", "lithium", "--scenario", "SDS"], "unknown scenario 'SDS'"),
])
def test_unknown_input_is_one_line(chain_atlas: Path, args: list[str], message: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from critmin.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([*args, "--db", str(chain_atlas)])
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def _iea_demand(mineral: str, sector: str, scenario: str) -> dict[int, float]:
    out = {}
    with open(shared("iea", "iea_cm_demand_2025.csv"), newline="") as fh:
        for r in csv.DictReader(fh):
            if (r["mineral"], r["sector"]) == (mineral, sector) and \
                    r["scenario"] in ("historical", scenario):
                out[int(r["year"])] = float(r["value"]) * 1000
    return out


def test_outlook_lithium_matches_iea(atlas: Atlas) -> None:
    o = outlook(atlas, "lithium", "APS")
    b = o.balance.set_index(["stage", "year"])
    assert set(b.index.get_level_values("year")) == {2024, 2030, 2035, 2040}
    dem = _iea_demand("Lithium", "Total demand", "APS")
    for y in (2024, 2030, 2035, 2040):
        assert b.loc[("refinery", y), "demand_t"] == pytest.approx(dem[y])
    # IEA base case 2030, lithium refining: China 277.1 kt
    s = o.supply[(o.supply.stage == "refinery") & (o.supply.year == 2030)]
    assert s[s.country == "CHN"].value.sum() == pytest.approx(277_074.4, abs=1)
    assert b.loc[("refinery", 2030), "supply_t"] == pytest.approx(s.value.sum())
    assert b.loc[("refinery", 2030), "balance_t"] == pytest.approx(s.value.sum() - dem[2030])
    assert b.loc[("refinery", 2024), "top_producer"] == "CHN"
    sectors = set(o.demand.sector)
    assert {"Electric vehicles", "Grid battery storage", "Other uses"} <= sectors


def test_outlook_with_projects(atlas: Atlas) -> None:
    o = outlook(atlas, "rare_earths", "STEPS", with_projects=True)
    b = o.balance.set_index(["stage", "year"])
    # ILUKA-ENEABBA (construction, 2027): 12,100 t/y REO x 0.19 from 2030 on, not in 2024
    assert b.loc[("refinery", 2024), "added_t"] == 0
    assert b.loc[("refinery", 2030), "added_t"] == pytest.approx(12_100 * 0.19)
    assert "ILUKA-ENEABBA" in b.loc[("refinery", 2030), "projects"]
    assert b.loc[("refinery", 2030), "hhi_with_projects"] < b.loc[("refinery", 2030), "hhi"]
    assert any("no start year" in n for n in o.notes)


def test_cli_json_shapes(chain_atlas: Path, cli) -> None:
    rows = json.loads(cli("trace", "JPN", "--mineral", "lithium", "--year", "2024",
                          "--format", "json", "--db", str(chain_atlas)))
    assert {"country", "direct_share", "traced_share", "hhi_traced", "wta_traced"} <= set(rows[0])
    rows = json.loads(cli("outlook", "--mineral", "cobalt", "--scenario", "NZE", "--format",
                          "json", "--db", str(chain_atlas)))
    assert {r["stage"] for r in rows} == {"mine", "refinery"}
    assert {"demand_t", "supply_t", "balance_t", "top3_share", "hhi"} <= set(rows[0])
