"""Watch rules: what an analyst watches, validated against the atlas, and the pure tests that
decide whether a rule fires.

A rule watches one indicator of (country or group, mineral, stage):

- a **threshold** ``value op limit`` (``op`` one of ``>``, ``>=``, ``<``, ``<=``) fires when the
  condition holds on data it has not yet fired on and did not hold before (first evaluation
  included): "China's share of JPN graphite imports > 0.8";
- a **change** ``new - old`` (``op`` ``up``: rise by more than ``limit``; ``down``: fall by more
  than ``limit``; ``move``: either) fires when the data behind the indicator changed (a new
  year, or a new release of the same year) and the indicator moved that much: "import HHI up by
  > 0.05 since the previous release";
- an **event** on the watched mineral: ``restriction`` (a new or changed export restriction that
  applies to the country, with the share of its imports the measure covers) or
  ``project_status`` (a project on the mineral added or changing status).

>>> r = RuleSpec(country="JPN", mineral="graphite", indicator="import_share", supplier="CHN",
...              kind="threshold", op=">", value=0.8)
>>> holds(r, 0.83), holds(r, 0.8)
(True, False)
>>> moved(RuleSpec(country="JPN", mineral="graphite", indicator="import_hhi", kind="change",
...                op="up", value=0.05), 0.40, 0.46)
True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from critmin import reference
from critmin.errors import SpecError


@dataclass(frozen=True)
class Indicator:
    """An indicator a rule may watch: which stages it takes, whether it needs a supplier, and
    whether it is a property of the mineral (the same for every country)."""

    name: str
    description: str
    unit: str
    stages: tuple[str, ...]
    supplier: bool = False
    world: bool = False
    groups: bool = True


#: Indicators a rule may watch, by name (see :mod:`critmin.watch.indicators` for the formulas).
INDICATORS: dict[str, Indicator] = {i.name: i for i in (
    Indicator("import_share", "share of a supplier country or bloc in the country's import value "
              "of the mineral (latest trade year)", "share 0-1", ("all", "mine", "refinery"),
              supplier=True),
    Indicator("import_hhi", "Herfindahl-Hirschman index of the country's import value by "
              "supplier", "0-1", ("all", "mine", "refinery")),
    Indicator("top_supplier_share", "share of the largest supplier in the country's import "
              "value", "share 0-1", ("all", "mine", "refinery")),
    Indicator("production_hhi", "Herfindahl-Hirschman index of world production by country "
              "(USGS, latest year)", "0-1", ("mine", "refinery"), world=True),
    Indicator("production_top_share", "share of the largest producer in world production",
              "share 0-1", ("mine", "refinery"), world=True),
    Indicator("import_reliance", "net import reliance on a metal-content basis",
              "share (negative: net exporter)", ("mine", "refinery"), groups=False),
    Indicator("geopolrisk", "GeoPolRisk supply-risk score (default mode)", "score",
              ("all",)),
    Indicator("traced_origin_share", "share of the country's imports (contained tonnes) traced "
              "one step upstream to mines in a supplier country or bloc (critmin trace)",
              "share 0-1", ("all",), supplier=True, groups=False),
    Indicator("n_minus_1", "N-1 coverage: can the rest of the world cover its demand without the "
              "largest producer", "ratio (>= 1 covered)", ("mine", "refinery"), world=True),
)}

#: Events a rule may watch on its mineral.
EVENTS: dict[str, str] = {
    "restriction": "a new or changed export restriction on the mineral that applies to the "
                   "country (with the share of its imports the measure covers)",
    "project_status": "a project on the mineral added to the registry or changing status",
}

THRESHOLD_OPS = (">", ">=", "<", "<=")
CHANGE_OPS = ("up", "down", "move")
KINDS = ("threshold", "change", "event")


@dataclass(frozen=True)
class RuleSpec:
    """A rule as the user states it (validated by :func:`validate`)."""

    country: str
    mineral: str
    indicator: str
    kind: str
    stage: str = "all"
    supplier: str | None = None
    op: str | None = None
    value: float | None = None
    watchlist: str = "default"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """The rule in words, e.g. ``import_share of CHN in JPN graphite (all) > 0.8``."""
        what = self.indicator + (f" of {self.supplier}" if self.supplier else "")
        where = (f"{self.mineral} ({self.stage})" if INDICATORS.get(self.indicator, _NONE).world
                 else f"{self.country} {self.mineral} ({self.stage})")
        if self.kind == "event":
            return f"{self.indicator} events on {self.country} {self.mineral}"
        if self.kind == "threshold":
            return f"{what} in {where} {self.op} {self.value:g}"
        sign = {"up": "up by more than", "down": "down by more than",
                "move": "moving by more than"}[self.op or "move"]
        return f"{what} in {where} {sign} {self.value:g} since the previous data"


_NONE = Indicator("", "", "", ())


def holds(rule: RuleSpec, value: float | None) -> bool:
    """Whether threshold ``rule`` holds for ``value`` (never for a missing value)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or rule.value is None:
        return False
    return {">": value > rule.value, ">=": value >= rule.value, "<": value < rule.value,
            "<=": value <= rule.value}[rule.op or ">"]


