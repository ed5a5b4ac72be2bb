"""IEA Critical Minerals Data Explorer (long-form CSV exports of the 2025 edition).

Two layouts, told apart by their header:

- supply ``mineral,stage,country,case,year,value,unit``: mining and refining supply in kt by
  country (named countries plus ``Rest of world``): the base year's actuals
  (``case = historical``) -> ``production`` (stages ``mine`` and ``refinery``, family ``iea``),
  and the base-case projections (``case = base case``) -> ``supply_outlook``;
- demand ``mineral,sector,scenario,year,value,unit``: demand in kt by clean-energy sector (plus
  ``Other uses`` and ``Total demand``) for the base year (``historical``) and the STEPS, APS and
  NZE scenarios -> ``demand_outlook``.

IEA mineral names map to critmin ids, and each (mineral, stage) to the content basis the IEA
publishes, through ``critmin/reference/iea_minerals.csv``; other names are taken as critmin ids
(``Neodymium`` -> ``neodymium``). Country names map to ISO3 through critmin's name table;
``Rest of world`` is the residual code ``XRW`` (kept, never a country). Amounts are converted
from kt to t. The release is the edition year in the file name (``iea_cm_supply_2025.csv``).
"""

from __future__ import annotations

import csv
import re
from functools import cache
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from critmin.errors import InputError
from critmin.sources.base import (
    Context,
    Parsed,
    SourceMeta,
    csv_rows,
    expect_header,
    read_text,
)

NAME = "IEA Critical Minerals Data Explorer"
SUPPLY = ["mineral", "stage", "country", "case", "year", "value", "unit"]
DEMAND = ["mineral", "sector", "scenario", "year", "value", "unit"]
#: IEA stage names -> critmin production stages.
STAGES = {"mining": "mine", "refining": "refinery"}
CASES = {"historical": "historical", "base case": "base"}
SCENARIOS = ("historical", "STEPS", "APS", "NZE")
UNITS = {"kt": 1000.0, "t": 1.0, "mt": 1_000_000.0}
ATTRIBUTION = "IEA (2025), Critical Minerals Data Explorer, IEA, Paris"
_FILE = re.compile(r"iea_cm_(supply|demand)_(\d{4})", re.IGNORECASE)
#: The files this loader owns (a broken header in one of them is an error, never a skip).
FILE_NAMES = re.compile(r"^iea_cm_(supply|demand)_\d{4}.*\.csv$", re.IGNORECASE)


def _cols(header: str) -> list[str]:
    return [c.strip().strip('"').lower() for c in header.split(",")]


def detect(path: Path, header: str) -> bool:
    cols = _cols(header)
    return cols in (SUPPLY, DEMAND)


def meta_for(path: Path) -> SourceMeta:
    m = _FILE.search(path.name)
    kind, edition = (m.group(1).lower(), m.group(2)) if m else ("data", None)
    return SourceMeta(
        source_id=f"iea-cm-{kind}-{edition}" if edition else f"iea-cm-{path.stem.lower()}",
        family="iea", release=edition, publisher="IEA",
        title=f"Critical Minerals Data Explorer, {edition or 'unknown'} edition: {kind}",
        licence=f"CC BY 4.0 (attribution: {ATTRIBUTION.replace(', IEA, Paris', '')})",
        url="https://www.iea.org/data-and-statistics/data-tools/critical-minerals-data-explorer",
    )


@cache
def _names() -> dict[tuple[str, str], tuple[str, str]]:
    """(IEA name lower-case, stage or '') -> (critmin mineral, basis)."""
    text = resources.files("critmin.reference").joinpath("iea_minerals.csv").read_text("utf-8")
    return {(r["iea_name"].strip().lower(), r["stage"].strip()): (r["mineral"], r["basis"])
            for r in csv.DictReader(text.splitlines())}


def mineral_of(name: str, stage: str, ctx: Context) -> tuple[str, str] | None:
    """(critmin mineral, basis) for an IEA mineral name at an IEA stage, or None if unknown."""
    key = name.strip().lower()
    hit = _names().get((key, stage)) or _names().get((key, ""))
    if hit:
        return hit
    guess = key.replace(" ", "_")
    return (guess, f"{name.strip()} content") if guess in ctx.minerals else None


