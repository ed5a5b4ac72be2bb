"""Reading user files with bounds: size, encoding and nesting depth are checked before parsing.

Every command that reads a file a user hands it (scenario specs, schedules, registry records,
``.dzn`` instances) goes through these readers, so a hostile or careless file gets a one-line
:class:`~critmin.errors.InputError` instead of a traceback or unbounded work:

- a file over its size limit (:data:`MAX_BYTES`) is refused before it is read;
- a folder, a missing or unreadable file, and text that is not UTF-8 (naming the line and byte)
  are reported plainly;
- JSON and YAML nested deeper than :data:`MAX_DEPTH` levels are refused: JSON before parsing, by
  a scan of its brackets; YAML after parsing (the parser's own recursion limit is turned into the
  same error), so no parser recursion can end in a ``RecursionError``.

The limits are documented in ``docs/reliability.md``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from critmin.errors import InputError

#: Largest file each kind of input may be, in bytes.
MAX_BYTES = {
    "scenario": 1_000_000,
    "schedule": 20_000_000,
    "registry": 20_000_000,
    "dzn": 2_000_000,  # the largest benchmark instance is 9 kB
}
#: Deepest nesting of lists and objects a JSON or YAML input may have.
MAX_DEPTH = 32
#: Most nodes (values) a YAML document may expand to (aliases count each time they are used).
MAX_NODES = 1_000_000


def read_bytes(path: str | Path, kind: str) -> bytes:
    """The bytes of ``path``, refusing a folder, a missing file or one over ``MAX_BYTES[kind]``."""
    path = Path(path)
    limit = MAX_BYTES[kind]
    try:
        if path.is_dir():
            raise InputError(path, f"is a folder, not a {kind} file")
        size = path.stat().st_size
        if size > limit:
            raise InputError(path, f"file of {size:,} bytes: a {kind} file holds at most "
                             f"{limit:,} bytes")
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None


def decode(data: bytes, file: str | Path | None) -> str:
    """``data`` as UTF-8 text (a byte-order mark is dropped); else an error naming the line."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(file, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                         f"{exc.start})", line=line) from None


def read_text(path: str | Path, kind: str) -> str:
    """Size-checked UTF-8 text of ``path`` (see :func:`read_bytes` and :func:`decode`)."""
    return decode(read_bytes(path, kind), path)


def check_json_depth(text: str, file: str | Path | None) -> None:
    """Refuse JSON text whose brackets nest deeper than :data:`MAX_DEPTH` (strings skipped)."""
    depth = 0
    line = 1
    in_str = escaped = False
    for ch in text:
        if ch == "\n":
            line += 1
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise InputError(file, f"nested deeper than {MAX_DEPTH} levels", line=line)
        elif ch in "]}":
            depth -= 1


def check_depth(data: Any, file: str | Path | None) -> None:
    """Refuse parsed data nested deeper than :data:`MAX_DEPTH` or larger than
    :data:`MAX_NODES` values (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise InputError(file, f"more than {MAX_NODES:,} values")
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise InputError(file, f"nested deeper than {MAX_DEPTH} levels")
            items = value.values() if isinstance(value, dict) else value
            stack.extend((v, depth + 1) for v in items)


def parse_json(text: str, file: str | Path | None) -> Any:
    """Parse JSON text with the depth check; syntax errors name the line."""
    check_json_depth(text, file)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(file, f"invalid JSON: {exc.msg}", line=exc.lineno) from None


def parse_yaml(text: str, file: str | Path | None) -> Any:
    """Parse YAML text (safe loader) with the depth and size checks; errors name the line."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise InputError(file, f"nested deeper than {MAX_DEPTH} levels") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(file, f"invalid YAML: {problem}",
                         line=mark.line + 1 if mark is not None else None) from None
    check_depth(data, file)
    return data


def load_json(path: str | Path, kind: str) -> Any:
    """Read and parse a JSON file of ``kind`` with every check of this module."""
    return parse_json(read_text(path, kind), path)


def csv_table(text: str, file: str | Path | None) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header (cells stripped) and ``(line, cells)`` of every non-blank row of CSV text,
    ``line`` being the physical line where the row starts (header = 1; quoted fields may span
    lines; LF, CRLF and a bare CR end a line). A row with a different number of fields than the
    header, or malformed CSV, raises :class:`InputError` naming the line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        first = next(reader, None)
    except csv.Error as exc:
        raise InputError(file, f"malformed CSV: {exc}", line=1) from None
    if first is None:
        raise InputError(file, "empty file: expected a header", line=1)
    header = [h.strip() for h in first]

    def rows() -> Iterator[tuple[int, list[str]]]:
        line = reader.line_num
        try:
            for cells in reader:
                start, line = line + 1, reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    raise InputError(file, f"expected {len(header)} fields, found {len(cells)}",
                                     line=start)
                yield start, cells
        except csv.Error as exc:
            raise InputError(file, f"malformed CSV: {exc}", line=reader.line_num) from None

    return header, rows()


def read_csv_records(path: str | Path, kind: str) -> list[dict[str, str]]:
    """Rows of a CSV file of ``kind`` as dicts (header = keys), with the size and encoding
    checks of :func:`read_text` and the row checks of :func:`csv_table`."""
    header, rows = csv_table(read_text(path, kind), path)
    return [dict(zip(header, cells, strict=True)) for _line, cells in rows]