def moved(rule: RuleSpec, old: float | None, new: float | None) -> bool:
    """Whether change ``rule`` fires for a move from ``old`` to ``new`` (never with a missing
    value): ``up``: new - old > limit; ``down``: old - new > limit; ``move``: |new - old| > limit.
    """
    if old is None or new is None or rule.value is None or math.isnan(old) or math.isnan(new):
        return False
    delta = new - old
    return {"up": delta > rule.value, "down": -delta > rule.value,
            "move": abs(delta) > rule.value}[rule.op or "move"]


def validate(spec: RuleSpec, *, countries: set[str], groups: set[str], minerals: set[str]
             ) -> RuleSpec:
    """``spec`` with codes normalised, or :class:`SpecError` naming the field and the valid
    choices (unknown country, group, stage, indicator, operator or a missing limit); an unknown
    mineral raises :func:`critmin.reference.require_mineral`'s
    :class:`~critmin.errors.ChoiceError`."""
    country = spec.country.strip().upper()
    if country not in countries and country not in groups:
        raise SpecError(f"country: unknown country or group {spec.country!r}; use an ISO3 "
                         f"code or one of the groups {', '.join(sorted(groups))}")
    mineral = reference.require_mineral(spec.mineral, minerals)
    if spec.kind not in KINDS:
        raise SpecError(f"kind: must be one of {', '.join(KINDS)}, got {spec.kind!r}")
    if not spec.watchlist.strip() or len(spec.watchlist) > 80:
        raise SpecError("watchlist: a name of 1 to 80 characters")
    if spec.kind == "event":
        if spec.indicator not in EVENTS:
            raise SpecError(f"event: must be one of {', '.join(EVENTS)}, got {spec.indicator!r}")
        if spec.stage not in ("all", "mine", "refinery"):
            raise SpecError(f"stage: must be all, mine or refinery, got {spec.stage!r}")
        return RuleSpec(country=country, mineral=mineral, indicator=spec.indicator,
                        kind="event", stage=spec.stage, watchlist=spec.watchlist.strip())
    ind = INDICATORS.get(spec.indicator)
    if ind is None:
        raise SpecError(f"indicator: unknown indicator {spec.indicator!r}; one of "
                         f"{', '.join(INDICATORS)}")
    stage = spec.stage
    if stage not in ind.stages:
        if stage == "all" and len(ind.stages) == 1:
            stage = ind.stages[0]
        else:
            raise SpecError(f"stage: {ind.name} takes stage {' or '.join(ind.stages)}, "
                             f"got {spec.stage!r}")
    if country in groups and not ind.groups:
        raise SpecError(f"country: {ind.name} is computed for countries, not groups such as "
                         f"{country}")
    supplier = (spec.supplier or "").strip().upper() or None
    if ind.supplier:
        if supplier is None:
            raise SpecError(f"supplier: {ind.name} needs a supplier country or bloc "
                             "(e.g. CHN or MSP)")
        if supplier not in countries and supplier not in groups:
            raise SpecError(f"supplier: unknown country or group {spec.supplier!r}; use an ISO3 "
                             f"code or one of the groups {', '.join(sorted(groups))}")
    elif supplier is not None:
        raise SpecError(f"supplier: only import_share and traced_origin_share take a "
                        f"supplier, not {ind.name}")
    ops = THRESHOLD_OPS if spec.kind == "threshold" else CHANGE_OPS
    if spec.op not in ops:
        raise SpecError(f"op: a {spec.kind} rule takes one of {', '.join(ops)}, got {spec.op!r}")
    if spec.value is None or not math.isfinite(spec.value):
        raise SpecError(f"value: a {spec.kind} rule needs a finite limit")
    if spec.kind == "change" and spec.value < 0:
        raise SpecError("value: a change limit is a size (>= 0); say up or down with op")
    return RuleSpec(country=country, mineral=mineral, indicator=ind.name, kind=spec.kind,
                    stage=stage, supplier=supplier, op=spec.op, value=float(spec.value),
                    watchlist=spec.watchlist.strip())
