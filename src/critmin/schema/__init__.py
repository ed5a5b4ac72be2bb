"""The atlas schema, defined once as data.

Each table is a CSV under ``critmin/schema/tables/`` listing its columns with type, unit, nullability,
whether the column is part of the table's natural key, the values it allows, its bounds, its default
and a description; ``tables.csv`` describes the tables. The same definitions drive the DDL
(:func:`ddl`), validation (:func:`validate`), the parsers' output types (:func:`parser_schema`), the registry
models (:mod:`critmin.cooperation.models`) and the generated schema reference (``docs/schema.md``,
:func:`markdown`).

``allowed`` is either a ``;``-separated list of values or ``regex:PATTERN`` (matched in full);
``min`` and ``max`` bound numeric columns (inclusive); every DOUBLE must be finite.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from critmin.errors import ChoiceError, InputError

if TYPE_CHECKING:
    import pyarrow as pa


@cache
def _arrow_types() -> dict[str, pa.DataType]:
    """The Arrow type of each column type (pyarrow loads when a table is built, not read)."""
    import pyarrow as pa

    return {
        "SMALLINT": pa.int16(),
        "INTEGER": pa.int32(),
        "BIGINT": pa.int64(),
        "DOUBLE": pa.float64(),
        "VARCHAR": pa.string(),
        "BOOLEAN": pa.bool_(),
        "DATE": pa.date32(),
        "TIMESTAMP": pa.timestamp("us"),
    }


#: The column types the schema tables use (DuckDB names; :func:`_arrow_types` maps them).
COLUMN_TYPES = frozenset({"SMALLINT", "INTEGER", "BIGINT", "DOUBLE", "VARCHAR", "BOOLEAN", "DATE",
                          "TIMESTAMP"})


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    unit: str
    nullable: bool
    key: bool
    description: str
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    default: str | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return _arrow_types()[self.type]

    @property
    def python_default(self) -> Any:
        """The default as a Python value of the column's type (None when there is none)."""
        if self.default is None:
            return None
        return cast_text(self, self.default)

    def rule(self) -> str:
        """The column's constraints in words (for the docs)."""
        parts = []
        if self.allowed is not None:
            parts.append("one of " + ", ".join(self.allowed))
        if self.pattern is not None:
            parts.append(f"matches `{self.pattern}`")
        if self.min is not None or self.max is not None:
            lo = "" if self.min is None else f"{self.min:g}"
            hi = "" if self.max is None else f"{self.max:g}"
            parts.append(f"{lo} – {hi}".strip())
        if self.type == "DOUBLE":
            parts.append("finite")
        if self.default is not None:
            parts.append(f"default {self.default}")
        return "; ".join(parts)


@dataclass(frozen=True)
class Table:
    name: str
    kind: str
    description: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def key(self) -> list[str]:
        return [c.name for c in self.columns if c.key]

    @property
    def arrow_schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("critmin.schema").joinpath(name).read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    for i, r in enumerate(rows, start=2):
        if None in r or None in r.values():
            raise ValueError(f"schema/{name} line {i}: wrong number of fields (quote commas)")
    return rows


def _number(v: str) -> float | None:
    return float(v) if v.strip() else None


def _column(c: dict[str, str]) -> Column:
    allowed = c.get("allowed") or ""
    return Column(
        name=c["column"],
        type=c["type"],
        unit=c["unit"],
        nullable=c["nullable"] == "true",
        key=c["key"] == "true",
        description=c["description"],
        allowed=tuple(allowed.split(";")) if allowed and not allowed.startswith("regex:") else None,
        pattern=allowed.removeprefix("regex:") if allowed.startswith("regex:") else None,
        min=_number(c.get("min") or ""),
        max=_number(c.get("max") or ""),
        default=c.get("default") or None,
    )


@cache
def tables() -> dict[str, Table]:
    """All atlas tables by name, in the order of ``tables.csv``."""
    out: dict[str, Table] = {}
    for row in _read_csv("tables.csv"):
        cols = tuple(_column(c) for c in _read_csv(f"tables/{row['table']}.csv"))
        for c in cols:
            if c.type not in COLUMN_TYPES:
                raise ValueError(f"schema/tables/{row['table']}.csv: unknown type {c.type!r}")
        out[row["table"]] = Table(row["table"], row["kind"], row["description"], cols)
    return out


