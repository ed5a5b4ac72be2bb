"""World Mining Data (Austrian Federal Ministry of Finance) and the GeoPolRisk material-to-HS map.

Two layouts are recognised:

``production``
    ``world_mining_data_2018_2024_long.csv``: ``commodity, country, m49, iso3, year, value, unit,
    data_source`` ("Production of Mineral Raw Materials of individual Countries by Minerals",
    one row per commodity, country and year). Rows go to ``production``:

    - ``country``: ISO3 from the ``iso3`` column through the World Bank code aliases
      (``CountryCodes.from_wb``: WMD's ``S19`` -> TWN, ``R20`` -> XKX). World totals (``DELETE``)
      are kept as rows of ``WLD``, which is not a country (``countries.kind = 'world'``).
      When two countries of one commodity carry the same code (WMD codes French
      Guiana's gold as ``GUY``, Guyana's code), the row whose name resolves to another country
      takes that country's code (GUF) and a note says so.
    - ``mineral``: the critmin id whose ``wmd_commodities`` (reference/minerals.csv) lists the
      commodity; a commodity without one is an error (every WMD table has a mineral).
    - ``stage``/``basis``: per commodity (:data:`COMMODITIES`): processed products are
      ``smelter`` (aluminium) or ``refinery`` (by-product metals, arsenic trioxide, sulfur), the
      rest ``mine``; the content basis comes from the name (``Lithium (Li2O)`` -> Li2O, ``Rare
      Earths (REO)`` -> REO, ...) or is the metal content WMD reports for metals (``Cu content``),
      ``gross`` for industrial minerals, fuels and processed metals.
    - ``value``/``unit``: units are looked up in ``reference/units.csv``. A unit whose factor to
      the canonical unit is 1 is renamed (``metr. t`` -> ``t``); any other unit (``kg`` for the
      precious metals, ``Mio m3`` for natural gas) is kept as published (lower-cased, a key of the
      ``units`` table) with its value untouched, so that the published figure stays exact and
      consumers convert with ``units.factor``. (GeoPolRisk in ``compat`` mode needs the exact
      published figures: the tool truncates them to integers before squaring.)
    - empty value -> ``value`` null, flag ``not_available``; ``data_source`` ``e`` ->
      ``estimated``; ``p`` (provisional, a reported preliminary figure) -> flag ``provisional``.

``hs map``
    ``wmd_commodity_hs_map.csv``: ``commodity, material, category, stage, symbol, eol_rir_2023,
    hs_code, hs_code_complementary, description``, the material definition of the GeoPolRisk
    method as published by the geopolrisk-py project. Rows go to ``material_hs_map``: one row per
    commodity and HS92 code (``complementary`` = false for the main code, true for each code of
    the ``;``-separated complementary list); commodities whose code is ``Not Available`` give no
    row (noted).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from critmin import reference
from critmin.errors import InputError
from critmin.sources.base import (
    Context,
    Parsed,
    SourceMeta,
    csv_rows,
    expect_header,
    read_text,
    years_in_name,
)

NAME = "World Mining Data"
_PROD = ["commodity", "country", "m49", "iso3", "year", "value", "unit", "data_source"]
_MAP = ["commodity", "material", "stage", "eol_rir_2023", "hs_code", "hs_code_complementary"]

#: WMD commodity -> (stage, basis). Stage ``mine`` unless the table is a processed product.
COMMODITIES: dict[str, tuple[str, str]] = {
    "Aluminium": ("smelter", "gross"),
    "Antimony": ("mine", "Sb content"),
    "Arsenic": ("refinery", "As2O3"),
    "Asbestos": ("mine", "gross"),
    "Baryte": ("mine", "gross"),
    "Bauxite": ("mine", "gross"),
    "Bentonite": ("mine", "gross"),
    "Beryllium (conc.)": ("mine", "gross"),
    "Bismuth": ("mine", "Bi content"),
    "Boron Minerals": ("mine", "gross"),
    "Cadmium": ("refinery", "gross"),
    "Chromium (Cr2O3)": ("mine", "Cr2O3"),
    "Cobalt": ("mine", "Co content"),
    "Coking Coal": ("mine", "gross"),
    "Copper": ("mine", "Cu content"),
    "Diamonds (Gem)": ("mine", "gross"),
    "Diamonds (Ind)": ("mine", "gross"),
    "Diatomite": ("mine", "gross"),
    "Feldspar": ("mine", "gross"),
    "Fluorspar": ("mine", "gross"),
    "Gallium": ("refinery", "gross"),
    "Germanium": ("refinery", "gross"),
    "Gold": ("mine", "Au content"),
    "Graphite": ("mine", "gross"),
    "Gypsum and Anhydrite": ("mine", "gross"),
    "Indium": ("refinery", "gross"),
    "Iron (Fe)": ("mine", "Fe content"),
    "Kaolin (China-Clay)": ("mine", "gross"),
    "Lead": ("mine", "Pb content"),
    "Lignite": ("mine", "gross"),
    "Lithium (Li2O)": ("mine", "Li2O"),
    "Magnesite": ("mine", "gross"),
    "Manganese": ("mine", "Mn content"),
    "Mercury": ("mine", "Hg content"),
    "Molybdenum": ("mine", "Mo content"),
    "Natural Gas": ("mine", "gross"),
    "Nickel": ("mine", "Ni content"),
    "Niobium (Nb2O5)": ("mine", "Nb2O5"),
    "Oil Sands (part of Petroleum)": ("mine", "gross"),
    "Oil Shales": ("mine", "gross"),
    "Palladium": ("mine", "Pd content"),
    "Perlite": ("mine", "gross"),
    "Petroleum": ("mine", "gross"),
    "Phosphate Rock (P2O5)": ("mine", "P2O5"),
    "Platinum": ("mine", "Pt content"),
    "Potash (K2O)": ("mine", "K2O"),
    "Rare Earths (REO)": ("mine", "REO"),
    "Rhenium": ("refinery", "gross"),
    "Rhodium": ("mine", "Rh content"),
    "Salt (rock, brines, marine)": ("mine", "gross"),
    "Selenium": ("refinery", "gross"),
    "Silver": ("mine", "Ag content"),
    "Steam Coal": ("mine", "gross"),
    "Sulfur (elementar & industrial)": ("refinery", "gross"),
    "Talc, Steatite & Pyrophyllite": ("mine", "gross"),
    "Tantalum (Ta2O5)": ("mine", "Ta2O5"),
    "Tellurium": ("refinery", "gross"),
    "Tin": ("mine", "Sn content"),
    "Titanium (TiO2)": ("mine", "TiO2"),
    "Tungsten (W)": ("mine", "W content"),
    "Uranium (U3O8)": ("mine", "U3O8"),
    "Vanadium (V)": ("mine", "V content"),
    "Vermiculite": ("mine", "gross"),
    "Zinc": ("mine", "Zn content"),
    "Zircon": ("mine", "gross"),
}

_WMD_META = dict(
    family="wmd",
    publisher="Austrian Federal Ministry of Finance (World Mining Data)",
    title="World Mining Data: Production of Mineral Raw Materials of individual Countries by Minerals",
    licence="World Mining Data terms: use for tests and benchmarks only, do not redistribute",
    url="https://www.world-mining-data.info",
)
MAP_SOURCE_ID = "geopolrisk-py-hs-map"


FILE_NAMES = re.compile(r"^world_mining_data.*\.csv$|^wmd_commodity_hs_map.*\.csv$", re.IGNORECASE)


def _cols(header: str) -> set[str]:
    return {c.strip().strip('"').lstrip("\ufeff") for c in header.split(",")}


def detect(path: Path, header: str) -> bool:
    cols = _cols(header)
    return set(_PROD) <= cols or set(_MAP) <= cols


def wmd_minerals() -> dict[str, str]:
    """WMD commodity name -> critmin mineral id, from ``reference/minerals.csv``."""
    return {name: m.mineral for m in reference.minerals().values() for name in m.wmd_commodities}


def unit_as_stored(published: str) -> str | None:
    """The unit a WMD value is stored in: the canonical unit when the factor is 1, else as published.

    >>> unit_as_stored("metr. t"), unit_as_stored("kg"), unit_as_stored("Mio m3")
    ('t', 'kg', 'mio m3')
    """
    found = reference.unit_factor(published)
    if found is None:
        return None
    canonical, factor = found
    return canonical if factor == 1 else " ".join(published.split()).lower()


def parse(path: Path, ctx: Context) -> Parsed:
    path = Path(path)
    text = read_text(path, "utf-8")
    rows = csv_rows(path, text)
    header = [c.strip() for c in next(rows, (1, []))[1]]
    if not header:
        raise InputError(path, "empty file", line=1)
    if "hs_code" in header:
        expect_header(path, header, _MAP)
        return _parse_map(path, header, rows, ctx)
    expect_header(path, header, _PROD)
    return _parse_production(path, header, rows, ctx)


def _parse_production(path: Path, header: list[str], rows: Iterator[tuple[int, list[str]]],
                      ctx: Context) -> Parsed:
    ix = {c: i for i, c in enumerate(header)}
    minerals = wmd_minerals()
    out: dict[str, list] = {k: [] for k in (
        "year", "country", "mineral", "stage", "value", "unit", "basis", "estimated", "flag",
        "_line")}
    names: list[str] = []
    notes: list[str] = []
    for lineno, row in rows:
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(path, f"expected {len(header)} fields, found {len(row)}", line=lineno)
        code = row[ix["iso3"]].strip()
        if code.upper() == "DELETE":  # the world total: kept as a row that is not a country
            code = "WLD"
        commodity = row[ix["commodity"]].strip()
        if commodity not in COMMODITIES or commodity not in minerals:
            raise InputError(path, f"unknown World Mining Data commodity {commodity!r}: add it to "
                             "reference/minerals.csv (wmd_commodities) and sources/wmd.py",
                             line=lineno, field="commodity")
        iso3 = ctx.codes.from_wb(code)
        if iso3 is None:
            raise InputError(path, f"unknown country code {code!r}: use ISO 3166 alpha-3",
                             line=lineno, field="iso3")
        try:
            year = int(row[ix["year"]])
        except ValueError:
            raise InputError(path, f"not a year: {row[ix['year']]!r}", line=lineno,
                             field="year") from None
        unit = unit_as_stored(row[ix["unit"]])
        if unit is None:
            raise InputError(path, f"unknown unit {row[ix['unit']]!r}: add it to "
                             "reference/units.csv", line=lineno, field="unit")
        raw = row[ix["value"]].strip()
        flag = None
        if raw == "":
            value, flag = None, "not_available"
        else:
            try:
                value = float(raw)
            except ValueError:
                raise InputError(path, f"not a number: {raw!r}", line=lineno,
                                 field="value") from None
        ds = row[ix["data_source"]].strip().lower()
        if ds == "p" and flag is None:
            flag = "provisional"
        stage, basis = COMMODITIES[commodity]
        for k, v in (("year", year), ("country", iso3), ("mineral", minerals[commodity]),
                     ("stage", stage), ("value", value), ("unit", unit), ("basis", basis),
                     ("estimated", ds == "e"), ("flag", flag), ("_line", lineno)):
            out[k].append(v)
        names.append(row[ix["country"]].strip())
    notes += _resolve_shared_codes(out, names, ctx)
    years = sorted(set(out["year"]))
    sid = f"wmd-{years[0]}-{years[-1]}" if years else "wmd"
    meta = SourceMeta(source_id=sid, release=f"{years[-1] + 2}" if years else None,
                      years=years_in_name(path), **_WMD_META)
    out["source_id"] = [sid] * len(out["year"])
    table = pa.table({
        **out, "year": pa.array(out["year"], pa.int16()),
        "value": pa.array(out["value"], pa.float64()),
    })
    return Parsed(meta=meta, tables={"production": table}, notes=notes)


def _resolve_shared_codes(out: dict[str, list], names: list[str], ctx: Context) -> list[str]:
    """Give rows of two countries that share a code (within one mineral) the code of their name."""
    seen: dict[tuple, set[str]] = {}
    for i, key in enumerate(zip(out["mineral"], out["country"], strict=True)):
        seen.setdefault(key, set()).add(names[i])
    notes = []
    for (mineral, iso3), group in seen.items():
        if len(group) < 2:
            continue
        for name in sorted(group):
            own = ctx.codes.from_name(name)
            if own is None or own == iso3:
                continue
            idx = [i for i, n in enumerate(names)
                   if n == name and out["mineral"][i] == mineral and out["country"][i] == iso3]
            for i in idx:
                out["country"][i] = own
            notes.append(f"{mineral}: '{name}' is coded {iso3} in World Mining Data (line "
                         f"{out['_line'][idx[0]]}); read as {own} from its name")
    keys = list(zip(out["year"], out["mineral"], out["country"], strict=True))
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise InputError(None, f"two rows for {dup[2]} {dup[1]} {dup[0]}", field="iso3")
    return notes


def _parse_map(path: Path, header: list[str], rows: Iterator[tuple[int, list[str]]], ctx: Context) -> Parsed:
    ix = {c: i for i, c in enumerate(header)}
    minerals = wmd_minerals()
    cols: dict[str, list] = {k: [] for k in (
        "commodity", "material", "mineral", "stage", "hs_code", "hs_revision", "complementary",
        "eol_rir", "_line")}
    notes = []
    for lineno, row in rows:
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(path, f"expected {len(header)} fields, found {len(row)}", line=lineno)
        commodity = row[ix["commodity"]].strip()
        main = row[ix["hs_code"]].strip()
        if not re.fullmatch(r"\d{6}", main):
            notes.append(f"{commodity}: no HS code ({main!r}), not mapped")
            continue
        comp = [c.strip() for c in row[ix["hs_code_complementary"]].split(";") if c.strip()]
        for c in comp:
            if not re.fullmatch(r"\d{6}", c):
                raise InputError(path, f"not an HS6 code: {c!r}", line=lineno,
                                 field="hs_code_complementary")
        try:
            rir = float(row[ix["eol_rir_2023"]]) if row[ix["eol_rir_2023"]].strip() else None
        except ValueError:
            raise InputError(path, f"not a number: {row[ix['eol_rir_2023']]!r}", line=lineno,
                             field="eol_rir_2023") from None
        stage = row[ix["stage"]].strip().lower() or None
        for code, is_comp in [(main, False), *((c, True) for c in comp)]:
            for k, v in (("commodity", commodity), ("material", row[ix["material"]].strip()),
                         ("mineral", minerals.get(commodity)), ("stage", stage),
                         ("hs_code", code), ("hs_revision", "HS92"), ("complementary", is_comp),
                         ("eol_rir", rir), ("_line", lineno)):
                cols[k].append(v)
    meta = SourceMeta(
        source_id=MAP_SOURCE_ID, family="geopolrisk", release="2.0.1",
        publisher="geopolrisk-py project (University of Bordeaux CyVi; University of Bayreuth ERT)",
        title="GeoPolRisk material definition: World Mining Data commodity to HS92 codes",
        licence="GPL-3.0 (geopolrisk-py); factual code list",
        url="https://github.com/akoyamp/geopolrisk-py",
    )
    cols["source_id"] = [meta.source_id] * len(cols["hs_code"])
    return Parsed(meta=meta, tables={"material_hs_map": pa.table(cols)}, notes=notes)
