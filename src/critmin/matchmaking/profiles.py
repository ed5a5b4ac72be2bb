"""Participant profiles for matchmaking events, and what each viewer may see of them.

A profile describes an organisation (company, government body, agency, research institute):
its country (ISO 3166 alpha-3), its value-chain roles, minerals, what it offers and needs, when it
is available, and for each field whether it is ``public`` or ``organiser`` (organiser-only).
:func:`profile_view` returns the fields a given viewer may see: everything for the organiser and
for the participant itself, public fields for everyone else.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator


class OrgKind(StrEnum):
    """What kind of organisation a participant is."""

    COMPANY = "company"
    GOVERNMENT = "government"
    AGENCY = "agency"
    RESEARCH = "research"


class Role(StrEnum):
    """Value-chain roles, upstream to downstream, then cross-cutting services."""

    EXPLORATION = "exploration"
    MINING = "mining"
    REFINING = "refining"
    PRECURSOR_CATHODE = "precursor_cathode"
    ANODE_GRAPHITE = "anode_graphite"
    CELL = "cell"
    PACK = "pack"
    RECYCLING = "recycling"
    EQUIPMENT = "equipment"
    FINANCE = "finance"
    OFFTAKE_TRADING = "offtake_trading"


#: position of each physical role along the chain (services have none)
CHAIN_ORDER: dict[Role, int] = {
    Role.EXPLORATION: 0,
    Role.MINING: 1,
    Role.REFINING: 2,
    Role.PRECURSOR_CATHODE: 3,
    Role.ANODE_GRAPHITE: 3,
    Role.CELL: 4,
    Role.PACK: 5,
    Role.RECYCLING: 6,
}

Visibility = Literal["public", "organiser"]

#: fields whose visibility can be set; the rest (id, name) are always public
VISIBLE_FIELDS = (
    "country_iso3", "kind", "roles", "minerals", "offers", "needs", "description",
    "contact_email", "unavailable_slots", "sessions",
)
DEFAULT_VISIBILITY: dict[str, Visibility] = {
    **{f: "public" for f in VISIBLE_FIELDS},
    "contact_email": "organiser",
    "unavailable_slots": "organiser",
}


#: size limits of profile fields (characters or list items); a larger field is refused
FIELD_LIMITS = {
    "name": 200, "mineral": 60, "text": 1000, "timeframe": 60, "description": 4000,
    "contact_email": 254, "list_items": 50, "extra_field_chars": 4000, "profile_chars": 64_000,
}
Mineral = Annotated[str, StringConstraints(min_length=1, max_length=FIELD_LIMITS["mineral"])]


def check_free_field(name: str, value: object) -> object:
    """A free (non-schema) profile field is bounded: ``extra_field_chars`` as JSON text.

    >>> check_free_field("contact", "x" * 5000)
    Traceback (most recent call last):
    ...
    ValueError: field 'contact' has 5002 characters as JSON; at most 4000
    """
    try:
        size = len(json.dumps(value, ensure_ascii=False))
    except (TypeError, ValueError, RecursionError):
        raise ValueError(f"field {name!r} is not plain JSON data") from None
    if size > FIELD_LIMITS["extra_field_chars"]:
        raise ValueError(f"field {name!r} has {size} characters as JSON; at most "
                         f"{FIELD_LIMITS['extra_field_chars']}")
    return value


class Item(BaseModel):
    """One offer or need: mineral, value-chain stage, volume (t/yr), timeframe and free text."""

    model_config = ConfigDict(extra="forbid")

    mineral: Mineral
    stage: Role | None = None
    volume_t_per_yr: float | None = Field(default=None, ge=0, le=1e12, allow_inf_nan=False)
    timeframe: str | None = Field(default=None, max_length=FIELD_LIMITS["timeframe"])
    text: str = Field(default="", max_length=FIELD_LIMITS["text"])

    @field_validator("mineral")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.strip().lower()


class Profile(BaseModel):
    """A participant's profile. ``visibility`` overrides :data:`DEFAULT_VISIBILITY` per field."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1, max_length=FIELD_LIMITS["name"])
    country_iso3: str = Field(pattern=r"^[A-Z]{3}$")
    kind: OrgKind = OrgKind.COMPANY
    roles: list[Role] = Field(default_factory=list, max_length=len(Role))
    minerals: list[Mineral] = Field(default_factory=list, max_length=FIELD_LIMITS["list_items"])
    offers: list[Item] = Field(default_factory=list, max_length=FIELD_LIMITS["list_items"])
    needs: list[Item] = Field(default_factory=list, max_length=FIELD_LIMITS["list_items"])
    description: str = Field(default="", max_length=FIELD_LIMITS["description"])
    contact_email: str | None = Field(default=None, max_length=FIELD_LIMITS["contact_email"])
    sessions: list[Literal["morning", "afternoon"]] = Field(
        default_factory=lambda: ["morning", "afternoon"], max_length=2
    )
    unavailable_slots: list[int] = Field(default_factory=list, max_length=200)
    visibility: dict[str, Visibility] = Field(default_factory=dict, max_length=len(VISIBLE_FIELDS))

    @field_validator("minerals")
    @classmethod
    def _lower_all(cls, v: list[str]) -> list[str]:
        return [m.strip().lower() for m in v]

    @field_validator("visibility")
    @classmethod
    def _known_fields(cls, v: dict[str, Visibility]) -> dict[str, Visibility]:
        unknown = sorted(set(v) - set(VISIBLE_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown field {unknown[0]!r} in visibility (known: {', '.join(VISIBLE_FIELDS)})"
            )
        return v

    def visibility_of(self, field_name: str) -> Visibility:
        """``public`` or ``organiser`` for ``field_name`` (id and name are always public)."""
        if field_name in ("id", "name"):
            return "public"
        return self.visibility.get(field_name, DEFAULT_VISIBILITY.get(field_name, "public"))

    def summary(self) -> str:
        """A one-line public summary: kind, country, roles and minerals."""
        roles = ", ".join(r.value.replace("_", "/") for r in self.roles) or "—"
        minerals = ", ".join(self.minerals) or "—"
        return f"{self.kind.value}, {self.country_iso3}; roles: {roles}; minerals: {minerals}"


def profile_view(profile: Profile, viewer_id: str | None, *, organiser: bool = False) -> dict[str, Any]:
    """The fields of ``profile`` that ``viewer_id`` may see, as a JSON-ready dict.

    The organiser and the participant itself see every field; anyone else (including an anonymous
    viewer, ``viewer_id=None``) sees ``id``, ``name`` and the fields whose visibility is
    ``public``.

    >>> p = Profile(id="a", name="A Ltd", country_iso3="IND", contact_email="x@a.in")
    >>> "contact_email" in profile_view(p, "b"), "contact_email" in profile_view(p, "a")
    (False, True)
    """
    full = profile.model_dump(mode="json", exclude={"visibility"})
    if organiser or viewer_id == profile.id:
        return full
    return {k: v for k, v in full.items() if profile.visibility_of(k) == "public"}
