"""``critmin geopolrisk``: GeoPolRisk scores and characterisation factors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from critmin.cli import Format, app, emit, run_analytic
from critmin.cli.options import EngineOption, FormatOption, MasterOption, ParquetOption


@app.command("geopolrisk")
def geopolrisk_cmd(
    economy: Annotated[list[str] | None, typer.Option(
        "--economy", help="Economy: ISO3 code, group id (EU27, G7, ...) or --region name; "
        "repeatable (default: all).")] = None,
    material: Annotated[list[str] | None, typer.Option(
        "--material", help="Material: critmin mineral id, or the map's material name with "
        "--compat (repeatable; default: all).")] = None,
    year: Annotated[list[int] | None, typer.Option(
        "--year", help="Year (repeatable; default: all with production data).")] = None,
    compat: Annotated[str | None, typer.Option(
        "--compat", help="'geopolrisk-py': reproduce geopolrisk-py 2.0.1 exactly.")] = None,
    region: Annotated[list[str] | None, typer.Option(
        "--region", help="User region NAME=ISO3,ISO3,... (repeatable).")] = None,
    fmt: FormatOption = Format.csv,
    db: Annotated[Path | None, typer.Option("--db", help="Atlas file (default: $CRITMIN_ATLAS "
                                            "or the user data dir).")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to FILE.")] = None,
    engine: EngineOption = None,
    parquet: ParquetOption = None,
    master: MasterOption = None,
) -> None:
    """GeoPolRisk HHI, import risk, score, price (USD/kg) and CF (kg Cu-eq/kg) per economy,
    material and year; the ``flags`` column says where data is missing or was adjusted, and
    ``hs_codes``, ``hs_codes_missing`` (a footnote with --format table; not with --compat) the
    HS92 codes the imports count and the mapped codes without data."""
    from critmin.engine import engine_name
    from critmin.errors import CritminError
    from critmin.metrics.geopolrisk import geopolrisk, parse_region

    regions = dict(parse_region(r) for r in region or [])
    if compat and engine_name(engine) != "duckdb":
        raise CritminError("--compat runs on DuckDB only (exact 128-bit integer and ordered "
                           "sums): use --engine duckdb")
    df, ann = run_analytic(lambda atlas: geopolrisk(
        atlas, economies=economy or None, materials=material or None, years=year or None,
        regions=regions, compat=compat), db, engine, parquet, master)
    notes: list[str] = []
    if fmt is Format.table and not compat:
        from critmin.cli.notes import coverage_notes

        notes = coverage_notes([f"{e} {m} {y}" for e, m, y in zip(df.economy, df.material,
                                                                  df.year, strict=True)],
                               df.hs_codes, df.hs_codes_missing)
        df = df.drop(columns=["hs_codes", "hs_codes_missing"])
    emit(df, fmt, title="GeoPolRisk", output=str(output) if output else None, notes=notes,
         ann=ann)
