"""Shared output formatting for CLI commands: ``--format table|csv|json|parquet``."""

from __future__ import annotations

import json
import math
import sys
from enum import Enum
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return _jsonable(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is pd.NA:
        return None
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``df`` as JSON-ready dicts (NaN and NA become null)."""
    return [{k: _jsonable(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def emit(df: pd.DataFrame, fmt: Format | str, *, title: str | None = None,
         output: str | None = None) -> None:
    """Print ``df`` to stdout in ``fmt`` (parquet needs ``output`` or a non-tty stdout)."""
    fmt = Format(fmt)
    if fmt is Format.json:
        sys.stdout.write(json.dumps(records(df), indent=2, ensure_ascii=False) + "\n")
    elif fmt is Format.csv:
        flat = df.copy()
        for col in flat.columns:
            if flat[col].map(lambda v: isinstance(v, list | tuple)).any():
                flat[col] = flat[col].map(
                    lambda v: ";".join(map(str, v)) if isinstance(v, list | tuple) else v)
        flat.to_csv(sys.stdout, index=False)
    elif fmt is Format.parquet:
        if output:
            df.to_parquet(output, index=False)
        else:
            sys.stdout.buffer.write(df.to_parquet(index=False))
    else:
        table = Table(title=title, show_lines=False)
        for col in df.columns:
            table.add_column(str(col), overflow="fold")
        for row in df.itertuples(index=False):
            table.add_row(*(_cell(v) for v in row))
        Console(width=max(160, Console().width)).print(table)


def _cell(value: Any) -> str:
    value = _jsonable(value)
    if value is None:
        return "—"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e7):
            return f"{value:.3e}"
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