def table(name: str) -> Table:
    """The schema of one table."""
    try:
        return tables()[name]
    except KeyError:
        raise KeyError(f"no atlas table {name!r}; tables are {', '.join(tables())}") from None


def ddl(name: str) -> str:
    """``CREATE TABLE`` statement for ``name`` (DuckDB dialect).

    >>> ddl("units").splitlines()[0]
    'CREATE TABLE "units" ('
    """
    t = table(name)
    lines = [
        f'    "{c.name}" {c.type}{"" if c.nullable else " NOT NULL"}'
        + (f" DEFAULT {_sql_literal(c)}" if c.default is not None else "")
        for c in t.columns
    ]
    return f'CREATE TABLE "{name}" (\n' + ",\n".join(lines) + "\n)"


def _sql_literal(c: Column) -> str:
    v = c.python_default
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def parse_date(value: Any) -> dt.date | None:
    """The one date parser: ``"2022-03-15"``, ``"2022-03"`` (1 Mar 2022) or ``"2022"`` (1 Jan 2022);
    a date passes through, empty is None. Anything else raises :class:`ValueError`.

    >>> parse_date("2022-03"), parse_date("2022")
    (datetime.date(2022, 3, 1), datetime.date(2022, 1, 1))
    """
    if value is None or isinstance(value, dt.date):
        return value
    v = str(value).strip()
    if not v:
        return None
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", v)
    if not m:
        raise ValueError(f"not a date: {v!r} (use YYYY-MM-DD, YYYY-MM or YYYY)")
    y, mo, d = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        return dt.date(y, mo, d)
    except ValueError as exc:
        raise ValueError(f"not a date: {v!r} ({exc})") from None


def check_value(c: Column, v: Any) -> str | None:
    """What is wrong with one value of column ``c`` by the schema's rules (allowed values,
    pattern, finite, bounds), or None. Used by record models, which validate one row at a time.

    >>> check_value(table("projects").column("status"), "dreaming")
    "unknown status 'dreaming'; use one of announced, feasibility, construction, operating"
    """
    if v is None:
        return None
    if c.allowed is not None and v not in c.allowed:
        return f"unknown {c.name} {v!r}; use one of " + ", ".join(c.allowed)
    if c.pattern is not None and not re.fullmatch(c.pattern, str(v)):
        return f"invalid {c.name} {v!r} (must match {c.pattern})"
    if isinstance(v, int | float) and not isinstance(v, bool):
        if v != v or v in (float("inf"), float("-inf")):
            return f"not a finite number: {v}"
        if (c.min is not None and v < c.min) or (c.max is not None and v > c.max):
            return f"{v} is out of range (allowed {c.rule()})"
    return None


def cast_text(c: Column, v: str | None) -> Any:
    """A value written as text (a CSV cell) as a Python value of column ``c``'s type; empty is
    None. Raises :class:`ValueError` for text that is not of the type."""
    v = (v or "").strip()
    if not v:
        return None
    if c.type == "DOUBLE":
        return float(v)
    if c.type in ("SMALLINT", "INTEGER", "BIGINT"):
        return int(v)
    if c.type == "DATE":
        return parse_date(v)
    if c.type == "BOOLEAN":
        if v.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"not true or false: {v!r}")
        return v.lower() in ("true", "1", "yes")
    return v


def from_text_rows(name: str, rows: list[dict[str, str]], *, file: str | None = None,
                   first_line: int = 2) -> pa.Table:
    """Rows of text (a CSV read with :class:`csv.DictReader`) as a table of ``name``'s types, with
    a ``_line`` column (``first_line`` for the first row) for validation messages. Defaults fill
    empty cells."""
    import pyarrow as pa

    t = table(name)
    cols: dict[str, list[Any]] = {c.name: [] for c in t.columns}
    for i, r in enumerate(rows):
        for c in t.columns:
            raw = r.get(c.name)
            if not (raw or "").strip() and c.default is not None:
                raw = c.default
            try:
                cols[c.name].append(cast_text(c, raw))
            except ValueError as exc:
                raise InputError(file, str(exc), line=first_line + i, field=c.name) from None
    arrays = {n: pa.array(v, table(name).column(n).arrow_type) for n, v in cols.items()}
    arrays["_line"] = pa.array(range(first_line, first_line + len(rows)), pa.int64())
    return pa.table(arrays)


