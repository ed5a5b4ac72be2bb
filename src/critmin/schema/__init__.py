"""The atlas schema, defined once as data.

Each table is a CSV under ``critmin/schema/tables/`` listing its columns with type, unit, nullability,
whether the column is part of the table's natural key, and a description; ``tables.csv`` describes the
tables. The same definitions drive the DDL (:func:`ddl`), validation (:func:`validate`) and the
generated schema reference (``docs/schema.md``, :func:`markdown`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pyarrow as pa

from critmin.errors import InputError

_ARROW_TYPES: dict[str, pa.DataType] = {
    "SMALLINT": pa.int16(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    unit: str
    nullable: bool
    key: bool
    description: str

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.type]


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
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("critmin.schema").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def tables() -> dict[str, Table]:
    """All atlas tables by name, in the order of ``tables.csv``."""
    out: dict[str, Table] = {}
    for row in _read_csv("tables.csv"):
        cols = tuple(
            Column(
                name=c["column"],
                type=c["type"],
                unit=c["unit"],
                nullable=c["nullable"] == "true",
                key=c["key"] == "true",
                description=c["description"],
            )
            for c in _read_csv(f"tables/{row['table']}.csv")
        )
        for c in cols:
            if c.type not in _ARROW_TYPES:
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
        f'    "{c.name}" {c.type}{"" if c.nullable else " NOT NULL"}' for c in t.columns
    ]
    return f'CREATE TABLE "{name}" (\n' + ",\n".join(lines) + "\n)"


def conform(name: str, data: pa.Table, *, file: str | None = None) -> pa.Table:
    """Select and cast ``data``'s columns to the schema of table ``name``.

    Extra columns are dropped except ``_line`` (the input line of each row, used in error
    messages). A missing column raises :class:`InputError`.
    """
    t = table(name)
    arrays = []
    fields = []
    for c in t.columns:
        if c.name not in data.column_names:
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
                raise InputError(file, f"cannot read values as {c.type}: {exc}", field=c.name) from None
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
) -> pa.Table:
    """Check ``data`` against the schema of ``name`` and return it conformed.

    Checks: required columns present and castable, no nulls in non-nullable columns, no negative
    amounts (columns whose unit is a quantity), country columns hold known ISO3 codes, mineral ids
    known, enumerated columns (``stage``) within their values. The first problem raises
    :class:`InputError` naming the file, line and field.
    """
    import pyarrow.compute as pc

    data = conform(name, data, file=file)
    t = table(name)

    def fail(index: int, field: str, problem: str) -> None:
        raise InputError(file, problem, line=_line_of(data, index), field=field)

    for c in t.columns:
        arr = data.column(c.name)
        if not c.nullable and arr.null_count:
            fail(pc.index(pc.is_null(arr), True).as_py(), c.name, "missing value")
        if c.type == "DOUBLE" and c.name in _NON_NEGATIVE:
            neg = pc.less(arr, 0)
            if pc.any(neg).as_py():
                i = pc.index(neg, True).as_py()
                fail(i, c.name, f"negative amount {arr[i].as_py()}")
        if c.name in _ENUMS:
            allowed = _ENUMS[c.name].get(name)
            if allowed is not None:
                bad = pc.invert(pc.is_in(arr, value_set=pa.array(sorted(allowed))))
                bad = pc.and_kleene(bad, pc.is_valid(arr))
                if pc.any(bad).as_py():
                    i = pc.index(bad, True).as_py()
                    fail(i, c.name, f"unknown {c.name} {arr[i].as_py()!r}; use one of "
                         + ", ".join(sorted(allowed)))
        if iso3 is not None and c.unit == "ISO 3166 alpha-3":
            bad = pc.invert(pc.is_in(arr, value_set=pa.array(sorted(iso3))))
            bad = pc.and_kleene(bad, pc.is_valid(arr))
            if pc.any(bad).as_py():
                i = pc.index(bad, True).as_py()
                fail(i, c.name, f"unknown country code {arr[i].as_py()!r}: use ISO 3166 alpha-3")
        if minerals is not None and c.name == "mineral":
            bad = pc.invert(pc.is_in(arr, value_set=pa.array(sorted(minerals))))
            if pc.any(bad).as_py():
                i = pc.index(bad, True).as_py()
                fail(i, c.name, f"unknown mineral {arr[i].as_py()!r}")
    return data


_NON_NEGATIVE = {"value_kusd", "quantity_t", "value", "content_factor", "factor"}
_ENUMS: dict[str, dict[str, frozenset[str]]] = {
    "stage": {
        "production": frozenset({"mine", "refinery", "smelter", "capacity"}),
        "hs_map": frozenset({"ore", "intermediate", "chemical", "metal", "alloy", "scrap"}),
    },
    "chain_stage": {"hs_map": frozenset({"mine", "refined"})},
    "indicator": {"governance": frozenset({"va", "pv", "ge", "rq", "rl", "cc"})},
    "kind": {"countries": frozenset({"country", "former", "residual", "world"})},
}

STAGES = _ENUMS["stage"]["production"]
WGI_INDICATORS = _ENUMS["indicator"]["governance"]


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
                "| column | type | unit | null | description |", "|---|---|---|---|---|"]
        for c in t.columns:
            name = f"**{c.name}**" if c.key else c.name
            desc = c.description.replace("|", "\\|")
            out.append(f"| {name} | {c.type} | {c.unit} | {'yes' if c.nullable else 'no'} | {desc} |")
        out.append("")
    return "\n".join(out)
