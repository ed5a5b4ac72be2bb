"""USGS Mineral Commodity Summaries (MCS) data releases: world production and reserves by country.

Three layouts are recognised (anything else, such as the US salient statistics or the MCS trend
tables, is *not* claimed by :func:`detect`, so the atlas reports it as unrecognised):

``combined``
    ``MCS2026_Commodities_Data.csv``: every chapter in one long table (``MCS chapter, Section,
    Commodity, Country, Statistics, Statistics_detail, Unit, Year, Value, Notes, ...``), encoded
    Windows-1252. Only the ``World ...`` sections are read (``Salient Statistics—United States``
    and ``Import Sources`` are US-only statistics, not world production). Source id
    ``usgs-mcs2026``.
``wide``
    The union of the per-commodity ``*_world.csv`` files (``mcs2023/2024_world_production_
    reserves_all_commodities.csv``): one row per country and production type, the unit and year
    in the column names (``Prod_t_2022``, ``Prod_kt_est_2023``, ``Reserves_kt``,
    ``Cap_Sponge_t_2023``, ``Reserves_ore_K2O_equiv_kt``). Source id ``usgs-mcs2024-world-wide``.
``long``
    The same facts one value per row (``edition, source_file, country, type, measure,
    qualifier, unit_code, estimated, year, value_raw, notes``): ``mcs2023/2024_world_production_
    reserves_long.csv`` and ``mcs2022_world_production_12_commodities_long.csv``. Source id
    ``usgs-mcs2024-world-long``.

The long and the wide file of one edition carry the same facts; both are turned into the same
intermediate facts (country, type, measure, qualifier, unit code, estimated, year, raw value) and
then normalised by one function, so they parse to identical canonical rows (tested). Each file is
still its own source. The wide layout reads reserves without a year in the column name as the
edition's latest year (as the long form does).

Canonical rows (tables ``production`` and ``reserves``):

- ``country``: ISO3 from the USGS name (``CountryCodes.from_name``; USGS spellings are in
  ``reference/country_aliases.csv``). Footnote marks glued to names in the wide files
  (``New Caledonia11``, ``Russiae``) are stripped. ``World total ...`` and ``Other countries``
  rows are aggregates, kept as rows that are not countries: ``WLD`` (the published world
  total, flag ``rounded_total`` when USGS says it is rounded) and ``XRW`` ("Other countries": the
  production of the countries USGS does not name), so that shares can use the world total as
  denominator (:func:`critmin.metrics.formulas.calc_world_total`). An unknown name fails with
  ``InputError(..., field="Country")``.
- ``mineral``: the critmin id whose ``usgs_commodities`` (reference/minerals.csv) lists the
  commodity; the wide/long files name commodities by file code (``mcs2024-cobal_world.csv``),
  translated by :data:`FILE_CODES`. Commodities mapping to no mineral are skipped with a note.
  Sub-products: bauxite vs alumina, platinum vs palladium, kaolin vs bentonite (other clays are
  skipped) are distinct minerals; titanium concentrates (mine, TiO2 content) and titanium sponge
  (refinery, Ti content) differ by stage and basis; platinum/palladium *reserves* are published
  for all platinum-group metals and become mineral ``pgm``.
- ``stage``: from the statistic text (detail/type): capacity when it says capacity (or the
  long form's measure is capacity); refinery for "refinery", "primary production" (gallium),
  "refined" or titanium sponge; smelter for "smelter"; mine for "mine"; otherwise the section
  title (``World Smelter Production ...``) or the mineral's usual stage (:data:`DEFAULT_STAGE`).
- ``unit``/``value``: converted to the canonical unit of ``reference/units.csv`` (masses to t).
- ``basis``: from the statistic text, the section title, the row's note or the chapter's
  "(Data in ...)" note, in that order (``Cr2O3 content`` -> Cr2O3, ``gross weight``/``ore``
  -> gross, ``REO`` -> REO, ``lithium content`` -> Li content, ``K2O`` -> K2O, ...);
  otherwise the mineral's default basis in minerals.csv.
- Values: ``W`` -> null, flag ``withheld``; ``NA``, ``XX``, empty, "Included in ..." -> null,
  ``not_available``; ``—`` -> 0; ``>5,000`` -> 5000 ``lower_bound``; ``<100`` -> 100
  ``upper_bound``; ``s`` / "Less than ½ unit" -> half a unit, ``upper_bound`` (``s`` whose note says
  "Included with ..." -> null, ``not_available``); ranges
  ``10,000 - 15,000`` -> the lower end, ``lower_bound``; words (Large, Small, Moderate, ...)
  -> null, ``qualitative``; negative numbers are an error. Estimated when the value carries an
  ``E``/``e`` mark, the column name says ``est``, the long form's ``estimated`` is True, or
  the combined file's note starts with "Estimated".
- Duplicates (same year, country, mineral, stage/—, unit, basis): rows without a value give way
  to rows with one; of several world totals (ilmenite, rutile, "ilmenite and rutile") the largest,
  the total of the whole, is kept; sub-statistics that USGS documents as additive are summed (ilmenite +
  rutile in TiO2 content; ferrosilicon + silicon metal in Si content); any other clash keeps the
  first row and says so in ``Parsed.notes``. ``: rounded`` duplicates of a country row are
  dropped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import pyarrow as pa

from critmin import inputs, reference, schema
from critmin.countries import CountryCodes
from critmin.errors import InputError
from critmin.sources.base import Context, Parsed, SourceMeta, expect_header, read_text

__all__ = ["NAME", "Fact", "Parsed", "aggregates", "detect", "parse", "parse_value", "read_facts"]

NAME = "USGS Mineral Commodity Summaries"

PUBLISHER = "U.S. Geological Survey"
LICENCE = "Public domain (U.S. Government work)"
FAMILY = "usgs-mcs"
#: Data release pages (the MCS 2026 data release DOI; earlier editions: the MCS report DOI).
URLS = {"MCS2026": "https://doi.org/10.5066/P1WKQ63T"}

#: The US salient statistic loaded as a reported figure (table ``reported_reliance``).
NIR_STATISTIC = "Net import reliance"

COMBINED_HEADER = ["MCS chapter", "Section", "Commodity", "Country", "Statistics",
                   "Statistics_detail", "Unit", "Year", "Value"]
LONG_HEADER = ["edition", "source_file", "country", "type", "measure", "qualifier", "unit_code",
               "estimated", "year", "value_raw"]
WIDE_HEADER = ["source_file", "Source", "Country", "Type"]

#: Commodity code in the per-commodity file names -> USGS commodity name (as in minerals.csv).
FILE_CODES: dict[str, str] = {
    "alumi": "Aluminum", "antim": "Antimony", "arsen": "Arsenic", "asbes": "Asbestos",
    "barit": "Barite", "bauxi": "Bauxite", "beryl": "Beryllium", "bismu": "Bismuth",
    "boron": "Boron", "cadmi": "Cadmium", "chrom": "Chromium", "clays": "Clays",
    "cobal": "Cobalt", "coppe": "Copper", "diato": "Diatomite",
    "felds": "Feldspar And Nepheline Syenite", "feore": "Iron Ore", "fluor": "Fluorspar",
    "galli": "Gallium", "germa": "Germanium", "gold": "Gold", "graph": "Graphite (Natural)",
    "gypsu": "Gypsum", "heliu": "Helium", "indiu": "Indium", "lead": "Lead",
    "lithi": "Lithium", "manga": "Manganese", "mercu": "Mercury",
    "mgcomp": "Magnesium Compounds", "mgmet": "Magnesium Metal", "molyb": "Molybdenum",
    "nicke": "Nickel", "niobi": "Niobium (Columbium)", "phosp": "Phosphate Rock",
    "plati": "Platinum-Group Metals", "potas": "Potash", "raree": "Rare Earths",
    "rheni": "Rhenium", "selen": "Selenium", "silve": "Silver", "simet": "Silicon",
    "stron": "Strontium", "sulfu": "Sulfur", "tanta": "Tantalum", "tellu": "Tellurium",
    "timin": "Titanium Mineral Concentrates", "tin": "Tin", "titan": "Titanium Sponge Metal",
    "tungs": "Tungsten", "vanad": "Vanadium", "zinc": "Zinc", "zirco": "Zirconium",
    "zirco-hafni": "Zirconium",
}

#: Unit codes of the wide/long files -> unit names of reference/units.csv.
UNIT_CODES = {"t": "t", "kt": "kt", "mt": "million metric tons", "mmt": "million metric tons",
              "kg": "kg", "mct": "million carats", "kct": "thousand carats",
              "mcm": "million cubic meters"}

#: Stage of a mineral's production when the statistic does not say.
DEFAULT_STAGE = {"aluminium": "smelter", "magnesium": "smelter", "silicon": "smelter",
                 "alumina": "refinery", "bismuth": "refinery", "cadmium": "refinery",
                 "selenium": "refinery", "tellurium": "refinery", "indium": "refinery",
                 "germanium": "refinery", "gallium": "refinery", "arsenic": "refinery"}

#: (mineral, stage) whose sub-statistics are additive parts of one total in the same basis.
ADDITIVE = {("titanium", "mine"), ("titanium", "reserves"), ("silicon", "smelter")}

_ELEMENTS = {
    "lithium": "Li", "cobalt": "Co", "nickel": "Ni", "manganese": "Mn", "copper": "Cu",
    "gallium": "Ga", "germanium": "Ge", "tungsten": "W", "antimony": "Sb", "vanadium": "V",
    "niobium": "Nb", "tantalum": "Ta", "molybdenum": "Mo", "chromium": "Cr", "indium": "In",
    "tellurium": "Te", "bismuth": "Bi", "beryllium": "Be", "magnesium": "Mg", "tin": "Sn",
    "zinc": "Zn", "lead": "Pb", "silicon": "Si", "selenium": "Se", "cadmium": "Cd",
    "mercury": "Hg", "gold": "Au", "silver": "Ag", "rhenium": "Re", "strontium": "Sr",
    "sulfur": "S", "iron": "Fe", "bromine": "Br", "vanadium pentoxide": "V2O5",
    "platinum-group-metal": "PGM", "pgm": "PGM", "arsenic": "As", "aluminum": "Al", "titanium": "Ti",
}
_ELEMENT_RE = "|".join(sorted((re.escape(k) for k in _ELEMENTS), key=len, reverse=True))

#: (pattern on lower-cased text, basis) in priority order.
_BASIS_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"cr2o3"), "Cr2O3"),
    (re.compile(r"k2o"), "K2O"),
    (re.compile(r"tio2|titanium dioxide"), "TiO2 content"),
    (re.compile(r"zro2"), "ZrO2"),
    (re.compile(r"y2o3"), "Y2O3"),
    (re.compile(r"\bmgo\b|magnesium oxide"), "MgO"),
    (re.compile(r"boric oxide|b2o3"), "B2O3"),
    (re.compile(r"arsenic trioxide"), "As2O3"),
    (re.compile(r"\breo\b|rare-earth-oxide"), "REO"),
    (re.compile(r"gross weight|grosss weight|usable ore|crude ore|recoverable ore|"
                r"reserves: ore\b|chromite ore|dry tons"), "gross"),
    (re.compile(rf"\b({_ELEMENT_RE}) content"), "{} content"),
    (re.compile(rf"contained ({_ELEMENT_RE})\b"), "{} content"),
    (re.compile(rf"tons of contained ({_ELEMENT_RE})\b"), "{} content"),
]

_QUALITATIVE = re.compile(r"^(large|small|very small|moderate|moderate to large|"
                          r"categorized as \"?large\"?)$", re.I)
_NUMBER = re.compile(r"^\d+(?:,\d{3})*(?:\.\d+)?$|^\d+(?:\.\d+)?$")
_AGGREGATE = re.compile(r"^(world( total)?\b|other( countries)?$|other countries\b)", re.I)


@dataclass(frozen=True)
class Fact:
    """One published statistic before normalisation (shared by all three layouts)."""

    line: int
    year: int
    country: str
    commodity: str
    measure: str  # production | capacity | reserves
    detail: str  # statistic text: Statistics_detail or the wide/long "type"
    section: str
    chapter_note: str
    unit: str  # unit name of reference/units.csv
    raw: str
    estimated: bool
    note: str = ""
    qualifier: str = ""


# ----------------------------------------------------------------------------- reference data

@cache
def _minerals_by_commodity() -> dict[str, tuple[str, str]]:
    """USGS commodity name (lower case) -> (mineral id, default basis)."""
    return {name.lower(): (m.mineral, m.basis) for m in reference.minerals().values()
            for name in m.usgs_commodities}


# ----------------------------------------------------------------------------- detection

def _layout(header: str) -> str | None:
    header = re.split(r"[\r\n]", header, maxsplit=1)[0]  # a bare CR ends a line too
    cols = next(csv.reader([header]), [])
    cols = [c.strip() for c in cols]
    if cols[: len(COMBINED_HEADER)] == COMBINED_HEADER:
        return "combined"
    if cols[: len(LONG_HEADER)] == LONG_HEADER:
        return "long"
    if cols[:4] == WIDE_HEADER and any(c.startswith(("Prod_", "Reserves_", "Cap_")) for c in cols):
        return "wide"
    return None


FILE_NAMES = re.compile(r"^MCS\d{4}_Commodities_Data.*\.csv$|^mcs\d{4}_world_production.*\.csv$",
                        re.IGNORECASE)


def detect(path: Path, header: str) -> bool:
    """True for the MCS world production/reserves layouts (not salient statistics or trends)."""
    return _layout(header.removeprefix("\ufeff")) is not None


# ----------------------------------------------------------------------------- reading

def _rows(path: Path, text: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Header and (line, cells) of a CSV text; lines count physical lines (header = 1)."""
    if not text.strip():
        raise InputError(path, "empty file: expected a USGS MCS header", line=1)
    return inputs.csv_table(text, path)


