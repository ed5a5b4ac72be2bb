"""Scenario specifications: a YAML/JSON document validated by pydantic.

A scenario names a base year, one or more export shocks, a reallocation rule, optional
stockpiles and optional demand growth::

    name: China bans natural-graphite exports
    base_year: 2023
    shocks:
      - {exporter: CHN, mineral: graphite, stage: mine, cut: 1.0, targets: all}
      - {restriction: IDN-2020-NI-ORE-BAN}          # a recorded restriction, see restrictions.py
    reallocation: {method: lp, theta: 0.5, spare_capacity: 0.1, prefer: [MSP]}
    stockpiles:
      - {country: JPN, mineral: graphite, days_of_imports: 60}
    demand_growth: 0.0

Every problem is reported as one line naming the field, e.g.
``shocks[0].cut: must be between 0 and 1, got 1.5``, raised as :class:`critmin.errors.SpecError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from critmin import reference
from critmin.errors import ChoiceError, SpecError

Stage = Literal["mine", "refined", "all"]
def _country(value: str) -> str:
    code = str(value).strip().upper()
    if code not in reference.country_iso3():
        raise ChoiceError("country", value, hint="use an ISO 3166 alpha-3 code such as CHN")
    return code


def _mineral(value: str) -> str:
    return reference.require_mineral(value)


def _targets(value: Any) -> str | list[str]:
    """``all``, a group (``MSP``) or its complement (``non-MSP``), or a list of ISO3 codes."""
    if isinstance(value, str):
        v = value.strip()
        if v.lower() == "all":
            return "all"
        g = v[4:] if v.lower().startswith("non-") else v
        if reference.is_group(g):
            return ("non-" if g is not v else "") + g.upper()
        return [_country(v)]
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError("empty list (use 'all', a group such as 'non-MSP', or ISO3 codes)")
        return [_country(v) for v in value]
    raise ValueError("must be 'all', a group such as 'non-MSP', or a list of ISO3 codes")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Shock(_Model):
    """One export restriction: ``cut`` (0-1) of ``exporter``'s exports of ``mineral`` at ``stage``
    to ``targets`` is removed for ``duration_months``. ``restriction`` fills exporter, mineral,
    stage and targets from the registry (:mod:`critmin.scenarios.restrictions`)."""

    restriction: str | None = None
    exporter: str | None = None
    mineral: str | None = None
    stage: Stage | None = None
    cut: float | None = None
    targets: str | list[str] | None = None
    duration_months: float = 12.0

    @field_validator("exporter")
    @classmethod
    def _v_exporter(cls, v: str | None) -> str | None:
        return None if v is None else _country(v)

    @field_validator("mineral")
    @classmethod
    def _v_mineral(cls, v: str | None) -> str | None:
        return None if v is None else _mineral(v)

    @field_validator("cut")
    @classmethod
    def _v_cut(cls, v: float | None) -> float | None:
        if v is not None and not 0.0 <= v <= 1.0:
            raise ValueError(f"must be between 0 and 1, got {v:g}")
        return v

    @field_validator("targets", mode="before")
    @classmethod
    def _v_targets(cls, v: Any) -> Any:
        return None if v is None else _targets(v)

    @field_validator("duration_months")
    @classmethod
    def _v_duration(cls, v: float) -> float:
        if not v > 0:
            raise ValueError(f"must be positive, got {v:g}")
        return v

    @model_validator(mode="after")
    def _fill(self) -> Shock:
        if self.restriction is not None:
            from critmin.scenarios.restrictions import get

            r = get(self.restriction)  # raises ValueError for unknown ids
            if self.exporter is None:
                self.exporter = _country(r["exporter"])
            if self.mineral is None:
                try:
                    self.mineral = _mineral(r["mineral"])
                except ValueError:
                    raise ValueError(
                        f"restriction {self.restriction!r} concerns {r['mineral']!r}, "
                        "which critmin has no trade mapping for") from None
            if self.stage is None:
                self.stage = r["stage"] or "all"
            if self.targets is None:
                self.targets = _targets(r["target"] or "all")
            if self.cut is None:
                if r["measure"] != "ban":
                    raise ValueError(f"cut: required for restriction {self.restriction!r} "
                                     f"(measure {r['measure']!r}); give a fraction 0..1")
                self.cut = 1.0
        for name in ("exporter", "mineral", "cut"):
            if getattr(self, name) is None:
                raise ValueError(f"{name}: required (or give a recorded 'restriction' id)")
        if self.stage is None:
            self.stage = "all"
        if self.targets is None:
            self.targets = "all"
        return self


class Reallocation(_Model):
    """How the lost supply is re-routed.

    ``method``: ``lp`` (linear programme, :mod:`critmin.scenarios.reroute`) or ``none`` (exposure
    only). ``spare_capacity``: a fraction of each exporter's supply base (see reroute) or a table
    ``{ISO3: tonnes}``. ``theta`` (0-1): friction, the fraction of spare capacity that can move to
    customers who lost supply. ``prefer``: groups whose members are drawn on first.
    ``new_partner_cost``: extra re-routing cost (per tonne, relative) for a new trade relationship.
    """

    method: Literal["lp", "none"] = "lp"
    theta: float = 0.5
    spare_capacity: float | dict[str, float] = 0.1
    prefer: list[str] = []
    new_partner_cost: float = 1.0

    @field_validator("theta")
    @classmethod
    def _v_theta(cls, v: float) -> float:
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"must be between 0 and 1, got {v:g}")
        return v

    @field_validator("spare_capacity")
    @classmethod
    def _v_spare(cls, v: float | dict[str, float]) -> float | dict[str, float]:
        if isinstance(v, dict):
            out = {}
            for k, t in v.items():
                if t < 0:
                    raise ValueError(f"spare capacity of {k} must be >= 0 t, got {t:g}")
                out[_country(k)] = float(t)
            return out
        if v < 0:
            raise ValueError(f"must be >= 0, got {v:g}")
        return v

    @field_validator("prefer")
    @classmethod
    def _v_prefer(cls, v: list[str]) -> list[str]:
        out = []
        for g in v:
            out.append(reference.require_group(g))
        return out


class Stockpile(_Model):
    """A strategic stock of ``mineral`` held by ``country``, in days of its (base-year) imports."""

    country: str
    mineral: str
    days_of_imports: float

    @field_validator("country")
    @classmethod
    def _v_country(cls, v: str) -> str:
        return _country(v)

    @field_validator("mineral")
    @classmethod
    def _v_mineral(cls, v: str) -> str:
        return _mineral(v)

    @field_validator("days_of_imports")
    @classmethod
    def _v_days(cls, v: float) -> float:
        if v < 0:
            raise ValueError(f"must be >= 0, got {v:g}")
        return v


class ScenarioSpec(_Model):
    """A whole scenario (see the module docstring for the format)."""

    name: str = "scenario"
    description: str | None = None
    base_year: int
    shocks: list[Shock]
    reallocation: Reallocation = Reallocation()
    stockpiles: list[Stockpile] = []
    demand_growth: float = 0.0

    @field_validator("shocks")
    @classmethod
    def _v_shocks(cls, v: list[Shock]) -> list[Shock]:
        if not v:
            raise ValueError("at least one shock is required")
        return v

    @field_validator("demand_growth")
    @classmethod
    def _v_growth(cls, v: float) -> float:
        if v <= -1:
            raise ValueError(f"must be > -1, got {v:g}")
        return v


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "list[str]", "float", "int", "dict[str,float]"):
            continue  # union member tags pydantic adds
        else:
            out += ("." if out else "") + str(part)
    return out or "spec"


def _message(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    loc = _loc(tuple(err["loc"]))
    if err["type"] == "missing":
        msg = "required"
    elif err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "literal_error":
        msg = f"must be {err['ctx']['expected']}, got {err['input']!r}"
    # field-level messages raised from a model validator carry their own field name
    if ": " in msg and msg.split(": ", 1)[0] in Shock.model_fields:
        field, msg = msg.split(": ", 1)
        loc = f"{loc}.{field}"
    return f"{loc}: {msg}"


def parse_spec(data: dict[str, Any] | ScenarioSpec) -> ScenarioSpec:
    """Validate a scenario given as a mapping; raises :class:`SpecError` with one line.

    >>> parse_spec({"base_year": 2023, "shocks": [{"exporter": "CHN", "mineral": "graphite",
    ...             "cut": 1.5}]})
    Traceback (most recent call last):
    ...
    critmin.errors.SpecError: shocks[0].cut: must be between 0 and 1, got 1.5
    """
    if isinstance(data, ScenarioSpec):
        return data
    if not isinstance(data, dict):
        raise SpecError("spec: a scenario must be a mapping (YAML/JSON object)")
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_message(exc)) from None


def load_spec(path: str | Path) -> ScenarioSpec:
    """Read and validate a YAML (``.yaml``/``.yml``) or JSON scenario file."""
    from critmin import inputs
    from critmin.errors import InputError

    path = Path(path)
    try:
        text = inputs.read_text(path, "scenario")
        if path.suffix.lower() == ".json":
            data = inputs.parse_json(text, path)
        else:
            data = inputs.parse_yaml(text, path)
    except InputError as exc:
        raise SpecError(str(exc)) from None
    try:
        return parse_spec(data)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None