def parser_schema(name: str) -> pa.Schema:
    """The Arrow schema a parser emits for table ``name``: the table's columns with their types
    (nullable: missing values are :func:`validate`'s to report) and ``_line``."""
    import pyarrow as pa

    return pa.schema([*(pa.field(c.name, c.arrow_type) for c in table(name).columns),
                      pa.field("_line", pa.int64())])


def conform(name: str, data: pa.Table, *, file: str | None = None) -> pa.Table:
    """Select and cast ``data``'s columns to the schema of table ``name``.

    Extra columns are dropped except ``_line`` (the input line of each row, used in error
    messages). A missing column raises :class:`InputError`.
    """
    import pyarrow as pa

    t = table(name)
    arrays = []
    fields = []
    for c in t.columns:
        if c.name not in data.column_names:
            if c.default is not None:
                arrays.append(pa.array([c.python_default] * data.num_rows, c.arrow_type))
                fields.append(pa.field(c.name, c.arrow_type))
                continue
            if c.nullable:
                arrays.append(pa.nulls(data.num_rows, c.arrow_type))
                fields.append(pa.field(c.name, c.arrow_type))
                continue
            raise InputError(file, f"missing column '{c.name}' for table {name}")
        arr = data.column(c.name)
        if arr.type != c.arrow_type:
            try:
                arr = arr.cast(c.arrow_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise InputError(file, f"cannot read values as {c.type}: "
                                 f"{str(exc).splitlines()[0]}", field=c.name) from None
        arrays.append(arr)
        fields.append(pa.field(c.name, c.arrow_type))
    if "_line" in data.column_names:
        arrays.append(data.column("_line").cast(pa.int64()))
        fields.append(pa.field("_line", pa.int64()))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _line_of(data: pa.Table, index: int) -> int | None:
    if "_line" in data.column_names:
        return int(data.column("_line")[index].as_py())
    return None


def validate(
    name: str,
    data: pa.Table,
    *,
    file: str | None = None,
    iso3: frozenset[str] | None = None,
    minerals: frozenset[str] | None = None,
    years: tuple[int, int] | None = None,
    fields: dict[str, str] | None = None,
) -> pa.Table:
    """Check ``data`` against the schema of ``name`` and return it conformed.

    Checks, all driven by the schema tables: required columns present and castable, no nulls in
    non-nullable columns, every DOUBLE finite, numbers within the column's ``min``/``max``, text
    within ``allowed`` (a list or a ``regex:``), country columns hold known ISO3 codes, mineral ids
    known, ``year`` within ``years`` when the file's name promises them, and no two rows with the
    same key. The first problem raises :class:`InputError` naming the file, line and field
    (``fields`` maps a column to the name of the file's field it came from, for the message).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    data = conform(name, data, file=file)
    t = table(name)

    def fail(index: int, field: str, problem: str) -> None:
        raise InputError(file, problem, line=_line_of(data, index),
                         field=(fields or {}).get(field, field))

    def first(mask: pa.ChunkedArray | pa.Array) -> int | None:
        mask = pc.fill_null(mask, False)
        return pc.index(mask, True).as_py() if pc.any(mask).as_py() else None

    for c in t.columns:
        arr = data.column(c.name)
        valid = pc.is_valid(arr)
        if not c.nullable and arr.null_count:
            fail(pc.index(pc.is_null(arr), True).as_py(), c.name, "missing value")
        if c.type == "DOUBLE" and (i := first(pc.invert(pc.is_finite(arr)))) is not None:
            fail(i, c.name, f"not a finite number: {arr[i].as_py()}")
        if c.name == "year" and years is not None:
            lo, hi = years
            out = pc.or_(pc.less(arr, lo), pc.greater(arr, hi))
            if (i := first(out)) is not None:
                span = str(lo) if lo == hi else f"{lo}-{hi}"
                fail(i, c.name, f"year {arr[i].as_py()} in a file for {span}")
        if c.min is not None and (i := first(pc.less(arr, c.min))) is not None:
            v = arr[i].as_py()
            fail(i, c.name, f"negative amount {v}" if c.min == 0 else
                 f"{v} below the minimum (allowed {c.rule()})")
        if c.max is not None and (i := first(pc.greater(arr, c.max))) is not None:
            fail(i, c.name, f"{arr[i].as_py()} above the maximum (allowed {c.rule()})")
        if c.allowed is not None:
            bad = pc.and_(valid, pc.invert(pc.is_in(arr, value_set=pa.array(c.allowed))))
            if (i := first(bad)) is not None:
                fail(i, c.name, f"unknown {c.name} {arr[i].as_py()!r}; use one of "
                     + ", ".join(c.allowed))
        if c.pattern is not None:
            bad = pc.and_(valid, pc.invert(pc.match_substring_regex(arr, f"^(?:{c.pattern})$")))
            if (i := first(bad)) is not None:
                fail(i, c.name, f"invalid {c.name} {arr[i].as_py()!r} (must match {c.pattern})")
        if iso3 is not None and c.unit == "ISO 3166 alpha-3":
            bad = pc.and_(valid, pc.invert(pc.is_in(arr, value_set=pa.array(sorted(iso3)))))
            if (i := first(bad)) is not None:
                fail(i, c.name, f"unknown country code {arr[i].as_py()!r}: use ISO 3166 alpha-3")
        if minerals is not None and c.name == "mineral":
            bad = pc.and_(valid, pc.invert(pc.is_in(arr, value_set=pa.array(sorted(minerals)))))
            if (i := first(bad)) is not None:
                # the known ids come from critmin.reference (a higher layer, so passed in);
                # the wording is its require_mineral's one ChoiceError
                fail(i, c.name, str(ChoiceError("mineral", arr[i].as_py(), sorted(minerals))))
    _check_unique(t, data, fail)
    return data


def _check_unique(t: Table, data: pa.Table, fail: Any) -> None:
    """Fail on the second row whose key (the schema's key columns) repeats an earlier row's."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not t.key or data.num_rows < 2:
        return
    keyed = data.select(t.key).append_column("_i", pa.array(range(data.num_rows), pa.int64()))
    counts = keyed.group_by(t.key, use_threads=False).aggregate([("_i", "count"), ("_i", "min")])
    dup = counts.filter(pc.greater(counts.column("_i_count"), 1))
    if dup.num_rows == 0:
        return
    row = dup.slice(0, 1).to_pylist()[0]
    at = row["_i_min"]
    same = [j for j in range(at + 1, data.num_rows)
            if all(data.column(k)[j].as_py() == row[k] for k in t.key)][:1]
    i = same[0] if same else at
    first_line = _line_of(data, at)
    key = ", ".join(f"{k}={row[k]}" for k in t.key if k != "source_id")
    fail(i, t.key[0], f"duplicate key ({key})"
         + (f", first at line {first_line}" if first_line is not None else ""))


def markdown() -> str:
    """The schema reference page (``docs/schema.md``), generated from the definitions."""
    out = [
        "# Atlas schema",
        "",
        "Generated from `src/critmin/schema/` by `python -m critmin.schema > docs/schema.md`; "
        "do not edit by hand. Key columns are marked with **bold**.",
        "",
    ]
    for t in tables().values():
        out += [f"## `{t.name}` ({t.kind})", "", t.description, "",
                "| column | type | unit | null | allowed | description |",
                "|---|---|---|---|---|---|"]
        for c in t.columns:
            name = f"**{c.name}**" if c.key else c.name
            desc = c.description.replace("|", "\\|")
            rule = c.rule().replace("|", "\\|")
            out.append(f"| {name} | {c.type} | {c.unit} | {'yes' if c.nullable else 'no'} | "
                       f"{rule} | {desc} |")
        out.append("")
    return "\n".join(out)


def allowed(table_name: str, column: str) -> tuple[str, ...]:
    """The values column ``column`` of ``table_name`` allows (from the schema)."""
    values = table(table_name).column(column).allowed
    if values is None:
        raise KeyError(f"{table_name}.{column} has no list of allowed values")
    return values


#: Production stages and WGI indicators, as the schema lists them.
STAGES = frozenset(allowed("production", "stage"))
WGI_INDICATORS = frozenset(allowed("governance", "indicator"))