def _edition(path: Path, first: str | None) -> str:
    if first and re.fullmatch(r"MCS\d{4}", first.strip(), re.I):
        return first.strip().upper()
    m = re.search(r"mcs[ _-]?(\d{4})", path.name, re.I)
    if m:
        return f"MCS{m.group(1)}"
    raise InputError(path, "cannot tell the MCS edition from the file name or its rows", line=2)


def _year(path: Path, line: int, field: str, text: str) -> int:
    t = text.strip()
    if not re.fullmatch(r"\d{4}", t):
        raise InputError(path, f"not a year: {t!r}", line=line, field=field)
    return int(t)


def _combined_facts(path: Path, text: str) -> tuple[str, list[Fact]]:
    header, rows = _rows(path, text)
    expect_header(path, header, COMBINED_HEADER)
    ix = {h: i for i, h in enumerate(header)}
    facts: list[Fact] = []
    for line, c in rows:
        section = c[ix["Section"]].strip()
        if (not section.lower().startswith("world")
                and c[ix["Statistics"]].strip().lower() != NIR_STATISTIC.lower()):
            continue  # US salient statistics (but net import reliance) and import sources
        stat = c[ix["Statistics"]].strip().lower()
        measure = {"production": "production", "capacity": "capacity",
                   "reserves": "reserves", NIR_STATISTIC.lower(): "reliance"}.get(stat)
        if measure is None:
            continue
        note = c[ix["Notes"]].strip() if "Notes" in ix else ""
        facts.append(Fact(
            line=line, year=_year(path, line, "Year", c[ix["Year"]]),
            country=c[ix["Country"]].strip(), commodity=c[ix["Commodity"]].strip(),
            measure=measure, detail=c[ix["Statistics_detail"]].strip(), section=section,
            chapter_note=c[ix["Other notes"]].strip() if "Other notes" in ix else "",
            unit=c[ix["Unit"]].strip(), raw=c[ix["Value"]].strip(),
            estimated=note.lower().startswith("estimated"), note=note,
        ))
    return _edition(path, None), facts


