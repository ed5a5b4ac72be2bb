"""Curated reference data that ships with critmin, and the one place that reads it.

The CSV files beside this module (``minerals.csv``, ``units.csv``, ``hs_map.csv``, country
aliases) and the registry seed files of :mod:`critmin.data` (``groups.csv``, ...) are read here
and nowhere else. Every check of user input against them goes through one of the ``require_*``
functions or :func:`resolve_country`, which raise :class:`~critmin.errors.ChoiceError` naming the
valid choices.

>>> require_mineral("Cobalt")
'cobalt'
>>> unit_factor("thousand metric tons")
('t', 1000.0)
>>> resolve_country("Japan"), resolve_country("jp")
('JPN', 'JPN')
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from critmin.errors import ChoiceError

if TYPE_CHECKING:
    from critmin.countries import CountryCodes

#: Packages holding curated CSV files, searched in this order.
PACKAGES = ("critmin.reference", "critmin.data")


@cache
def _rows(name: str) -> tuple[dict[str, str], ...] | None:
    for pkg in PACKAGES:
        f = resources.files(pkg).joinpath(f"{name}.csv")
        if f.is_file():
            return tuple(csv.DictReader(io.StringIO(f.read_text("utf-8"), newline="")))
    return None


def rows(name: str) -> list[dict[str, str]] | None:
    """Rows of the curated table ``name`` (``reference/NAME.csv`` or ``data/NAME.csv``) as
    dicts of text, or None when critmin ships no such file (quoted multi-line fields are read
    as one field)."""
    found = _rows(name)
    return None if found is None else [dict(r) for r in found]


# -------------------------------------------------------------------------------------- minerals


@dataclass(frozen=True)
class Mineral:
    """One row of ``reference/minerals.csv``."""

    mineral: str
    name: str
    family: str
    #: USGS MCS commodity names that report this mineral
    usgs_commodities: tuple[str, ...]
    #: World Mining Data commodity names that report this mineral
    wmd_commodities: tuple[str, ...]
    #: default basis of reported quantities (``Li content``, ``REO``, ``gross``, ...)
    basis: str


def _split(v: str | None) -> tuple[str, ...]:
    return tuple(s.strip() for s in (v or "").split(";") if s.strip())


@cache
def minerals() -> dict[str, Mineral]:
    """The minerals critmin knows, by id, in the order of ``reference/minerals.csv``."""
    return {r["mineral"]: Mineral(r["mineral"], r["name"], r["family"],
                                  _split(r["usgs_commodities"]), _split(r["wmd_commodities"]),
                                  r["basis"] or "gross")
            for r in _rows("minerals") or ()}


def factor_basis_is_gross() -> dict[str, bool]:
    """mineral -> True when its traded forms' content factors are on gross weight
    (``reference/content_factors.csv`` basis ``gross weight``: the factor 1 of a heading that
    is the mineral itself, e.g. magnesite), False when they are a content (Fe in iron ore, Sr
    in strontium carbonate); minerals without a cited factor are absent."""
    out: dict[str, bool] = {}
    for r in rows("content_factors") or []:
        out[r["mineral"]] = out.get(r["mineral"], True) and r["basis"] == "gross weight"
    return out


def require_mineral(value: str, known: Iterable[str] | None = None) -> str:
    """The mineral id ``value`` (case and surrounding blanks ignored); ``known`` narrows the
    choices (e.g. the minerals a watch rule can read).

    Raises :class:`~critmin.errors.ChoiceError` listing the known ids otherwise."""
    choices = set(minerals() if known is None else known)
    m = str(value).strip().lower()
    if m not in choices:
        raise ChoiceError("mineral", value, sorted(choices))
    return m


# ----------------------------------------------------------------------------------------- units


def _unit_key(unit: str) -> str:
    return " ".join(str(unit).split()).lower()


@cache
def units() -> dict[str, tuple[str, float]]:
    """Published unit name (normalised: blanks collapsed, lower case) -> (canonical unit,
    factor), from ``reference/units.csv``."""
    return {_unit_key(r["unit"]): (r["canonical"], float(r["factor"]))
            for r in _rows("units") or ()}


def unit_factor(unit: str) -> tuple[str, float] | None:
    """Canonical unit and factor for a published unit name, or None when unknown.

    >>> unit_factor("kt")
    ('t', 1000.0)
    """
    return units().get(_unit_key(unit))


# ---------------------------------------------------------------------------------------- groups


@cache
def groups() -> tuple[str, ...]:
    """Ids of the country groups critmin lists memberships for (``data/groups.csv``, in file
    order: MSP, IPEF, QUAD, G7, EU27, OECD, ...)."""
    return tuple(r["group_id"] for r in _rows("groups") or ())


def require_group(value: str, known: Iterable[str] | None = None) -> str:
    """The group id ``value`` (case ignored); ``known`` narrows the choices (e.g. the groups
    with memberships in an atlas). Raises :class:`~critmin.errors.ChoiceError` otherwise."""
    choices = list(known) if known is not None else list(groups())
    g = str(value).strip().upper()
    if g not in choices:
        raise ChoiceError("group", value, choices)
    return g


def is_group(value: str) -> bool:
    """True when ``value`` is a group id of :func:`groups` (case ignored)."""
    return str(value).strip().upper() in groups()


# --------------------------------------------------------------------------------------- choices


def require_choice(what: str, value: object, choices: Iterable[object]) -> object:
    """``value`` when it is one of ``choices``, else :class:`~critmin.errors.ChoiceError`."""
    choices = list(choices)
    if value not in choices:
        raise ChoiceError(what, value, choices)
    return value


def require_year(value: int, available: Iterable[int], *, what: str = "data") -> int:
    """``value`` when it is within the years of ``available`` (the years the data holds), else
    :class:`~critmin.errors.ChoiceError` naming the available range."""
    years = sorted({int(y) for y in available})
    if not years:
        raise ChoiceError("year", value, hint=f"no {what} in the atlas")
    if int(value) not in years:
        lo, hi = years[0], years[-1]
        span = f"{lo}–{hi}" if len(years) == hi - lo + 1 else ", ".join(map(str, years))
        raise ChoiceError("year", value, hint=f"{what} covers {span}")
    return int(value)


# ------------------------------------------------------------------------------------- countries


@cache
def _codes() -> CountryCodes:
    from critmin.countries import country_codes

    return country_codes()


def country_iso3() -> frozenset[str]:
    """ISO 3166 alpha-3 codes critmin knows (current, former and residual)."""
    return _codes().iso3


def resolve_country(value: str) -> str:
    """ISO3 code for a country given as an ISO3 or ISO2 code or an English name.

    Raises :class:`~critmin.errors.ChoiceError` with the closest names otherwise.

    >>> resolve_country("congo (kinshasa)")
    'COD'
    """
    from critmin.countries import iso3166_alpha3

    code = str(value).strip().upper()
    if len(code) == 3 and code in iso3166_alpha3():  # (a row of the full table, read faster)
        return code
    cc = _codes()
    if code in cc.rows:
        return code
    if len(code) == 2:
        for iso3, r in cc.rows.items():
            if r.get("iso2") == code:
                return iso3
    iso3 = cc.from_name(str(value))
    if iso3:
        return iso3
    names = {str(r["name"]): k for k, r in cc.rows.items() if r.get("name")}
    close = difflib.get_close_matches(str(value).strip(), list(names), n=3, cutoff=0.75)
    hint = "use an ISO 3166 alpha-3 code such as JPN, an ISO2 code or an English name"
    if close:
        hint += "; did you mean " + ", ".join(f"{names[n]} ({n})" for n in close) + "?"
    raise ChoiceError("country", value, hint=hint)


def resolve_economy(value: str, known_groups: Iterable[str] | None = None) -> str:
    """A group id (see :func:`groups`, or ``known_groups``) or a country's ISO3 code."""
    g = str(value).strip().upper()
    if g in (set(known_groups) if known_groups is not None else set(groups())):
        return g
    try:
        return resolve_country(value)
    except ChoiceError:
        raise ChoiceError("economy", value, hint="use an ISO3 code such as JPN, a country name "
                          "or a group id (" + ", ".join(known_groups or groups()) + ")") from None
