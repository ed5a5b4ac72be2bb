"""World Bank Worldwide Governance Indicators.

Two layouts: the long ``wgidataset.csv`` (``code, countryname, year, indicator, estimate, ...``;
estimates rounded to 2 decimals; ``..`` = missing) and the full-precision Political Stability
file ``wgi_pv_estimate_full_precision_*.csv`` (``country, code, m49, year, pv_estimate``). World
Bank codes that are not ISO 3166 (ADO, ROM, ZAR, KSV, TMP, WBG, R20) are translated through the
alias table; missing estimates produce no row. There is no data for 1997, 1999 and 2001.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from critmin.errors import InputError
from critmin.schema import WGI_INDICATORS
from critmin.sources import base
from critmin.sources.base import Context, Parsed, SourceMeta, csv_rows, expect_header, read_text

NAME = "World Bank WGI"
FILE_NAMES = re.compile(r"^wgidataset\.csv$|^wgi_pv_estimate_full_precision.*\.csv$", re.IGNORECASE)
_LONG = ["code", "year", "indicator", "estimate"]
_PV = ["code", "year", "pv_estimate"]
_MISSING = {"", "..", "NA", "#N/A", "None"}  # the publishers' markers; "nan" is refused


def detect(path: Path, header: str) -> bool:
    cols = {c.strip().strip('"') for c in header.split(",")}
    return set(_LONG) <= cols or set(_PV) <= cols


def _meta(path: Path, full_pv: bool) -> SourceMeta:
    m = re.search(r"(\d{4})(?!.*\d{4})", path.stem)
    last = m.group(1) if m else None
    if full_pv:
        release = str(int(last) + 1) if last else None
        sid = f"wgi-pv-{release}" if release else "wgi-pv"
        title = "Worldwide Governance Indicators: Political Stability (full precision)"
    else:
        release = "2024"
        sid = "wgi-2024"
        title = "Worldwide Governance Indicators"
    return SourceMeta(
        source_id=sid, family="wgi", release=release, publisher="World Bank", title=title,
        licence="CC BY 4.0", url="https://www.worldbank.org/en/publication/worldwide-governance-indicators",
        years=base.years_in_name(path) or ((1996, int(release)) if release else None),
    )


def parse(path: Path, ctx: Context) -> Parsed:
    path = Path(path)
    text = read_text(path, "utf-8")
    rows = csv_rows(path, text)
    header = [c.strip() for c in next(rows, (1, []))[1]]
    if not header:
        raise InputError(path, "empty file", line=1)
    full_pv = "pv_estimate" in header
    expect_header(path, header, _PV if full_pv else _LONG)
    meta = _meta(path, full_pv)
    ix = {c: i for i, c in enumerate(header)}
    years, countries, indicators, estimates, lines = [], [], [], [], []
    for lineno, row in rows:
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(path, f"expected {len(header)} fields, found {len(row)}", line=lineno)
        raw = row[ix["pv_estimate" if full_pv else "estimate"]].strip()
        if raw in _MISSING:
            continue
        code = row[ix["code"]].strip()
        iso3 = ctx.codes.from_wb(code)
        if iso3 is None:
            raise InputError(path, f"unknown country code {code!r}", line=lineno, field="code")
        indicator = "pv" if full_pv else row[ix["indicator"]].strip().lower()
        if indicator not in WGI_INDICATORS:
            raise InputError(path, f"unknown WGI indicator {indicator!r}", line=lineno,
                             field="indicator")
        try:
            year = int(row[ix["year"]])
        except ValueError:
            raise InputError(path, f"not a year: {row[ix['year']]!r}", line=lineno,
                             field="year") from None
        try:
            estimate = float(raw)
        except ValueError:
            raise InputError(path, f"not a number: {raw!r}", line=lineno,
                             field="pv_estimate" if full_pv else "estimate") from None
        years.append(year)
        countries.append(iso3)
        indicators.append(indicator)
        estimates.append(estimate)
        lines.append(lineno)
    notes = _relabel_errata(years, countries, indicators, estimates, lines)
    table = pa.table({
        "year": pa.array(years, pa.int16()), "country": countries, "indicator": indicators,
        "estimate": pa.array(estimates, pa.float64()),
        "source_id": [meta.source_id] * len(years), "_line": lines,
    })
    return Parsed(meta=meta, tables={"governance": table}, notes=notes)


#: Known publisher errata: when a code appears twice for the same year, its earlier rows belong
#: to another economy. The 2025 full-precision PV file lists "Guyana, GUY" twice; the first block
#: sits where French Guiana (GUF) sorts and its values round to French Guiana's published
#: 2-decimal estimates (1996: 0.04, 1998: 0.05, 2022: 0.32 in wgidataset.csv), the second block
#: to Guyana's (-0.27, 0.12, 0.03). Tested in tests/sources/test_wgi.py.
ERRATA: dict[str, str] = {"GUY": "GUF"}


def _relabel_errata(*cols: list) -> list[str]:
    """Relabel the repeated (year, country, indicator) rows of known errata (:data:`ERRATA`);
    any other duplicate stays, and the atlas's key check refuses the file naming its line."""
    years, countries, indicators, _estimates, lines = cols
    notes: list[str] = []
    last: dict[tuple, int] = {}
    for i, key in enumerate(zip(years, countries, indicators, strict=True)):
        last[key] = i
    present = set(last)
    relabelled = []
    for i, key in enumerate(zip(years, countries, indicators, strict=True)):
        fix = ERRATA.get(key[1])
        if fix and last[key] != i and (key[0], fix, key[2]) not in present:
            countries[i] = fix
            present.add((key[0], fix, key[2]))
            relabelled.append(i)
    if relabelled:
        notes.append(f"{len(relabelled)} rows in {_errata_note(relabelled, lines)}")
    # any other repeated (year, country, indicator) is left for validation to refuse
    return notes


def _errata_note(rows: list[int], lines: list[int]) -> str:
    return (f"a repeated block (lines {lines[rows[0]]}-{lines[rows[-1]]}) relabelled per the "
            "publisher erratum table (GUY listed twice: the first block is French Guiana, GUF)")