def _file_commodity(source_file: str) -> str:
    """``mcs2024-cobal_world.csv`` -> ``Cobalt`` (empty when the code is unknown)."""
    name = source_file.strip().lower()
    m = re.search(r"mcs\d{4}-([a-z-]+?)_world\.csv$", name)
    if not m:
        return ""
    code = m.group(1)
    return FILE_CODES.get(code) or FILE_CODES.get(code.split("-")[0], f"file code {code}")


def _long_facts(path: Path, text: str) -> tuple[str, list[Fact]]:
    header, rows = _rows(path, text)
    expect_header(path, header, LONG_HEADER)
    ix = {h: i for i, h in enumerate(header)}
    facts: list[Fact] = []
    edition: str | None = None
    for line, c in rows:
        edition = edition or c[ix["edition"]].strip()
        unit_code = c[ix["unit_code"]].strip()
        est = c[ix["estimated"]].strip().lower()
        if est not in {"true", "false"}:
            raise InputError(path, f"estimated must be True or False, not {est!r}",
                             line=line, field="estimated")
        facts.append(Fact(
            line=line, year=_year(path, line, "year", c[ix["year"]]),
            country=c[ix["country"]].strip(),
            commodity=_file_commodity(c[ix["source_file"]]),
            measure=c[ix["measure"]].strip().lower(), detail=c[ix["type"]].strip(),
            section="", chapter_note="", unit=_unit_code(path, line, "unit_code", unit_code),
            raw=c[ix["value_raw"]].strip(), estimated=est == "true",
            qualifier=c[ix["qualifier"]].strip(),
        ))
    return _edition(path, edition), facts


