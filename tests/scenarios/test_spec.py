"""Scenario specs: valid documents parse, bad ones fail with one line naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from critmin import reference
from critmin.errors import SpecError
from critmin.scenarios.spec import load_spec, parse_spec

#: The valid mineral ids, as an unknown-mineral error lists them.
MINERAL_IDS = ", ".join(sorted(reference.minerals()))


def spec(**shock: Any) -> dict[str, Any]:
    return {"base_year": 2023,
            "shocks": [{"exporter": "CHN", "mineral": "graphite", "cut": 1.0, **shock}]}


@pytest.mark.parametrize(("doc", "message"), [
    (spec(exporter="XYZ"),
     "shocks[0].exporter: unknown country 'XYZ': use an ISO 3166 alpha-3 code such as CHN"),
    (spec(cut=1.5), "shocks[0].cut: must be between 0 and 1, got 1.5"),
    (spec(cut=-0.1), "shocks[0].cut: must be between 0 and 1, got -0.1"),
    (spec(mineral="unobtainium"),
     "shocks[0].mineral: unknown mineral 'unobtainium': use one of " + MINERAL_IDS),
    (spec(targets=[]),
     "shocks[0].targets: empty list (use 'all', a group such as 'non-MSP', or ISO3 codes)"),
    (spec(targets=["JPN", "XYZ"]),
     "shocks[0].targets: unknown country 'XYZ': use an ISO 3166 alpha-3 code such as CHN"),
    (spec(stage="refinery"), "shocks[0].stage: must be 'mine', 'refined' or 'all', got 'refinery'"),
    (spec(duration_months=0), "shocks[0].duration_months: must be positive, got 0"),
    (spec(colour="red"), "shocks[0].colour: unknown field"),
    ({"shocks": []}, "base_year: required"),
    ({"base_year": 2023, "shocks": []}, "shocks: at least one shock is required"),
    ({"base_year": 2023, "shocks": [{"mineral": "graphite", "cut": 1}]},
     "shocks[0].exporter: required (or give a recorded 'restriction' id)"),
    ({"base_year": 2023, "shocks": [{"restriction": "IDN-2020-NI-ORE"}]},
     "shocks[0]: unknown restriction 'IDN-2020-NI-ORE' (did you mean IDN-2020-NI-ORE-BAN?)"),
    ({"base_year": 2023, "shocks": [{"restriction": "CHN-2023-GRAPHITE-LICENCE"}]},
     "shocks[0].cut: required for restriction 'CHN-2023-GRAPHITE-LICENCE' (measure 'licence'); "
     "give a fraction 0..1"),
    ({**spec(), "reallocation": {"theta": 2}}, "reallocation.theta: must be between 0 and 1, got 2"),
    ({**spec(), "reallocation": {"prefer": ["NATO"]}},
     "reallocation.prefer: unknown group 'NATO': use one of MSP, IPEF, QUAD, G7, EU27, OECD"),
    ({**spec(), "stockpiles": [{"country": "JPN", "mineral": "graphite", "days_of_imports": -1}]},
     "stockpiles[0].days_of_imports: must be >= 0, got -1"),
])
def test_bad_specs_fail_with_one_line(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as exc:
        parse_spec(doc)
    assert str(exc.value) == message
    assert "\n" not in str(exc.value)


def test_targets_forms() -> None:
    assert parse_spec(spec()).shocks[0].targets == "all"
    assert parse_spec(spec(targets="non-msp")).shocks[0].targets == "non-MSP"
    assert parse_spec(spec(targets="MSP")).shocks[0].targets == "MSP"
    assert parse_spec(spec(targets=["jpn", "IND"])).shocks[0].targets == ["JPN", "IND"]
    assert parse_spec(spec(targets="JPN")).shocks[0].targets == ["JPN"]


def test_defaults() -> None:
    s = parse_spec(spec())
    sh = s.shocks[0]
    assert (sh.stage, sh.duration_months) == ("all", 12.0)
    assert s.reallocation.method == "lp"
    assert 0 <= s.reallocation.theta <= 1


def test_shock_from_recorded_restriction() -> None:
    sh = parse_spec({"base_year": 2023,
                     "shocks": [{"restriction": "IDN-2020-NI-ORE-BAN"}]}).shocks[0]
    assert (sh.exporter, sh.mineral, sh.stage, sh.cut, sh.targets) == \
        ("IDN", "nickel", "mine", 1.0, "all")
    sh = parse_spec({"base_year": 2024, "shocks": [
        {"restriction": "CHN-2024-USA-GE-BAN"}]}).shocks[0]
    assert (sh.exporter, sh.mineral, sh.targets) == ("CHN", "germanium", ["USA"])
    # explicit fields override the registry
    sh = parse_spec({"base_year": 2023, "shocks": [
        {"restriction": "CHN-2023-GRAPHITE-LICENCE", "cut": 0.3, "stage": "mine"}]}).shocks[0]
    assert (sh.cut, sh.stage) == (0.3, "mine")


def test_load_yaml_and_json(tmp_path: Path) -> None:
    y = tmp_path / "s.yaml"
    y.write_text("base_year: 2023\nshocks:\n  - {exporter: CHN, mineral: graphite, cut: 0.5}\n")
    assert load_spec(y).shocks[0].cut == 0.5
    j = tmp_path / "s.json"
    j.write_text('{"base_year": 2023, "shocks": [{"exporter": "CHN", "mineral": "graphite", '
                 '"cut": 2}]}')
    with pytest.raises(SpecError, match=r"^.*s\.json: shocks\[0\]\.cut: must be between 0 and 1"):
        load_spec(j)
    bad = tmp_path / "bad.yaml"
    bad.write_text("base_year: [\n")
    with pytest.raises(SpecError, match=r"bad\.yaml line 2: invalid YAML: expected the node"):
        load_spec(bad)
    with pytest.raises(SpecError, match=r"missing\.yaml: file not found"):
        load_spec(tmp_path / "missing.yaml")
