"""The options many commands share, declared once (``Annotated`` aliases for Typer)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from critmin.output import Format


class TableOrJson(str, Enum):
    """``--format`` of the commands that print a table or JSON only."""

    table = "table"
    json = "json"


TableOrJsonOption = Annotated[TableOrJson, typer.Option("--format", help="table or json")]
DbOption = Annotated[Path | None, typer.Option(
    "--db", help="Atlas file (default: $CRITMIN_ATLAS or the user data dir; a command that reads "
    "the atlas installs the bundled starter atlas there when there is none).")]
FormatOption = Annotated[Format, typer.Option(
    "--format", help="table, csv, json, parquet or xlsx (parquet and xlsx to --output or a "
    "redirected stdout).")]
EngineOption = Annotated[str | None, typer.Option(
    "--engine", help="duckdb or spark (default: $CRITMIN_ENGINE, else duckdb).")]
ParquetOption = Annotated[str | None, typer.Option(
    "--parquet", help="Read the atlas from this Parquet export (local folder or object-store "
    "URL; default: $CRITMIN_PARQUET). Spark without it exports the atlas to a temporary folder.")]
MasterOption = Annotated[str | None, typer.Option(
    "--master", help="Spark master (default: $CRITMIN_SPARK_MASTER, else local[*]).")]

__all__ = ["DbOption", "EngineOption", "FormatOption", "MasterOption", "ParquetOption",
           "TableOrJson",
           "TableOrJsonOption"]
