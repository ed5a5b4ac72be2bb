"""Validated records of the cooperation registry: groups, frameworks, memberships, agreements, projects.

Each model mirrors one table of the schema-as-data (``critmin/schema/tables/*.csv``; memberships are
``country_groups``). Lists (parties, sponsors, partner countries, minerals, frameworks) are held
as Python lists and stored as ``;``-separated text. Record-level rules live here; rules that need
the reference data (country codes, mineral ids, launch dates of groups) read it from the
:class:`Context` passed as pydantic validation context, and cross-record rules (ids that
reference other records) live in :mod:`critmin.cooperation.registry`.

:func:`parse` turns a raw row into a model and reports the first problem as a one-line
:class:`critmin.errors.SpecError` naming the table, the record id and the field:

>>> try:
...     parse("projects", {"id": "X", "name": "X", "country": "XYZ", "mineral": "cobalt",
...                        "stage": "mine", "status": "operating",
...                        "source_url": "https://example.org"}, Context.default())
... except SpecError as exc:
...     print(exc)
projects record 'X', field 'country': unknown country code 'XYZ': use ISO 3166 alpha-3
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator, model_validator

from critmin import schema
from critmin.errors import ChoiceError, SpecError

#: Project stages (the production table's stages; ``capacity`` = downstream manufacturing
#: capacity), as the schema lists them.
PROJECT_STAGES = schema.allowed("projects", "stage")
#: Project status, in order of maturity (schema order).
PROJECT_STATUSES = schema.allowed("projects", "status")
Confidence = Literal["high", "medium", "low"]
DatePrecision = Literal["day", "month", "year"]

_RATE_UNIT = re.compile(r"^\s*([A-Za-z0-9 .]+?)\s*/\s*(y|yr|year|a|annum)\s*$")


@dataclass(frozen=True)
class Context:
    """Reference data the validators check against."""

    iso3: frozenset[str]
    minerals: frozenset[str]
    #: launch date of each group / framework id (``groups.csv`` and ``frameworks.csv``)
    launched: dict[str, dt.date] = field(default_factory=dict)
    #: unit -> (canonical unit, factor) from ``reference/units.csv``
    units: dict[str, tuple[str, float]] = field(default_factory=dict)

    @classmethod
    def default(cls) -> Context:
        """Country codes (ISO 3166 via pycountry and the alias table), mineral ids and units
        shipped with the package; no launch dates (the registry adds them)."""
        from critmin import reference

        return cls(iso3=reference.country_iso3(), minerals=frozenset(reference.minerals()),
                   units=dict(reference.units()))

    def with_launched(self, launched: dict[str, dt.date]) -> Context:
        return Context(self.iso3, self.minerals, dict(launched), self.units)


#: Size limits of one record (every record is downloaded by every reader of the registry): the
#: characters of an id field, of any other text field, and the items of a list field.
MAX_ID_CHARS = 120
MAX_TEXT_CHARS = 2000
MAX_LIST_ITEMS = 100
ID_FIELDS = frozenset({"id", "group_id", "member_group"})


def _check_size(name: str, value: Any) -> None:
    """Refuse a field over the limits above (before any other check looks at it)."""
    limit = MAX_ID_CHARS if name in ID_FIELDS else MAX_TEXT_CHARS
    if isinstance(value, str) and len(value) > limit:
        raise _field_error(name, f"{len(value)} characters; at most {limit} are allowed")
    if isinstance(value, list | tuple):
        if len(value) > MAX_LIST_ITEMS:
            raise _field_error(name, f"{len(value)} items; at most {MAX_LIST_ITEMS} are allowed")
        for item in value:
            if not isinstance(item, str | int | float) or len(str(item)) > MAX_ID_CHARS:
                raise _field_error(name, f"each item must be a text of at most {MAX_ID_CHARS} "
                                   "characters")


def _field_error(field: str, problem: str) -> ValueError:
    """An error found by a record-level check, attributed to ``field`` in the message."""
    return ValueError(f"[{field}] {problem}")


def _ctx(info: ValidationInfo) -> Context | None:
    return info.context if isinstance(info.context, Context) else None


def split_list(value: Any) -> list[str]:
    """``"IND;JPN"`` -> ``["IND", "JPN"]``; lists pass through; empty -> ``[]``.

    >>> split_list(" IND; JPN ;")
    ['IND', 'JPN']
    """
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(";") if v.strip()]


def parse_date(value: Any) -> Any:
    """``"2022-03"`` -> 1 Mar 2022, ``"2022"`` -> 1 Jan 2022 (the precision is kept separately):
    the schema's one date parser (:func:`critmin.schema.parse_date`) for text; other values go
    to pydantic unchanged."""
    return schema.parse_date(value) if isinstance(value, str) else value


def _check_iso3(code: str, info: ValidationInfo) -> str:
    ctx = _ctx(info)
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError(f"{code!r} is not an ISO 3166 alpha-3 code (three capital letters)")
    if ctx is not None and code not in ctx.iso3:
        raise ValueError(f"unknown country code {code!r}: use ISO 3166 alpha-3")
    return code


def _check_mineral(m: str, info: ValidationInfo) -> str:
    ctx = _ctx(info)
    if ctx is not None and m not in ctx.minerals:
        raise ChoiceError("mineral", m, sorted(ctx.minerals))
    return m


def _check_url(v: str | None) -> str | None:
    if v is not None and not re.match(r"https?://\S+$", v):
        raise ValueError(f"citation {v!r} is not an http(s) URL")
    return v


class Record(BaseModel):
    """Common behaviour: blank strings are missing values; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_assignment=True)
    table: ClassVar[str] = ""
    id_field: ClassVar[str] = "id"

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {k: (None if isinstance(v, str) and not v.strip() else v) for k, v in data.items()
                    if not str(k).startswith("_")}
            for k, v in data.items():
                _check_size(str(k), v)
        return data

    def record_id(self) -> str:
        return str(getattr(self, self.id_field))

    @model_validator(mode="after")
    def _schema_rules(self) -> Record:
        """The rules of the record's atlas table from the schema (allowed values, patterns,
        bounds): the same data that validates the table when it is loaded."""
        for c in schema.table(self.table).columns:
            v = getattr(self, c.name, None)
            problem = None if isinstance(v, list) else schema.check_value(c, v)
            if problem is not None:
                raise _field_error(c.name, problem)
        return self

    def row(self) -> dict[str, Any]:
        """The record as a flat row: lists joined with ``;``, dates as ISO strings."""
        out: dict[str, Any] = {}
        for k, v in self.model_dump().items():
            if isinstance(v, list):
                v = ";".join(v) if v else None
            elif isinstance(v, dt.date):
                v = v.isoformat()
            out[k] = v
        return out


