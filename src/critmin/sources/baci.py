"""CEPII BACI bilateral trade (yearly CSVs ``BACI_HS92_Y{year}_V{release}.csv``).

Columns ``t,i,j,k,v,q``: year, exporter and importer as BACI numeric country codes, HS6 product
code, value in thousand USD, quantity in metric tons (``NA`` where unknown). Quirks handled:
HS codes that lost their leading zeros are padded back to six digits; numbers padded with spaces
are trimmed; BACI's own country codes (842 USA, 699 India, 251 France, 490 Taiwan, ...) are
translated with the release's ``country_codes_V*.csv`` when it sits beside the file, else with
critmin's alias table.

Parsing runs in DuckDB (vectorised); a second, row-numbered pass runs only when the fast pass
finds a problem, to name the offending line.
"""

from __future__ import annotations

import csv
import io
import re
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from critmin.countries import CountryCodes
from critmin.errors import InputError
from critmin.sources.base import Context, Parsed, SourceMeta, expect_header, read_text

NAME = "CEPII BACI"
_FILE = re.compile(r"BACI_(HS\d\d)_Y(\d{4})_V(\w+)\.csv$", re.IGNORECASE)
_COUNTRY_FILE = re.compile(r"country_codes_V(\w+)\.csv$", re.IGNORECASE)
COLUMNS = ["t", "i", "j", "k", "v", "q"]
#: HS revisions BACI publishes, oldest first (the order of precedence: a later one wins).
HS_REVISIONS = ("HS92", "HS96", "HS02", "HS07", "HS12", "HS17", "HS22")
#: The BACI field each trade_flows column comes from.
FIELDS = {"year": "t", "exporter": "i", "importer": "j", "hs_code": "k", "value_kusd": "v",
          "quantity_t": "q"}


def detect(path: Path, header: str) -> bool:
    return bool(_FILE.search(path.name)) or (
        [c.strip() for c in header.split(",")] == COLUMNS
    )


def meta_for(path: Path) -> SourceMeta:
    m = _FILE.search(path.name)
    rev, year, release = (m.group(1).upper(), m.group(2), m.group(3)) if m else ("HS92", "", "")
    if m and rev not in HS_REVISIONS:
        raise InputError(path, f"unknown HS revision {rev} in the file name; "
                         f"expected one of {', '.join(HS_REVISIONS)}", field="file name")
    sid = f"baci-{rev.lower()}-v{release.lower()}-y{year}" if m else f"baci-{path.stem.lower()}"
    return SourceMeta(
        source_id=sid,
        family="baci",
        release=f"V{release}" if release else None,
        publisher="CEPII",
        title=f"BACI: International trade database at the product level, {rev}, {year}",
        licence="Etalab Open Licence 2.0 (attribution: CEPII BACI, Gaulier & Zignago 2010)",
        url="https://www.cepii.fr/CEPII/en/bdd_modele/bdd_modele_item.asp?id=37",
        years=(int(year), int(year)) if m else None,
    )


def revision_release(path: Path) -> tuple[str, str | None]:
    """(HS revision, release) a BACI file names itself with: ``BACI_HS17_Y2024_V202601.csv`` ->
    ``("HS17", "V202601")``; a file without BACI's name is taken as HS92 of unknown release."""
    m = _FILE.search(path.name)
    return (m.group(1).upper(), f"V{m.group(3)}") if m else ("HS92", None)


#: Files of a BACI release that are reference tables (used to translate codes), not data.
REFERENCE_FILES = re.compile(r"(country|product)_codes_.*\.csv$", re.IGNORECASE)


def prepare(files: list[Path], codes: CountryCodes) -> None:
    """Add the country tables of the BACI releases of ``files`` to ``codes`` (a release may be
    newer than the one critmin ships): each file's own release's table. Part of the loader
    interface: called before parsing."""
    tables = {country_file_beside(Path(f)) for f in files}
    for cfile in sorted(t for t in tables if t is not None):
        codes.load_baci_table(list(_read_country_file(cfile)))


def country_file_beside(path: Path) -> Path | None:
    """The country code file of the file's own release in the same folder
    (``country_codes_V202601.csv`` for ``..._V202601.csv``); failing that, the latest one there."""
    _rev, release = revision_release(path)
    found = sorted(path.parent.glob("country_codes_V*.csv"))
    for p in found:
        m = _COUNTRY_FILE.search(p.name)
        if release and m and f"V{m.group(1)}".lower() == release.lower():
            return p
    return found[-1] if found else None