def _unit_code(path: Path, line: int, field: str, code: str) -> str:
    unit = UNIT_CODES.get(code.lower())
    if unit is None:
        raise InputError(path, f"unknown unit code {code!r}", line=line, field=field)
    return unit


_WIDE_COL = re.compile(
    r"^(Prod|Cap|Reserves)(?:_(Sponge|Pigment|ore_K2O_equiv|ore))?_([A-Za-z]+?)"
    r"(?:_(est|Est))?(?:_(\d{4}))?$")


def _wide_facts(path: Path, text: str) -> tuple[str, list[Fact]]:
    header, rows = _rows(path, text)
    expect_header(path, header, WIDE_HEADER)
    cols: list[tuple[int, str, str, str, str, bool, int | None]] = []
    for i, h in enumerate(header):
        m = _WIDE_COL.match(h)
        if m and m.group(3).lower() in UNIT_CODES:
            kind, qual, unit, est, year = m.groups()
            measure = {"Prod": "production", "Cap": "capacity", "Reserves": "reserves"}[kind]
            cols.append((i, h, measure, qual or "", unit, bool(est),
                         int(year) if year else None))
    if not cols:
        raise InputError(path, "unexpected header: no Prod_/Cap_/Reserves_ value columns",
                         line=1)
    years = [c[6] for c in cols if c[6] is not None]
    latest = max(years) if years else None
    facts: list[Fact] = []
    edition: str | None = None
    for line, c in rows:
        edition = edition or c[1].strip()
        for i, h, measure, qual, unit, est, year in cols:
            raw = c[i].strip()
            if raw == "":
                continue  # the column belongs to another commodity's file
            y = year if year is not None else latest
            if y is None:
                raise InputError(path, "no year for reserves column", line=1, field=h)
            facts.append(Fact(
                line=line, year=y, country=c[2].strip(), commodity=_file_commodity(c[0]),
                measure=measure, detail=c[3].strip(), section="", chapter_note="",
                unit=_unit_code(path, line, h, unit), raw=raw, estimated=est,
                qualifier=qual,
            ))
    return _edition(path, edition), facts


