"""What every source loader shares: source metadata, the parse result, file helpers and errors.

A loader is a module with

- ``NAME``: short name shown to users;
- ``detect(path: Path, header: str) -> bool``: whether ``path`` (first line ``header``) is its format;
- ``parse(path: Path, ctx: Context) -> Parsed``: a pure parse of the file into canonical rows;

and optionally

- ``FILE_NAMES``: a regular expression for the names of the files it owns; a file whose name
  matches is handed to ``parse`` even when its header is not recognised, so a broken header is an
  error naming the problem instead of a silently skipped file;
- ``REFERENCE_FILES``: a regular expression for the names of reference files that come with its
  data (code tables), which are read by ``prepare`` and not loaded as data;
- ``prepare(files: list[Path], codes: CountryCodes) -> None``: read those reference files for the
  data ``files`` about to be parsed (e.g. a release's own country table);
- ``meta_for(path) -> SourceMeta``: the source metadata from the file name alone.

Parsing never writes anything; :mod:`critmin.atlas` validates the rows against the schema and loads
them atomically.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from critmin.countries import CountryCodes
from critmin.errors import InputError


@dataclass(frozen=True)
class SourceMeta:
    """Who published a file and under which terms."""

    source_id: str
    family: str
    release: str | None
    publisher: str
    title: str
    licence: str
    url: str | None = None
    #: The years (first, last) the file's name promises; rows outside them are refused.
    years: tuple[int, int] | None = None


@dataclass
class Parsed:
    """Canonical rows parsed from one file, by atlas table name.

    Tables may carry an extra ``_line`` column (1-based line in the file, header = 1) so that
    validation errors can name the line.
    """

    meta: SourceMeta
    tables: dict[str, pa.Table] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: The file's field each column came from (``value_kusd`` -> ``v``), named in errors.
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in self.tables.values())

    def years(self) -> list[int]:
        import pyarrow.compute as pc

        years: set[int] = set()
        for t in self.tables.values():
            if "year" in t.column_names:
                years.update(y for y in pc.unique(t.column("year")).to_pylist() if y is not None)
        return sorted(years)


@dataclass
class Context:
    """What parsers need to translate codes: country codes and the mineral catalogue."""

    codes: CountryCodes
    minerals: frozenset[str]


def years_in_name(path: Path) -> tuple[int, int] | None:
    """The span of years a file name states, as ``..._1993_2024`` or ``...-1996-2024``.

    >>> years_in_name(Path("world_mining_data_2018_2024_long.csv"))
    (2018, 2024)
    """
    m = re.search(r"(?<!\d)((?:19|20)\d\d)[_-]((?:19|20)\d\d)(?!\d)", Path(path).name)
    if m and int(m.group(1)) <= int(m.group(2)):
        return int(m.group(1)), int(m.group(2))
    return None


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def first_line(path: Path) -> str:
    """The first line of a text file (ended by LF, CRLF or a bare CR), decoded leniently (for
    format detection only)."""
    with open(path, "rb") as f:
        raw = f.readline(64 * 1024)
    text = raw.decode("utf-8-sig", errors="replace")
    return re.split(r"[\r\n]", text, maxsplit=1)[0]


def csv_rows(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of every row of a CSV text, ``line`` being the physical line where the
    row starts (header = 1): quoted fields may span lines, and LF, CRLF and bare CR all end a
    line. A malformed CSV raises :class:`InputError` naming the line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 0
    try:
        for cells in reader:
            yield line + 1, cells
            line = reader.line_num
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV: {exc}", line=reader.line_num) from None


def read_text(path: Path, encoding: str) -> str:
    """Read a whole text file, failing with the line of the first undecodable byte."""
    data = Path(path).read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            path, f"not valid {encoding} text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            line=line,
        ) from None
    return text.removeprefix("\ufeff")


def expect_header(path: Path, header: list[str], required: list[str]) -> None:
    """Fail when ``header`` lacks any ``required`` column."""
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            path, f"unexpected header: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(header) or 'nothing'}", line=1,
        )


def iter_files(dirs: list[Path]) -> Iterator[Path]:
    """Every regular file below the given folders (or the files themselves), sorted."""
    for d in dirs:
        d = Path(d)
        if d.is_file():
            yield d
        elif d.is_dir():
            yield from sorted(p for p in d.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            raise InputError(d, "no such file or folder")
