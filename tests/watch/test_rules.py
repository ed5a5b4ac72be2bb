"""Rule validation and the firing tests (pure functions; properties with hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from critmin.errors import ChoiceError, SpecError
from critmin.watch.rules import RuleSpec, holds, moved, validate

CHOICES = {"countries": {"JPN", "CHN", "USA"}, "groups": {"MSP", "EU27"},
           "minerals": {"graphite", "cobalt"}}
finite = st.floats(min_value=-10, max_value=10, allow_nan=False)


def spec(**kw: object) -> RuleSpec:
    base = {"country": "jpn", "mineral": "graphite", "indicator": "import_share",
            "kind": "threshold", "supplier": "chn", "op": ">", "value": 0.8}
    return RuleSpec(**{**base, **kw})  # type: ignore[arg-type]


def test_valid_rule_is_normalised() -> None:
    r = validate(spec(), **CHOICES)
    assert (r.country, r.supplier, r.stage) == ("JPN", "CHN", "all")
    assert validate(spec(indicator="geopolrisk", supplier=None), **CHOICES).stage == "all"
    assert validate(spec(indicator="n_minus_1", supplier=None, stage="mine"), **CHOICES).stage \
        == "mine"


@pytest.mark.parametrize(("kw", "field"), [
    ({"country": "XYZ"}, "country: unknown country or group 'XYZ'; use an ISO3 code or one of the "
                         "groups EU27, MSP"),
    ({"kind": "maybe"}, "kind: must be one of threshold, change, event"),
    ({"stage": "smelter"}, "stage: import_share takes stage all or mine or refinery"),
    ({"supplier": "XXX"}, "supplier: unknown country or group 'XXX'"),
    ({"indicator": "import_hhi"}, "supplier: only import_share and traced_origin_share take a supplier"),
    ({"indicator": "import_reliance", "supplier": None, "stage": "mine", "country": "EU27"},
     "country: import_reliance is computed for countries, not groups"),
    ({"kind": "change", "op": ">"}, "op: a change rule takes one of up, down, move"),
    ({"kind": "change", "op": "up", "value": -0.1}, "value: a change limit is a size"),
    ({"value": float("nan")}, "value: a threshold rule needs a finite limit"),
    ({"kind": "event", "indicator": "rumours"}, "event: must be one of restriction, project_status"),
])
def test_invalid_rules_name_field_and_choices(kw: dict, field: str) -> None:
    with pytest.raises(SpecError, match="^" + field.replace("(", r"\(").replace(")", r"\)")):
        validate(spec(**kw), **CHOICES)


def test_unknown_mineral_is_the_reference_modules_choice_error() -> None:
    """The mineral is checked by critmin.reference.require_mineral, narrowed to the minerals
    the rules can read: the one ChoiceError every surface reports the same way."""
    with pytest.raises(ChoiceError, match=r"^unknown mineral 'mithril': use one of cobalt, "
                       r"graphite$"):
        validate(spec(mineral="mithril"), **CHOICES)
    assert validate(spec(mineral=" Cobalt"), **CHOICES).mineral == "cobalt"


@given(finite, finite)
def test_threshold_below_is_the_complement_of_at_least(limit: float, value: float) -> None:
    assert holds(spec(op="<", value=limit), value) != holds(spec(op=">=", value=limit), value)
    assert holds(spec(op=">", value=limit), value) != holds(spec(op="<=", value=limit), value)


@given(finite, finite, st.floats(min_value=0, max_value=5, allow_nan=False))
def test_move_fires_when_up_or_down_fires(old: float, new: float, limit: float) -> None:
    up = moved(spec(kind="change", op="up", value=limit), old, new)
    down = moved(spec(kind="change", op="down", value=limit), old, new)
    either = moved(spec(kind="change", op="move", value=limit), old, new)
    assert either == (up or down)
    assert not (up and down)
    assert up == moved(spec(kind="change", op="down", value=limit), new, old)


def test_missing_values_never_fire() -> None:
    assert not holds(spec(op="<", value=1.0), None)
    assert not holds(spec(op="<", value=1.0), float("nan"))
    assert not moved(spec(kind="change", op="move", value=0.0), None, 0.5)