def read_facts(path: Path) -> tuple[str, str, list[Fact]]:
    """Layout, edition (``MCS2024``) and the published facts of a file, aggregates included."""
    path = Path(path)
    layout = _layout(_first_line(path))
    if layout == "combined":
        text = read_text(path, "cp1252")
        return layout, *_combined_facts(path, text)
    text = read_text(path, "utf-8")
    if not text.strip():
        raise InputError(path, "empty file: expected a USGS MCS header", line=1)
    if layout == "long":
        return layout, *_long_facts(path, text)
    if layout == "wide":
        return layout, *_wide_facts(path, text)
    header = text.splitlines()[0] if text.strip() else ""
    raise InputError(path, "unexpected header: not a USGS MCS world production layout "
                     f"(found {header[:120]!r})", line=1)


def _first_line(path: Path) -> str:
    with open(path, "rb") as f:
        raw = f.readline(64 * 1024)
    return raw.decode("cp1252", errors="replace").removeprefix("\ufeff").lstrip("ï»¿").strip()


# ----------------------------------------------------------------------------- normalising

@dataclass
class _Row:
    line: int
    year: int
    country: str
    mineral: str
    stage: str  # production stage, or "reserves"
    value: float | None
    unit: str
    basis: str
    estimated: bool
    flag: str | None
    detail: str

    @property
    def key(self) -> tuple[object, ...]:
        return (self.year, self.country, self.mineral, self.stage, self.unit, self.basis)


def parse_value(raw: str, note: str = "") -> tuple[float | None, str | None, bool] | str:
    """(value in the published unit, flag, estimated) for a USGS value; a string is a problem.

    >>> parse_value("1,234")
    (1234.0, None, False)
    >>> parse_value(">5,000")
    (5000.0, 'lower_bound', False)
    >>> parse_value("W")
    (None, 'withheld', False)
    """
    v = " ".join(raw.replace("\xa0", " ").split())
    est = False
    m = re.fullmatch(r"[eE]\s*([\d,.]+)|([\d,.]+)\s*[eE]", v)
    if m:
        v, est = m.group(1) or m.group(2), True
    low = v.lower()
    if v in {"—", "–", "-", "--", "0"}:
        return 0.0, None, est
    if v == "W":
        return None, "withheld", est
    if v in {"", "NA", "XX", "E"} or low.startswith(("included", "not available", "na ")):
        return None, "not_available", est
    if v == "s" and "included" in note.lower():
        return None, "not_available", est  # "s": see note, here "Included with ..."
    if v == "s" or low.startswith("less than ½") or low.startswith("less than 1/2"):
        return 0.5, "upper_bound", est
    if _QUALITATIVE.match(v):
        return None, "qualitative", est
    if v.startswith("-") and _NUMBER.match(v[1:].strip()):
        return f"negative value {raw!r}"
    flag = None
    if v[:1] in "><":
        flag = "lower_bound" if v[0] == ">" else "upper_bound"
        v = v[1:].strip()
    rng = re.fullmatch(r"([\d,.]+)\s*-\s*([\d,.]+)", v)
    if rng and flag is None:
        v, flag = rng.group(1), "lower_bound"
    if not _NUMBER.match(v):
        return f"not a number: {raw!r}"
    return float(v.replace(",", "")), flag, est


def _basis(texts: Iterable[str], mineral: str) -> str:
    for text in texts:
        t = text.lower()
        if not t:
            continue
        for pattern, basis in _BASIS_RULES:
            m = pattern.search(t)
            if m:
                if "{}" in basis:
                    return basis.format(_ELEMENTS[m.group(1)])
                return basis
    m = reference.minerals().get(mineral)
    return m.basis if m else "gross"


