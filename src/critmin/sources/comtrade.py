"""UN Comtrade records (v1 API schema) and USITC DataWeb exports: bilateral trade flows.

Comtrade (``refYear, reporterCode, flowCode, partnerCode, classificationCode, cmdCode,
netWgt, primaryValue, ...``; the narrow and the wide column sets are both read by name):

- flow ``M`` (import): importer = reporter, exporter = partner; ``X`` (export): exporter =
  reporter, importer = partner; re-exports/re-imports and other flows are skipped (noted).
- Countries from the ISO3 columns when they hold an ISO 3166 code, else the numeric code via
  UN M49 (``CountryCodes.by_m49``), else Comtrade's own codes shared with BACI (490 "Other
  Asia, nes" = Taiwan). Partner World (``0``/``W00``) and other aggregates ("Areas, nes",
  "Free Zones", customs unions, ``X..`` codes) and partner = reporter (re-imports of the
  reporter's own goods) are skipped with a note; an unknown code fails.
- Breakdown rows (mode of transport, customs procedure, second partner not ``0``) are skipped:
  only the all-modes totals are read.
- ``value_kusd`` = ``primaryValue`` (USD) / 1000; ``quantity_t`` = ``netWgt`` (kg) / 1000, null
  when empty, or 0 while the value is positive (Comtrade writes 0 for an unreported weight).
- ``hs_code`` keeps its published length (``2846`` is an HS4 heading), left-padded with zeros
  to an even length; ``hs_revision`` from ``classificationCode`` (H0 = HS92 ... H6 = HS22).
- One row per (year, exporter, importer, hs_code, hs_revision): identical duplicate records
  (the same query fetched twice, e.g. heavy and light rare earths both asking for HS 2846) are
  dropped; when both partners report the same flow (China's export to the US and the US import
  from China) the importer's report is kept, as in BACI's reconciliation; other conflicting
  duplicates keep the first record, with a note.

USITC DataWeb long export (``hts4, label, mineral, processing_stage, flow, partner,
partner_iso, year, ytd_flag, value_usd, reported_mass_kg, ...``): the reporter is the United
States; ``domestic_exports`` -> exporter USA, ``imports_for_consumption`` (and other import
flows) -> importer USA. ``ytd_flag`` True rows are year-to-date partial figures that would
double count the annual rows: they are excluded (noted). Rows with no value, or value and mass
both 0 (DataWeb writes 0 where no trade was recorded), are skipped. ``quantity_t`` is
``reported_mass_kg`` / 1000, null when 0/empty or when ``measurement_status`` is
``quantity_incomplete``. ``hs_code`` is the HTS4 heading, ``hs_revision`` ``HTS``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from critmin import inputs, schema
from critmin.countries import CountryCodes
from critmin.errors import InputError
from critmin.sources.base import (
    Context,
    Parsed,
    SourceMeta,
    expect_header,
    read_text,
    years_in_name,
)

NAME = "UN Comtrade / USITC DataWeb"

HS_REVISIONS = {"H0": "HS92", "H1": "HS96", "H2": "HS02", "H3": "HS07", "H4": "HS12",
                "H5": "HS17", "H6": "HS22"}
COMTRADE_REQUIRED = ["refYear", "reporterCode", "flowCode", "partnerCode", "classificationCode",
                     "cmdCode", "primaryValue"]
DATAWEB_REQUIRED = ["hts4", "flow", "partner", "partner_iso", "year", "ytd_flag", "value_usd",
                    "reported_mass_kg"]
_AGGREGATE_DESC = re.compile(r"\bnes\b|^areas|free zones|bunkers|special categories|union|"
                             r"^world$", re.I)

#: Row tuples follow the trade_flows columns of the schema, then the line.
_SCHEMA = schema.parser_schema("trade_flows")


def _columns(header: str) -> list[str]:
    header = re.split(r"[\r\n]", header.removeprefix("\ufeff"), maxsplit=1)[0]
    return [c.strip() for c in next(csv.reader([header]), [])]


def _layout(header: str) -> str | None:
    cols = _columns(header)
    if all(c in cols for c in COMTRADE_REQUIRED):
        return "comtrade"
    if cols[:1] == ["hts4"] and all(c in cols for c in DATAWEB_REQUIRED):
        return "dataweb"
    return None


FILE_NAMES = re.compile(r"^comtrade_.*\.csv$|^us_dataweb_.*\.csv$", re.IGNORECASE)


def detect(path: Path, header: str) -> bool:
    """True for Comtrade v1 records and USITC DataWeb long exports."""
    return _layout(header) is not None


def _slug(path: Path) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")


def source_meta(layout: str, path: Path) -> SourceMeta:
    """Source metadata for a Comtrade or DataWeb file."""
    slug = _slug(path)
    if layout == "dataweb":
        return SourceMeta(
            source_id="usitc-dataweb-" + slug.removeprefix("us-dataweb-"),
            family="usitc-dataweb", release=None,
            publisher="U.S. International Trade Commission (DataWeb)",
            title=f"USITC DataWeb export {path.name}", licence="Public domain",
            url="https://dataweb.usitc.gov/", years=years_in_name(path))
    return SourceMeta(
        source_id="comtrade-" + slug.removeprefix("comtrade-"), family="comtrade", release=None,
        publisher="United Nations Statistics Division (UN Comtrade)",
        title=f"UN Comtrade records {path.name}",
        licence="UN Comtrade terms of use (attribution; no bulk redistribution)",
        url="https://comtradeplus.un.org/", years=years_in_name(path))


def _rows(path: Path, text: str, required: list[str]
          ) -> tuple[dict[str, int], Iterator[tuple[int, list[str]]]]:
    if not text.strip():
        raise InputError(path, "empty file: expected a header", line=1)
    header, rows = inputs.csv_table(text, path)
    expect_header(path, header, required)
    return {h: i for i, h in enumerate(header)}, rows


def _number(path: Path, line: int, field: str, text: str, *, required: bool) -> float | None:
    t = text.strip()
    if t == "":
        if required:
            raise InputError(path, "missing value", line=line, field=field)
        return None
    try:
        v = float(t)
    except ValueError:
        raise InputError(path, f"not a number: {t!r}", line=line, field=field) from None
    if v != v or v in (float("inf"), float("-inf")):
        raise InputError(path, f"not a number: {t!r}", line=line, field=field)
    if v < 0:
        raise InputError(path, f"negative amount {t}", line=line, field=field)
    return v


def _year(path: Path, line: int, field: str, text: str) -> int:
    t = text.strip()
    if not re.fullmatch(r"\d{4}", t):
        raise InputError(path, f"not a year: {t!r}", line=line, field=field)
    return int(t)


def hs_code(code: str) -> str:
    """HS code as text, left-padded with zeros to an even length.

    >>> hs_code("28461"), hs_code("2846"), hs_code("80110")
    ('028461', '2846', '080110')
    """
    c = code.strip()
    return c.zfill(len(c) + len(c) % 2)


def _economy(codes: CountryCodes, code: str, iso: str, desc: str) -> str | None:
    """ISO3 for a Comtrade economy, ``""`` for an aggregate, None when unknown."""
    iso = iso.strip().upper()
    if iso in codes.rows:
        return iso
    try:
        num = int(float(code))
    except ValueError:
        num = None
    if num == 0 or iso == "W00":
        return ""
    if num is not None:
        hit = codes.by_m49.get(num) or codes.by_baci.get(num)
        if hit:
            return hit
    if iso[:1] in {"X", "_"} or (desc and _AGGREGATE_DESC.search(desc)) or iso[-1:].isdigit():
        return ""
    return None


def _table(rows: list[tuple[object, ...]]) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in _SCHEMA]
    return pa.Table.from_arrays([pa.array(list(c), f.type) for c, f in zip(cols, _SCHEMA,
                                                                             strict=True)],
                                schema=_SCHEMA)


def _parse_comtrade(path: Path, text: str, ctx: Context, source_id: str
                    ) -> tuple[list[tuple[object, ...]], list[str]]:
    ix, rows = _rows(path, text, COMTRADE_REQUIRED)
    notes: list[str] = []
    skipped: dict[str, int] = {}
    seen: dict[tuple[object, ...], tuple[int, tuple[object, ...], str]] = {}
    out: list[tuple[object, ...]] = []

    def get(c: list[str], name: str) -> str:
        return c[ix[name]].strip() if name in ix else ""

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for line, c in rows:
        if any(get(c, k) not in {"", "0"} for k in ("motCode", "mosCode", "partner2Code")) or \
                get(c, "customsCode") not in {"", "C00"}:
            skip("breakdown rows (mode of transport, customs procedure, second partner)")
            continue
        flow = get(c, "flowCode").upper()
        if flow not in {"M", "X"}:
            skip(f"flow {flow!r} (only M and X are read)")
            continue
        year = _year(path, line, "refYear", get(c, "refYear"))
        rev = HS_REVISIONS.get(get(c, "classificationCode").upper())
        if rev is None:
            raise InputError(path, f"unknown classificationCode {get(c, 'classificationCode')!r}"
                             "; expected H0 to H6", line=line, field="classificationCode")
        cmd = get(c, "cmdCode")
        if not re.fullmatch(r"\d{1,6}", cmd):
            raise InputError(path, f"not an HS code: {cmd!r}", line=line, field="cmdCode")
        reporter = _economy(ctx.codes, get(c, "reporterCode"), get(c, "reporterISO"),
                            get(c, "reporterDesc"))
        partner = _economy(ctx.codes, get(c, "partnerCode"), get(c, "partnerISO"),
                           get(c, "partnerDesc"))
        for who, iso3 in (("reporter", reporter), ("partner", partner)):
            if iso3 is None:
                raise InputError(path, f"unknown {who} code {get(c, who + 'Code')!r} "
                                 f"({get(c, who + 'ISO') or get(c, who + 'Desc') or 'no name'})",
                                 line=line, field=f"{who}Code")
        if not reporter or not partner:
            skip("World and other aggregate partners")
            continue
        if reporter == partner:
            skip("partner = reporter (re-imports of own goods)")
            continue
        value = _number(path, line, "primaryValue", get(c, "primaryValue"), required=True)
        assert value is not None
        wgt = _number(path, line, "netWgt", get(c, "netWgt"), required=False)
        if wgt == 0 and value > 0:
            wgt = None
        exporter, importer = (partner, reporter) if flow == "M" else (reporter, partner)
        row = (year, exporter, importer, hs_code(cmd), rev, value / 1000,
               None if wgt is None else wgt / 1000, source_id, line)
        key = row[:5]
        if key in seen:
            first_line, first, first_flow = seen[key]
            if first[5:7] == row[5:7]:
                skip("identical duplicate records")
            elif first_flow != flow:
                skip("mirror records (the exporter's report of a flow the importer also "
                     "reports: the importer's report is kept)")
                if flow == "M":
                    out[out.index(first)] = row
                    seen[key] = (line, row, flow)
            else:
                notes.append(f"line {line}: conflicts with line {first_line} for "
                             f"{year} {exporter}->{importer} {row[3]}: kept line {first_line}")
            continue
        seen[key] = (line, row, flow)
        out.append(row)
    notes += [f"skipped {n} row(s): {why}" for why, n in sorted(skipped.items())]
    return out, notes


def _parse_dataweb(path: Path, text: str, ctx: Context, source_id: str
                   ) -> tuple[list[tuple[object, ...]], list[str]]:
    ix, rows = _rows(path, text, DATAWEB_REQUIRED)
    skipped: dict[str, int] = {}
    out: list[tuple[object, ...]] = []
    seen: set[tuple[object, ...]] = set()
    notes: list[str] = []

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for line, c in rows:
        ytd = c[ix["ytd_flag"]].strip().lower()
        if ytd not in {"true", "false"}:
            raise InputError(path, f"ytd_flag must be True or False, not {ytd!r}", line=line,
                             field="ytd_flag")
        if ytd == "true":
            skip("year-to-date partial figures (ytd_flag True)")
            continue
        flow = c[ix["flow"]].strip().lower()
        if "export" in flow:
            exporting = True
        elif "import" in flow:
            exporting = False
        else:
            raise InputError(path, f"unknown flow {flow!r}", line=line, field="flow")
        year = _year(path, line, "year", c[ix["year"]])
        iso = c[ix["partner_iso"]].strip().upper()
        partner = iso if iso in ctx.codes.rows else ctx.codes.from_name(c[ix["partner"]])
        if partner is None:
            raise InputError(path, f"unknown partner {c[ix['partner']].strip()!r} ({iso})",
                             line=line, field="partner_iso")
        code = c[ix["hts4"]].strip()
        if not re.fullmatch(r"\d{1,10}", code):
            raise InputError(path, f"not an HTS code: {code!r}", line=line, field="hts4")
        value = _number(path, line, "value_usd", c[ix["value_usd"]], required=False)
        mass = _number(path, line, "reported_mass_kg", c[ix["reported_mass_kg"]],
                       required=False)
        if value is None:
            skip("no value")
            continue
        if value == 0 and not mass:
            skip("no trade recorded (value and mass 0)")
            continue
        status = c[ix["measurement_status"]].strip() if "measurement_status" in ix else ""
        if not mass or status == "quantity_incomplete":
            mass = None
        exporter, importer = ("USA", partner) if exporting else (partner, "USA")
        row = (year, exporter, importer, hs_code(code), "HTS", value / 1000,
               None if mass is None else mass / 1000, source_id, line)
        if row[:5] in seen:
            raise InputError(path, f"duplicate record for {year} {exporter}->{importer} "
                             f"{row[3]}", line=line)
        seen.add(row[:5])
        out.append(row)
    notes += [f"skipped {n} row(s): {why}" for why, n in sorted(skipped.items())]
    return out, notes


def parse(path: Path, ctx: Context) -> Parsed:
    """``trade_flows`` rows (value in thousand USD, quantity in t) of a Comtrade/DataWeb file."""
    path = Path(path)
    text = read_text(path, "utf-8")
    if not text.strip():
        raise InputError(path, "empty file: expected a header", line=1)
    layout = _layout(text.splitlines()[0])
    if layout is None:
        raise InputError(path, "unexpected header: not a UN Comtrade or USITC DataWeb file "
                         f"(found {text.splitlines()[0][:120]!r})", line=1)
    meta = source_meta(layout, path)
    fn = _parse_comtrade if layout == "comtrade" else _parse_dataweb
    rows, notes = fn(path, text, ctx, meta.source_id)
    fields = ({"year": "refYear", "value_kusd": "primaryValue", "quantity_t": "netWgt"}
              if layout == "comtrade" else {"year": "year", "value_kusd": "value_usd"})
    return Parsed(meta=meta, tables={"trade_flows": _table(rows)}, notes=notes, fields=fields)
