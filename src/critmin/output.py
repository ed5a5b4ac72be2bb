"""The one output layer of critmin's surfaces: formats, JSON values, number text and file writers.

The CLI (``--format``), the HTTP API (``.json``/``.csv``/... by extension), the web pages and the
brief all write tables through this module, so a number, a missing value or an infinite ratio
looks the same everywhere:

- :class:`Format`: ``table`` (terminal only), ``csv``, ``json``, ``parquet``, ``xlsx``;
- :func:`jsonable`: NaN, NA, NaT and ±inf become ``null`` (JSON has no such numbers);
- :func:`number`: one text form for numbers (thousands separators, never scientific notation,
  years and ids without separators, missing and infinite as an en dash);
- :func:`flat`: lists joined by ``;``, dicts as JSON text (for CSV and Excel cells);
- :func:`write`: the bytes of a table in a file format, with the annotations (sources, licence,
  atlas version) where the format has room for them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas loads on first use: `critmin --help` must not pay for it
    import pandas as pd


class Format(str, Enum):
    """Output formats. ``table`` is a terminal rendering; the others are files."""

    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"
    xlsx = "xlsx"


#: The formats that are files (the HTTP API's extensions).
FILE_FORMATS: tuple[Format, ...] = (Format.json, Format.csv, Format.parquet, Format.xlsx)
#: Media type of each file format.
MEDIA: dict[Format, str] = {
    Format.json: "application/json",
    Format.csv: "text/csv; charset=utf-8",
    Format.parquet: "application/vnd.apache.parquet",
    Format.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: What a missing (or infinite) value shows as in text.
MISSING = "–"
#: How a figure the publisher marks as an estimate (USGS ``E``, World Mining Data ``e``/``p``)
#: is labelled where it is shown.
ESTIMATE = "estimate"


def jsonable(value: Any) -> Any:
    """``value`` as a JSON value: NaN, ±inf, NA and NaT are ``None``; numpy scalars and arrays
    become Python numbers and lists; dates ISO text; dicts keep their keys as text.

    >>> jsonable(float("inf")), jsonable(float("nan")), jsonable((1, 2.5))
    (None, None, [1, 2.5])
    """
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if hasattr(value, "item"):
        return jsonable(value.item())
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``df`` as JSON-ready dicts (see :func:`jsonable`), built column by column: a
    numpy integer or boolean column is already JSON-ready as Python values, a float column
    needs only its non-finite values replaced, and text needs nothing (the same dicts as
    :func:`jsonable` on every value of ``df.itertuples()``, at a fraction of the cost)."""
    import numpy as np
    import pandas as pd

    cols = [str(c) for c in df.columns]
    columns = []
    for _, s in df.items():  # (by position: repeated column names are kept apart)
        dtype = s.dtype
        arrow = getattr(s.array, "__arrow_array__", None)
        if arrow is not None and isinstance(dtype, pd.StringDtype):
            # Arrow-backed text: str or None each, without pandas boxing every value
            columns.append(arrow().to_pylist())
            continue
        values = s.tolist()
        if isinstance(dtype, np.dtype) and dtype.kind in "biu":
            pass
        elif isinstance(dtype, np.dtype) and dtype.kind == "f":
            if not np.isfinite(s.to_numpy()).all():
                values = [v if math.isfinite(v) else None for v in values]
        else:
            values = [v if type(v) is str or v is None else jsonable(v) for v in values]
        columns.append(values)
    return [dict(zip(cols, row, strict=True)) for row in zip(*columns, strict=True)] \
        if columns else [{} for _ in range(len(df))]


def dumps(payload: Any, *, indent: bool = False) -> bytes:
    """UTF-8 JSON of ``payload``; values outside JSON go through :func:`jsonable` (orjson for
    speed, the standard library for what orjson refuses: integers beyond 64 bits, non-text keys).
    """
    import orjson

    def default(value: Any) -> Any:
        # float subclasses such as numpy.float64 become plain floats first, or orjson would hand
        # them back forever
        return jsonable(float(value) if isinstance(value, float) else value)

    opts = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    if indent:
        opts |= orjson.OPT_INDENT_2
    try:
        return orjson.dumps(payload, default=default, option=opts)  # NaN and inf: null
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(jsonable(payload), ensure_ascii=False, indent=2 if indent else None,
                          separators=None if indent else (",", ":")).encode()


# ----------------------------------------------------------------------------------- numbers

#: Column names whose integers are identifiers or years, written without thousands separators.
PLAIN_COLUMNS = frozenset({"year", "release", "hs_code", "rank", "id", "line", "port"})


def _plain(column: str | None) -> bool:
    if column is None:
        return False
    c = column.lower().replace(" ", "_")
    return c in PLAIN_COLUMNS or c.endswith(("_year", "_id", "_code")) or c.startswith("year")


def number(value: Any, *, column: str | None = None) -> str:
    """The one text form of a number in critmin's tables.

    Missing and infinite values show as an en dash; years, codes and ids (by ``column`` name) as
    plain digits; other integers and floats of magnitude 1,000 or more with thousands separators
    and no decimals; smaller floats with up to two decimals, and below 1 with four significant
    digits. Never scientific notation.

    >>> number(28_940_000.0), number(7145315.6489), number(2023, column="year"), number(2023)
    ('28,940,000', '7,145,316', '2023', '2,023')
    >>> number(0.26754), number(0.000123456), number(12.5), number(float("inf")), number(None)
    ('0.2675', '0.0001235', '12.5', '–', '–')
    """
    v = jsonable(value)
    if v is None:
        return MISSING
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if _plain(column) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, int):
        return f"{v:,d}"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 1:
        text = f"{v:,.2f}"
    else:
        decimals = min(12, 3 - math.floor(math.log10(a)))
        text = f"{v:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent(value: Any, decimals: int = 1) -> str:
    """A share (0-1) as a percentage, ``0.749`` -> ``74.9%`` (missing/infinite: en dash)."""
    v = jsonable(value)
    if v is None or not isinstance(v, int | float) or isinstance(v, bool):
        return MISSING if v is None else str(v)
    return f"{100 * v:,.{decimals}f}%"