def _stage(f: Fact, mineral: str, commodity: str) -> str:
    if f.measure == "reserves":
        return "reserves"
    t = f"{f.detail} {f.qualifier}".lower()
    if f.measure == "capacity" or ("capacity" in t and "production" not in t):
        return "capacity"
    if "sponge" in t or "sponge" in commodity.lower():
        return "refinery"
    if "refinery" in t or "primary production" in t or "refined" in t:
        return "refinery"
    if "smelter" in t:
        return "smelter"
    if "mine" in t or "mne " in t:
        return "mine"
    s = f.section.lower()
    for word, stage in (("refinery", "refinery"), ("smelter", "smelter"), ("mine", "mine")):
        if word in s and mineral not in DEFAULT_STAGE:
            return stage
    return DEFAULT_STAGE.get(mineral, "mine")


def _resolve_mineral(f: Fact) -> tuple[str | None, str]:
    """(mineral id or None, commodity name used) for a fact."""
    commodity = f.commodity
    text = f"{f.detail} {f.section}".lower()
    if commodity == "Platinum-Group Metals":
        if f.measure == "reserves":
            commodity = "Platinum-Group Metals"
        elif "palladium" in text:
            commodity = "Palladium"
        elif "platinum" in text:
            commodity = "Platinum"
    elif commodity in {"Platinum", "Palladium"} and f.measure == "reserves":
        commodity = "Platinum-Group Metals"
    elif commodity == "Bauxite" and "alumina" in f.detail.lower():
        commodity = "Alumina"
    elif commodity == "Clays":
        if "kaolin" not in f.detail.lower():
            return None, f"Clays ({f.detail})"
    elif commodity == "Titanium Sponge Metal" and f.qualifier == "Pigment":
        return None, "TiO2 pigment"
    hit = _minerals_by_commodity().get(commodity.lower())
    return (hit[0] if hit else None), commodity


def _clean_name(name: str) -> str:
    """Whitespace normalised, footnote digits stripped (``United\xa0States1`` -> ``United States``)."""
    return re.sub(r"\d+$", "", " ".join(name.replace("\xa0", " ").split())).strip()


def country_of(codes: CountryCodes, name: str) -> tuple[str, str] | None:
    """(ISO3, qualifier) for a USGS country cell, or None when the name is unknown.

    USGS glues footnote marks (``New Caledonia11``, ``Russiae``) and sub-statistics
    (``Argentina, crude ore``, ``Russia (recoverable)``) to country names; the qualifier is
    returned so that it can inform the basis and the duplicate check.
    """
    clean = _clean_name(name)
    for cand in (name.strip(), clean):
        if (iso3 := codes.from_name(cand)) is not None:
            return iso3, ""
    if re.search(r"[a-z]{2}[a-z]$", clean) and (iso3 := codes.from_name(clean[:-1])):
        return iso3, ""  # footnote letter glued to the name, e.g. "Russiae"
    m = re.fullmatch(r"(.+?)\s*\((.+)\)", clean) or re.fullmatch(r"(.+?),\s*(.+)", clean)
    if m and (iso3 := codes.from_name(m.group(1))) is not None:
        return iso3, m.group(2)
    return None


def is_aggregate(name: str) -> bool:
    """True for ``World total (rounded)``, ``Other countries`` and the like."""
    return bool(_AGGREGATE.match(_clean_name(name)))


#: Codes of the rows that are not countries (see ``reference/country_aliases.csv``).
WORLD, REST_OF_WORLD = "WLD", "XRW"


def aggregate_code(name: str) -> str:
    """``WLD`` for a ``World total ...`` row, ``XRW`` for ``Other countries``.

    >>> aggregate_code("World total (rounded)"), aggregate_code("Other countries4")
    ('WLD', 'XRW')
    """
    return WORLD if _clean_name(name).lower().startswith("world") else REST_OF_WORLD