def parse(path: Path, ctx: Context) -> Parsed:
    """Parse one IEA export into ``supply_outlook`` or ``demand_outlook`` rows."""
    path = Path(path)
    text = read_text(path, "utf-8")
    reader = csv_rows(path, text)
    header = [c.strip().lower() for c in next(reader, (1, []))[1]]
    if not header:
        raise InputError(path, "empty file: expected an IEA supply or demand header", line=1)
    supply = "stage" in header or "country" in header
    expect_header(path, header, SUPPLY if supply else DEMAND)
    meta = meta_for(path)
    ix = {c: i for i, c in enumerate(header)}
    out: dict[str, list] = {k: [] for k in (
        "year", "country", "mineral", "stage", "case", "item", "sector", "scenario", "value",
        "unit", "basis", "_line")}
    for lineno, row in reader:
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise InputError(path, f"expected {len(header)} fields, found {len(row)}", line=lineno)
        get = {c: row[i].strip() for c, i in ix.items()}

        def bad(field: str, problem: str, _line: int = lineno) -> InputError:
            return InputError(path, problem, line=_line, field=field)

        try:
            year = int(get["year"])
        except ValueError:
            raise bad("year", f"not a year: {get['year']!r}") from None
        try:
            value = float(get["value"])
        except ValueError:
            raise bad("value", f"not a number: {get['value']!r}") from None
        if value != value or value < 0:
            raise bad("value", f"negative or missing amount {get['value']!r}")
        factor = UNITS.get(get["unit"].lower())
        if factor is None:
            raise bad("unit", f"unknown unit {get['unit']!r}; expected one of {', '.join(UNITS)}")
        if supply:
            stage = STAGES.get(get["stage"].lower())
            if stage is None:
                raise bad("stage", f"unknown stage {get['stage']!r}; expected mining or refining")
            case = CASES.get(get["case"].lower())
            if case is None:
                raise bad("case", f"unknown case {get['case']!r}; expected historical or "
                          "base case")
            name = get["country"]
            iso3 = ctx.codes.from_name(name)
            if iso3 is None:
                raise bad("country", f"unknown country name {name!r}")
            mb = mineral_of(get["mineral"], get["stage"].lower(), ctx)
            out["country"].append(iso3)
            out["stage"].append(stage)
            out["case"].append(case)
        else:
            scenario = next((s for s in SCENARIOS if s.lower() == get["scenario"].lower()), None)
            if scenario is None:
                raise bad("scenario", f"unknown scenario {get['scenario']!r}; expected one of "
                          f"{', '.join(SCENARIOS)}")
            mb = mineral_of(get["mineral"], "demand", ctx)
            out["item"].append(get["mineral"])
            out["sector"].append(get["sector"])
            out["scenario"].append(scenario)
        if mb is None:
            raise bad("mineral", f"unknown mineral {get['mineral']!r}")
        out["mineral"].append(mb[0])
        out["basis"].append(mb[1])
        out["year"].append(year)
        out["value"].append(value * factor)
        out["unit"].append("t")
        out["_line"].append(lineno)
    n = len(out["year"])
    common = {"year": pa.array(out["year"], pa.int16()), "mineral": out["mineral"],
              "value": pa.array(out["value"], pa.float64()), "unit": out["unit"]}
    notes = [f"{n} rows in kt converted to t; cite as: {ATTRIBUTION} (CC BY 4.0)"]
    if not supply:
        table = pa.table({**common, "item": out["item"], "sector": out["sector"],
                          "scenario": out["scenario"], "source_id": [meta.source_id] * n,
                          "_line": out["_line"]})
        return Parsed(meta=meta, tables={"demand_outlook": table}, notes=notes)
    table = pa.table({**common, "country": out["country"], "stage": out["stage"],
                      "case": out["case"], "basis": out["basis"],
                      "source_id": [meta.source_id] * n, "_line": out["_line"]})
    actual = pc.equal(table.column("case"), "historical")
    production = table.filter(actual).drop_columns(["case"]).append_column(
        "estimated", pa.array([False] * pc.sum(actual.cast("int64")).as_py()))
    return Parsed(meta=meta, tables={"production": production,
                                     "supply_outlook": table.filter(pc.invert(actual))},
                  notes=notes)