def cell(value: Any, column: str | None = None) -> str:
    """Text of one table cell: numbers by :func:`number`, lists joined by commas."""
    v = jsonable(value)
    if isinstance(v, list):
        return ", ".join(map(str, v)) if v else MISSING
    return number(v, column=column)


# ----------------------------------------------------------------------------------- writers


def flat(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with lists (and sets) joined by ``;`` and dicts as JSON text, for CSV and Excel."""
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object and out[col].map(
                lambda v: isinstance(v, list | tuple | dict | set | frozenset)).any():
            out[col] = out[col].map(_flat_value)
    for col in out.columns:  # no inf in files: a missing value instead
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].where(~out[col].isin([math.inf, -math.inf]))
    return out


def _flat_value(v: Any) -> Any:
    if isinstance(v, list | tuple | set | frozenset):
        return ";".join(map(str, v))
    if isinstance(v, dict):
        return json.dumps(jsonable(v), ensure_ascii=False)
    return v


def annotation_lines(ann: dict[str, Any] | None) -> list[str]:
    """The annotations as ``key: value`` lines (source, licence, atlas version)."""
    if not ann:
        return []
    return [f"{k}: {ann[k]}" for k in ("source", "licence", "atlas_version") if ann.get(k)]


def to_csv(df: pd.DataFrame) -> str:
    """CSV text (header row first; missing and infinite values empty)."""
    return flat(df).to_csv(index=False)


def to_json(df: pd.DataFrame, *, name: str | None = None, ann: dict[str, Any] | None = None,
            extra: dict[str, Any] | None = None, indent: bool = False) -> bytes:
    """The rows of ``df`` as JSON: a bare list of records without ``ann``, else the envelope
    ``{"ok": true, "name", ..., "columns", "rows", "annotations"}`` the HTTP API answers."""
    if ann is None and name is None:
        return dumps(records(df), indent=indent)
    payload = {"ok": True, "name": name, **(extra or {}),
               "columns": [str(c) for c in df.columns], "rows": records(df),
               "annotations": ann}
    return dumps(payload, indent=indent)


def to_parquet(df: pd.DataFrame, ann: dict[str, Any] | None = None) -> bytes:
    """Parquet bytes; the annotations in the schema metadata key ``critmin.annotations``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(flat(df), preserve_index=False)
    if ann:
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"critmin.annotations": dumps(ann)})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def to_xlsx(df: pd.DataFrame, ann: dict[str, Any] | None = None) -> bytes:
    """An Excel workbook: sheet ``data`` and, with annotations, sheet ``annotations``."""
    import pandas as pd

    buf = io.BytesIO()
    out = flat(df)
    for col in out.columns:  # Excel has no timezone-aware datetimes
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_localize(None)
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        out.to_excel(xw, sheet_name="data", index=False)
        if ann:
            pd.DataFrame([(k, ann.get(k)) for k in ("atlas_version", "licence", "source")],
                         columns=["key", "value"]).to_excel(xw, sheet_name="annotations",
                                                            index=False)
    return buf.getvalue()


def write(df: pd.DataFrame, fmt: Format | str, *, ann: dict[str, Any] | None = None) -> bytes:
    """The bytes of ``df`` in the file format ``fmt`` (``table`` is not a file format)."""
    fmt = Format(fmt)
    if fmt is Format.json:
        return to_json(df, indent=True) + b"\n"
    if fmt is Format.csv:
        return to_csv(df).encode("utf-8")
    if fmt is Format.parquet:
        return to_parquet(df, ann)
    if fmt is Format.xlsx:
        return to_xlsx(df, ann)
    raise ValueError(f"{fmt.value} is not a file format")


def text_table(df: pd.DataFrame, *, title: str | None = None, notes: list[str] | None = None,
               width: int = 160) -> str:
    """``df`` as a terminal table (rich), numbers by :func:`number`, then ``notes`` lines.

    The text is rich's (a ``Table`` with folding columns in a console ``width`` wide, or the
    terminal's width if wider); :mod:`critmin._texttable` writes the same text without rich
    in a fraction of the time for plain text, and rich renders whatever that declines."""
    from critmin import _texttable

    cols = [str(c) for c in df.columns]
    rows = [[cell(v, c) for v, c in zip(row, cols, strict=True)]
            for row in df.itertuples(index=False, name=None)]
    text = _texttable.text_table(cols, rows, title=title, notes=notes, width=width)
    if text is not None:
        return text
    return rich_text_table(cols, rows, title=title, notes=notes, width=width)


def rich_text_table(cols: list[str], rows: list[list[str]], *, title: str | None = None,
                    notes: list[str] | None = None, width: int = 160) -> str:
    """The table of :func:`text_table` as rich renders it (the reference the fast path
    reproduces, and the renderer for what it declines)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False)
    for col in cols:
        table.add_column(col, overflow="fold")
    for row in rows:
        # cells are plain text: a footnote mark such as "[pc]" is not rich markup
        table.add_row(*(Text(text) for text in row))
    console = Console(width=max(width, Console().width), file=io.StringIO(), record=True)
    console.print(table)
    if notes:  # (one call: each line is wrapped on its own, as line by line, at less cost)
        console.print("\n".join(notes), highlight=False, markup=False)
    return console.export_text()