def _normalise(path: Path, f: Fact, codes: CountryCodes | None) -> _Row | str:
    """The canonical row for a fact, or the reason (a note) why it is skipped."""
    mineral, commodity = _resolve_mineral(f)
    if mineral is None:
        return f"commodity {commodity!r} maps to no critmin mineral: skipped"
    if f.measure not in {"production", "capacity", "reserves"}:
        raise InputError(path, f"unknown measure {f.measure!r}", line=f.line, field="measure")
    if "rounded" in f.detail.lower() and not is_aggregate(f.country):
        return "':rounded' duplicate of a country row: dropped"
    field = "Value" if f.section else "value_raw"
    parsed = parse_value(f.raw, f.note)
    if isinstance(parsed, str):
        raise InputError(path, parsed, line=f.line, field=field)
    value, flag, est = parsed
    unit = reference.unit_factor(f.unit)
    if unit is None:
        raise InputError(path, f"unknown unit {f.unit!r}", line=f.line, field="Unit")
    canonical, factor = unit
    if value is not None:
        value = value * factor
    qualifier = ""
    if codes is None:
        country = f.country
    elif is_aggregate(f.country):
        country = aggregate_code(f.country)
        if country == WORLD and flag is None and "rounded" in f"{f.country} {f.detail}".lower():
            flag = "rounded_total"
    else:
        hit = country_of(codes, f.country)
        if hit is None:
            raise InputError(path, f"unknown country name {f.country!r}", line=f.line,
                             field="Country")
        country, qualifier = hit
    if qualifier:
        f = replace(f, detail=f"{f.detail} ({qualifier})")
    stage = _stage(f, mineral, commodity)
    qual = {"ore": "recoverable ore", "ore_K2O_equiv": "K2O equivalent"}.get(f.qualifier, "")
    texts = [qual, f.detail, f.section, f.note, f.chapter_note.split(")")[0]]
    if commodity == "Titanium Sponge Metal":
        texts = ["titanium content"]
    basis = _basis(texts, mineral)
    return _Row(f.line, f.year, country, mineral, stage, value, canonical, basis,
                est or f.estimated, flag, f.detail)


def _merge(rows: list[_Row], notes: list[str]) -> list[_Row]:
    """One row per canonical key: see the module docstring."""
    out: dict[tuple[object, ...], _Row] = {}
    for r in rows:
        old = out.get(r.key)
        if old is None or (old.value is None and r.value is not None):
            out[r.key] = r
        elif r.value is None:
            continue
        elif r.country == WORLD:  # totals of parts and of the whole (ilmenite, rutile, both)
            if r.value > old.value:
                out[r.key] = r
        elif (r.mineral, r.stage) in ADDITIVE and old.detail != r.detail:
            flag = old.flag if old.flag == r.flag else (old.flag or r.flag)
            out[r.key] = replace(old, value=old.value + r.value, flag=flag,
                                 estimated=old.estimated or r.estimated,
                                 detail=f"{old.detail} + {r.detail}")
        elif old.value != r.value:
            notes.append(f"line {r.line}: {r.mineral} {r.stage} {r.country} {r.year} "
                         f"'{r.detail}' = {r.value:g} clashes with line {old.line} "
                         f"'{old.detail}' = {old.value:g}: kept line {old.line}")
    return list(out.values())




def _table(rows: list[_Row], source_id: str, reserves: bool) -> pa.Table:
    rows = sorted(rows, key=lambda r: r.line)
    data: dict[str, list[object]] = {
        "year": [r.year for r in rows], "country": [r.country for r in rows],
        "mineral": [r.mineral for r in rows],
    }
    if not reserves:
        data["stage"] = [r.stage for r in rows]
    data["value"] = [r.value for r in rows]
    data["unit"] = [r.unit for r in rows]
    data["basis"] = [r.basis for r in rows]
    if not reserves:
        data["estimated"] = [r.estimated for r in rows]
    data["flag"] = [r.flag for r in rows]
    data["source_id"] = [source_id] * len(rows)
    data["_line"] = [r.line for r in rows]
    return pa.table(data, schema=schema.parser_schema("reserves" if reserves else "production"))


def source_meta(layout: str, edition: str, path: Path) -> SourceMeta:
    """Source metadata for a file of ``layout`` and ``edition``."""
    suffix = {"combined": "", "long": "-world-long", "wide": "-world-wide"}[layout]
    title = f"Mineral Commodity Summaries {edition[3:]}"
    title += " data release" if layout == "combined" else f" world production and reserves ({layout})"
    return SourceMeta(
        source_id=f"usgs-{edition.lower()}{suffix}", family=FAMILY, release=edition,
        publisher=PUBLISHER, title=title, licence=LICENCE,
        url=URLS.get(edition, f"https://doi.org/10.3133/{edition.lower()}"),
        # an edition reports the few years before it (MCS2026: 2023-2025)
        years=(int(edition[3:]) - 5, int(edition[3:])) if edition[3:].isdigit() else None,
    )