class Group(Record):
    """A country group whose memberships are listed in ``country_groups`` (groups.csv)."""

    table: ClassVar[str] = "groups"
    id_field: ClassVar[str] = "group_id"
    group_id: str
    name: str
    kind: str | None = None
    launched: dt.date
    url: str | None = None
    description: str | None = None
    source_url: str

    _launched = field_validator("launched", mode="before")(parse_date)
    _src = field_validator("source_url", "url")(_check_url)


class Framework(Record):
    """A multilateral framework or partnership (frameworks.csv)."""

    table: ClassVar[str] = "frameworks"
    id: str
    name: str
    kind: str
    launched: dt.date
    url: str | None = None
    description: str | None = None
    source_url: str
    source_note: str | None = None

    _launched = field_validator("launched", mode="before")(parse_date)
    _src = field_validator("source_url", "url")(_check_url)


class Membership(Record):
    """A dated membership of a country (or a non-country member such as the EU) in a group."""

    table: ClassVar[str] = "country_groups"
    id_field: ClassVar[str] = "group_id"
    group_id: str
    iso3: str | None = None
    member_group: str | None = None
    joined: dt.date | None = None
    left: dt.date | None = None
    date_precision: DatePrecision | None = None
    confidence: Confidence | None = None
    source_url: str
    source_note: str | None = None

    _dates = field_validator("joined", "left", mode="before")(parse_date)
    _src = field_validator("source_url")(_check_url)

    def record_id(self) -> str:
        return f"{self.group_id}:{self.iso3 or self.member_group}"

    @field_validator("iso3")
    @classmethod
    def _iso3(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else _check_iso3(v, info)

    @model_validator(mode="after")
    def _dates_in_order(self, info: ValidationInfo) -> Membership:
        if (self.iso3 is None) == (self.member_group is None):
            raise _field_error("iso3", "exactly one of iso3 (a country) or member_group (e.g. EU) is needed")
        ctx = _ctx(info)
        if ctx is not None and ctx.launched:
            launched = ctx.launched.get(self.group_id)
            if launched is None:
                raise _field_error("group_id", f"unknown group {self.group_id!r}: add it to groups.csv first")
            if self.joined is not None and self.joined < launched:
                raise _field_error("joined", f"joined {self.joined} before {self.group_id} was launched "
                                 f"({launched})")
        if self.joined and self.left and self.left < self.joined:
            raise _field_error("left", f"left {self.left} before joined {self.joined}")
        return self


class Agreement(Record):
    """A bilateral agreement, memorandum or dialogue (agreements.csv)."""

    table: ClassVar[str] = "agreements"
    id: str
    parties: list[str] = []
    party_groups: list[str] = []
    signed: dt.date
    date_precision: DatePrecision | None = None
    title: str
    scope: str | None = None
    minerals: list[str] = []
    url: str
    confidence: Confidence | None = None
    source_note: str | None = None

    _lists = field_validator("parties", "party_groups", "minerals", mode="before")(split_list)
    _signed = field_validator("signed", mode="before")(parse_date)
    _src = field_validator("url")(_check_url)

    @field_validator("parties")
    @classmethod
    def _parties(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return [_check_iso3(c, info) for c in v]

    @field_validator("minerals")
    @classmethod
    def _minerals(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return [_check_mineral(m, info) for m in v]

    @model_validator(mode="after")
    def _two_sides(self) -> Agreement:
        if len(self.parties) + len(self.party_groups) < 2:
            raise _field_error("parties", "an agreement needs at least two parties (parties or party_groups)")
        return self


class Project(Record):
    """A supply project: where, who, which mineral and stage, how much, how far along."""

    table: ClassVar[str] = "projects"
    id: str
    name: str
    country: str
    site: str | None = None
    sponsors: list[str] = []
    partner_countries: list[str] = []
    mineral: str
    stage: str  # allowed values: the schema's (projects.csv)
    capacity: float | None = None
    unit: str | None = None
    basis: str | None = None
    status: str  # allowed values: the schema's (projects.csv)
    start_year: int | None = None
    frameworks: list[str] = []
    confidence: Confidence | None = None
    source_url: str
    source_note: str | None = None

    _lists = field_validator("sponsors", "partner_countries", "frameworks", mode="before")(split_list)
    _src = field_validator("source_url")(_check_url)

    @field_validator("country")
    @classmethod
    def _country(cls, v: str, info: ValidationInfo) -> str:
        return _check_iso3(v, info)

    @field_validator("partner_countries")
    @classmethod
    def _partners(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return [_check_iso3(c, info) for c in v]

    @field_validator("mineral")
    @classmethod
    def _mineral(cls, v: str, info: ValidationInfo) -> str:
        return _check_mineral(v, info)

    @field_validator("capacity")
    @classmethod
    def _positive(cls, v: float | None) -> float | None:
        if v is not None and not v > 0:
            raise ValueError(f"capacity must be positive, got {v}")
        return v

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str | None, info: ValidationInfo) -> str | None:
        ctx = _ctx(info)
        if v is not None and ctx is not None and ctx.units and rate_unit(v, ctx.units) is None:
            raise ValueError(f"unknown capacity unit {v!r}: use a rate such as t/y or kt/y")
        return v

    @model_validator(mode="after")
    def _capacity_has_unit(self) -> Project:
        if self.capacity is not None and not (self.unit and self.basis):
            raise _field_error("unit", "capacity needs a unit (e.g. t/y) and a basis (e.g. 'contained Co')")
        return self


def rate_unit(unit: str, units: dict[str, tuple[str, float]]) -> tuple[str, float] | None:
    """``"kt/y"`` -> ``("t", 1000.0)``: the canonical unit per year and the factor to it, or
    None when the unit is not an annual rate of a known unit.

    >>> rate_unit("kt/y", {"kt": ("t", 1000.0)})
    ('t', 1000.0)
    """
    m = _RATE_UNIT.match(unit)
    if not m:
        return None
    return units.get(m.group(1).strip().lower())


MODELS: dict[str, type[Record]] = {
    "groups": Group,
    "frameworks": Framework,
    "memberships": Membership,
    "agreements": Agreement,
    "projects": Project,
}


def parse(table: str, row: dict[str, Any], ctx: Context | None = None) -> Record:
    """Validate ``row`` as a record of ``table``; the first problem raises :class:`SpecError`."""
    try:
        model = MODELS[table]
    except KeyError:
        raise SpecError(f"unknown registry table {table!r}; use one of {', '.join(MODELS)}") from None
    try:
        return model.model_validate(row, context=ctx)
    except ValidationError as exc:
        raise SpecError(_message(table, model, row, exc)) from None


def _message(table: str, model: type[Record], row: dict[str, Any], exc: ValidationError) -> str:
    err = exc.errors()[0]
    rid = row.get(model.id_field) or "?"
    if model is Membership:
        rid = f"{row.get('group_id') or '?'}:{row.get('iso3') or row.get('member_group') or '?'}"
    loc = ".".join(str(p) for p in err.get("loc", ()) if not isinstance(p, int))
    msg = str(err.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    m = re.match(r"\[(\w+)\] (.*)$", msg, re.DOTALL)
    if m:
        loc, msg = m.group(1), m.group(2)
    if err.get("type") == "missing" or (loc and err.get("input", "") is None):
        msg = "missing value (every record needs it)"
    elif err.get("type") == "extra_forbidden":
        msg = f"unknown field; fields are {', '.join(model.model_fields)}"
    elif err.get("type") == "literal_error":
        msg = f"{err.get('input')!r} is not allowed: {msg}"
    where = f"{table} record {rid!r}" + (f", field {loc!r}" if loc else "")
    return f"{where}: {msg}"
