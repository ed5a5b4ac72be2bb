"""``critmin scan``, ``critmin synthetic`` and ``critmin atlas export``: whole-economy scans on
DuckDB or Spark, synthetic benchmark data, and the Parquet export a cluster reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from critmin.cli import Format, app, emit, run_analytic
from critmin.cli.atlas import atlas_app
from critmin.cli.options import DbOption, EngineOption, FormatOption, MasterOption, ParquetOption


@app.command("scan")
def scan_cmd(
    country: Annotated[str, typer.Argument(help="ISO3 code (USA), name, or group id (EU27).")],
    year: Annotated[int | None, typer.Option(help="Year (default: latest BACI year).")] = None,
    engine: EngineOption = None,
    parquet: ParquetOption = None,
    master: MasterOption = None,
    all_products: Annotated[bool, typer.Option(
        "--all", help="List every product imported from outside, not only dependencies.")] = False,
    hhi_min: Annotated[float, typer.Option(help="Criterion 1: HHI of outside suppliers above."
                                           )] = 0.4,
    ratio_min: Annotated[float, typer.Option(
        help="Criterion 2: outside imports / own exports above.")] = 1.0,
    share_min: Annotated[float, typer.Option(
        help="Criterion 3: outside imports / total imports above.")] = 0.5,
    fmt: FormatOption = Format.table,
    output: Annotated[str | None, typer.Option("--output", help="File for --format parquet."
                                               )] = None,
    db: DbOption = None,
) -> None:
    """Strategic dependencies of COUNTRY over every HS6 product (European Commission 2021 method:
    HHI > 0.4, outside imports > own exports, outside share of imports > 0.5)."""
    from critmin.metrics.scan import dependency_scan

    df, ann = run_analytic(lambda atlas: dependency_scan(
        country, year=year, atlas=atlas, dependent_only=not all_products, hhi_min=hhi_min,
        import_export_ratio_min=ratio_min, extra_share_min=share_min), db, engine, parquet, master)
    attrs = dict(df.attrs)
    if fmt is Format.table:
        n_crit = int(df.loc[df.dependent, "critical_mineral"].sum())
        title = (f"Strategic dependencies of {attrs['bloc']} ({len(attrs['members'])} members), "
                 f"{attrs['year']}: {int(df.dependent.sum())} products, {n_crit} mapped to "
                 "minerals")
        cols = ["hs_code", "dependent", "extra_imports_kusd", "hhi", "top_supplier",
                "top_supplier_share", "import_export_ratio", "extra_share", "minerals"]
        from critmin.cli.notes import coverage_notes

        crit = df[df.critical_mineral].drop_duplicates("minerals")
        notes = coverage_notes([f"{m} (trade {attrs['year']})" for m in crit.minerals],
                               [sorted(set(h for c in df[df.minerals == m].hs_codes for h in c))
                                for m in crit.minerals],
                               crit.hs_codes_missing, "imports from outside the bloc")
        emit(df[cols], fmt, title=title, ann=ann, notes=notes)
    else:
        df.attrs = {}
        emit(df, fmt, output=output, ann=ann)


@app.command("synthetic")
def synthetic_cmd(
    rows: Annotated[int, typer.Option("--rows", help="Number of trade rows (e.g. 10000000).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the BACI-shaped CSVs.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    last_year: Annotated[int, typer.Option(help="Latest year written.")] = 2022,
    rows_per_year: Annotated[int, typer.Option(help="At most this many rows a year.")
                             ] = 11_000_000,
    chunk_rows: Annotated[int, typer.Option(help="Rows generated at a time (memory bound).")
                          ] = 1_000_000,
    products: Annotated[Path | None, typer.Option(
        help="BACI product_codes_HS92_V*.csv or HS nomenclature CSV (default: shared/data).")
                        ] = None,
    countries: Annotated[Path | None, typer.Option(
        help="BACI country_codes_V*.csv (default: shared/data, else critmin's table).")] = None,
    silent: Annotated[bool, typer.Option("--silent", help="No progress output.")] = False,
) -> None:
    """Write synthetic BACI yearly CSVs (Zipf-like countries and products, lognormal values)
    that 'critmin atlas build' loads: for benchmarks only."""
    from critmin import synthetic

    def progress(done: int, total: int) -> None:
        if not silent:
            typer.echo(f"\r{done:,}/{total:,} rows", nl=False, err=True)

    r = synthetic.generate(out, rows, seed=seed, last_year=last_year,
                           rows_per_year=rows_per_year, chunk_rows=chunk_rows,
                           products=products, countries=countries, progress=progress)
    if not silent:
        typer.echo("", err=True)
    typer.echo(json.dumps({"out": r.out, "rows": r.rows, "years": r.years, "files": r.files},
                          indent=2))


@atlas_app.command("export")
def export_cmd(
    parquet: Annotated[str, typer.Option("--parquet", help="Output folder (or object-store URL).")],
    db: DbOption = None,
    table: Annotated[list[str] | None, typer.Option("--table", help="Only these tables.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an earlier export.")
                         ] = False,
) -> None:
    """Write each atlas table as a Parquet dataset DIR/<table>/ (schema-as-data types) for Spark
    or any Parquet reader."""
    from critmin.engine import export_parquet

    rows = export_parquet(parquet, atlas=db, tables=table, overwrite=overwrite)
    typer.echo(json.dumps({"parquet": parquet, "tables": rows}, indent=2))