def parse(path: Path, ctx: Context) -> Parsed:
    """Production and reserves rows (values in canonical units, t for masses) of an MCS file."""
    path = Path(path)
    layout, edition, facts = read_facts(path)
    meta = source_meta(layout, edition, path)
    notes: list[str] = []
    skipped: dict[str, int] = {}
    prod: list[_Row] = []
    res: list[_Row] = []
    aggregates = 0
    reliance = [f for f in facts if f.measure == "reliance"]
    facts = [f for f in facts if f.measure != "reliance"]
    for f in facts:
        r = _normalise(path, f, ctx.codes)
        if isinstance(r, str):
            skipped[r] = skipped.get(r, 0) + 1
            continue
        aggregates += is_aggregate(f.country)
        if r.value is None and r.country in (WORLD, REST_OF_WORLD):
            skipped["aggregate without a value: skipped"] = skipped.get(
                "aggregate without a value: skipped", 0) + 1
            continue
        if r.mineral not in ctx.minerals:
            skipped[f"mineral {r.mineral!r} not in the catalogue: skipped"] = 1
            continue
        (res if r.stage == "reserves" else prod).append(r)
    notes += [f"{n} ({k} value(s))" for n, k in sorted(skipped.items())]
    if aggregates:
        notes.append(f"{aggregates} 'World total'/'Other countries' values kept as rows WLD/XRW "
                     "(not countries)")
    prod = _merge(prod, notes)
    res = _merge(res, notes)
    tables = {"production": _table(prod, meta.source_id, False),
              "reserves": _table(res, meta.source_id, True)}
    if reliance:
        tables["reported_reliance"] = _reliance_table(path, reliance, ctx, meta.source_id, notes)
    return Parsed(meta=meta, tables=tables, notes=notes)


def _reliance_table(path: Path, facts: list[Fact], ctx: Context, source_id: str,
                    notes: list[str]) -> pa.Table:
    """The United States' net import reliance as USGS reports it (percent of apparent
    consumption): ``>95`` -> 95, ``lower_bound``; ``<25`` -> 25, ``upper_bound``; ``E`` (net
    exporter) -> null, ``net_exporter``; ``NA``/``W`` -> null with that flag."""
    cols: dict[str, list[object]] = {k: [] for k in (
        "year", "country", "mineral", "detail", "value", "flag", "estimated", "note",
        "source_id", "_line")}
    seen: set[tuple[object, ...]] = set()
    skipped: dict[str, int] = {}
    for f in facts:
        mineral, commodity = _resolve_mineral(f)
        if mineral is None or mineral not in ctx.minerals:
            skipped[commodity] = skipped.get(commodity, 0) + 1
            continue
        iso3 = country_of(ctx.codes, f.country) if ctx.codes is not None else None
        if iso3 is None:
            raise InputError(path, f"unknown country name {f.country!r}", line=f.line,
                             field="Country")
        raw = f.raw.strip()
        if raw.upper() == "E":
            value, flag, est = None, "net_exporter", False
        else:
            parsed = parse_value(raw, f.note)
            if isinstance(parsed, str):
                raise InputError(path, parsed, line=f.line, field="Value")
            value, flag, est = parsed
        detail = f"{f.commodity}: {f.detail or NIR_STATISTIC}"
        key = (f.year, iso3[0], mineral, detail)
        if key in seen:
            notes.append(f"line {f.line}: second net import reliance for {mineral} {f.year} "
                         f"'{detail}': kept the first")
            continue
        seen.add(key)
        for k, v in (("year", f.year), ("country", iso3[0]), ("mineral", mineral),
                     ("detail", detail), ("value", value), ("flag", flag),
                     ("estimated", est or f.estimated), ("note", f.note or None),
                     ("source_id", source_id), ("_line", f.line)):
            cols[k].append(v)
    if skipped:
        notes.append(f"net import reliance of {len(skipped)} commodities that map to no critmin "
                     f"mineral skipped ({sum(skipped.values())} value(s))")
    return pa.table(cols, schema=pa.schema([
        ("year", pa.int16()), ("country", pa.string()), ("mineral", pa.string()),
        ("detail", pa.string()), ("value", pa.float64()), ("flag", pa.string()),
        ("estimated", pa.bool_()), ("note", pa.string()), ("source_id", pa.string()),
        ("_line", pa.int64())]))


def aggregates(path: Path) -> pa.Table:
    """The ``World total`` and ``Other countries`` values of a file, normalised like country rows.

    Columns: year, aggregate (the published name), mineral, stage (``reserves`` for reserves),
    value, unit, basis, flag, _line. Used to check that country rows add up to the totals.
    """
    path = Path(path)
    _, _, facts = read_facts(path)
    rows = []
    for f in facts:
        if not is_aggregate(f.country):
            continue
        r = _normalise(path, f, None)
        if isinstance(r, str):
            continue
        rows.append(r)
    return pa.table({
        "year": pa.array([r.year for r in rows], pa.int16()),
        "aggregate": [r.country for r in rows], "mineral": [r.mineral for r in rows],
        "stage": [r.stage for r in rows], "value": pa.array([r.value for r in rows], pa.float64()),
        "unit": [r.unit for r in rows], "basis": [r.basis for r in rows],
        "flag": pa.array([r.flag for r in rows], pa.string()),
        "_line": pa.array([r.line for r in rows], pa.int64()),
    })