@cache
def _read_country_file(path: Path) -> tuple[tuple[int, str], ...]:
    text = read_text(path, "utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if "country_code" not in (reader.fieldnames or []):
        raise InputError(path, "unexpected header: expected country_code,country_name,...", line=1)
    out = []
    try:
        for r in reader:
            code = (r.get("country_code") or "").strip()
            if not code.isdigit() or len(code) > 4:
                raise InputError(path, f"not a BACI country code: {code!r}",
                                 line=reader.line_num, field="country_code")
            out.append((int(code), (r.get("country_iso3") or "").strip()))
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV: {exc}", line=reader.line_num) from None
    return tuple(out)


def baci_code_map(ctx: Context, path: Path) -> dict[int, str]:
    """BACI numeric code -> ISO3, from the release's country file where present.

    The release's own ISO3 column is used where it is an ISO 3166 code critmin knows; its
    non-ISO codes (S19, R20, ZA1) go through critmin's alias table.
    """
    mapping = dict(ctx.codes.by_baci)
    cfile = country_file_beside(path)
    if cfile is not None:
        for code, iso3 in _read_country_file(cfile):
            if code in ctx.codes.by_baci and ctx.codes.by_baci[code] != iso3:
                continue  # alias table wins for BACI's special codes
            if iso3 in ctx.codes.rows:
                mapping[code] = iso3
    return mapping


_con: duckdb.DuckDBPyConnection | None = None


def _duck() -> duckdb.DuckDBPyConnection:
    global _con
    if _con is None:
        _con = duckdb.connect()
    return _con


def parse(path: Path, ctx: Context) -> Parsed:
    """Parse one BACI yearly file into ``trade_flows`` rows."""
    path = Path(path)
    meta = meta_for(path)
    header = _check_header(path)
    rev, _release = revision_release(path)
    codes = baci_code_map(ctx, path)
    con = _duck().cursor()
    con.register("baci_codes", pa.table({
        "code": pa.array(list(codes), pa.int32()), "iso3": pa.array(list(codes.values())),
    }))
    src = _read_csv_sql(path, header)
    # typed columns where the CSV reader can parse them (it accepts space padding); k and q
    # stay text (leading zeros; 'NA'); any malformed value fails the fast pass -> _diagnose.
    # A plain scan keeps the file's order, so the line of each row is its position + 1.
    sql = f"""
        SELECT r.t AS year, e.iso3 AS exporter, m.iso3 AS importer,
               lpad(trim(k), 6, '0') AS hs_code, '{rev}' AS hs_revision,
               r.v AS value_kusd,
               CAST(NULLIF(NULLIF(trim(q), 'NA'), '') AS DOUBLE) AS quantity_t,
               '{meta.source_id}' AS source_id,
               length(trim(k)) AS _klen, r._line
        FROM raw r
        LEFT JOIN baci_codes e ON e.code = r.i
        LEFT JOIN baci_codes m ON m.code = r.j
        ORDER BY r._line
    """
    try:
        raw = con.sql(f"SELECT * FROM {src}").to_arrow_table()
        con.register("raw", raw.append_column(
            "_line", pa.array(range(2, raw.num_rows + 2), pa.int64())))
        table = con.sql(sql).to_arrow_table()
        con.register("parsed", table)
        bad = con.execute("""SELECT count(*) FROM parsed WHERE exporter IS NULL OR importer IS NULL
                             OR value_kusd < 0 OR quantity_t < 0
                             OR _klen > 6
                             OR NOT regexp_full_match(hs_code, '[0-9]{6}')""").fetchall()[0][0]
    except duckdb.Error:
        bad = 1
    if bad:
        _diagnose(path, header, codes)  # raises with the line
        raise InputError(path, "could not be read as BACI")  # pragma: no cover
    if isinstance(table, pa.RecordBatchReader):  # pragma: no cover
        table = table.read_all()
    table = table.drop_columns(["_klen"])
    return Parsed(meta=meta, tables={"trade_flows": table}, fields=FIELDS)


def _check_header(path: Path) -> list[str]:
    with open(path, "rb") as f:
        raw = f.readline()
    try:
        line = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "not valid UTF-8 text", line=1) from None
    header = [c.strip().strip('"') for c in line.strip("\r\n").split(",")]
    if not line.strip():
        raise InputError(path, "empty file: expected header t,i,j,k,v,q", line=1)
    expect_header(path, header, COLUMNS)
    return header


_TYPES = {"t": "SMALLINT", "i": "INTEGER", "j": "INTEGER", "v": "DOUBLE"}


def _read_csv_sql(path: Path, header: list[str]) -> str:
    cols = ", ".join(f"'{c}': '{_TYPES.get(c, 'VARCHAR')}'" for c in header)
    p = str(path).replace("'", "''")
    return (f"read_csv('{p}', header=true, delim=',', quote='\"', columns={{{cols}}}, "
            "auto_detect=false, strict_mode=true)")


def _diagnose(path: Path, header: list[str], codes: dict[int, str]) -> None:
    """Slow pass: find the first bad line and raise an InputError naming it."""
    text = read_text(path, "utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    idx = {c: header.index(c) for c in COLUMNS}
    try:
        next(reader, None)
        for row in reader:
            _check_row(path, reader.line_num, row, header, idx, codes)
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV: {exc}", line=reader.line_num) from None


def _check_row(path: Path, lineno: int, row: list[str], header: list[str], idx: dict[str, int],
               codes: dict[int, str]) -> None:
    """Raise an InputError for the first problem in one data row."""
    if not row or all(not c.strip() for c in row):
        return
    if len(row) != len(header):
        raise InputError(path, f"expected {len(header)} fields, found {len(row)}", line=lineno)
    get = {c: row[i].strip() for c, i in idx.items()}
    for c in ("t", "i", "j"):
        if not get[c].isdigit():
            raise InputError(path, f"not an integer: {get[c]!r}", line=lineno, field=c)
    if len(get["t"]) > 4:
        raise InputError(path, f"not a year: {get['t']!r}", line=lineno, field="t")
    for c in ("i", "j"):
        if int(get[c]) not in codes:
            raise InputError(path, f"unknown BACI country code {get[c]}", line=lineno, field=c)
    if not get["k"].isdigit() or len(get["k"]) > 6:
        raise InputError(path, f"not an HS6 code: {get['k']!r}", line=lineno, field="k")
    for c in ("v", "q"):
        if c == "q" and get[c] in ("NA", ""):
            continue
        try:
            x = float(get[c])
        except ValueError:
            raise InputError(path, f"not a number: {get[c]!r}", line=lineno, field=c) from None
        if x < 0:
            raise InputError(path, f"negative {'value' if c == 'v' else 'quantity'} {x:g}",
                             line=lineno, field=c)
