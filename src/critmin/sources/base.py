"""What every source loader shares: source metadata, the parse result, file helpers and errors.

A loader is a module with

- ``NAME``: short name shown to users;
- ``detect(path: Path, header: str) -> bool``: whether ``path`` (first line ``header``) is its format;
- ``parse(path: Path, ctx: Context) -> Parsed``: a pure parse of the file into canonical rows.

Parsing never writes anything; :mod:`critmin.atlas` validates the rows against the schema and loads
them atomically.
"""

from __future__ import annotations

import hashlib
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


@dataclass
class Parsed:
    """Canonical rows parsed from one file, by atlas table name.

    Tables may carry an extra ``_line`` column (1-based line in the file, header = 1) so that
    validation errors can name the line.
    """

    meta: SourceMeta
    tables: dict[str, pa.Table] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

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


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def first_line(path: Path) -> str:
    """The first line of a text file, decoded leniently (for format detection only)."""
    with open(path, "rb") as f:
        raw = f.readline(64 * 1024)
    return raw.decode("utf-8-sig", errors="replace").strip("\r\n")


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
